"""Who is calling: the ``Authorization`` header carries ``Token <token>`` (Label Studio's
convention) or ``Bearer <token>``; tokens are made by ``labelport token create``."""

from __future__ import annotations

from labelport.api.errors import AuthenticationError
from labelport.store import Store
from labelport.store.users import User

SCHEMES = ("token", "bearer")


def authenticate(store: Store, authorization: str | None) -> User:
    """The user whose token the header carries; an `AuthenticationError` otherwise (the same
    message for an unknown token as for a malformed one)."""
    if not authorization:
        raise AuthenticationError("missing Authorization header: send 'Token <your token>'")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() not in SCHEMES or not token.strip():
        raise AuthenticationError("Authorization header must be 'Token <token>' or "
                                  "'Bearer <token>'")
    user = store.users.user_for_token(token.strip())
    if user is None:
        raise AuthenticationError("invalid token")
    return user
