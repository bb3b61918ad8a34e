"""The database tables, as typed SQLAlchemy 2 mappings. Migrations in ``migrations/`` create
exactly these (a test compares them).

JSON-ish payloads (geometry, attributes, metadata, classifications, class specs) are ``Text``
holding JSON encoded by `labelport.store.rows` with orjson, NULL when empty, rather than the JSON
type: reading a million annotations then costs one fast decode per value and no per-row type
processing, and SQLite and PostgreSQL store the same text. Their layouts are the ones of
`labelport.domain.codec`. Timestamps are stored in UTC.

The ORM classes describe the schema; the store's queries use their ``__table__`` with Core, so
no ORM object leaves the store. Relationships refuse lazy loading.
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids on PostgreSQL; on SQLite ``INTEGER PRIMARY KEY`` (the rowid, 64-bit already)."""
VIDEO_ROWS = "frame_count IS NOT NULL"
"""The items that are videos (`ItemRow.frame_count`), as a partial index's condition."""

Timestamp = DateTime(timezone=True)
Name = String(255)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Name, unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    classifications: Mapped[str | None] = mapped_column(Text)
    """The schema's image-level `ClassificationDef`s, a JSON list."""
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    export_role: Mapped[str] = mapped_column(String(20), server_default="manager")
    """The least member role allowed to export (`labelport.store.users.Role`)."""

    classes: Mapped[list["LabelClassRow"]] = relationship(
        lazy="raise", order_by="LabelClassRow.position")
    datasets: Mapped[list["DatasetRow"]] = relationship(lazy="raise", order_by="DatasetRow.id")
    labelsets: Mapped[list["LabelsetRow"]] = relationship(lazy="raise", order_by="LabelsetRow.id")


