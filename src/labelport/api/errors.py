"""The one place errors become HTTP: every `LabelportError` (and FastAPI's own validation and
routing errors) is answered as ``{"error": {"code": ..., "message": ...}}`` with a 4xx status,
never a traceback."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from labelport.errors import (
    ConflictError,
    InputError,
    LabelportError,
    NotAllowedError,
    NotFoundError,
    UnsupportedError,
)


class AuthenticationError(LabelportError):
    """No token, or a token no user has."""


class PermissionDeniedError(LabelportError):
    """The user is a member of the project, but their role does not allow the request."""


_STATUS: tuple[tuple[type[LabelportError], int, str], ...] = (
    (AuthenticationError, 401, "not_authenticated"),
    (PermissionDeniedError, 403, "permission_denied"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (UnsupportedError, 422, "unsupported"),
    (NotAllowedError, 422, "not_allowed"),
    (InputError, 400, "invalid_input"),
    (LabelportError, 400, "error"),
)
_HTTP_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found",
               405: "method_not_allowed", 413: "too_large"}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Token"} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def status_of(exc: LabelportError) -> tuple[int, str]:
    """The HTTP status and error code of a labelport error (the web app's pages use it too)."""
    for kind, status, code in _STATUS:
        if isinstance(exc, kind):
            return status, code
    return 400, "error"  # not reached: LabelportError is last


def _labelport_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LabelportError)
    return error_response(*status_of(exc), str(exc))


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return error_response(422, "validation_error", "; ".join(problems) or "invalid request")


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error" if exc.status_code < 500 else "server_error")
    return error_response(exc.status_code, code, str(exc.detail))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LabelportError, _labelport_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
