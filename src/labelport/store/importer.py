"""Import an `ExportSource` into a project, all or nothing: the caller runs `import_source` in
one transaction, so any error leaves the store as it was.

What an import adds: the source's classes and classifications the project lacks (appended, so
the schema's order and the class ids already given stay), its datasets and labelsets (created
by name when first seen), and its items with their tasks and annotations, inserted in large
batches through the driver's fastest path (`labelport.store.bulk`: SQLite executemany on
tuples, PostgreSQL COPY), item ids allocated a batch at a time. An item whose (dataset, path)
is already stored is refused: an import adds, it never replaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update

from labelport.domain.geometry import GeometryKind
from labelport.domain.model import ItemRecord
from labelport.domain.schema import LabelClass
from labelport.domain.source import ExportSource
from labelport.errors import InputError
from labelport.store import bulk, projects, rows
from labelport.store import tables as t

ITEMS_PER_BATCH = 5000
ANNOTATIONS_PER_BATCH = 50_000
"""A batch ends at whichever comes first: large enough that a round trip per table and batch
costs nothing, small enough to keep the rows of one batch a few tens of MB."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportSummary:
    """What an import added."""

    items: int
    tasks: int
    annotations: int
    classes_added: tuple[str, ...] = ()
    classifications_added: tuple[str, ...] = ()
    datasets_added: tuple[str, ...] = ()
    labelsets_added: tuple[str, ...] = ()


class _Names:
    """Ids of a project's datasets or labelsets by name, creating them when first asked."""

    def __init__(self, conn: Connection, table: Table, project_id: int) -> None:
        self._conn, self._table, self._project_id = conn, table, project_id
        self.ids: dict[str, int] = dict(conn.execute(
            select(table.c.name, table.c.id).where(table.c.project_id == project_id)
        ).all())
        self.added: list[str] = []

    def id(self, name: str, description: str = "") -> int:
        found = self.ids.get(name)
        if found is not None:
            return found
        if not name:
            raise InputError(f"a {self._table.name[:-1]} needs a name")
        new_id: int = self._conn.execute(
            insert(self._table)
            .values(project_id=self._project_id, name=name, description=description)
            .returning(self._table.c.id)
        ).scalar_one()
        self.ids[name] = new_id
        self.added.append(name)
        return new_id


class _Classes:
    """Row ids of a project's classes by name; a name not in the schema is appended as a new
    class (the next id, the annotation's geometry kind)."""

    def __init__(self, conn: Connection, project_id: int) -> None:
        self._conn, self._project_id = conn, project_id
        self.ids = projects.class_row_ids(conn, project_id)
        last = conn.execute(
            select(t.label_classes.c.local_id, t.label_classes.c.position)
            .where(t.label_classes.c.project_id == project_id)
        ).all()
        self._next_local_id = max((local for local, _ in last), default=0) + 1
        self._next_position = max((position for _, position in last), default=-1) + 1
        self.added: list[str] = []

    def merge(self, classes: tuple[LabelClass, ...]) -> None:
        """Append the source's classes the project lacks, keeping their definition but giving
        them the project's next ids (the source's ids may be taken)."""
        missing = [c for c in classes if c.name not in self.ids]
        self._append([_renumbered(c, self._next_local_id + i) for i, c in enumerate(missing)])

    def id(self, name: str, geometry: GeometryKind) -> int:
        found = self.ids.get(name)
        if found is None:
            if not name:
                raise InputError("an annotation has an empty label")
            self._append([LabelClass(id=self._next_local_id, name=name, geometry=geometry)])
            found = self.ids[name]
        return found

    def _append(self, classes: list[LabelClass]) -> None:
        projects.check_classes(tuple(classes))
        added = projects.add_classes(self._conn, self._project_id, tuple(classes),
                                     first_position=self._next_position)
        self.ids.update(added)
        self.added += added
        self._next_local_id += len(classes)
        self._next_position += len(classes)


def _renumbered(label_class: LabelClass, local_id: int) -> LabelClass:
    c = label_class
    return LabelClass(id=local_id, name=c.name, geometry=c.geometry, parent=c.parent,
                      color=c.color, keypoint_names=c.keypoint_names, skeleton=c.skeleton,
                      flip_pairs=c.flip_pairs, attributes=c.attributes)


