"""`labelport user create` and `labelport token create`: the printed token authenticates."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from labelport.cli import app
from labelport.store import open_store


def test_user_and_token_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["user", "create", "ada", "--admin", "--db", db]).exit_code == 0
    result = runner.invoke(app, ["token", "create", "ada", "--db", db])
    assert result.exit_code == 0
    token = result.stdout.strip()
    store = open_store(db)
    try:
        user = store.users.user_for_token(token)
        assert user is not None and (user.name, user.is_admin) == ("ada", True)
        assert store.users.user_for_token(token + "x") is None
    finally:
        store.close()
    assert runner.invoke(app, ["token", "create", "nobody", "--db", db]).exit_code != 0
