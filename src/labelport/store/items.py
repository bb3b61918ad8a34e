"""Datasets, labelsets, items and tasks addressed by their store ids, as the API edits them one
at a time or in bulk. Every query is restricted to the project the caller names, so an id of
another project's row reads as not found.

Creating an item also creates its task in the ``ground-truth`` labelset (status ``new``), as
an annotation tool does when images are added: the item is then labeling work to do and
exports of that labelset see it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update

from labelport.domain.model import DEFAULT_LABELSET, Item, Task, TaskStatus
from labelport.errors import ConflictError, InputError, NotFoundError
from labelport.store import rows
from labelport.store import tables as t


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredName:
    """A dataset or a labelset; ``items`` counts a dataset's items (0 for labelsets)."""

    id: int
    name: str
    description: str
    items: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredItem:
    id: int
    dataset_id: int
    item: Item


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredTask:
    id: int
    item_id: int
    task: Task


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """One page of a list and the length of the whole list."""

    count: int
    rows: list[Any]


def now() -> datetime:
    return datetime.now(UTC)


def named_id(conn: Connection, table: Table, project_id: int, name: str) -> int:
    """The id of the project's dataset or labelset ``name``, created when missing."""
    found = conn.execute(select(table.c.id).where(table.c.project_id == project_id,
                                                  table.c.name == name)).scalar()
    if found is not None:
        return int(found)
    return int(conn.execute(insert(table).values(project_id=project_id, name=name,
                                                 description="")
                            .returning(table.c.id)).scalar_one())


def ensure_tasks(conn: Connection, item_ids: Sequence[int], labelset_id: int) -> None:
    """Give each item a ``new`` task in the labelset unless it has one there already."""
    have = set(conn.execute(select(t.tasks.c.item_id).where(
        t.tasks.c.labelset_id == labelset_id, t.tasks.c.item_id.in_(item_ids))).scalars())
    stamp = now()
    missing = [{"item_id": i, "labelset_id": labelset_id, "status": TaskStatus.NEW.value,
                "created_at": stamp, "updated_at": stamp}
               for i in dict.fromkeys(item_ids) if i not in have]
    if missing:
        conn.execute(insert(t.tasks), missing)


