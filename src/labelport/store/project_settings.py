"""Projects addressed by their numeric id, as the API does: read, create with an owner, rename,
settings, and replacing the label schema while keeping class ids stable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, String, cast, literal, select, update

from labelport.domain.schema import LabelSchema
from labelport.errors import ConflictError, InputError, NotFoundError
from labelport.store import projects, rows
from labelport.store import tables as t
from labelport.store.users import Role, parse_role


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectDetail:
    id: int
    name: str
    description: str
    export_role: Role
    created_at: datetime | None


_COLUMNS = (t.projects.c.id, t.projects.c.name, t.projects.c.description,
            t.projects.c.export_role, t.projects.c.created_at)


def find_by_id(conn: Connection, project_id: int) -> ProjectDetail:
    row = conn.execute(select(*_COLUMNS).where(t.projects.c.id == project_id)).first()
    if row is None:
        raise NotFoundError(f"no project with id {project_id}")
    return ProjectDetail(id=row.id, name=row.name, description=row.description,
                         export_role=Role(row.export_role),
                         created_at=rows.from_db_time(row.created_at))


class ProjectSettingsStore:
    """The by-id part of `labelport.store.Store` (``store.project_settings``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, project_id: int) -> ProjectDetail:
        """The project; a `NotFoundError` when no project has that id."""
        with self.engine.connect() as conn:
            return find_by_id(conn, project_id)

    def create(self, name: str, schema: LabelSchema, *, description: str, owner_id: int
               ) -> ProjectDetail:
        """Create a project whose owner is the user ``owner_id``, in one transaction."""
        with self.engine.begin() as conn:
            project_id = projects.create_project(conn, name, schema, description)
            conn.execute(t.memberships.insert().values(
                project_id=project_id, user_id=owner_id, role=Role.OWNER.value))
            return find_by_id(conn, project_id)

    def update(self, project_id: int, *, name: str | None = None,
               description: str | None = None, export_role: str | None = None
               ) -> ProjectDetail:
        values: dict[str, str] = {}
        if name is not None:
            if not name.strip():
                raise InputError("a project needs a name")
            values["name"] = name
        if description is not None:
            values["description"] = description
        if export_role is not None:
            values["export_role"] = parse_role(export_role).value
        with self.engine.begin() as conn:
            current = find_by_id(conn, project_id)
            if name is not None and name != current.name and conn.execute(
                    select(t.projects.c.id).where(t.projects.c.name == name)).first():
                raise ConflictError(f"project {name!r} already exists")
            if values:
                conn.execute(update(t.projects).where(t.projects.c.id == project_id)
                             .values(**values))
            return find_by_id(conn, project_id)

    def put_schema(self, project_id: int, schema: LabelSchema) -> LabelSchema:
        """Replace the project's schema: classes take the given order; a class keeps its row
        (and so its annotations) when its id is given again, whatever its new name; a class
        left out is deleted, refused while annotations use it."""
        projects.check_classes(schema.classes)
        with self.engine.begin() as conn:
            find_by_id(conn, project_id)
            c = t.label_classes.c
            stored = {local: row_id for local, row_id in conn.execute(
                select(c.local_id, c.id).where(c.project_id == project_id))}
            kept = {cls.id for cls in schema.classes}
            removed = [row_id for local, row_id in stored.items() if local not in kept]
            if removed:
                used = conn.execute(select(c.name).join(
                    t.annotations, t.annotations.c.class_id == c.id)
                    .where(c.id.in_(removed)).limit(1)).scalar()
                if used is not None:
                    raise ConflictError(f"class {used!r} has annotations: delete them before "
                                        "removing the class from the schema")
                conn.execute(t.label_classes.delete().where(c.id.in_(removed)))
            # free the names first: they are unique per project, and may swap
            conn.execute(update(t.label_classes).where(c.project_id == project_id)
                         .values(name=literal("~renaming~") + cast(c.id, String)))
            for position, label_class in enumerate(schema.classes):
                values = rows.label_class_row(label_class, project_id=project_id,
                                              position=position)
                if label_class.id in stored:
                    conn.execute(update(t.label_classes)
                                 .where(c.id == stored[label_class.id]).values(values))
                else:
                    conn.execute(t.label_classes.insert().values(values))
            conn.execute(update(t.projects).where(t.projects.c.id == project_id).values(
                classifications=rows.classifications_text(schema.classifications)))
            return projects.load_schema(conn, projects.find_project(
                conn, find_by_id(conn, project_id).name))