def import_source(conn: Connection, project: str, source: ExportSource, *,
                  dataset: str | None = None,
                  progress: Callable[[int], None] | None = None) -> ImportSummary:
    """Add ``source`` to ``project``; ``dataset`` puts every item in that dataset instead of
    the one the source names. ``progress`` is called with the number of items done so far."""
    row = projects.find_project(conn, project)
    classes = _Classes(conn, row.id)
    classes.merge(source.schema.classes)
    current = rows.classifications_from_text(row.classifications)
    new_defs = [d for d in source.schema.classifications
                if d.name not in {c.name for c in current}]
    if new_defs:
        conn.execute(update(t.projects).where(t.projects.c.id == row.id).values(
            classifications=rows.classifications_text(current + tuple(new_defs))))
    datasets = _Names(conn, t.datasets, row.id)
    if dataset is not None:
        datasets.id(dataset)
    else:
        for d in source.datasets:
            datasets.id(d.name, d.description)
    labelsets = _Names(conn, t.labelsets, row.id)
    for ls in source.labelsets:
        labelsets.id(ls.name, ls.description)

    batch: list[ItemRecord] = []
    pending_annotations = 0
    with bulk.bulk_load(conn), bulk.Overlapped() as overlapped:
        writer = _BatchWriter(conn, row.id, project, classes, datasets, labelsets, dataset,
                              overlapped)
        for record in source.records():
            batch.append(record)
            pending_annotations += len(record.annotations)
            if len(batch) >= ITEMS_PER_BATCH or pending_annotations >= ANNOTATIONS_PER_BATCH:
                writer.write(batch)
                batch, pending_annotations = [], 0
                if progress:
                    progress(writer.items)
        if batch:
            writer.write(batch)
            if progress:
                progress(writer.items)
    return ImportSummary(
        items=writer.items, tasks=writer.tasks, annotations=writer.annotations,
        classes_added=tuple(classes.added),
        classifications_added=tuple(d.name for d in new_defs),
        datasets_added=tuple(datasets.added), labelsets_added=tuple(labelsets.added),
    )


_DATASET, _PATH = rows.ITEM_FIELDS.index("dataset_id"), rows.ITEM_FIELDS.index("path")


class _BatchWriter:
    """Inserts records a batch at a time: items (with ids taken a block per batch), then their
    tasks and annotations, one bulk insert per table; the annotations' (most of the work)
    through ``overlapped``, so the next batch is read meanwhile."""

    def __init__(self, conn: Connection, project_id: int, project: str, classes: _Classes,
                 datasets: _Names, labelsets: _Names, dataset: str | None,
                 overlapped: bulk.Overlapped) -> None:
        self._conn, self._project_id, self._project = conn, project_id, project
        self._overlapped = overlapped
        self._classes, self._datasets, self._labelsets = classes, datasets, labelsets
        self._dataset = dataset
        self._item_ids = bulk.IdBlocks(conn, t.items)
        self._insert_items = bulk.BulkInsert(conn, t.items, ("id", *rows.ITEM_FIELDS))
        self._insert_tasks = bulk.BulkInsert(conn, t.tasks, rows.TASK_FIELDS)
        self._insert_annotations = bulk.BulkInsert(conn, t.annotations, rows.ANNOTATION_FIELDS,
                                                   defaults=rows.ANNOTATION_DEFAULTS)
        self.items = self.tasks = self.annotations = 0

    def write(self, batch: list[ItemRecord]) -> None:
        self._overlapped.wait()  # the connection is free again
        project_id, dataset_id = self._project_id, self._datasets.id
        item_rows = [
            rows.item_values(r.item, project_id, dataset_id(self._dataset or r.item.dataset))
            for r in batch
        ]
        self._refuse_duplicates(item_rows)
        item_ids = self._item_ids.take(len(item_rows))
        self._insert_items.insert([(i, *r) for i, r in zip(item_ids, item_rows, strict=True)])
        task_rows: list[tuple[Any, ...]] = []
        labelset_id, task_values = self._labelsets.id, rows.task_values
        for record, item_id in zip(batch, item_ids, strict=True):
            seen: set[str] = set()
            for task in record.tasks:
                if task.labelset in seen:
                    raise InputError(f"item {record.item.key!r} has two tasks in labelset "
                                     f"{task.labelset!r}; an item has one task per labelset")
                seen.add(task.labelset)
                task_rows.append(task_values(task, item_id, labelset_id(task.labelset)))
        annotation_rows = rows.annotations_values(
            zip(item_ids, (r.annotations for r in batch), strict=True), labelset_id,
            self._classes.id)
        self._insert_tasks.insert(task_rows)
        self._overlapped.run(self._insert_annotations.insert, annotation_rows)
        self.items += len(item_rows)
        self.tasks += len(task_rows)
        self.annotations += len(annotation_rows)

    def _refuse_duplicates(self, item_rows: list[tuple[Any, ...]]) -> None:
        """An `InputError` naming the first item of the batch that is already stored (imported
        before or earlier in this source) or repeated within the batch."""
        names = {id_: name for name, id_ in self._datasets.ids.items()}
        keys: set[tuple[int, str]] = set()
        for r in item_rows:
            key = (r[_DATASET], r[_PATH])
            if key in keys:
                raise self._duplicate(names[key[0]], key[1])
            keys.add(key)
        stored = set(self._conn.execute(
            select(t.items.c.dataset_id, t.items.c.path)
            .where(t.items.c.dataset_id.in_({d for d, _ in keys}),
                   t.items.c.path.in_([p for _, p in keys]))
        ).all())
        for r in item_rows:
            if (r[_DATASET], r[_PATH]) in stored:
                raise self._duplicate(names[r[_DATASET]], r[_PATH])

    def _duplicate(self, dataset: str, path: str) -> InputError:
        return InputError(
            f"item {dataset}/{path} is already in project {self._project!r} (imported before "
            "or twice in this source); nothing was imported")
