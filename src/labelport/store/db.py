"""Where the store lives and how it is opened: the database URL (``--db`` / ``LABELPORT_DB``),
the engine with SQLite's settings, and the migrations run to head on every open."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DatabaseError

from labelport.errors import InputError, LabelportError
from labelport.store.repository import Store

DEFAULT_DB = "./labelport.db"
ENV_VAR = "LABELPORT_DB"
MIGRATIONS = Path(__file__).parent / "migrations"
_WRITES = "labelport_writes"
"""Execution option marking a SQLite connection whose transaction writes."""


def database_url(url_or_path: str | None = None) -> str:
    """The SQLAlchemy URL for ``url_or_path``, else ``$LABELPORT_DB``, else ``./labelport.db``.

    A value without ``://`` is a SQLite file path. ``postgresql://`` means psycopg 3 (the
    driver labelport installs)."""
    value = url_or_path or os.environ.get(ENV_VAR) or DEFAULT_DB
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def create_store_engine(url: str) -> Engine:
    """An engine; on SQLite with foreign keys on, WAL (readers never block the writer) and
    real transactions: pysqlite's own transaction handling would start them late, after the
    first read, so an import's reads would not be part of its transaction.

    On SQLite, ``engine.begin()`` (how the store writes) starts ``BEGIN IMMEDIATE``: a write
    transaction that read first could not become a writer once another connection had written
    since ("database is locked" at once, whatever the busy timeout); an immediate one waits
    for the writer's lock up front. Reads (``engine.connect()``) stay deferred, so a long
    export never holds the write lock.

    sqlite3's ``check_same_thread`` is off on SQLite (SQLAlchemy's default for a file, made
    explicit for every URL): an import hands its connection to a thread for each batch's
    insert (`labelport.store.bulk.Overlapped`), never to two threads at once; the pool still
    gives each checkout to one caller."""
    sqlite = url.startswith("sqlite")
    engine = create_engine(url, connect_args={"check_same_thread": False} if sqlite else {})
    event.listen(engine, "before_cursor_execute", _refuse_nul_text)
    if not sqlite:
        return engine

    @contextmanager
    def begin_writing() -> Iterator[Connection]:
        with engine.connect() as connection:
            connection.execution_options(**{_WRITES: True})
            with connection.begin():
                yield connection

    engine.begin = begin_writing  # type: ignore[method-assign, assignment]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(_WRITES, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def _refuse_nul_text(_conn: Connection, _cursor: Any, _statement: str, parameters: Any,
                     _context: Any, _executemany: bool) -> None:
    """Refuse text holding a NUL byte before the database sees it, on every backend alike:
    PostgreSQL cannot store one (a `DataError`, a 500 in the service) where SQLite stored it.
    orjson writes a NUL inside JSON payloads as ``\\u0000``, which both keep."""
    found = _nul_text(parameters)
    if found is not None:
        raise InputError(f"text may not hold a NUL byte: {found[:80]!r}")


def _nul_text(parameters: Any) -> str | None:
    """The first text holding a NUL byte in a statement's parameters (a dict or a sequence, or
    a sequence of them for executemany), None when there is none."""
    many = isinstance(parameters, (list, tuple)) and parameters and isinstance(
        parameters[0], (dict, list, tuple))
    for row in parameters if many else [parameters]:
        values = (row.values() if isinstance(row, dict)
                  else row if isinstance(row, (list, tuple)) else ())
        for value in values:
            if isinstance(value, str) and "\0" in value:
                return value
    return None


def upgrade_to_head(engine: Engine) -> None:
    """Apply the migrations the database lacks, in one transaction."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_store(url_or_path: str | None = None) -> Store:
    """Open (creating or upgrading as needed) the store at ``url_or_path``; see `database_url`."""
    url = database_url(url_or_path)
    engine = create_store_engine(url)
    try:
        upgrade_to_head(engine)
    except DatabaseError as exc:  # cannot connect, or a file that is not a database
        engine.dispose()
        shown = make_url(url).render_as_string(hide_password=True)
        raise LabelportError(f"cannot open the database {shown}: {exc.orig}") from None
    return Store(engine)
