"""The selection options (`--dataset`, `--status`, `--labels`, ...) shared by `labelport
export`, `labelport check` and `labelport release create`, declared once and added to each
command's signature by `with_selection`."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from labelport.export.selection import Selection

_Command = TypeVar("_Command", bound=Callable[..., Any])
_PANEL = "Selection"


def _option(names: list[str], help: str) -> Any:
    return typer.Option(*names, help=help, rich_help_panel=_PANEL)


_PARAMETERS: tuple[tuple[str, Any], ...] = (
    ("datasets", Annotated[list[str] | None, _option(
        ["--dataset"], "Only items of this dataset (repeatable).")]),
    ("labelset", Annotated[str | None, _option(
        ["--labelset"], "The labelset to export (default ground-truth).")]),
    ("statuses", Annotated[list[str] | None, _option(
        ["--status"], "Task statuses to keep (repeatable or comma list; default all but "
                      "skipped).")]),
    ("labels", Annotated[list[str] | None, _option(
        ["--labels"], "Keep objects of these classes: A,B (CSV quoting for commas).")]),
    ("annotator", Annotated[str | None, _option(
        ["--annotator"], "Items this user was assigned or drew objects on.")]),
    ("created_after", Annotated[str | None, _option(
        ["--created-after"], "Date or ISO 8601 time (inclusive; no zone = UTC).")]),
    ("created_before", Annotated[str | None, _option(
        ["--created-before"], "Date or ISO 8601 time (exclusive).")]),
    ("updated_after", Annotated[str | None, _option(
        ["--updated-after"], "Date or ISO 8601 time (inclusive).")]),
    ("updated_before", Annotated[str | None, _option(
        ["--updated-before"], "Date or ISO 8601 time (exclusive).")]),
    ("source", Annotated[str | None, _option(
        ["--source"], "human (default), model or all.")]),
    ("min_score", Annotated[float | None, _option(
        ["--min-score"], "Keep predictions scoring at least this.")]),
    ("min_width", Annotated[int | None, _option(["--min-width"], "Minimum image width.")]),
    ("max_width", Annotated[int | None, _option(["--max-width"], "Maximum image width.")]),
    ("min_height", Annotated[int | None, _option(["--min-height"], "Minimum image height.")]),
    ("max_height", Annotated[int | None, _option(["--max-height"], "Maximum image height.")]),
    ("file_types", Annotated[list[str] | None, _option(
        ["--file-type"], "Image file types: jpg,png.")]),
    ("meta", Annotated[list[str] | None, _option(
        ["--meta"], "Item metadata KEY=VALUE (repeatable).")]),
    ("ids", Annotated[Path | None, _option(
        ["--ids"], "A file of item ids or dataset/path keys, one a line.")]),
    ("only_annotated", Annotated[bool, _option(
        ["--only-annotated"], "Leave out images without objects.")]),
)
_NAMES = tuple(name for name, _ in _PARAMETERS)


def with_selection(command: _Command) -> _Command:
    """Give ``command`` the selection options; it receives them as ``selection``: a
    `Selection`, or None when no selection option was given (the caller picks the default)."""
    signature = inspect.signature(command)
    hints = typing.get_type_hints(command, include_extras=True)
    kept = [p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values() if p.name != "selection"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                               default=False if name == "only_annotated" else None)
             for name, annotation in _PARAMETERS]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _NAMES}
        chosen = {name: value for name, value in given.items() if value not in (None, False, [])}
        kwargs["selection"] = Selection.from_cli(**chosen) if chosen else None
        return command(*args, **kwargs)

    annotations = {k: v for k, v in hints.items() if k != "selection"}
    annotations.update(dict(_PARAMETERS))
    wrapper.__annotations__ = annotations
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=_ordered(kept + added))
    return wrapper  # type: ignore[return-value]


def _ordered(parameters: list[inspect.Parameter]) -> list[inspect.Parameter]:
    """Positional parameters first, as Python requires; the rest keep their order."""
    positional = [p for p in parameters if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    return positional + [p for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
