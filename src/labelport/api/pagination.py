"""Pages of lists, shaped as Label Studio's (Django REST framework's):
``{"count", "next", "previous", "results"}`` with ``?page=1&page_size=100``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel

T = TypeVar("T")
MAX_PAGE_SIZE = 1000


class Page(BaseModel, Generic[T]):
    count: int
    next: str | None
    previous: str | None
    results: list[T]


@dataclass(frozen=True, slots=True)
class PageParams:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_params(page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100) -> PageParams:
    return PageParams(page=page, page_size=page_size)


def paginate(request: Request, params: PageParams, count: int, results: list[T]) -> Page[T]:
    """The page, with links to its neighbours (None at either end)."""
    def link(page: int) -> str:
        return str(request.url.include_query_params(page=page, page_size=params.page_size))

    last = max(1, -(-count // params.page_size))
    return Page[T](count=count, results=results,
                   next=link(params.page + 1) if params.page < last else None,
                   previous=link(min(params.page - 1, last)) if params.page > 1 else None)
