"""What one request may cost the service, enforced in front of the routes.

`RequestGuard` is ASGI middleware in front of the whole app: under ``/api`` it authenticates
the caller from the headers before a byte of the body is read (an anonymous upload is refused
at once, not after it has arrived); for every request it refuses a body whose declared length
is over the limit, and counts the bytes as they arrive so a body without a length, or one that
lies, stops at the limit too (413). Multipart
uploads have their own, larger limit; Starlette spools their files to disk, so memory stays
small whatever the size."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labelport.api.auth import authenticate
from labelport.api.errors import AuthenticationError, error_response
from labelport.archives import ArchiveLimits
from labelport.errors import InputError
from labelport.store import Store

_MIB = 1 << 20
USER_STATE = "labelport_user"
"""Where `RequestGuard` leaves the authenticated user in the request's state."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestLimits:
    max_body: int = 16 * _MIB
    """A JSON (or any non-multipart) body, in bytes ($LABELPORT_MAX_BODY_MB, in MiB)."""
    max_upload: int = 2048 * _MIB
    """A multipart upload (images, an import file or archive), in bytes
    ($LABELPORT_MAX_UPLOAD_MB, in MiB)."""
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    """What an uploaded archive may unpack to."""

    @classmethod
    def from_env(cls) -> RequestLimits:
        env = os.environ
        try:
            return cls(max_body=int(float(env.get("LABELPORT_MAX_BODY_MB", 16)) * _MIB),
                       max_upload=int(float(env.get("LABELPORT_MAX_UPLOAD_MB", 2048)) * _MIB),
                       archive=ArchiveLimits.from_env())
        except ValueError as error:
            raise InputError(f"request limits in the environment: {error}") from None


class RequestGuard:
    """Authenticate first, then bound the body (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, store: Store, limits: RequestLimits,
                 prefix: str = "/api") -> None:
        self.app, self.store, self.limits, self.prefix = app, store, limits, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope.get("path", "")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            try:
                user = await run_in_threadpool(authenticate, self.store,
                                               headers.get("authorization"))
            except AuthenticationError as error:
                await error_response(401, "not_authenticated", str(error))(scope, receive, send)
                return
            scope.setdefault("state", {})[USER_STATE] = user
        multipart = headers.get("content-type", "").lower().startswith("multipart/")
        limit = self.limits.max_upload if multipart else self.limits.max_body
        too_large = (f"the request body is over the {limit / _MIB:g} MiB this server takes "
                     f"for {'an upload' if multipart else 'a request'}")
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await error_response(413, "too_large", too_large)(scope, receive, send)
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, bounded, send)
