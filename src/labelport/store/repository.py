"""`Store`: the one object the rest of labelport talks to about persisted projects. Each call
runs in its own transaction; what comes back are domain values, never ORM objects or rows.
Open one with `labelport.store.db.open_store`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine

from labelport.domain.model import ProjectInfo
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import ConflictError, InputError
from labelport.store import importer, projects, releases, streaming, users
from labelport.store.annotations import AnnotationStore
from labelport.store.importer import ImportSummary
from labelport.store.items import ItemStore
from labelport.store.jobs import JobStore, owing_deliveries
from labelport.store.project_settings import ProjectSettingsStore
from labelport.store.projects import ProjectStats, ProjectSummary
from labelport.store.releases import ReleaseDiff, ReleaseInfo
from labelport.store.schedules import ScheduleStore
from labelport.store.users import UserStore


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.users = UserStore(engine)
        self.project_settings = ProjectSettingsStore(engine)
        self.items = ItemStore(engine)
        self.annotations = AnnotationStore(engine)
        self.jobs = JobStore(engine)
        self.schedules = ScheduleStore(engine)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def create_project(self, name: str, schema: LabelSchema, description: str = "") -> int:
        """Create a project; its classes keep the ids ``schema`` gives them."""
        with self.engine.begin() as conn:
            return projects.create_project(conn, name, schema, description)

    def list_projects(self) -> list[ProjectSummary]:
        with self.engine.connect() as conn:
            return projects.list_projects(conn)

    def project(self, name: str) -> ProjectInfo:
        """The project's info; a `NotFoundError` listing the valid names when there is none."""
        with self.engine.connect() as conn:
            row = projects.find_project(conn, name)
        return ProjectInfo(name=row.name, description=row.description)

    def project_schema(self, name: str) -> LabelSchema:
        with self.engine.connect() as conn:
            return projects.load_schema(conn, projects.find_project(conn, name))

    def project_stats(self, name: str) -> ProjectStats:
        with self.engine.connect() as conn:
            return projects.project_stats(conn, name)

    def delete_project(self, name: str) -> None:
        with self.engine.begin() as conn:
            project_id = projects.find_project(conn, name).id
            owing = owing_deliveries(conn, project_id)
            if owing:  # the cascade would remove them with their webhook calls unmade
                raise ConflictError(f"project {name!r} has exports still being delivered "
                                    f"({', '.join(map(str, owing))}: their copy to a "
                                    "destination or webhook call); delete it once their "
                                    "delivery has ended")
            releases.delete_releases(conn, project_id)
            users.delete_memberships(conn, project_id)
            projects.delete_project(conn, name)

    def import_source(self, project: str, source: ExportSource, *, dataset: str | None = None,
                      progress: Callable[[int], None] | None = None) -> ImportSummary:
        """Add ``source``'s records to ``project`` in one transaction: on any error nothing is
        kept. See `labelport.store.importer`."""
        with self.engine.begin() as conn:
            try:
                return importer.import_source(conn, project, source, dataset=dataset,
                                              progress=progress)
            except OverflowError as error:  # SQLite's integers are 64-bit; the source's need not
                raise InputError(f"a number in the input is too large to store: {error}") \
                    from None

    def source(self, project: str, *, labelsets: list[str] | None = None,
               batch_size: int = 1000) -> StreamSource:
        """The project as a streamed `ExportSource` (``labelsets=None``: all of them); see
        `labelport.store.streaming`."""
        return streaming.open_source(self.engine, project, labelsets=labelsets,
                                     batch_size=batch_size)

    def create_release(self, project: str, name: str, source: ExportSource, *,
                       description: str = "", selection: Mapping[str, Any] | None = None,
                       batch_size: int = 1000) -> ReleaseInfo:
        """Freeze ``source`` (the project's selected records) as the immutable release
        ``name``, in one transaction; see `labelport.store.releases`."""
        with self.engine.begin() as conn:
            return releases.create_release(conn, project, name, source,
                                           description=description, selection=selection,
                                           batch_size=batch_size)

    def list_releases(self, project: str) -> list[ReleaseInfo]:
        with self.engine.connect() as conn:
            return releases.list_releases(conn, project)

    def release(self, project: str, name: str) -> ReleaseInfo:
        """The release's info; a `NotFoundError` listing the project's releases if none."""
        with self.engine.connect() as conn:
            return releases.release_info(conn, project, name)

    def release_source(self, project: str, name: str, *, batch_size: int = 1000
                       ) -> StreamSource:
        """The release's records, exactly as frozen, as a streamed `ExportSource`."""
        return releases.open_release_source(self.engine, project, name, batch_size=batch_size)

    def release_hashes(self, project: str, name: str) -> dict[str, str]:
        """Content hash by item key of the release's items, for a delta export
        (`labelport.export.releases.delta_source`)."""
        with self.engine.connect() as conn:
            return releases.release_hashes(conn, project, name)

    def release_diff(self, project: str, a: str, b: str) -> ReleaseDiff:
        """Items added, removed and changed from release ``a`` to release ``b``."""
        with self.engine.connect() as conn:
            return releases.release_diff(conn, project, a, b)
