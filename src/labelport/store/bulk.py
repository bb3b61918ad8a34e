"""Bulk inserts through each driver's fastest path, inside the caller's transaction (so an
import stays all or nothing): on SQLite one prepared ``INSERT`` run by the driver's
``executemany`` over plain tuples, or for rows of text and integers one ``INSERT ... SELECT``
over the batch as a JSON array (`_json_insert_sql`), on PostgreSQL ``COPY ... FROM STDIN``
(psycopg 3). `Overlapped` runs a batch's insert on a thread while the next one is read.

SQLAlchemy's executemany builds and type-processes a dict per row, which costs several times
what the driver itself does; the rows here are tuples in the order of the columns named, and
only the values the driver cannot take as they are (datetimes on SQLite) pass through the
column type's own bind processor, so what is stored is what SQLAlchemy would store. Rows may
leave out trailing columns that hold their server defaults (fewer values to bind). On
PostgreSQL the foreign keys of a COPY are checked a batch at a time rather than row by row by
their triggers, where the role may (`_Parents`).

Ids a caller needs before inserting (an item's, which its annotations reference) come from
`IdBlocks`, a block at a time.
"""

from __future__ import annotations

import gc
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from contextlib import contextmanager
from itertools import groupby
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Boolean, Connection, Float, String, Table, func, select, text
from sqlalchemy.exc import DBAPIError

from labelport.errors import InputError
from labelport.store.rows import unstorable

BULK_CACHE_KIB = 128 * 1024
"""SQLite page cache during a bulk load (the default is 2 MiB): index pages of a large table
stay in memory instead of being re-read; set for the load only, then restored."""


@contextmanager
def bulk_load(conn: Connection) -> Iterator[None]:
    """Settings that speed up a large load and are safe inside a transaction: a larger page
    cache on SQLite (durability and journaling stay as they are), and Python's cyclic garbage
    collector paused (`gc_paused`)."""
    with gc_paused():
        if conn.dialect.name != "sqlite":
            yield
            return
        previous = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        conn.exec_driver_sql(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


_gc_pauses = 0
_gc_was_enabled = False
_gc_lock = threading.Lock()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off inside the block (it is the process's: back on
    when the last of blocks running at once in threads ends, if it was on before the first).

    An import allocates millions of objects, so the collector ran 46 full passes over every
    object alive in a 1M-annotation import, 3.5 s CPU of 13 s, and found 384 objects to free:
    rows, records and domain values hold no cycles. Reference counting frees them as before;
    cycles made meanwhile (by other threads too) wait for the block's end."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


class BulkInsert:
    """Inserts tuples of ``columns`` values into ``table`` with the driver's fastest path.

    ``defaults``: a row may leave out the last ``len(defaults)`` columns, which then hold these
    values; they must be the table's server defaults for those columns, as SQLite inserts such
    rows with the shorter column list (consecutive short rows in one ``executemany``, so the
    database's ids keep the rows' order) and PostgreSQL's COPY gets them padded."""

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str], *,
                 defaults: tuple[Any, ...] = ()) -> None:
        self._conn, self._columns, self._defaults = conn, tuple(columns), defaults
        self._short = len(self._columns) - len(defaults)
        self._postgres = conn.dialect.name == "postgresql"
        self._text_indexes = [i for i, name in enumerate(self._columns)
                              if isinstance(table.c[name].type, String)]
        names = ", ".join(columns)
        if self._postgres:
            self._sql = f"COPY {table.name} ({names}) FROM STDIN"
            self._parents = _Parents(conn, table, self._columns)
            self._processors: list[tuple[int, Callable[[Any], Any]]] = []
        else:
            self._sql = _insert_sql(table, self._columns)
            self._short_sql = _insert_sql(table, self._columns[:self._short])
            self._processors = _bind_processors(conn, table, self._columns)
            self._short_processors = [(i, p) for i, p in self._processors if i < self._short]
            self._json_sql = _json_insert_sql(table, self._columns, self._processors)
            self._short_json_sql = _json_insert_sql(table, self._columns[:self._short],
                                                    self._short_processors)

    def insert(self, values: list[tuple[Any, ...]]) -> None:
        """Insert the rows; a driver error is raised as SQLAlchemy's (as a statement run by
        SQLAlchemy would be), so callers handle one kind of database error."""
        if not values:
            return
        full = values  # the rows that are not short
        if self._defaults:
            full = ([r for r in values if len(r) > self._short]
                    if max(map(len, values)) > self._short else [])
        self._refuse_nul_text(values, full)
        dbapi_error = self._conn.dialect.loaded_dbapi.Error
        cursor = self._conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if self._postgres:
                self._copy(cursor, values, full)
            else:
                for length, run in groupby(values, key=len):
                    short = length == self._short and bool(self._defaults)
                    rows = list(run)
                    json_sql = self._short_json_sql if short else self._json_sql
                    if json_sql is not None:
                        try:
                            batch = orjson.dumps(rows)
                        except orjson.JSONEncodeError as error:
                            raise unstorable(error) from None
                        cursor.execute(json_sql, (batch,))
                        continue
                    processors = self._short_processors if short else self._processors
                    cursor.executemany(self._short_sql if short else self._sql,
                                       self._processed(rows, processors) if processors
                                       else rows)
        except dbapi_error as error:
            raise DBAPIError.instance(self._sql, None, error, dbapi_error) from None
        finally:
            cursor.close()

    def _copy(self, cursor: Any, values: list[tuple[Any, ...]],
              full: list[tuple[Any, ...]]) -> None:
        """COPY the rows; with their foreign keys checked here when `_Parents` may."""
        skipping = self._parents.checked(cursor, {
            index: self._column(values, full, index) for index in self._parents.indexes})
        if skipping:
            cursor.execute("SET LOCAL session_replication_role = replica")
        width, defaults = len(self._columns), self._defaults
        with cursor.copy(self._sql) as copy:
            write_row = copy.write_row
            for row in values:
                write_row(row if len(row) == width else row + defaults)
        if skipping:  # not on an error: the transaction is rolled back, the setting with it
            cursor.execute(f"SET LOCAL session_replication_role = {self._parents.role}")

    def _column(self, values: list[tuple[Any, ...]], full: list[tuple[Any, ...]],
                index: int) -> Iterable[Any]:
        """Column ``index`` of the rows that have it: ``full``, the rows that are not short,
        for a column a short row lacks."""
        return map(itemgetter(index), values if index < self._short else full)

    def _refuse_nul_text(self, values: list[tuple[Any, ...]],
                         full: list[tuple[Any, ...]]) -> None:
        """An `InputError` for text holding a NUL byte, as the store's engine refuses it for
        every statement (`labelport.store.db`), which these inserts bypass. Each text column
        of the batch is joined and searched in C, not value by value."""
        for index in self._text_indexes:
            if "\0" in "".join(filter(None, self._column(values, full, index))):
                found = next(v for v in self._column(values, full, index) if v and "\0" in v)
                raise InputError(f"text may not hold a NUL byte: {found[:80]!r}")

    def _processed(self, values: list[tuple[Any, ...]],
                   processors: list[tuple[int, Callable[[Any], Any]]]
                   ) -> Iterator[Sequence[Any]]:
        """The rows with their values processed; a row whose values to process are all NULL
        (most of them: timestamps are rare) passes as it is, checked in one C call."""
        indexes = itemgetter(*(i for i, _ in processors))
        nulls = indexes((None,) * len(self._columns))
        for row in values:
            if indexes(row) == nulls:
                yield row
                continue
            out = list(row)
            for index, process in processors:
                if out[index] is not None:
                    out[index] = process(out[index])
            yield out


