"""The web app's session: a signed cookie holding who signed in and the CSRF token of their
forms.

The cookie is signed with the service's secret (itsdangerous, HMAC-SHA1 over a timestamped
JSON value), so its holder can read but not change it; it is HttpOnly (no script reads it),
SameSite=Lax (another site's form posts without it) and Secure whenever the page is served
over https. Every visitor gets a CSRF token in their session, also before signing in (the
sign-in form carries one too); a form that changes something sends it back as the field
``csrftoken`` (or htmx as the ``X-CSRF-Token`` header) and is refused otherwise.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from labelport.api.errors import PermissionDeniedError

COOKIE = "labelport_session"
MAX_AGE_S = 12 * 3600
"""A session ends 12 hours after it was last written (signing in renews it)."""
CSRF_FIELD = "csrftoken"
CSRF_HEADER = "X-CSRF-Token"


class CsrfError(PermissionDeniedError):
    """A form that changes something came without its session's CSRF token."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    user_id: int | None
    csrf: str
    stamp: str | None = None
    """The signed-in person's password when they signed in (`UserStore.password_stamp`):
    the session ends when it changes."""

    @classmethod
    def fresh(cls, user_id: int | None = None, stamp: str | None = None) -> Session:
        """A new session; signing in makes one, so a CSRF token seen before it does not
        carry over."""
        return cls(user_id=user_id, csrf=secrets.token_urlsafe(32), stamp=stamp)


class SessionCodec:
    """Signs sessions into cookie values and reads them back."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="labelport-session")

    def load(self, request: Request) -> Session | None:
        value = request.cookies.get(COOKIE)
        if not value:
            return None
        try:
            data: Any = self._serializer.loads(value, max_age=MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        user_id, stamp = data.get("uid"), data.get("ps")
        return Session(user_id=user_id if isinstance(user_id, int) else None, csrf=data["csrf"],
                       stamp=stamp if isinstance(stamp, str) else None)

    def save(self, response: Response, request: Request, session: Session) -> None:
        value = self._serializer.dumps({"uid": session.user_id, "csrf": session.csrf,
                                        "ps": session.stamp})
        response.set_cookie(COOKIE, value, max_age=MAX_AGE_S, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")


def check_csrf(session: Session, sent: object) -> None:
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
        raise CsrfError("this form is out of date or did not come from labelport: reload the "
                        "page and send it again")
