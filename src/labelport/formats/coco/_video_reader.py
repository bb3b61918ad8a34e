"""The reader half of `coco.per_video` (``coco_video``; the layout is documented there).

``read`` takes one such COCO file, or an export folder holding ``annotations/*.json``; each
file is one video. The video's path is its images' ``video`` (labelport's), else the file's
stem (Innotescus' own files). An image's ``id`` is the frame index from 0; the video has as
many frames as the highest id + 1, and the images' ``width`` and ``height``. The video file is
looked up by that path's file name in ``options["videos"]`` or ``options["images"]`` (the
CLI's ``--images``), then beside the export folder: when found, it is the item's media and
its probe gives the size and frame count.

An annotation's frame is its ``image_id``; its geometry, attributes and score are read as
`coco.instances` reads them. ``track_id`` (labelport's, also the name Innotescus and many
trackers use) makes it a track's shape on that frame: a track's shapes, which the file holds
on every frame they are visible, become keyframes again (`reduce_to_keyframes`: a frame
interpolation reproduces is dropped, a gap becomes an ``outside`` keyframe), so expanding the
track gives back the same box on every frame. Without ``track_id`` an annotation is a shape on
its frame alone. A track on one frame twice, or changing class, is an error naming the file and
the JSON path."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec

from labelport.domain.geometry import GeometryKind
from labelport.domain.model import (
    DEFAULT_DATASET,
    DEFAULT_LABELSET,
    Annotation,
    Dataset,
    Item,
    ItemRecord,
    Labelset,
    ProjectInfo,
)
from labelport.domain.source import ExportSource, StreamSource
from labelport.domain.tracks import reduce_to_keyframes
from labelport.errors import InputError
from labelport.formats._shared.image_files import readable_file
from labelport.formats._shared.json_input import convert
from labelport.formats.coco._reader import (
    _annotation,
    _AnnotationJ,
    _CategoryJ,
    _fail,
    _load,
    _schema,
    annotation_geometry,
)
from labelport.video.probe import probe_video

Json = dict[str, Any]


class _FrameJ(msgspec.Struct):
    id: int
    width: int
    height: int
    video: str | None = None


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted((path / "annotations").glob("*.json")) if path.is_dir() else []
    if not files:
        raise InputError(f"{path}: expected a per-video COCO file, or a folder with "
                         "annotations/<video>.json")
    return files


def _video_item(file: Path, frames: list[_FrameJ], folders: list[Path]) -> Item:
    """The video the file describes: found on disk (probed), else as its images say."""
    path = frames[0].video or f"{file.stem}.mp4"
    name = Path(path).name
    for folder in folders:
        if readable_file(folder / name):
            found = probe_video(folder / name)
            return Item(dataset=DEFAULT_DATASET, path=path, width=found.width,
                        height=found.height, media_uri=str((folder / name).absolute()),
                        frame_count=found.frame_count, video=found.info)
    return Item(dataset=DEFAULT_DATASET, path=path, width=frames[0].width,
                height=frames[0].height, frame_count=max(f.id for f in frames) + 1)


def _frames(doc: Json, file: Path) -> list[_FrameJ]:
    frames = [convert(raw, _FrameJ, file, at=f"$.images[{i}]")
              for i, raw in enumerate(doc.get("images", []))]
    if not frames:
        raise _fail(file, "$.images", "expected the video's frames (images with id = frame)")
    for i, frame in enumerate(frames):
        if frame.id < 0 or frame.id >= 2**31:
            raise _fail(file, f"$.images[{i}].id", f"frame {frame.id} is not 0 or more")
        if (frame.width, frame.height) != (frames[0].width, frames[0].height):
            raise _fail(file, f"$.images[{i}]", "expected every frame of the size of the first")
        if frame.video != frames[0].video:
            raise _fail(file, f"$.images[{i}].video", "expected the video of the first frame")
    return frames


def _track_id(raw: Any, file: Path, at: str) -> int | None:
    value = raw.get("track_id") if isinstance(raw, dict) else None
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise _fail(file, f"{at}.track_id", f"expected a whole number 0 or more, got {value!r}")
    return value


def _record(file: Path, doc: Json, folders: list[Path]
            ) -> tuple[ItemRecord, dict[int, GeometryKind]]:
    """One file's video with its annotations, and the geometry kind of each category used."""
    frames = _frames(doc, file)
    item = _video_item(file, frames, folders)
    labels = {}
    for i, raw in enumerate(doc.get("categories", [])):
        category = convert(raw, _CategoryJ, file, at=f"$.categories[{i}]")
        labels[category.id] = category.name
    known = {f.id for f in frames}
    kinds: dict[int, GeometryKind] = {}
    tracks: dict[int, list[tuple[str, Annotation]]] = defaultdict(list)
    singles: list[Annotation] = []
    for i, raw in enumerate(doc.get("annotations", [])):
        at = f"$.annotations[{i}]"
        ann = convert(raw, _AnnotationJ, file, at=at)
        label = labels.get(ann.category_id)
        if label is None:
            raise _fail(file, f"{at}.category_id", f"no category has id {ann.category_id}")
        if ann.image_id not in known:
            raise _fail(file, f"{at}.image_id", f"no frame has id {ann.image_id}")
        track = _track_id(raw, file, at)
        try:
            geometry = annotation_geometry(ann, image_hw=(item.height, item.width))
            annotation = replace(_annotation(raw, ann, label, geometry), frame=ann.image_id,
                                 instance_id=track)
        except (InputError, ValueError) as exc:
            raise _fail(file, at, str(exc)) from None
        kinds.setdefault(ann.category_id, geometry.kind)
        if track is None:
            singles.append(annotation)
        else:
            tracks[track].append((at, annotation))
    keyframes: list[Annotation] = []
    for track, shapes in tracks.items():
        shapes.sort(key=lambda pair: pair[1].frame or 0)
        for (_, before), (at, shape) in zip(shapes, shapes[1:], strict=False):
            if shape.frame == before.frame:
                raise _fail(file, at, f"track {track} is on frame {shape.frame} twice")
            if shape.label != before.label:
                raise _fail(file, at, f"track {track} changes class ({before.label!r} to "
                            f"{shape.label!r})")
        keyframes += reduce_to_keyframes([s for _, s in shapes], frame_count=item.frame_count)
    return ItemRecord(item=item, annotations=(*keyframes, *singles)), kinds


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read per-video COCO files; every file is read and checked first (all or nothing), then
    again as the records are streamed (a file is one video, held while it is read)."""
    path = Path(path)
    files = _files(path)
    root = path if path.is_dir() else path.parent
    given = options.get("videos") or options.get("images")
    folders = [*([Path(given)] if given else []), root, root.parent]
    kinds: dict[int, GeometryKind] = {}
    categories: list[Any] | None = None
    for file in files:
        doc = _load(file)
        kinds.update(_record(file, doc, folders)[1])
        if categories is None:
            categories, first = doc.get("categories", []), doc
        elif doc.get("categories", []) != categories:
            raise _fail(file, "$.categories", "expected the same categories as the other files")
    schema = _schema(first, files[0], kinds)

    def records() -> Iterator[ItemRecord]:
        for file in files:
            yield _record(file, _load(file), folders)[0]

    return StreamSource(project=ProjectInfo(name=root.name), schema=schema, count=len(files),
                        open_records=records, datasets=(Dataset(name=DEFAULT_DATASET),),
                        labelsets=(Labelset(name=DEFAULT_LABELSET),))
