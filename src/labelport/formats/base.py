"""What every format shares: its declaration (`FormatSpec`), the context a writer reports
through (`WriteContext`), and the reader/writer signatures."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from labelport.domain.geometry import GeometryKind
from labelport.domain.model import Item
from labelport.domain.source import ExportSource
from labelport.formats._shared.file_sink import FileSink


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionSpec:
    """A format option, as the CLI (``--option name=value``) and the API show it."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    file: bool = False
    """The value names a file the reader opens: the service takes it only inside the upload."""


@dataclass(slots=True)
class Report:
    """What an export converted, changed or dropped, by kind, for the summary and the manifest."""

    counts: Counter[str] = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)
    """``(dataset, path, written name)`` of each item whose image the export names otherwise
    than by its path inside its dataset (a layout that cannot nest folders, or two datasets
    with the same path); the manifest lists them."""

    def count(self, kind: str, n: int = 1) -> None:
        self.counts[kind] += n

    def warn(self, message: str) -> None:
        self.messages.append(message)

    def rename(self, dataset: str, path: str, name: str) -> None:
        self.renamed.append((dataset, path, name))


class Progress(Protocol):
    def __call__(self, done: int) -> None: ...


def no_progress(done: int) -> None:
    """The progress callback for callers that do not show progress."""


class OutsidePolicy(enum.StrEnum):
    """What to do with geometry that reaches outside its image (chosen per export)."""

    CLIP = "clip"
    DROP = "drop"
    KEEP = "keep"


def no_media(item: Item, target: Path) -> None:
    """The media stage of an export without media: nothing is copied."""


MediaPlacer = Callable[[Item, Path], None]
"""``place(item, target)``: put the item's image at ``target`` (copy, link, or nothing)."""

MediaReference = Callable[[Item, Path, str], str]
"""``reference(item, target, relative) -> str``: the image path a writer puts in its annotation
files for the image it placed (or would place) at ``target``. ``relative`` is what the layout
writes by its own convention (COCO's name inside ``images/{split}/``, a list file's
``data/obj_train_data/a.jpg``); it comes back unchanged unless the export asks for absolute
paths (`labelport.export.media.PathMode`)."""


def relative_reference(item: Item, target: Path, relative: str) -> str:
    """The reference of an export with relative paths: the layout's own."""
    return relative


@dataclass(slots=True, kw_only=True)
class WriteContext:
    """Handed to a writer: where to report progress (records done) and what it changed, the
    out-of-image policy, the media stage that puts images where the layout wants them, and how
    the writer names an image inside its annotation files (`MediaReference`), and ``files``,
    where a per-image writer hands its small files (`FileSink`: written on another thread by
    `run_export`, which then trusts the sink's checksums, so a file written there is not
    written again another way)."""

    report: Report = field(default_factory=Report)
    progress: Progress = no_progress
    outside: OutsidePolicy = OutsidePolicy.CLIP
    place_media: MediaPlacer = no_media
    media_reference: MediaReference = relative_reference
    files: FileSink = field(default_factory=FileSink)


Writer = Callable[[ExportSource, Path, Mapping[str, Any], WriteContext], None]
"""``write(source, out_dir, options, ctx)``: writes the export's files under ``out_dir``."""

Reader = Callable[[Path, Mapping[str, Any]], ExportSource]
"""``read(path, options) -> source``: raises `InputError` naming the file and place."""

MergeShards = Callable[[Sequence[Path], Path], Collection[str]]
"""``merge(shards, out)``: from the folders of a sharded export's shards (in shard order, each
written by the format from its slice of the items), writes under ``out`` the format's files
that are not merged by copying, byte for byte what one writer over all the items writes, and
returns their paths relative to ``out``. Every other file is merged by copying
(`labelport.jobs.shards`): the same bytes in every shard kept once, list files (``.txt``)
concatenated in shard order, per-image files taken from the shard that wrote them."""


MergedReport = Callable[[Path], Mapping[str, int]]
"""``report(merged)``: the report counts a format gives once for the whole export (a fact of a
file such as Darknet's ``obj.data``, not of items), read from the merged export's folder; they
replace the sum of the shards' counts of those kinds (0: not reported)."""


def merge_by_copying(shards: Sequence[Path], out: Path) -> Collection[str]:
    """The `MergeShards` of a format whose every file is merged by copying."""
    return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Conventions:
    """How a format writes coordinates; documented in docs/formats.md and in every manifest."""

    origin: str = "top-left corner of the top-left pixel"
    coordinates: str = "absolute pixels"
    index_base: str = "n/a"
    ids: str = "n/a"
    notes: str = ""
    keypoint_box: str = ("a keypoints object's box is its own box when its source gave one (a "
                         "COCO person's bbox, a YOLO pose row's box), else the extent of its "
                         "labelled points")


@dataclass(frozen=True, slots=True, kw_only=True)
class FormatSpec:
    """A registered format: its stable name and what it can carry, so a request it cannot
    honour is refused up front instead of losing data silently."""

    name: str
    title: str
    extension: str
    geometries: frozenset[GeometryKind]
    conventions: Conventions
    attributes: bool = False
    scores: bool = False
    splits: bool = False
    media: bool = False
    lossless: bool = False
    video: bool = False
    """Writes video items as videos, tracks as keyframes; a format without it gets each video
    as its extracted frames (`labelport.export.frames`)."""
    images: bool = True
    """Writes image items; a video-only format (CVAT for video, MOT) counts them as not
    written."""
    dataset_folders: bool = False
    """Lays out each dataset in folders of its own (``annotations/{dataset}/``, its images under
    ``datasets/{dataset}/``): the general layout of `labelport.export.export_type`, which then
    uses the format's own instead of writing the format once per dataset."""
    options: tuple[OptionSpec, ...] = ()
    writer: Writer | None = None
    reader: Reader | None = None
    merge_shards: MergeShards | None = None
    """How the shards of a sharded export merge (`MergeShards`); a writable format without it
    says why in ``unshardable`` and is always written whole by one worker."""
    unshardable: str = ""
    merge_reads: tuple[str, ...] | None = None
    """The files ``merge_shards`` reads in a shard's folder: `fnmatch` patterns of relative
    POSIX paths (``*`` crosses folders); None: any. Only these are unpacked from the shards'
    archives for it (none for `merge_by_copying`); every other file goes from the shards'
    archives straight into the export's."""
    merged_report: MergedReport | None = None
    """Counts of the merged export that are not the sum of its shards' (`MergedReport`)."""

    @property
    def merge_unpacks(self) -> tuple[str, ...] | None:
        """What a merge unpacks from each shard's archive (`merge_reads`): nothing when it
        merges by copying (`merge_by_copying` reads no file)."""
        return () if self.merge_shards is merge_by_copying else self.merge_reads

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The format's options with defaults filled in; unknown names are refused."""
        from labelport.errors import InputError

        known = {o.name: o for o in self.options}
        for name in given:
            if name not in known:
                valid = ", ".join(known) or "none"
                raise InputError(f"format {self.name!r} has no option {name!r}; options: {valid}")
        return {name: given.get(name, o.default) for name, o in known.items()}