class ItemStore:
    """The by-id part of `labelport.store.Store` for datasets, labelsets, items and tasks
    (``store.items``); one transaction a call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- datasets and labelsets ---------------------------------------------------------

    def names(self, table: Table, project_id: int) -> list[StoredName]:
        """The project's datasets (with item counts) or labelsets, in creation order."""
        query = select(table.c.id, table.c.name, table.c.description)
        if table is t.datasets:
            counts = (select(t.items.c.dataset_id, func.count().label("n"))
                      .where(t.items.c.project_id == project_id)
                      .group_by(t.items.c.dataset_id).subquery())
            query = (select(table.c.id, table.c.name, table.c.description,
                            func.coalesce(counts.c.n, 0))
                     .outerjoin(counts, counts.c.dataset_id == table.c.id))
        with self.engine.connect() as conn:
            result = conn.execute(query.where(table.c.project_id == project_id)
                                  .order_by(table.c.id))
            return [StoredName(id=r[0], name=r[1], description=r[2],
                               items=r[-1] if table is t.datasets else 0) for r in result]

    def name(self, table: Table, project_id: int, row_id: int) -> StoredName:
        for found in self.names(table, project_id):
            if found.id == row_id:
                return found
        raise NotFoundError(f"no {table.name[:-1]} with id {row_id} in this project")

    def create_name(self, table: Table, project_id: int, name: str, description: str
                    ) -> StoredName:
        with self.engine.begin() as conn:
            _refuse_taken(conn, table, project_id, name)
            row_id = conn.execute(insert(table).values(
                project_id=project_id, name=name, description=description
            ).returning(table.c.id)).scalar_one()
        return StoredName(id=row_id, name=name, description=description)

    def update_name(self, table: Table, project_id: int, row_id: int, *,
                    name: str | None, description: str | None) -> StoredName:
        current = self.name(table, project_id, row_id)
        values = {k: v for k, v in (("name", name), ("description", description))
                  if v is not None}
        with self.engine.begin() as conn:
            if name is not None and name != current.name:
                _refuse_taken(conn, table, project_id, name)
            if values:
                conn.execute(update(table).where(table.c.id == row_id).values(**values))
        return self.name(table, project_id, row_id)

    def delete_dataset(self, project_id: int, dataset_id: int) -> None:
        """Delete an empty dataset; one with items is refused (delete the items first)."""
        found = self.name(t.datasets, project_id, dataset_id)
        if found.items:
            raise ConflictError(f"dataset {found.name!r} has {found.items} items: delete them "
                                "first")
        with self.engine.begin() as conn:
            conn.execute(delete(t.datasets).where(t.datasets.c.id == dataset_id))

    # --- items --------------------------------------------------------------------------

    def items(self, project_id: int, *, dataset_id: int | None = None, offset: int = 0,
              limit: int = 100) -> Page:
        """A page of the project's items in id order."""
        where = [t.items.c.project_id == project_id]
        if dataset_id is not None:
            where.append(t.items.c.dataset_id == dataset_id)
        with self.engine.connect() as conn:
            count = conn.execute(select(func.count()).where(*where)).scalar_one()
            result = conn.execute(select(*rows.ITEM_COLUMNS).where(*where)
                                  .order_by(t.items.c.id).offset(offset).limit(limit)).all()
            return Page(count=count, rows=_stored_items(conn, project_id, result))

    def item(self, project_id: int, item_id: int) -> StoredItem:
        with self.engine.connect() as conn:
            return _find_item(conn, project_id, item_id)

    def create_items(self, project_id: int, items: Sequence[Item]) -> list[int]:
        """Insert the items (their datasets created by name when missing) with their
        ``ground-truth`` tasks, all or nothing; an item whose dataset and path are taken is
        refused."""
        with self.engine.begin() as conn:
            dataset_ids = {name: named_id(conn, t.datasets, project_id, name)
                           for name in dict.fromkeys(i.dataset for i in items)}
            keys: set[tuple[str, str]] = set()
            for i in items:
                if (i.dataset, i.path) in keys:
                    raise ConflictError(f"item {i.key!r} is given twice")
                keys.add((i.dataset, i.path))
            taken = conn.execute(select(t.datasets.c.name, t.items.c.path).join(
                t.datasets, t.datasets.c.id == t.items.c.dataset_id).where(
                t.items.c.project_id == project_id,
                t.items.c.path.in_({i.path for i in items}))).all()
            clash = next((f"{d}/{p}" for d, p in taken if (d, p) in keys), None)
            if clash is not None:
                raise ConflictError(f"item {clash!r} already exists")
            if not items:
                return []
            ids = list(conn.execute(
                insert(t.items).returning(t.items.c.id, sort_by_parameter_order=True),
                [rows.item_row(i, project_id=project_id, dataset_id=dataset_ids[i.dataset])
                 for i in items]).scalars())
            ensure_tasks(conn, ids, named_id(conn, t.labelsets, project_id, DEFAULT_LABELSET))
            return ids

    def update_item(self, project_id: int, item_id: int, **changes: Any) -> StoredItem:
        """Change width, height, media_uri or metadata (None: unchanged)."""
        with self.engine.begin() as conn:
            current = _find_item(conn, project_id, item_id).item
            changed = replace(current, **{k: v for k, v in changes.items() if v is not None})
            values = rows.item_row(changed, project_id=project_id, dataset_id=0)
            conn.execute(update(t.items).where(t.items.c.id == item_id).values(
                {k: values[k] for k in ("width", "height", "media_uri", "metadata")}))
            return _find_item(conn, project_id, item_id)

    def delete_item(self, project_id: int, item_id: int) -> None:
        """Delete the item with its tasks and annotations (releases keep their copy)."""
        with self.engine.begin() as conn:
            _find_item(conn, project_id, item_id)
            conn.execute(delete(t.annotations).where(t.annotations.c.item_id == item_id))
            conn.execute(delete(t.tasks).where(t.tasks.c.item_id == item_id))
            conn.execute(delete(t.items).where(t.items.c.id == item_id))

    # --- tasks --------------------------------------------------------------------------

    def tasks(self, project_id: int, *, item_id: int | None = None,
              labelset: str | None = None, status: TaskStatus | None = None,
              offset: int = 0, limit: int = 100) -> Page:
        where = [t.items.c.project_id == project_id]
        if item_id is not None:
            where.append(t.tasks.c.item_id == item_id)
        if labelset is not None:
            where.append(t.labelsets.c.name == labelset)
        if status is not None:
            where.append(t.tasks.c.status == status.value)
        base = select(t.tasks.c.id).join(t.items, t.items.c.id == t.tasks.c.item_id).join(
            t.labelsets, t.labelsets.c.id == t.tasks.c.labelset_id).where(*where)
        with self.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
            ids = list(conn.execute(base.order_by(t.tasks.c.id).offset(offset).limit(limit))
                       .scalars())
            return Page(count=count, rows=_stored_tasks(conn, project_id, ids))

    def task(self, project_id: int, task_id: int) -> StoredTask:
        with self.engine.connect() as conn:
            return _find_task(conn, project_id, task_id)

    def update_task(self, project_id: int, task_id: int, **changes: Any) -> StoredTask:
        """Change status, assignee, reviewer or classifications (None: unchanged; an empty
        string clears assignee or reviewer)."""
        with self.engine.begin() as conn:
            current = _find_task(conn, project_id, task_id).task
            given = {k: v for k, v in changes.items() if v is not None}
            for person in ("assignee", "reviewer"):
                if given.get(person) == "":
                    given[person] = None
            changed = replace(current, **given, updated_at=now())
            values = rows.task_row(changed, item_id=0, labelset_id=0)
            conn.execute(update(t.tasks).where(t.tasks.c.id == task_id).values(
                {k: values[k] for k in ("status", "assignee", "reviewer", "classifications",
                                        "updated_at")}))
            return _find_task(conn, project_id, task_id)


