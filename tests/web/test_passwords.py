"""Passwords for the web app: `labelport user create NAME --password` and `user set-password`
read the password from standard input, the store keeps an argon2 hash, and a wrong password,
an unknown user or a user without a password are refused alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelport.cli import app
from labelport.errors import InputError, NotFoundError
from labelport.store import Store, open_store


def test_user_create_with_password_and_set_password(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0
    created = runner.invoke(app, ["user", "create", "ada", "--password", "--db", db],
                            input="correct horse\n")
    assert created.exit_code == 0, created.output
    assert "with a password" in created.output
    store = open_store(db)
    try:
        assert store.users.check_password("ada", "correct horse") is not None
        changed = runner.invoke(app, ["user", "set-password", "ada", "--db", db],
                                input="battery staple\n")
        assert changed.exit_code == 0, changed.output
        assert store.users.check_password("ada", "correct horse") is None
        user = store.users.check_password("ada", "battery staple")
        assert user is not None and user.name == "ada"
    finally:
        store.close()
    short = runner.invoke(app, ["user", "set-password", "ada", "--db", db], input="short\n")
    # `labelport.cli.main` prints a LabelportError as one line and exits with status 2
    assert isinstance(short.exception, InputError)
    assert "at least 8 characters" in str(short.exception)


def test_password_hash_is_argon2_and_refusals_are_alike(store: Store) -> None:
    store.users.create_user("bea")
    store.users.create_user("cy")
    assert store.users.check_password("cy", "anything at all") is None  # no password yet
    store.users.set_password("bea", "s3cret-enough")
    from sqlalchemy import select

    from labelport.store import tables as t

    with store.engine.connect() as conn:
        stored = conn.execute(select(t.users.c.password_hash)
                              .where(t.users.c.name == "bea")).scalar_one()
    assert stored.startswith("$argon2id$") and "s3cret" not in stored
    assert store.users.check_password("bea", "s3cret-enougH") is None
    assert store.users.check_password("nobody", "s3cret-enough") is None
    with pytest.raises(InputError):
        store.users.set_password("bea", "short")
    with pytest.raises(NotFoundError):
        store.users.set_password("nobody", "long enough")


def test_tokens_are_listed_and_revoked_by_their_owner_only(store: Store) -> None:
    ada = store.users.create_user("ada")
    bob = store.users.create_user("bob")
    token = store.users.create_token("ada")
    [info] = store.users.tokens(ada.id)
    with pytest.raises(NotFoundError):
        store.users.revoke_token(bob.id, info.id)
    assert store.users.user_for_token(token) is not None
    store.users.revoke_token(ada.id, info.id)
    assert store.users.user_for_token(token) is None and store.users.tokens(ada.id) == []
