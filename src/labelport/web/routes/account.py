"""Signing in and out, and the person's settings page (their API tokens)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from labelport.api.deps import StoreDep
from labelport.web.deps import PersonDep
from labelport.web.session import Session
from labelport.web.templating import render

router = APIRouter()


def _local(target: str | None) -> str:
    """``target`` when it is a path on this site, else the home page (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", next=_local(next), error=None, name="")


@router.post("/login")
def login(request: Request, store: StoreDep, name: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/") -> Response:
    user = store.users.check_password(name, password) if name and password else None
    if user is None:
        return render(request, "login.html", status=400, next=_local(next), name=name,
                      error="wrong name or password")
    request.state.session = Session.fresh(user.id, store.users.password_stamp(user.id))
    return RedirectResponse(_local(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.state.session = Session.fresh()
    return RedirectResponse("/login", status_code=303)


@router.get("/settings")
def settings_page(request: Request, person: PersonDep, store: StoreDep) -> Response:
    return render(request, "settings.html", tokens=store.users.tokens(person.id),
                  new_token=None)


@router.post("/settings/tokens")
def create_token(request: Request, person: PersonDep, store: StoreDep) -> Response:
    """A new API token, shown on this answer only (the store keeps its hash)."""
    token = store.users.create_token(person.name)
    return render(request, "settings.html", status=201, tokens=store.users.tokens(person.id),
                  new_token=token)


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(token_id: int, person: PersonDep, store: StoreDep) -> Response:
    store.users.revoke_token(person.id, token_id)
    return RedirectResponse("/settings", status_code=303)