def _refuse_taken(conn: Connection, table: Table, project_id: int, name: str) -> None:
    if not name.strip():
        raise InputError(f"a {table.name[:-1]} needs a name")
    if conn.execute(select(table.c.id).where(table.c.project_id == project_id,
                                             table.c.name == name)).first():
        raise ConflictError(f"{table.name[:-1]} {name!r} already exists")


def _stored_items(conn: Connection, project_id: int, result: Sequence[Any]) -> list[StoredItem]:
    names = dict(conn.execute(select(t.datasets.c.id, t.datasets.c.name)
                              .where(t.datasets.c.project_id == project_id)).all())
    return [StoredItem(id=r.id, dataset_id=r.dataset_id, item=rows.item_from_row(r, names))
            for r in result]


def _find_item(conn: Connection, project_id: int, item_id: int) -> StoredItem:
    result = conn.execute(select(*rows.ITEM_COLUMNS).where(
        t.items.c.id == item_id, t.items.c.project_id == project_id)).all()
    if not result:
        raise NotFoundError(f"no item with id {item_id} in this project")
    return _stored_items(conn, project_id, result)[0]


def _stored_tasks(conn: Connection, project_id: int, ids: Sequence[int]) -> list[StoredTask]:
    if not ids:
        return []
    names = dict(conn.execute(select(t.labelsets.c.id, t.labelsets.c.name)
                              .where(t.labelsets.c.project_id == project_id)).all())
    result = conn.execute(select(t.tasks.c.id, *rows.TASK_COLUMNS)
                          .where(t.tasks.c.id.in_(ids)).order_by(t.tasks.c.id))
    return [StoredTask(id=r[0], item_id=r[1], task=rows.task_from_row(r[1:], names))
            for r in result]


def _find_task(conn: Connection, project_id: int, task_id: int) -> StoredTask:
    found = conn.execute(
        select(t.tasks.c.id).join(t.items, t.items.c.id == t.tasks.c.item_id)
        .where(t.tasks.c.id == task_id, t.items.c.project_id == project_id)).scalar()
    if found is None:
        raise NotFoundError(f"no task with id {task_id} in this project")
    return _stored_tasks(conn, project_id, [found])[0]
