"""The web app as a sub-application mounted at ``/`` of the service (`create_web_app`), and
the API's docs page served from vendored Swagger UI files (`install_docs`), so nothing is
loaded from the internet.

The pages have their own error handlers (an HTML page, or a redirect to sign in) while the
API keeps its JSON errors: mounting a sub-application keeps the two apart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Scope

from labelport.api.errors import status_of
from labelport.api.settings import Settings
from labelport.errors import LabelportError
from labelport.jobs.runner import Runner
from labelport.store import Store
from labelport.web.deps import SignInRequired, csrf_protect
from labelport.web.routes import account, exports, imports, items, projects, releases
from labelport.web.session import Session, SessionCodec
from labelport.web.templating import render

STATIC = Path(__file__).parent / "static"


class SessionMiddleware(BaseHTTPMiddleware):
    """Puts the visitor's session on ``request.state.session`` (a fresh one with a new CSRF
    token when there is none) and writes the cookie back when a page changed it."""

    def __init__(self, app: ASGIApp, codec: SessionCodec) -> None:
        super().__init__(app)
        self.codec = codec

    async def dispatch(self, request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        loaded = self.codec.load(request)
        request.state.session = loaded or Session.fresh()
        response = await call_next(request)
        if request.state.session != loaded:
            self.codec.save(response, request, request.state.session)
        return response


class PagesMount(Mount):
    """The pages mounted at ``/``, leaving every ``/api`` path to the API, so that its unknown
    paths and wrong methods keep their JSON 404 and 405."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path == "/api" or path.startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


def mount_web_app(app: FastAPI, store: Store, settings: Settings, runner: Runner) -> None:
    """The pages at ``/`` of ``app`` (after its own routes) and ``/docs`` offline."""
    install_docs(app)
    app.router.routes.append(PagesMount("/", app=create_web_app(store, settings, runner)))


def create_web_app(store: Store, settings: Settings, runner: Runner) -> FastAPI:
    web = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    web.state.store = store
    web.state.settings = settings
    web.state.runner = runner
    web.add_middleware(SessionMiddleware, codec=SessionCodec(settings.secret_key))
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (account, projects, items, exports, releases, imports):
        web.include_router(module.router, dependencies=[Depends(csrf_protect)])
    web.add_exception_handler(LabelportError, _labelport_error)
    web.add_exception_handler(HTTPException, _http_error)
    web.add_exception_handler(RequestValidationError, _validation_error)
    return web


def _labelport_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LabelportError)
    if isinstance(exc, SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    status, _code = status_of(exc)
    return _error_page(request, status, str(exc))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "there is no such page" if exc.status_code == 404 else str(exc.detail)
    return _error_page(request, exc.status_code, message)


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
                for e in exc.errors()]
    return _error_page(request, 400, "; ".join(problems) or "invalid request")


def _error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)


def install_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the vendored files under ``/static/swagger``."""

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg")

    app.add_api_route("/docs", docs, include_in_schema=False)
