"""A project as an `ExportSource` whose records stream from the database in batches, so an
export's memory does not grow with the project.

Items are paged by keyset (``WHERE id > :last ORDER BY id LIMIT :batch``: every page costs
the same, unlike OFFSET); each page's tasks and annotations come with one query each over the
page's item-id range, restricted to the chosen labelsets (which also keeps out items of other
projects whose ids fall in the range), plus one for the annotations whose less common fields
are set (see `rows.ANNOTATION_COLUMNS`). Records come in item-id order, tasks in labelset
(creation) order, annotations in id order. A page's annotations are decoded one item at a
time, as records are read. One connection (one transaction: a consistent snapshot on SQLite)
serves a whole pass over the records and is released when the pass ends or is abandoned.

The queries are built with Core but run on the driver's cursor (`_RawQuery`): at millions of
rows SQLAlchemy's per-row result processing would cost more than the decoding itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import chain, repeat
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam, func, select

from labelport.domain.model import (
    Annotation,
    Dataset,
    Item,
    ItemRecord,
    Labelset,
    ProjectInfo,
    Task,
)
from labelport.domain.source import StreamSource
from labelport.errors import InputError, unknown
from labelport.store import projects, rows
from labelport.store import tables as t


def open_source(engine: Engine, project: str, *, labelsets: list[str] | None = None,
                batch_size: int = 1000) -> StreamSource:
    """The project as a source; ``labelsets`` (by name) restricts tasks and annotations to
    those, ``None`` means all of them. Records are read when iterated, not here."""
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, not {batch_size}")
    with engine.connect() as conn:
        row = projects.find_project(conn, project)
        schema = projects.load_schema(conn, row)
        dataset_rows = _named(conn, t.datasets.c, row.id)
        labelset_rows = _named(conn, t.labelsets.c, row.id)
        count = conn.execute(select(func.count()).where(t.items.c.project_id == row.id)
                             ).scalar_one()
        videos = conn.execute(select(t.items.c.id).where(t.items.c.project_id == row.id,
                                                         t.items.c.frame_count.is_not(None))
                              .limit(1)).first() is not None
        class_names = dict(conn.execute(
            select(t.label_classes.c.id, t.label_classes.c.name)
            .where(t.label_classes.c.project_id == row.id)).all())
    by_name = {name: (id_, description) for id_, name, description in labelset_rows}
    chosen = list(by_name) if labelsets is None else labelsets
    for name in chosen:
        if name not in by_name:
            raise unknown("labelset", name, list(by_name))
    chosen_rows = sorted((by_name[n][0], n, by_name[n][1]) for n in set(chosen))
    stream = _Stream(
        project_id=row.id, batch_size=batch_size, class_names=class_names,
        dataset_names={id_: name for id_, name, _ in dataset_rows},
        labelset_names={id_: name for id_, name, _ in chosen_rows},
    )
    return StreamSource(
        project=ProjectInfo(name=row.name, description=row.description),
        schema=schema,
        count=count,
        open_records=partial(_records, engine, stream),
        open_from=partial(_records, engine, stream),
        open_items=partial(_items, engine, stream),
        videos=videos,
        datasets=tuple(Dataset(name=n, description=d) for _, n, d in dataset_rows),
        labelsets=tuple(Labelset(name=n, description=d) for _, n, d in chosen_rows),
    )


def _named(conn: Connection, c: Any, project_id: int) -> Sequence[tuple[int, str, str]]:
    """(id, name, description) of a project's datasets or labelsets, in creation order."""
    return conn.execute(select(c.id, c.name, c.description)
                        .where(c.project_id == project_id).order_by(c.id)).all()


class _Stream:
    """The three queries of one source, and the names their ids stand for."""

    def __init__(self, *, project_id: int, batch_size: int, class_names: dict[int, str],
                 dataset_names: dict[int, str], labelset_names: dict[int, str]) -> None:
        self.class_names, self.dataset_names = class_names, dataset_names
        self.labelset_names = labelset_names
        self.batch_size = batch_size
        i, a, ts = t.items.c, t.annotations.c, t.tasks.c
        chosen = list(labelset_names)
        self.items: Select[Any] = (
            select(*rows.ITEM_COLUMNS)
            .where(i.project_id == project_id, i.id > bindparam("last"))
            .order_by(i.id).limit(bindparam("size")))
        self.position: Select[Any] = (  # the index's order: the database skips ids only
            select(i.id).where(i.project_id == project_id)
            .order_by(i.id).offset(bindparam("skip")).limit(1))
        self.tasks: Select[Any] = (
            select(*rows.TASK_COLUMNS)
            .where(ts.item_id.between(bindparam("first"), bindparam("last")),
                   ts.labelset_id.in_(chosen))
            .order_by(ts.item_id, ts.labelset_id))
        in_range = (a.item_id.between(bindparam("first"), bindparam("last")),
                    a.labelset_id.in_(chosen))
        self.annotations: Select[Any] = (
            select(*rows.ANNOTATION_COLUMNS).where(*in_range)
            .order_by(a.item_id, a.labelset_id, a.id))  # the index's order: no sort
        self.extras: Select[Any] = (
            select(*rows.ANNOTATION_EXTRA_COLUMNS)
            .where(*in_range, a.extras))