def _insert_sql(table: Table, columns: Sequence[str]) -> str:
    return (f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})")


def _json_insert_sql(table: Table, columns: Sequence[str],
                     processors: list[tuple[int, Callable[[Any], Any]]]) -> str | None:
    """A SQLite ``INSERT`` of a whole batch given as one JSON array of rows (``json_each``,
    in the array's order), or None where the rows must be bound one by one.

    sqlite3's executemany binds each row holding the GIL and releases it only inside each
    row's step, so on a thread (`Overlapped`) it time-slices with the reader instead of
    running beside it; this statement is one step for the batch, GIL released throughout.
    JSON gives back what binding would store for text, integers and booleans (as 1/0), so
    only columns of those types qualify: not floats (SQLite's own parsing of a decimal may
    differ from Python's in the last bit) nor values a bind processor must convert."""
    if processors or sqlite3.sqlite_version_info < (3, 38) or any(  # ->> is from 3.38
            isinstance(table.c[name].type, Float) for name in columns):
        return None
    values = ", ".join(f"value ->> {i}" for i in range(len(columns)))
    return f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {values} FROM json_each(?)"


class _Parents:
    """The foreign keys of a PostgreSQL COPY, checked set-based instead of by its per-row
    triggers, which cost more than the COPY itself (an RI query per row and key: 1M
    annotations with 3 keys took 20 s, 3.6 s without them).

    Each batch's distinct referenced ids are looked up with ``SELECT ... FOR KEY SHARE``: they
    must all exist, and they stay locked until the transaction ends (what each trigger's own
    query does), so no other transaction can delete or re-key them meanwhile; only then are
    the triggers skipped for the COPY (``session_replication_role = replica``, set for the
    COPY only). A role that may not set that (neither a superuser nor, on PostgreSQL 15 and
    later, granted ``SET`` on it) keeps the triggers."""

    def __init__(self, conn: Connection, table: Table, columns: tuple[str, ...]) -> None:
        self._dbapi = conn.dialect.loaded_dbapi
        self._keys = {columns.index(fk.parent.name): (fk.column.table.name, fk.column.name)
                      for fk in table.foreign_keys if fk.parent.name in columns}
        self.indexes = list(self._keys)
        server = conn.connection.driver_connection.info.server_version  # type: ignore[union-attr]
        may_set = ("has_parameter_privilege('session_replication_role', 'SET')"
                   if server >= 150000 else "current_setting('is_superuser') = 'on'")
        self.allowed, self.role = conn.exec_driver_sql(
            f"SELECT {may_set}, current_setting('session_replication_role')").one()

    def checked(self, cursor: Any, referenced: dict[int, Iterable[Any]]) -> bool:
        """Whether the rows' references (their values by column index) were checked and
        locked here; an IntegrityError for one that does not exist."""
        if not self.allowed:
            return False
        for index, values in referenced.items():
            wanted = set(values)
            wanted.discard(None)
            if not wanted:
                continue
            parent, column = self._keys[index]
            sql = f"SELECT {column} FROM {parent} WHERE {column} = ANY(%s) FOR KEY SHARE"
            cursor.execute(sql, (list(wanted),))
            missing = wanted.difference(row[0] for row in cursor.fetchall())
            if missing:
                error = self._dbapi.IntegrityError(
                    f"no {parent}.{column} = {min(missing)}: a foreign key is violated")
                raise DBAPIError.instance(sql, None, error, self._dbapi.Error)
        return True


