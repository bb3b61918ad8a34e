"""Pages of a project's items for people browsing them (the web app's Items tab): filtered,
keyset-paginated (``id > :after ORDER BY id LIMIT n``, so page 2,000 costs what page 1 costs),
each item with its tasks and annotations of every labelset.

The filters are the selection's, asked of the database: dataset, a labelset's task status, a
class present in a labelset, an annotator (of an object, or the task's assignee) and a part of
the file name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, exists, or_, select

from labelport.domain.model import DEFAULT_LABELSET, ItemRecord, Task
from labelport.errors import InputError, NotFoundError, unknown
from labelport.store import rows
from labelport.store import tables as t


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemFilter:
    dataset: str | None = None
    labelset: str = DEFAULT_LABELSET
    """The labelset ``status`` and ``label`` are asked of."""
    status: str | None = None
    label: str | None = None
    annotator: str | None = None
    name: str | None = None
    """A part of the item's file name (case-sensitive on PostgreSQL)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemPage:
    records: list[ItemRecord]
    next_after: int | None
    """The ``after`` of the next page; None on the last page."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectNames:
    """The names a project's ids stand for."""

    datasets: dict[int, str]
    labelsets: dict[int, str]
    classes: dict[int, str]


def project_names(conn: Connection, project_id: int) -> ProjectNames:
    def named(table: Any) -> dict[int, str]:
        return dict(conn.execute(select(table.c.id, table.c.name)
                                 .where(table.c.project_id == project_id)
                                 .order_by(table.c.id)).all())

    return ProjectNames(datasets=named(t.datasets), labelsets=named(t.labelsets),
                        classes=dict(conn.execute(
                            select(t.label_classes.c.id, t.label_classes.c.name)
                            .where(t.label_classes.c.project_id == project_id)
                            .order_by(t.label_classes.c.position)).all()))


def _id_of(names: dict[int, str], name: str, what: str) -> int:
    for id_, known in names.items():
        if known == name:
            return id_
    raise unknown(what, name, list(names.values()))


def item_page(engine: Engine, project_id: int, chosen: ItemFilter, *, after: int = 0,
              limit: int = 48) -> ItemPage:
    """The first ``limit`` items with an id above ``after`` that pass ``chosen``."""
    if not 1 <= limit <= 500:
        raise InputError(f"a page holds 1 to 500 items, not {limit}")
    i, ts, a = t.items.c, t.tasks.c, t.annotations.c
    with engine.connect() as conn:
        names = project_names(conn, project_id)
        query = select(*rows.ITEM_COLUMNS).where(i.project_id == project_id, i.id > after)
        if chosen.dataset:
            query = query.where(i.dataset_id == _id_of(names.datasets, chosen.dataset,
                                                       "dataset"))
        if chosen.name:
            escaped = (chosen.name.replace("\\", "\\\\").replace("%", "\\%")
                       .replace("_", "\\_"))
            query = query.where(i.path.like(f"%{escaped}%", escape="\\"))
        if chosen.status or chosen.label:
            labelset_id = _id_of(names.labelsets, chosen.labelset, "labelset")
            if chosen.status:
                query = query.where(exists().where(ts.item_id == i.id,
                                                   ts.labelset_id == labelset_id,
                                                   ts.status == chosen.status))
            if chosen.label:
                class_id = _id_of(names.classes, chosen.label, "class")
                query = query.where(exists().where(a.item_id == i.id,
                                                   a.labelset_id == labelset_id,
                                                   a.class_id == class_id))
        if chosen.annotator:
            query = query.where(or_(
                exists().where(a.item_id == i.id, a.annotator == chosen.annotator),
                exists().where(ts.item_id == i.id, ts.assignee == chosen.annotator)))
        item_rows = conn.execute(query.order_by(i.id).limit(limit + 1)).all()
        more = len(item_rows) > limit
        item_rows = item_rows[:limit]
        records = _records(conn, item_rows, names)
    return ItemPage(records=records, next_after=item_rows[-1][0] if more else None)


def item_record(engine: Engine, project_id: int, item_id: int) -> ItemRecord:
    """One item of the project with its tasks and annotations; a `NotFoundError` for an item
    of another project."""
    i = t.items.c
    with engine.connect() as conn:
        row = conn.execute(select(*rows.ITEM_COLUMNS)
                           .where(i.id == item_id, i.project_id == project_id)).first()
        if row is None:
            raise NotFoundError(f"no item with id {item_id} in this project")
        return _records(conn, [row], project_names(conn, project_id))[0]


def _records(conn: Connection, item_rows: Sequence[Any],
             names: ProjectNames) -> list[ItemRecord]:
    """Records of ``item_rows`` with their tasks and annotations of every labelset."""
    ids = [row[0] for row in item_rows]
    if not ids:
        return []
    ts, a = t.tasks.c, t.annotations.c
    tasks: dict[int, list[Task]] = {}
    for row in conn.execute(select(*rows.TASK_COLUMNS).where(ts.item_id.in_(ids))
                            .order_by(ts.item_id, ts.labelset_id)):
        tasks.setdefault(row[0], []).append(rows.task_from_row(row, names.labelsets))
    annotation_rows = conn.execute(select(*rows.ANNOTATION_COLUMNS).where(a.item_id.in_(ids))
                                   .order_by(a.item_id, a.labelset_id, a.id)).all()
    extras = {r[0]: r for r in conn.execute(
        select(*rows.ANNOTATION_EXTRA_COLUMNS).where(a.item_id.in_(ids), a.extras))}
    annotations = dict(rows.annotations_per_item(annotation_rows, extras, names.classes,
                                                 names.labelsets))
    return [rows.item_record(rows.item_from_row(row, names.datasets),
                             tuple(tasks.get(row[0], ())), tuple(annotations.get(row[0], ())))
            for row in item_rows]


def names_of(engine: Engine, project_id: int) -> ProjectNames:
    """The project's datasets, labelsets and classes (the filters' choices)."""
    with engine.connect() as conn:
        return project_names(conn, project_id)


def has_videos(engine: Engine, project_id: int) -> bool:
    """Whether any item of the project is a video (formats that write only videos fit)."""
    i = t.items.c
    with engine.connect() as conn:
        return conn.execute(select(i.id).where(i.project_id == project_id,
                                               i.video.is_not(None)).limit(1)).first() is not None