class _RawQuery:
    """A Core select compiled once for the connection's driver and run on the driver's own
    cursor: rows come back as the driver's plain tuples, with none of SQLAlchemy's per-row
    processing (`rows` decodes what needs decoding)."""

    def __init__(self, statement: Select[Any], conn: Connection) -> None:
        self._compiled = statement.compile(dialect=conn.dialect)

    def fetch(self, conn: Connection, **params: Any) -> Sequence[tuple[Any, ...]]:
        state = self._compiled.construct_expanded_state(params)
        args = state.positional_parameters if self._compiled.positional else state.parameters
        cursor = conn.connection.cursor()
        try:
            cursor.execute(state.statement, args)
            return cursor.fetchall()
        finally:
            cursor.close()


_Page = tuple[Sequence[Any], Sequence[Any], Sequence[Any], Sequence[Any]]
"""One page's item, task, annotation and extra-annotation rows."""


def _records(engine: Engine, stream: _Stream, start: int = 0, stop: int | None = None
             ) -> Iterator[ItemRecord]:
    """The records from position ``start`` up to ``stop`` (None: to the end), found by the
    index, not by reading the records before it, a page at a time, the last one cut at
    ``stop`` (a shard reads no page past its own items). On PostgreSQL the next page is
    fetched in a thread while this one is decoded: the server runs the queries and the driver
    receives the rows (the GIL released while waiting) on the other core, so the stream costs
    about what decoding does. SQLite's driver works in this process, holding the GIL for each
    row it builds, so there it fetches in turn."""
    with engine.connect() as conn, conn.begin():
        items, tasks, annotations, extras = (
            _RawQuery(q, conn)
            for q in (stream.items, stream.tasks, stream.annotations, stream.extras))
        after = 0
        if start > 0:  # the keyset of the record before ``start``
            before = _RawQuery(stream.position, conn).fetch(conn, skip=start - 1)
            if not before:
                return
            after = before[0][0]
        sizes = page_sizes(stream.batch_size, None if stop is None else stop - start)

        def page(last: int, size: int) -> _Page:
            item_rows = items.fetch(conn, last=last, size=size) if size else ()
            if not item_rows:
                return (), (), (), ()
            bounds = {"first": item_rows[0][0], "last": item_rows[-1][0]}
            annotation_rows = annotations.fetch(conn, **bounds)
            return (item_rows, tasks.fetch(conn, **bounds), annotation_rows,
                    extras.fetch(conn, **bounds) if any(r[-1] for r in annotation_rows)
                    else ())

        if conn.dialect.name != "postgresql":
            last = after
            while (current := page(last, next(sizes)))[0]:
                last = current[0][-1][0]
                yield from _decoded(stream, current)
            return
        # one page ahead at most; leaving the block waits for the page being fetched, so the
        # connection is idle when it is released, also when the reader stops early
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(page, after, next(sizes))
            while (current := ahead.result())[0]:
                ahead = pool.submit(page, current[0][-1][0], next(sizes))
                yield from _decoded(stream, current)


def page_sizes(batch_size: int, count: int | None) -> Iterator[int]:
    """Each page's LIMIT for a pass over ``count`` records (None: all): ``batch_size``, the
    last page cut to what is left, then 0 (no page)."""
    if count is None:
        return repeat(batch_size)
    cut = (min(batch_size, count - done) for done in range(0, count, batch_size))
    return chain(cut, repeat(0))


def _items(engine: Engine, stream: _Stream) -> Iterator[Item]:
    """The items alone, a page at a time, with no task or annotation query."""
    with engine.connect() as conn, conn.begin():
        items = _RawQuery(stream.items, conn)
        last = 0
        while item_rows := items.fetch(conn, last=last, size=stream.batch_size):
            last = item_rows[-1][0]
            for row in item_rows:
                yield rows.item_from_row(row, stream.dataset_names)


def _decoded(stream: _Stream, page: _Page) -> Iterator[ItemRecord]:
    item_rows, task_rows, annotation_rows, extra_rows = page
    tasks_by_item: dict[int, list[Task]] = {}
    for row in task_rows:
        tasks_by_item.setdefault(row[0], []).append(
            rows.task_from_row(row, stream.labelset_names))
    groups = rows.annotations_per_item(annotation_rows, {r[0]: r for r in extra_rows},
                                       stream.class_names, stream.labelset_names)
    group = next(groups, None)
    for row in item_rows:
        item_annotations: list[Annotation] = []
        if group is not None and group[0] == row[0]:
            item_annotations = group[1]
            group = next(groups, None)
        yield rows.item_record(rows.item_from_row(row, stream.dataset_names),
                               tuple(tasks_by_item.get(row[0], ())), tuple(item_annotations))
