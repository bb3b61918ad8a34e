"""Users, their API tokens and their roles in projects.

A token is 32 random bytes (``secrets.token_urlsafe``) shown once when created; the store keeps
only its SHA-256. A slow password hash (argon2, pbkdf2) guards guessable secrets; a 256-bit
random token cannot be guessed, so one fast hash suffices and lets a request find its token by
an indexed lookup instead of trying every stored hash. Passwords (people signing in to the web
app) are guessable, so they are kept as argon2id hashes.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from labelport.errors import ConflictError, InputError, NotFoundError
from labelport.store import tables as t


class Role(enum.StrEnum):
    """A member's role in a project; each role can do what the roles below it can."""

    VIEWER = "viewer"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    MANAGER = "manager"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {role: rank for rank, role in enumerate(Role)}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InputError(f"unknown role {value!r}; valid roles: "
                         f"{', '.join(r.value for r in Role)}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    id: int
    name: str
    is_admin: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    user: User
    role: Role


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenInfo:
    """One of a user's API tokens as listed: the token itself is never kept."""

    id: int
    created_at: datetime


MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_USER_COLUMNS = (t.users.c.id, t.users.c.name, t.users.c.is_admin)


def _user(row: tuple[int, str, bool]) -> User:
    return User(id=row[0], name=row[1], is_admin=bool(row[2]))


class UserStore:
    """The users part of `labelport.store.Store` (``store.users``); one transaction a call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_user(self, name: str, *, admin: bool = False) -> User:
        if not name.strip():
            raise InputError("a user needs a name")
        with self.engine.begin() as conn:
            if conn.execute(select(t.users.c.id).where(t.users.c.name == name)).first():
                raise ConflictError(f"user {name!r} already exists")
            user_id = conn.execute(insert(t.users).values(name=name, is_admin=admin)
                                   .returning(t.users.c.id)).scalar_one()
        return User(id=user_id, name=name, is_admin=admin)

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            return [_user(tuple(r)) for r in conn.execute(
                select(*_USER_COLUMNS).order_by(t.users.c.name))]

    def user(self, name: str) -> User:
        """The user named ``name``; a `NotFoundError` when there is none."""
        with self.engine.connect() as conn:
            return _find_user(conn, name)

    def create_token(self, name: str) -> str:
        """A new token for user ``name``; only its digest is stored, so this is the one time
        it can be shown."""
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            user = _find_user(conn, name)
            conn.execute(insert(t.api_tokens).values(user_id=user.id, digest=token_digest(token)))
        return token

    def set_password(self, name: str, password: str) -> None:
        """Give user ``name`` the password (stored as an argon2id hash)."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InputError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        with self.engine.begin() as conn:
            user = _find_user(conn, name)
            conn.execute(update(t.users).values(password_hash=_hasher.hash(password))
                         .where(t.users.c.id == user.id))

    def password_stamp(self, user_id: int) -> str | None:
        """What a web session keeps of the password it was opened with (`session_user`): a
        digest of its hash, never the hash; None for a user without a password."""
        with self.engine.connect() as conn:
            stored = conn.execute(select(t.users.c.password_hash)
                                  .where(t.users.c.id == user_id)).scalar()
        return None if stored is None else _stamp(stored)

    def session_user(self, user_id: int, stamp: str | None) -> User | None:
        """The user of a web session opened when their password had ``stamp``; None once it
        changed, so a new password ends every session, also one whose cookie was copied."""
        with self.engine.connect() as conn:
            row = conn.execute(select(*_USER_COLUMNS, t.users.c.password_hash)
                               .where(t.users.c.id == user_id)).first()
        if row is None or row[3] is None or stamp is None:
            return None
        if not secrets.compare_digest(_stamp(row[3]), stamp):
            return None
        return _user((row[0], row[1], row[2]))

    def check_password(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs; None otherwise (unknown user, no password,
        wrong password alike, so a caller cannot tell which)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(*_USER_COLUMNS, t.users.c.password_hash)
                               .where(t.users.c.name == name)).first()
        if row is None or row[3] is None:
            _hasher.hash(password)  # the same work as a real check: no timing difference
            return None
        try:
            _hasher.verify(row[3], password)
        except (VerificationError, InvalidHashError):
            return None
        return _user((row[0], row[1], row[2]))

    def tokens(self, user_id: int) -> list[TokenInfo]:
        with self.engine.connect() as conn:
            return [TokenInfo(id=id_, created_at=created) for id_, created in conn.execute(
                select(t.api_tokens.c.id, t.api_tokens.c.created_at)
                .where(t.api_tokens.c.user_id == user_id).order_by(t.api_tokens.c.id))]

    def revoke_token(self, user_id: int, token_id: int) -> None:
        """Delete one of the user's own tokens; another user's token is not found."""
        with self.engine.begin() as conn:
            deleted = conn.execute(delete(t.api_tokens).where(
                t.api_tokens.c.id == token_id, t.api_tokens.c.user_id == user_id)).rowcount
        if not deleted:
            raise NotFoundError(f"no token with id {token_id}")

    def user_for_token(self, token: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_USER_COLUMNS)
                .join(t.api_tokens, t.api_tokens.c.user_id == t.users.c.id)
                .where(t.api_tokens.c.digest == token_digest(token))
            ).first()
        return None if row is None else _user(tuple(row))

    def role(self, project_id: int, user_id: int) -> Role | None:
        """The user's role in the project, None when not a member."""
        with self.engine.connect() as conn:
            role = conn.execute(select(t.memberships.c.role).where(
                t.memberships.c.project_id == project_id,
                t.memberships.c.user_id == user_id)).scalar()
        return None if role is None else Role(role)

    def memberships(self, user_id: int) -> dict[int, Role]:
        """The user's role by project id, in the projects they are a member of."""
        with self.engine.connect() as conn:
            return {project_id: Role(role) for project_id, role in conn.execute(
                select(t.memberships.c.project_id, t.memberships.c.role)
                .where(t.memberships.c.user_id == user_id))}

    def members(self, project_id: int) -> list[Member]:
        with self.engine.connect() as conn:
            result = conn.execute(
                select(*_USER_COLUMNS, t.memberships.c.role)
                .join(t.memberships, t.memberships.c.user_id == t.users.c.id)
                .where(t.memberships.c.project_id == project_id)
                .order_by(t.users.c.name))
            return [Member(user=_user((id_, name, admin)), role=Role(role))
                    for id_, name, admin, role in result]

    def set_member(self, project_id: int, user_name: str, role: Role) -> Member:
        """Add the user to the project with ``role``, or change the role they have. The last
        owner cannot be demoted: a project always has one."""
        with self.engine.begin() as conn:
            user = _find_user(conn, user_name)
            current = conn.execute(select(t.memberships.c.role).where(
                t.memberships.c.project_id == project_id,
                t.memberships.c.user_id == user.id)).scalar()
            if current is None:
                conn.execute(insert(t.memberships).values(
                    project_id=project_id, user_id=user.id, role=role.value))
            else:
                if current == Role.OWNER and role is not Role.OWNER:
                    _keep_an_owner(conn, project_id)
                conn.execute(update(t.memberships).values(role=role.value).where(
                    t.memberships.c.project_id == project_id,
                    t.memberships.c.user_id == user.id))
        return Member(user=user, role=role)

    def remove_member(self, project_id: int, user_name: str) -> None:
        with self.engine.begin() as conn:
            user = _find_user(conn, user_name)
            role = conn.execute(select(t.memberships.c.role).where(
                t.memberships.c.project_id == project_id,
                t.memberships.c.user_id == user.id)).scalar()
            if role is None:
                raise NotFoundError(f"user {user_name!r} is not a member of the project")
            if role == Role.OWNER:
                _keep_an_owner(conn, project_id)
            conn.execute(delete(t.memberships).where(
                t.memberships.c.project_id == project_id, t.memberships.c.user_id == user.id))


def _find_user(conn: Connection, name: str) -> User:
    row = conn.execute(select(*_USER_COLUMNS).where(t.users.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"no user named {name!r}")
    return _user(tuple(row))


def _keep_an_owner(conn: Connection, project_id: int) -> None:
    """Refuse to take away the project's last owner."""
    owners = conn.execute(select(func.count()).where(
        t.memberships.c.project_id == project_id,
        t.memberships.c.role == Role.OWNER.value)).scalar_one()
    if owners <= 1:
        raise ConflictError("a project keeps at least one owner: make another member owner "
                            "first")


def delete_memberships(conn: Connection, project_id: int) -> None:
    """Forget who was a member of the project (deleting it)."""
    conn.execute(delete(t.memberships).where(t.memberships.c.project_id == project_id))


def _stamp(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]
