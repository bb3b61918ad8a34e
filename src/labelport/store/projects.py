"""Projects and their label schemas: create, find, list, count, delete. Every function runs on
the connection (and transaction) its caller gives it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from labelport.domain.model import TaskStatus
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.errors import InputError, unknown
from labelport.store import rows
from labelport.store import tables as t


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectSummary:
    id: int
    name: str
    description: str
    created_at: datetime | None
    items: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectStats:
    """Counts of a project, zeros included, in the project's own order: datasets in creation
    order, classes in schema order, statuses in `TaskStatus` order."""

    project: str
    items_per_dataset: dict[str, int]
    annotations_per_class: dict[str, int]
    tasks_per_status: dict[str, int]

    @property
    def items(self) -> int:
        return sum(self.items_per_dataset.values())

    @property
    def annotations(self) -> int:
        return sum(self.annotations_per_class.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredProject:
    """A project's own row, as the store's modules pass it around."""

    id: int
    name: str
    description: str
    classifications: str | None
    """JSON text, see `rows.classifications_from_text`."""


def find_project(conn: Connection, name: str) -> StoredProject:
    """The project named ``name``; a `NotFoundError` listing the projects there are when there
    is none by that name."""
    row = conn.execute(
        select(t.projects.c.id, t.projects.c.name, t.projects.c.description,
               t.projects.c.classifications)
        .where(t.projects.c.name == name)
    ).first()
    if row is None:
        names = conn.execute(select(t.projects.c.name).order_by(t.projects.c.name)).scalars()
        raise unknown("project", name, list(names))
    return StoredProject(id=row.id, name=row.name, description=row.description,
                         classifications=row.classifications)


def create_project(conn: Connection, name: str, schema: LabelSchema, description: str) -> int:
    if not name.strip():
        raise InputError("a project needs a name")
    if conn.execute(select(t.projects.c.id).where(t.projects.c.name == name)).first():
        raise InputError(f"project {name!r} already exists")
    check_classes(schema.classes)
    project_id: int = conn.execute(
        insert(t.projects).values(
            name=name, description=description,
            classifications=rows.classifications_text(schema.classifications),
        ).returning(t.projects.c.id)
    ).scalar_one()
    add_classes(conn, project_id, schema.classes, first_position=0)
    return project_id


def check_classes(classes: tuple[LabelClass, ...]) -> None:
    """Refuse a schema whose class names or ids repeat: both identify a class."""
    for key in ("name", "id"):
        seen: set[object] = set()
        for c in classes:
            value = getattr(c, key)
            if value in seen:
                raise InputError(f"label schema: class {key} {value!r} appears twice")
            seen.add(value)


def add_classes(conn: Connection, project_id: int, classes: tuple[LabelClass, ...], *,
                first_position: int) -> dict[str, int]:
    """Insert ``classes`` after the existing ones; their row ids by name."""
    added: dict[str, int] = {}
    for position, label_class in enumerate(classes, start=first_position):
        row = rows.label_class_row(label_class, project_id=project_id, position=position)
        added[label_class.name] = conn.execute(
            insert(t.label_classes).values(row).returning(t.label_classes.c.id)).scalar_one()
    return added


def load_schema(conn: Connection, project: StoredProject) -> LabelSchema:
    """The project's schema, classes in schema order."""
    class_rows = conn.execute(
        select(*rows.LABEL_CLASS_COLUMNS)
        .where(t.label_classes.c.project_id == project.id)
        .order_by(t.label_classes.c.position)
    )
    return LabelSchema(
        classes=tuple(rows.label_class_from_row(r) for r in class_rows),
        classifications=rows.classifications_from_text(project.classifications),
    )


def class_row_ids(conn: Connection, project_id: int) -> dict[str, int]:
    """Row ids of the project's classes by name (what annotations reference)."""
    return dict(conn.execute(
        select(t.label_classes.c.name, t.label_classes.c.id)
        .where(t.label_classes.c.project_id == project_id)
    ).all())


def list_projects(conn: Connection) -> list[ProjectSummary]:
    """Every project, by name, with its number of items."""
    counts = (select(t.items.c.project_id, func.count().label("n"))
              .group_by(t.items.c.project_id).subquery())
    result = conn.execute(
        select(t.projects.c.id, t.projects.c.name, t.projects.c.description,
               t.projects.c.created_at, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.project_id == t.projects.c.id)
        .order_by(t.projects.c.name)
    )
    return [ProjectSummary(id=id_, name=name, description=description,
                           created_at=rows.from_db_time(created_at), items=n)
            for id_, name, description, created_at, n in result]


def project_stats(conn: Connection, name: str) -> ProjectStats:
    project = find_project(conn, name)
    per_dataset = conn.execute(
        select(t.datasets.c.name, func.count(t.items.c.id))
        .outerjoin(t.items, t.items.c.dataset_id == t.datasets.c.id)
        .where(t.datasets.c.project_id == project.id)
        .group_by(t.datasets.c.id, t.datasets.c.name)
        .order_by(t.datasets.c.id)
    ).all()
    classes = conn.execute(
        select(t.label_classes.c.id, t.label_classes.c.name)
        .where(t.label_classes.c.project_id == project.id)
        .order_by(t.label_classes.c.position)
    ).all()
    per_class: dict[int, int] = dict(conn.execute(
        select(t.annotations.c.class_id, func.count())
        .where(t.annotations.c.class_id.in_([id_ for id_, _ in classes]))
        .group_by(t.annotations.c.class_id)
    ).all())
    per_status: dict[str, int] = dict(conn.execute(
        select(t.tasks.c.status, func.count())
        .join(t.labelsets, t.labelsets.c.id == t.tasks.c.labelset_id)
        .where(t.labelsets.c.project_id == project.id)
        .group_by(t.tasks.c.status)
    ).all())
    return ProjectStats(
        project=name,
        items_per_dataset=dict(per_dataset),
        annotations_per_class={name: per_class.get(id_, 0) for id_, name in classes},
        tasks_per_status={s.value: per_status.get(s.value, 0) for s in TaskStatus},
    )


def delete_project(conn: Connection, name: str) -> None:
    """Delete the project and everything in it, children first (no cascades to rely on)."""
    project_id = find_project(conn, name).id
    project_items = select(t.items.c.id).where(t.items.c.project_id == project_id)
    conn.execute(delete(t.annotations).where(t.annotations.c.item_id.in_(project_items)))
    conn.execute(delete(t.tasks).where(t.tasks.c.item_id.in_(project_items)))
    conn.execute(delete(t.items).where(t.items.c.project_id == project_id))
    for table in (t.label_classes, t.datasets, t.labelsets):
        conn.execute(delete(table).where(table.c.project_id == project_id))
    conn.execute(delete(t.projects).where(t.projects.c.id == project_id))