def _bind_processors(conn: Connection, table: Table, columns: tuple[str, ...]
                     ) -> list[tuple[int, Callable[[Any], Any]]]:
    """The column types' bind processors the driver needs, by column index (a bool is an int
    to sqlite3 already, so Boolean's is left out: it runs on every row)."""
    found: list[tuple[int, Callable[[Any], Any]]] = []
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type, Boolean):
            continue
        process = column_type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if process is not None:
            found.append((index, process))
    return found


class Overlapped:
    """Runs each batch's insert on a thread, one at a time, while the caller reads and
    prepares the next batch (Python, holding the GIL): the driver waits with the GIL released,
    PostgreSQL's psycopg while the server processes a COPY, SQLite's sqlite3 inside the step of
    the batch's one JSON statement (`_json_insert_sql`), so on two cores that time no longer
    adds to the import's. The caller must not use the connection until `wait` (which `run`
    calls first) returns: one connection, never used by two threads at once (SQLite's are
    opened with ``check_same_thread`` off for this, `labelport.store.db`). Leaving the block
    waits for the last insert, raising its error unless another one is already on its way."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: Future[None] | None = None

    def run(self, insert: Callable[[list[tuple[Any, ...]]], None],
            values: list[tuple[Any, ...]]) -> None:
        self.wait()
        self._pending = self._pool.submit(insert, values)

    def wait(self) -> None:
        """Return once the insert running is done; its error, if it failed."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> Overlapped:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        try:
            if error_type is None:
                self.wait()
            elif self._pending is not None:
                futures_wait([self._pending])  # its error would hide the one on its way
        finally:
            self._pool.shutdown()


class IdBlocks:
    """New ids of ``table``, a block per call (one query, not one per row).

    PostgreSQL draws them from the column's sequence, so concurrent writers never collide.
    SQLite has no sequence: the next ids are those after the table's largest, which no other
    connection can take meanwhile, because the store's write transactions start with
    ``BEGIN IMMEDIATE`` and so hold the database's write lock (see `labelport.store.db`)."""

    def __init__(self, conn: Connection, table: Table) -> None:
        self._conn, self._table = conn, table
        self._sequence: str | None = None
        self._next_sqlite: int | None = None

    def take(self, count: int) -> list[int]:
        """``count`` new ids, in increasing order."""
        conn, table = self._conn, self._table
        if conn.dialect.name == "postgresql":
            if self._sequence is None:
                self._sequence = conn.execute(
                    select(func.pg_get_serial_sequence(table.name, "id"))).scalar_one()
            return list(conn.execute(
                text("SELECT nextval(:sequence) FROM generate_series(1, :count)"),
                {"sequence": self._sequence, "count": count}).scalars())
        if self._next_sqlite is None:
            self._next_sqlite = (conn.execute(select(func.max(table.c.id))).scalar_one() or 0) + 1
        first = self._next_sqlite
        self._next_sqlite += count
        return list(range(first, first + count))
