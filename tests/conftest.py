"""Shared fixtures. ``store`` runs a test once on SQLite (a temporary file) and once on a fresh
PostgreSQL database at 127.0.0.1:5432 (skipped when no server answers, a failure in CI).

Two session rules: golden regeneration (``LABELPORT_REGEN_GOLDEN``) is refused when ``CI`` is
set, before any test runs, since a run that rewrites the goldens and then compares with them
passes whatever the writers do (``make goldens`` regenerates on a developer's machine); and the
suite writes nothing outside temporary folders: Hypothesis keeps its caches and example database
in a session folder (not ``.hypothesis/`` of the working tree), and so do the tools the tests
and their subprocesses run (matplotlib, Hugging Face, Label Studio, browsers: the XDG cache,
config and data folders point there; Playwright still finds installed browsers)."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from labelport.store import Store, open_store
from tests.required import in_ci, unavailable

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
REGEN_SWITCH = "LABELPORT_REGEN_GOLDEN"
_SESSION_HOME = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(REGEN_SWITCH) and in_ci():
        raise pytest.UsageError(
            f"{REGEN_SWITCH} is set in CI (CI={os.environ['CI']!r}): regenerating the goldens "
            f"and then comparing with them would pass whatever the writers do. Regenerate with "
            f"`make goldens` on a developer machine, review and commit the files.")
    home = Path(tempfile.mkdtemp(prefix="labelport-test-home-"))
    config.stash[_SESSION_HOME] = str(home)
    set_hypothesis_home_dir(home / "hypothesis")
    os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ms-playwright"))
    for variable, folder in (("XDG_CACHE_HOME", "cache"), ("XDG_CONFIG_HOME", "config"),
                             ("XDG_DATA_HOME", "data"), ("MPLCONFIGDIR", "matplotlib")):
        os.environ[variable] = str(home / folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_SESSION_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return str(tmp_path / "labelport.db")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = create_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    name = f"lp_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL not reachable at 127.0.0.1:5432: {exc.orig}"
        unavailable(message)
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, one per backend."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.close()
