"""Request and response bodies: ``XxxCreate`` / ``XxxUpdate`` / ``XxxPublic``. Ids are the
store's. Geometries, label classes and answers use the JSON layouts of
`labelport.domain.codec` (the native format's), validated there into domain values."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from labelport.domain.model import DEFAULT_DATASET, DEFAULT_LABELSET, TaskStatus
from labelport.store.users import Role

Json = dict[str, Any]
Id = Annotated[int, Interval(ge=1, le=2**63 - 1)]
"""A stored row's id in a request (path, query or body): one out of a database's range is a
422, never a query the database refuses."""

_GEOMETRY_HELP = ('A geometry in absolute pixels with its `kind`: {"kind": "box", "x", "y", '
                  '"w", "h"}, rotated_box, polygon, polyline, keypoints, mask (COCO RLE) or '
                  "none; see docs/formats.md (labelport native).")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- users and members ------------------------------------------------------------------

class UserPublic(BaseModel):
    id: int
    name: str
    is_admin: bool


class MemberCreate(Strict):
    user: str = Field(description="The user's name.")
    role: Role


class MemberUpdate(Strict):
    role: Role


class MemberPublic(BaseModel):
    user: UserPublic
    role: Role


# --- projects and schema ----------------------------------------------------------------

class ProjectCreate(Strict):
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    label_schema: Json | None = Field(
        default=None, alias="schema",
        description='{"classes": [...], "classifications": [...]}; classes without an `id` '
                    "are numbered from 1 in order.")


class ProjectUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None
    export_role: Role | None = Field(
        default=None, description="The least role allowed to export (default manager).")


class ProjectPublic(BaseModel):
    id: int
    name: str
    description: str
    export_role: Role
    created_at: datetime | None
    role: Role = Field(description="The caller's role in the project.")


class SchemaPut(Strict):
    classes: list[Json] = Field(
        default_factory=list,
        description="Label classes in order. A class sent with the `id` it has keeps it (and "
                    "its annotations); one without an id gets the next free id; a class left "
                    "out is removed (refused while annotations use it).")
    classifications: list[Json] = Field(default_factory=list)


class SchemaPublic(BaseModel):
    classes: list[Json]
    classifications: list[Json]


# --- datasets, labelsets, items, tasks --------------------------------------------------

class DatasetCreate(Strict):
    name: str = Field(min_length=1, max_length=255)
    description: str = ""


class DatasetUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None


class DatasetPublic(BaseModel):
    id: int
    name: str
    description: str
    items: int


class LabelsetCreate(DatasetCreate):
    pass


class LabelsetPublic(BaseModel):
    id: int
    name: str
    description: str


class ItemCreate(Strict):
    dataset: str = Field(default=DEFAULT_DATASET, min_length=1, max_length=255,
                         description="The dataset's name; created when missing.")
    path: str = Field(min_length=1, description="The item's path inside its dataset.")
    width: int = Field(gt=0, lt=2**31)
    height: int = Field(gt=0, lt=2**31)
    media_uri: str | None = Field(default=None, description="Where the image is: a path or "
                                                            "a URL (http, s3, gs, ...).")
    metadata: Json = Field(default_factory=dict)


class ItemUpdate(Strict):
    width: int | None = Field(default=None, gt=0, lt=2**31)
    height: int | None = Field(default=None, gt=0, lt=2**31)
    media_uri: str | None = None
    metadata: Json | None = None


class ItemPublic(BaseModel):
    id: int
    dataset: str
    dataset_id: int
    path: str
    width: int
    height: int
    media_uri: str | None
    metadata: Json
    frame_count: int | None = Field(default=None, description="Set on a video.")
    video: Json | None = Field(default=None, description="A video's frame_rate (an exact "
                               "fraction as text), duration_s, rotation_deg and codec.")


class TaskUpdate(Strict):
    status: TaskStatus | None = None
    assignee: str | None = None
    reviewer: str | None = None
    classifications: list[Json] | None = Field(
        default=None, description='Answers: [{"name", "values": [...], "children": [...]}].')


class TaskPublic(BaseModel):
    id: int
    item: int
    labelset: str
    status: TaskStatus
    assignee: str | None
    reviewer: str | None
    classifications: list[Json]
    created_at: datetime | None
    updated_at: datetime | None


# --- annotations and predictions --------------------------------------------------------

class AnnotationCreate(Strict):
    item: Id = Field(description="The item's id.")
    label: str = Field(description="A class name of the project's schema.")
    geometry: Json = Field(description=_GEOMETRY_HELP)
    labelset: str = Field(default=DEFAULT_LABELSET, min_length=1, max_length=255)
    attributes: Json = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    instance_id: int | None = Field(default=None, ge=-(2**63), lt=2**63)
    frame: int | None = Field(default=None, ge=0, lt=2**31)
    outside: bool = Field(default=False, description="On a track keyframe (frame and "
                          "instance_id on a video): the object leaves the frame here.")
    z_order: int = Field(default=0, ge=-(2**31), lt=2**31)
    crowd: bool = False
    annotator: str | None = Field(default=None, max_length=255,
                                  description="Defaults to the caller's name.")
    lead_time_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class PredictionCreate(Strict):
    item: Id
    label: str
    geometry: Json = Field(description=_GEOMETRY_HELP)
    score: float = Field(ge=0, le=1, allow_inf_nan=False)
    model: str | None = Field(default=None, max_length=255,
                              description="The model that predicted it (kept as annotator).")
    labelset: str = Field(default="predictions", min_length=1, max_length=255)
    attributes: Json = Field(default_factory=dict)


class AnnotationUpdate(Strict):
    label: str | None = None
    geometry: Json | None = Field(default=None, description=_GEOMETRY_HELP)
    attributes: Json | None = None
    tags: list[str] | None = None
    score: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    z_order: int | None = Field(default=None, ge=-(2**31), lt=2**31)
    crowd: bool | None = None


class AnnotationPublic(BaseModel):
    id: int
    item: int
    labelset: str
    label: str
    geometry: Json
    attributes: Json
    tags: list[str]
    instance_id: int | None
    frame: int | None
    outside: bool = False
    z_order: int
    crowd: bool
    source: str
    score: float | None
    annotator: str | None
    created_at: datetime | None
    updated_at: datetime | None


class BulkResult(BaseModel):
    created: int
    ids: list[int]


# --- releases, formats, import ----------------------------------------------------------

class ReleaseCreate(Strict):
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    selection: Json = Field(default_factory=dict,
                            description="The export selection: datasets, labelset, statuses, "
                                        "labels, ... (as an export's `selection`).")


class ReleasePublic(BaseModel):
    name: str
    version: int
    description: str
    selection: Json
    items: int
    annotations: int
    created_at: datetime | None


class ReleaseDiffPublic(BaseModel):
    from_: str = Field(alias="from")
    to: str
    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: int

    model_config = ConfigDict(populate_by_name=True)


class FormatOptionPublic(BaseModel):
    name: str
    type: str
    default: Any
    help: str
    choices: list[str]


class FormatPublic(BaseModel):
    name: str
    title: str
    extension: str
    read: bool
    write: bool
    geometries: list[str]
    attributes: bool
    scores: bool
    splits: bool
    media: bool
    lossless: bool
    options: list[FormatOptionPublic]
    conventions: dict[str, str]
    shardable: bool = False
    """A large export job is written in shards by several workers (docs/service.md)."""
    unshardable: str = ""
    """Why it is always written whole, when it is not shardable."""


class ImportPublic(BaseModel):
    items: int
    tasks: int
    annotations: int
    classes_added: list[str]
    datasets_added: list[str]
    labelsets_added: list[str]


# --- exports and schedules ----------------------------------------------------------------

class ExportCreate(Strict):
    """An export's options: the CLI's (`labelport export --help`), with JSON values."""

    format: str = Field(description="A writable format name (GET /api/formats).")
    options: Json = Field(default_factory=dict, description="The format's options by name.")
    selection: Json | None = Field(
        default=None, description="datasets, labelset, statuses, labels, annotator, "
                                  "created_after, ..., ids (a list), only_annotated; null: "
                                  "the format's default.")
    map: dict[str, str] = Field(default_factory=dict, description="Rename classes OLD: NEW.")
    drop_class: list[str] = Field(default_factory=list)
    class_ids: dict[str, int] = Field(default_factory=dict)
    check: dict[str, str] = Field(default_factory=dict,
                                  description="Check policies NAME: fail|warn|fix|skip.")
    min_box_px: float | None = Field(
        default=None, gt=0, description="The smallest box side, in pixels, the degenerate "
                                        "check accepts (default 1e-06).")
    split: str | Json | None = Field(
        default=None, description='"train=0.8,val=0.2" or {"fractions": ..., "strategy": '
                                  '..., "seed": ..., "split_field": ..., "group_by": ...}; '
                                  'group_by "dataset" keeps each dataset in one split.')
    media: str = "none"
    paths: str = "relative"
    outside: str = "clip"
    package: str = Field(default="zip", description="zip or tar.gz.")
    password: str | None = Field(default=None, description="AES-256 zip password; never "
                                                           "shown back.")
    name: str | None = None
    release: str | None = Field(default=None, description="Export this release.")
    since_release: str | None = Field(default=None, description="Delta since this release.")
    freeze_release: str | None = Field(default=None,
                                       description="Freeze the selection as this new release "
                                                   "first, and export it.")
    export_type: str = Field(default="annotations",
                             description="annotations (the format's files), datasets (the "
                                         "images only, under datasets/{dataset}/) or both "
                                         "(those images and the format's files per dataset "
                                         "under annotations/{dataset}/).")
    verify: StrictBool = Field(
        default=False, description="Read the artifact back with labelport's reader for the "
                                   "format and compare it object by object before publishing; "
                                   "a difference fails the job.")
    frames: Literal["labeled", "keyframes", "all"] = Field(
        default="labeled", description="Formats that write images: which frames of each video "
        "become images (labeled: every frame with a visible object).")
    frame_step: int = Field(default=1, ge=1, le=2**31,
                            description="Keep the video frames whose index is a multiple of N.")
    split_by_frame: bool = Field(default=False, description="Split a video's frames "
                                 "independently (default: they share the video's split).")
    deliver_to: str | None = Field(
        default=None, description="Once published, copy the artifact and its manifest under "
        "this folder or fsspec URL (s3://bucket/prefix/), which must lie under a root the "
        "operator allows (LABELPORT_DELIVERY_ROOTS); 422 otherwise.")
    webhook: str | None = Field(
        default=None, description="When the job ends (succeeded, failed or cancelled), POST its "
        "outcome "
        "as JSON to this http(s) URL, which must lie under a prefix the operator allows "
        "(LABELPORT_WEBHOOK_URLS); 422 otherwise.")

    def to_request(self) -> Json:
        return self.model_dump(exclude_defaults=True) | {"format": self.format}


class ExportProgress(BaseModel):
    done: int
    total: int | None


class ArtifactPublic(BaseModel):
    name: str
    size: int
    sha256: str
    download_url: str


class ExportPublic(BaseModel):
    id: int
    project: int
    status: str = Field(description="queued, running, completed, failed or cancelled.")
    progress: ExportProgress
    counts: Json | None
    error: str | None
    request: Json
    attempt: int
    shards: int
    schedule_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    artifact: ArtifactPublic | None
    delivery: Json | None = Field(
        default=None, description="What delivering to `deliver_to` and calling `webhook` did: "
        "per part its status (pending, delivered, failed), attempts (time, error, HTTP "
        "status), last error and where the artifact and manifest were written.")


class ScheduleCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    export: ExportCreate
    interval_seconds: int | None = Field(default=None, ge=1)
    cron: str | None = Field(default=None, description="5 fields, UTC: '0 3 * * *'.")
    delta: bool = Field(default=False, description="Each run freezes a release and exports "
                                                   "what changed since the last run's.")


class SchedulePublic(BaseModel):
    id: int
    project: int
    name: str
    export: Json
    interval_seconds: int | None
    cron: str | None
    delta: bool
    enabled: bool
    runs: int
    last_release: str | None
    next_run_at: datetime
    last_run_at: datetime | None
