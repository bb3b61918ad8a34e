"""Projects, datasets, items, labelsets, tasks and annotations, and the record that streams
from the store to the writers."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labelport.domain.geometry import Geometry
from labelport.domain.schema import Classification
from labelport.domain.video import VideoInfo

DEFAULT_LABELSET = "ground-truth"
DEFAULT_DATASET = "default"


class TaskStatus(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    LABELED = "labeled"
    REVIEWED = "reviewed"
    REJECTED = "rejected"
    SKIPPED = "skipped"


class Source(enum.StrEnum):
    HUMAN = "human"
    MODEL = "model"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectInfo:
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Dataset:
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Labelset:
    """A layer of annotations: ``ground-truth``, a model's predictions, a second annotator."""

    name: str
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """One image, or one video whose frames annotations address by index.

    ``path`` is the item's place inside its dataset (``sub/dir/a.jpg``) and, with the dataset,
    its identity across exports and imports; ``file_name`` is the base name. Sizes come from
    here, never from decoding media."""

    dataset: str
    path: str
    width: int
    height: int
    media_uri: str | None = None
    frame_count: int | None = None
    channels: int | None = None
    bit_depth: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None
    """The store's id; None for items that did not come from a store."""
    video: VideoInfo | None = None
    """Set on a video (with ``frame_count``): its frame rate, duration and rotation."""

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def is_video(self) -> bool:
        """A video (it has a frame count), also when its rate is unknown (``video`` None)."""
        return self.frame_count is not None

    @property
    def key(self) -> str:
        """Stable identity inside a project: ``dataset/path``."""
        return f"{self.dataset}/{self.path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """The labeling work on one item in one labelset, with the image-level answers given in it."""

    labelset: str = DEFAULT_LABELSET
    status: TaskStatus = TaskStatus.NEW
    assignee: str | None = None
    reviewer: str | None = None
    classifications: tuple[Classification, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Annotation:
    """One object on an item. ``label`` is a class name of the project's schema."""

    label: str
    geometry: Geometry
    labelset: str = DEFAULT_LABELSET
    attributes: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    instance_id: int | None = None
    """Identity of the object across frames (a track) or across annotations of one object."""
    frame: int | None = None
    z_order: int = 0
    crowd: bool = False
    source: Source = Source.HUMAN
    score: float | None = None
    annotator: str | None = None
    lead_time_s: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    outside: bool = False
    """On a track keyframe (``frame`` and ``instance_id`` set on a video): the object has left
    the frame here and stays out until the track's next keyframe (CVAT's ``outside``); see
    `labelport.domain.tracks`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemRecord:
    """One item with everything labelled on it, as streamed from the store to a writer.

    An export of one labelset carries that labelset's task and annotations only; the native
    format carries every labelset. ``split`` is assigned by the export pipeline."""

    item: Item
    tasks: tuple[Task, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    split: str | None = None

    @property
    def task(self) -> Task | None:
        """The task of the record's (first) labelset, or None when the item has none."""
        return self.tasks[0] if self.tasks else None
