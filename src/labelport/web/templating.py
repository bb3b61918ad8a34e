"""The Jinja2 templates (autoescaped: whatever a page shows is text, never markup) and what
every page's context holds: the person signed in and the CSRF token of the session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from labelport.store.users import Role


def _common(request: Request) -> dict[str, Any]:
    session = getattr(request.state, "session", None)
    return {"person": getattr(request.state, "person", None),
            "csrf_token": session.csrf if session is not None else "",
            "manager_role": Role.MANAGER}


templates = Jinja2Templates(directory=Path(__file__).parent / "templates",
                            context_processors=[_common])


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` with ``context``."""
    return templates.TemplateResponse(request, template, context, status_code=status)