class LabelClassRow(Base):
    """A class of a project's schema. ``local_id`` is the domain's `LabelClass.id`, stable for
    the project's life; ``id`` is the row's key that annotations reference."""

    __tablename__ = "label_classes"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        UniqueConstraint("project_id", "local_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    local_id: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Name)
    geometry: Mapped[str] = mapped_column(String(20))
    parent: Mapped[str | None] = mapped_column(Name)
    color: Mapped[str | None] = mapped_column(String(32))
    spec: Mapped[str | None] = mapped_column(Text)
    """keypoint_names, skeleton, flip_pairs and attributes, as `label_class_to_json` writes."""


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(Name)
    description: Mapped[str] = mapped_column(Text, default="")


class LabelsetRow(Base):
    __tablename__ = "labelsets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(Name)
    description: Mapped[str] = mapped_column(Text, default="")


class ItemRow(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("dataset_id", "path"),
        Index(None, "project_id", "id"),
        Index("ix_items_videos", "project_id", sqlite_where=text(VIDEO_ROWS),
              postgresql_where=text(VIDEO_ROWS)),  # whether a project holds a video
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    path: Mapped[str] = mapped_column(Text)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    media_uri: Mapped[str | None] = mapped_column(Text)
    frame_count: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    bit_depth: Mapped[int | None] = mapped_column(Integer)
    metadata_: Mapped[str | None] = mapped_column("metadata", Text)
    video: Mapped[str | None] = mapped_column(Text)
    """`video_info_to_json` as JSON when the item is a video."""


class TaskRow(Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("item_id", "labelset_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    labelset_id: Mapped[int] = mapped_column(ForeignKey("labelsets.id"))
    status: Mapped[str] = mapped_column(String(20))
    assignee: Mapped[str | None] = mapped_column(Name)
    reviewer: Mapped[str | None] = mapped_column(Name)
    classifications: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)


class AnnotationRow(Base):
    __tablename__ = "annotations"
    __table_args__ = (
        Index(None, "item_id", "labelset_id", "id"),
        Index(None, "class_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    labelset_id: Mapped[int] = mapped_column(ForeignKey("labelsets.id"))
    class_id: Mapped[int] = mapped_column(ForeignKey("label_classes.id"))
    kind: Mapped[str] = mapped_column(String(20))
    """The geometry's kind, for queries; the geometry below carries it too."""
    geometry: Mapped[str] = mapped_column(Text)
    """`geometry_to_json`, as JSON."""
    attributes: Mapped[str | None] = mapped_column(Text)
    extras: Mapped[bool] = mapped_column(Boolean, server_default=false())
    """Whether a column below holds a value other than its default: readers fetch those
    columns only for such rows, and a bulk import inserts the rows without them (their server
    defaults fill them; see `labelport.store.rows`)."""
    source: Mapped[str] = mapped_column(String(10), server_default="human")
    score: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[int | None] = mapped_column(BigInteger)
    frame: Mapped[int | None] = mapped_column(Integer)
    z_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    crowd: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    annotator: Mapped[str | None] = mapped_column(Name)
    lead_time_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime | None] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    outside: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ReleaseRow(Base):
    """A release: an immutable snapshot of a project's selection (see
    `labelport.store.releases`). ``header`` is the native format's header as of the release
    (project, schema, datasets, labelsets); rows are inserted once and never updated after."""

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        UniqueConstraint("project_id", "version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(Name)
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    selection: Mapped[str | None] = mapped_column(Text)
    """The selection that chose the release's items, a JSON object (what a manifest shows)."""
    header: Mapped[str] = mapped_column(Text)
    item_count: Mapped[int] = mapped_column(Integer)
    annotation_count: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class ReleaseItemRow(Base):
    """One item of a release: the native format's item JSON and its content hash. ``item_id``
    is the store id the item had (no foreign key: the item may be deleted later)."""

    __tablename__ = "release_items"
    __table_args__ = (
        UniqueConstraint("release_id", "key"),
        Index(None, "release_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    key: Mapped[str] = mapped_column(Text)
    """`Item.key`, ``dataset/path``."""
    item_id: Mapped[int | None] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Name, unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """argon2 hash of the web app's password; None: the user signs in with tokens only."""


class ApiTokenRow(Base):
    """An API token of a user, kept as the SHA-256 of the token (see `labelport.store.users`)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class MembershipRow(Base):
    """A user's role in a project."""

    __tablename__ = "memberships"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20))


class ExportJobRow(Base):
    """One export run in the background (`labelport.store.jobs`). ``request`` is the export's
    options as JSON (`labelport.export.request.ExportOptions.from_json`); a sharded export's
    shards are rows too, with ``parent_id`` and ``shard``, so they are claimed, retried and
    recovered like any job. Status moves only by UPDATEs that name the status they expect."""

    __tablename__ = "export_jobs"
    __table_args__ = (
        Index(None, "project_id", "id"),
        Index(None, "status", "heartbeat_at"),
        Index(None, "parent_id"),
        Index(None, "delivery_heartbeat_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    request: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int | None] = mapped_column(BigInteger)
    counts: Mapped[str | None] = mapped_column(Text)
    """The manifest's counts and report, a JSON object, once completed."""
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("export_schedules.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("export_jobs.id",
                                                             ondelete="CASCADE"))
    shard: Mapped[int | None] = mapped_column(Integer)
    shards: Mapped[int] = mapped_column(Integer, default=0)
    """How many shards a parent was split into (0: not sharded)."""
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    artifact_uri: Mapped[str | None] = mapped_column(Text)
    """Set only once the artifact is uploaded whole: a row without it has nothing to give."""
    artifact_name: Mapped[str | None] = mapped_column(Text)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    artifact_size: Mapped[int | None] = mapped_column(BigInteger)
    delivery: Mapped[str | None] = mapped_column(Text)
    """What delivering the artifact and calling the webhook did, a JSON object
    (`labelport.jobs.delivery`); None when the request asked for neither."""
    delivery_worker: Mapped[str | None] = mapped_column(String(255))
    """The worker delivering the job's outcome (None: nobody has claimed it yet)."""
    delivery_heartbeat_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """Set while the outcome is owed a delivery: when the job finished, then the delivering
    worker's heartbeat; None once delivered, or when nothing is owed."""


class ExportScheduleRow(Base):
    """Exports a project by itself every ``interval_seconds`` or on a ``cron`` expression;
    with ``delta`` each run freezes a release and exports what changed since the last one."""

    __tablename__ = "export_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            index=True)
    name: Mapped[str] = mapped_column(Name)
    request: Mapped[str] = mapped_column(Text)
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    cron: Mapped[str | None] = mapped_column(String(255))
    delta: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    last_release: Mapped[str | None] = mapped_column(Name)
    """The release the last completed delta run froze: the next run's baseline."""
    next_run_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


def _table(mapped: type[Base]) -> Table:
    """The Core table of a mapping, typed as one (SQLAlchemy types it as any FROM clause)."""
    table = mapped.__table__
    assert isinstance(table, Table)
    return table


projects = _table(ProjectRow)
label_classes = _table(LabelClassRow)
datasets = _table(DatasetRow)
labelsets = _table(LabelsetRow)
items = _table(ItemRow)
tasks = _table(TaskRow)
annotations = _table(AnnotationRow)
releases = _table(ReleaseRow)
release_items = _table(ReleaseItemRow)
users = _table(UserRow)
api_tokens = _table(ApiTokenRow)
memberships = _table(MembershipRow)
export_jobs = _table(ExportJobRow)
export_schedules = _table(ExportScheduleRow)
