"""Annotations and predictions addressed by their store ids, as the API edits them one at a
time or in bulk. A prediction is an annotation whose source is ``model`` with a score, usually
in a labelset of its own. Every query is restricted to the caller's project."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from labelport.domain import codec
from labelport.domain.model import Annotation, Source
from labelport.errors import NotFoundError, unknown
from labelport.store import projects, rows
from labelport.store import tables as t
from labelport.store.items import Page, ensure_tasks, named_id, now


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredAnnotation:
    id: int
    item_id: int
    annotation: Annotation


_a = t.annotations.c
_COLUMNS = (_a.id, _a.item_id, t.labelsets.c.name.label("labelset"),
            t.label_classes.c.name.label("label"), _a.geometry, _a.attributes, _a.source,
            _a.score, _a.tags, _a.instance_id, _a.frame, _a.z_order, _a.crowd, _a.annotator,
            _a.lead_time_s, _a.created_at, _a.updated_at)


def _select() -> Any:
    return (select(*_COLUMNS)
            .join(t.items, t.items.c.id == _a.item_id)
            .join(t.labelsets, t.labelsets.c.id == _a.labelset_id)
            .join(t.label_classes, t.label_classes.c.id == _a.class_id))


def _stored(row: Any) -> StoredAnnotation:
    loads = orjson.loads
    return StoredAnnotation(id=row.id, item_id=row.item_id, annotation=Annotation(
        label=row.label, geometry=codec.geometry_from_json(loads(row.geometry)),
        labelset=row.labelset, attributes=loads(row.attributes) if row.attributes else {},
        tags=tuple(loads(row.tags)) if row.tags else (), instance_id=row.instance_id,
        frame=row.frame, z_order=row.z_order or 0, crowd=bool(row.crowd),
        source=Source(row.source), score=row.score, annotator=row.annotator,
        lead_time_s=row.lead_time_s, created_at=rows.from_db_time(row.created_at),
        updated_at=rows.from_db_time(row.updated_at)))


class AnnotationStore:
    """The by-id part of `labelport.store.Store` for annotations (``store.annotations``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def page(self, project_id: int, *, item_id: int | None = None,
             labelset: str | None = None, source: Source | None = None, offset: int = 0,
             limit: int = 100) -> Page:
        """A page of the project's annotations in id order."""
        where = [t.items.c.project_id == project_id]
        if item_id is not None:
            where.append(_a.item_id == item_id)
        if labelset is not None:
            where.append(t.labelsets.c.name == labelset)
        if source is not None:
            where.append(_a.source == source.value)
        query = _select().where(*where)
        with self.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(query.subquery())
                                 ).scalar_one()
            result = conn.execute(query.order_by(_a.id).offset(offset).limit(limit))
            return Page(count=count, rows=[_stored(r) for r in result])

    def get(self, project_id: int, annotation_id: int) -> StoredAnnotation:
        with self.engine.connect() as conn:
            return _find(conn, project_id, annotation_id)

    def create(self, project_id: int, entries: Sequence[tuple[int, Annotation]]) -> list[int]:
        """Insert ``(item id, annotation)`` pairs, all or nothing. Each class must be in the
        schema; labelsets are created by name when missing, and the items get a ``new`` task
        in a labelset where they have none."""
        with self.engine.begin() as conn:
            row_values = _rows(conn, project_id, entries)
            if not row_values:
                return []
            for labelset_id in {r["labelset_id"] for r in row_values}:
                ensure_tasks(conn, [r["item_id"] for r in row_values
                                    if r["labelset_id"] == labelset_id], labelset_id)
            return list(conn.execute(
                insert(t.annotations).returning(_a.id, sort_by_parameter_order=True),
                row_values).scalars())

    def replace(self, project_id: int, annotation_id: int, annotation: Annotation
                ) -> StoredAnnotation:
        """Store ``annotation`` in place of the one with this id (same item)."""
        with self.engine.begin() as conn:
            current = _find(conn, project_id, annotation_id)
            (values,) = _rows(conn, project_id, [(current.item_id, annotation)])
            conn.execute(update(t.annotations).where(_a.id == annotation_id).values(values))
            return _find(conn, project_id, annotation_id)

    def delete(self, project_id: int, annotation_id: int) -> None:
        with self.engine.begin() as conn:
            _find(conn, project_id, annotation_id)
            conn.execute(delete(t.annotations).where(_a.id == annotation_id))


def _find(conn: Connection, project_id: int, annotation_id: int) -> StoredAnnotation:
    row = conn.execute(_select().where(_a.id == annotation_id,
                                       t.items.c.project_id == project_id)).first()
    if row is None:
        raise NotFoundError(f"no annotation with id {annotation_id} in this project")
    return _stored(row)


def _rows(conn: Connection, project_id: int, entries: Sequence[tuple[int, Annotation]]
          ) -> list[dict[str, Any]]:
    """The rows to write, after checking items, classes and labelsets."""
    item_ids = {i for i, _ in entries}
    found = set(conn.execute(select(t.items.c.id).where(
        t.items.c.project_id == project_id, t.items.c.id.in_(item_ids))).scalars())
    missing = sorted(item_ids - found)
    if missing:
        raise NotFoundError(f"no item with id {missing[0]} in this project")
    classes = projects.class_row_ids(conn, project_id)
    labelsets: dict[str, int] = {}
    stamp = now()
    out = []
    for item_id, a in entries:
        class_id = classes.get(a.label)
        if class_id is None:
            raise unknown("class", a.label, list(classes))
        if a.labelset not in labelsets:
            labelsets[a.labelset] = named_id(conn, t.labelsets, project_id, a.labelset)
        row = rows.annotation_row(a, item_id=item_id, labelset_id=labelsets[a.labelset],
                                  class_id=class_id)
        row["created_at"] = row["created_at"] or stamp
        row["updated_at"] = stamp
        row["extras"] = True  # timestamps are set
        out.append(row)
    return out
