"""Bulk inserts through each driver's fastest path, inside the caller's transaction (so an
import stays all or nothing): on SQLite one prepared ``INSERT`` run by the driver's
``executemany`` over plain tuples, on PostgreSQL ``COPY ... FROM STDIN`` (psycopg 3).

SQLAlchemy's executemany builds and type-processes a dict per row, which costs several times
what the driver itself does; the rows here are tuples in the order of the columns named, and
only the values the driver cannot take as they are (datetimes on SQLite) pass through the
column type's own bind processor, so what is stored is what SQLAlchemy would store.

Ids a caller needs before inserting (an item's, which its annotations reference) come from
`IdBlocks`, a block at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from sqlalchemy import Boolean, Connection, String, Table, func, select, text
from sqlalchemy.exc import DBAPIError

from labelport.errors import InputError

BULK_CACHE_KIB = 128 * 1024
"""SQLite page cache during a bulk load (the default is 2 MiB): index pages of a large table
stay in memory instead of being re-read; set for the load only, then restored."""


@contextmanager
def bulk_load(conn: Connection) -> Iterator[None]:
    """Settings that speed up a large load and are safe inside a transaction: a larger page
    cache on SQLite (durability and journaling stay as they are); nothing on PostgreSQL."""
    if conn.dialect.name != "sqlite":
        yield
        return
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


class BulkInsert:
    """Inserts tuples of ``columns`` values into ``table`` with the driver's fastest path."""

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str]) -> None:
        self._conn, self._columns = conn, tuple(columns)
        self._postgres = conn.dialect.name == "postgresql"
        self._text_indexes = [i for i, name in enumerate(self._columns)
                              if isinstance(table.c[name].type, String)]
        names = ", ".join(columns)
        if self._postgres:
            self._sql = f"COPY {table.name} ({names}) FROM STDIN"
            self._processors: list[tuple[int, Callable[[Any], Any]]] = []
        else:
            self._sql = (f"INSERT INTO {table.name} ({names}) "
                         f"VALUES ({', '.join('?' * len(columns))})")
            self._processors = _bind_processors(conn, table, self._columns)

    def insert(self, values: list[tuple[Any, ...]]) -> None:
        """Insert the rows; a driver error is raised as SQLAlchemy's (as a statement run by
        SQLAlchemy would be), so callers handle one kind of database error."""
        if not values:
            return
        self._refuse_nul_text(values)
        dbapi_error = self._conn.dialect.loaded_dbapi.Error
        cursor = self._conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if self._postgres:
                with cursor.copy(self._sql) as copy:
                    write_row = copy.write_row
                    for row in values:
                        write_row(row)
            else:
                cursor.executemany(self._sql, self._processed(values) if self._processors
                                   else values)
        except dbapi_error as error:
            raise DBAPIError.instance(self._sql, None, error, dbapi_error) from None
        finally:
            cursor.close()

    def _refuse_nul_text(self, values: list[tuple[Any, ...]]) -> None:
        """An `InputError` for text holding a NUL byte, as the store's engine refuses it for
        every statement (`labelport.store.db`), which these inserts bypass. Each text column
        of the batch is joined and searched in C, not value by value."""
        for index in self._text_indexes:
            if "\0" in "".join(filter(None, map(itemgetter(index), values))):
                found = next(v for v in map(itemgetter(index), values) if v and "\0" in v)
                raise InputError(f"text may not hold a NUL byte: {found[:80]!r}")

    def _processed(self, values: list[tuple[Any, ...]]) -> Iterator[Sequence[Any]]:
        """The rows with their values processed; a row whose values to process are all NULL
        (most of them: timestamps are rare) passes as it is, checked in one C call."""
        processors = self._processors
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
