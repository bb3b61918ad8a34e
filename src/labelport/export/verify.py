"""An export that checks itself (``--verify``, the job option ``verify``): before the artifact
is published, labelport's own reader for the format reads it back and every item and object
the writer was given is looked for in it, under the format's conventions.

What is compared: every item comes back (matched by its path, else its file name, else its
file stem: formats that flatten or rename keep one of them), with its size; every object comes
back as an object of the same class whose box (the tight box of its geometry, cut to the image
when the export clips) is within `TOLERANCE_PX` of the written one, and a keypoints object's
labelled points too (VOC and KITTI round corners to whole pixels, masks are rasterised, so the
tolerance is a pixel). In a format that paints objects into a map (`PAINTED`) an object may
be painted over, so its box read back need only lie within the written one, and an object
inside another's box need not come back; one that
writes one map per class (`BY_CLASS`) is compared by the classes present on each image.
A video's objects are compared as a viewer sees them, frame by frame: each track expanded
(`labelport.domain.tracks.expand_track`) on both sides, so a format holding the same boxes as
other keyframes verifies clean, and an object found on some frames only fails, naming the
first frame that differs.

What the format cannot carry is expected to differ as the report says: the written objects of
one geometry kind missing from the artifact may number at most what the report's ``not
written``, ``dropped``, ``skipped`` and ``converted`` counts naming that kind add up to (objects
of another labelset than the default: the counts naming "another labelset"), and an object read
back that was not written must share its class with a missing one (a polygon written in parts)
or be named after a keypoint of the image's keypoints objects (one point per object). Anything
else fails the export, naming the first difference.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from labelport.domain.geometry import Box, Keypoints, NoGeometry, Visibility
from labelport.domain.geometry_ops import bounding_box, clip_box
from labelport.domain.model import DEFAULT_LABELSET, Annotation, ItemRecord
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource
from labelport.domain.tracks import expand_track, split_tracks
from labelport.errors import LabelportError, UnsupportedError
from labelport.export.media import MediaMode, media_placer
from labelport.export.media_access import MediaAccess
from labelport.formats.base import FormatSpec, OutsidePolicy, Report

TOLERANCE_PX = 1.0
_EXPLAINING = ("not written", "dropped", "skipped", "converted")
"""Report counts that may explain an object read back differently: each names the geometry
kind it changed (``not written: polyline (...)``, ``converted: keypoints to one point...``)."""
BY_CLASS = frozenset({"masks_semantic", "masks_semantic_color", "voc_segmentation"})
"""Formats that write one region per class and image: instances cannot come back one by one."""
PAINTED = BY_CLASS | {"masks_instance", "masks_instance_color", "masks_per_class",
                      "coco_panoptic", "kitti_segmentation"}
"""Formats that paint objects into one map per image: an object painted over by another comes
back smaller, so its box read back need only lie within the written one (and one inside
another's box may not come back at all)."""


class VerificationError(LabelportError):
    """The artifact read back differs from what was written (a bug, not the user's input)."""


@dataclass(slots=True)
class Verification:
    """What the read-back compared, for the manifest."""

    reader: str
    items: int = 0
    objects: int = 0
    missing: int = 0
    extra: int = 0
    expected_differences: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"verified": True, "reader": self.reader, "items": self.items,
                "objects": self.objects, "objects_not_read_back": self.missing,
                "objects_added_by_conversion": self.extra,
                "expected_differences": dict(sorted(self.expected_differences.items())),
                "tolerance_px": TOLERANCE_PX}


def refuse_unverifiable(spec: FormatSpec) -> None:
    """Up front: a format without a reader cannot check its artifact."""
    if spec.reader is None:
        raise UnsupportedError(f"format {spec.name!r} has no reader, so its exports cannot be "
                               "verified; export without --verify")


def _keys(path: str) -> tuple[str, str, str]:
    name = PurePosixPath(path).name
    return path, name, PurePosixPath(name).stem


class _Index:
    """The records read back, found by path, else file name, else stem (first unused)."""

    def __init__(self, records: Iterable[ItemRecord]) -> None:
        self.by_key: list[dict[str, list[ItemRecord]]] = [{}, {}, {}]
        self.used: set[int] = set()
        for record in records:
            for level, key in enumerate(_keys(record.item.path)):
                self.by_key[level].setdefault(key, []).append(record)

    def take(self, path: str) -> ItemRecord | None:
        for level, key in enumerate(_keys(path)):
            for record in self.by_key[level].get(key, ()):
                if id(record) not in self.used:
                    self.used.add(id(record))
                    return record
        return None


def _envelope(a: Annotation, image_wh: tuple[int, int], clip: bool) -> Box | None:
    box = bounding_box(a.geometry)
    if box is not None and clip:
        box = clip_box(box, image_wh=image_wh)
    return box


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE_PX


def _same(want: Annotation, have: Annotation, image_wh: tuple[int, int], clip: bool,
          painted: bool) -> bool:
    if want.label != have.label:
        return False
    if isinstance(want.geometry, NoGeometry) or isinstance(have.geometry, NoGeometry):
        return isinstance(want.geometry, NoGeometry) and isinstance(have.geometry, NoGeometry)
    a, b = _envelope(want, image_wh, clip), _envelope(have, image_wh, clip)
    if a is None or b is None:
        return a is None and b is None
    if painted:
        return _within(b, a)
    if not all(_close(p, q) for p, q in ((a.x, b.x), (a.y, b.y), (a.x + a.w, b.x + b.w),
                                         (a.y + a.h, b.y + b.h))):
        return False
    if isinstance(want.geometry, Keypoints) and isinstance(have.geometry, Keypoints) and \
            len(want.geometry.points) == len(have.geometry.points):
        return all(p.v is Visibility.NOT_LABELED or q.v is Visibility.NOT_LABELED or
                   (_close(p.x, q.x) and _close(p.y, q.y))
                   for p, q in zip(want.geometry.points, have.geometry.points, strict=True))
    return True


def missing_reason(a: Annotation, counts: Mapping[str, int]) -> str:
    """What a report key must name to account for ``a`` missing: its geometry kind, or, for an
    object of another labelset than the default, the labelset (a format writing one)."""
    if a.labelset != DEFAULT_LABELSET and any("another labelset" in k for k in counts):
        return "another labelset"
    return a.geometry.kind.value


def accounted(reason: str, counts: Mapping[str, int]) -> int:
    """How many objects the report's counts (``not written``, ``converted``...) naming
    ``reason`` (a geometry kind or "another labelset") account for."""
    return sum(v for k, v in counts.items()
               if k.startswith(_EXPLAINING) and re.search(rf"(?<!\w){reason}(?!\w)", k))


def explaining(counts: Mapping[str, int]) -> dict[str, int]:
    """The report's counts that may explain a difference, as the manifest records them."""
    return {k: v for k, v in counts.items() if k.startswith(_EXPLAINING)}


def explained_labels(schema: LabelSchema, written: ItemRecord,
                     lost: Iterable[Annotation]) -> set[str]:
    """Classes an object read back but not written may have: that of a written object not read
    back (a polygon written in parts), or a keypoint's name (keypoints written one point per
    object)."""
    names = {a.label for a in lost}
    for a in written.annotations:
        found = schema.get(a.label) if isinstance(a.geometry, Keypoints) else None
        names.update(found.keypoint_names if found else ())
    return names


@dataclass(slots=True)
class ItemComparison:
    """One item's objects compared: pairs (written, read back), the written objects not read
    back, and the objects read back that match none."""

    matched: list[tuple[Annotation, Annotation]]
    lost: list[Annotation]
    extra: list[Annotation]
    differs: str | None = None
    """On a video: the first frame on which an object is found on one side only although it is
    found on both on other frames (a moved box), in words."""


def compare_item(want: ItemRecord, have: ItemRecord, format_name: str, *,
                 clip: bool = True) -> ItemComparison:
    """Compare one written item with the same item read back, under the format's conventions
    (painted maps, one region per class); ``clip`` when the export cut boxes to the image."""
    if want.item.is_video:
        return _by_frame(want, have, clip=clip)
    compare = _by_class if format_name in BY_CLASS else _by_object
    return compare(want, have, clip=clip, painted=format_name in PAINTED)


def _by_object(want: ItemRecord, have: ItemRecord, *, clip: bool, painted: bool
               ) -> ItemComparison:
    image_wh = (want.item.width, want.item.height)
    unused = list(have.annotations)
    matched: list[tuple[Annotation, Annotation]] = []
    lost: list[Annotation] = []
    for a in want.annotations:
        match = next((h for h in unused if _same(a, h, image_wh, clip, painted)), None)
        if match is None:
            lost.append(a)
        else:
            unused.remove(match)
            matched.append((a, match))
    if painted:  # an object under another one's box may be painted over entirely
        lost = [a for a in lost if not any(
            b is not a and _within(bounding_box(a.geometry), bounding_box(b.geometry))
            for b in want.annotations)]
    return ItemComparison(matched, lost, unused)


@dataclass(slots=True)
class _Shown:
    """An object as a viewer sees it: a track, a single-frame shape or an object without a
    frame (its stored annotations), with its shape on each frame it is visible (None: no frame)."""

    annotations: list[Annotation]
    frames: dict[int | None, Annotation]
    found: set[int | None] = field(default_factory=set)

    def first_not_found(self) -> int | None:
        """The first frame it is visible on but not found, if found on others, else None."""
        if not self.found:
            return None
        return min((f for f in self.frames if f not in self.found and f is not None),
                   default=None)


def _shown(annotations: Iterable[Annotation], frame_count: int | None) -> list[_Shown]:
    tracks, others = split_tracks(annotations)
    shown = [_Shown(keys, {s.frame: s.annotation
                           for s in expand_track(keys, frame_count=frame_count)})
             for keys in tracks.values()]
    return shown + [_Shown([a], {a.frame: a}) for a in others]


def _by_frame(want: ItemRecord, have: ItemRecord, *, clip: bool) -> ItemComparison:
    """A video's objects compared as a viewer sees them: each track expanded frame by frame
    (`expand_track`) and matched on each frame, since a format may hold the same track as
    other keyframes (every frame, a single-frame shape as a one-keyframe track, a keyframe
    carrying only attributes dropped). An object found on no frame is lost (its annotations),
    one read back found on none is extra; one found on some frames only ``differs``."""
    frame_count = want.item.frame_count
    image_wh = (want.item.width, want.item.height)
    written, read = _shown(want.annotations, frame_count), _shown(have.annotations, frame_count)
    frames = {f for o in written + read for f in o.frames}
    matched: list[tuple[Annotation, Annotation]] = []
    for frame in sorted(frames, key=lambda f: -1 if f is None else f):
        unused = [o for o in read if frame in o.frames]
        for w in (o for o in written if frame in o.frames):
            a = w.frames[frame]
            match = next((r for r in unused if _same(a, r.frames[frame], image_wh, clip,
                                                     False)), None)
            if match is not None:
                unused.remove(match)
                w.found.add(frame)
                match.found.add(frame)
                matched.append((a, match.frames[frame]))
    differences = [(f, f"{describe(o.frames[f])} written on frame {f} is not read back")
                   for o in written if (f := o.first_not_found()) is not None]
    differences += [(f, f"{describe(o.frames[f])} read back on frame {f} was not written")
                    for o in read if (f := o.first_not_found()) is not None]
    return ItemComparison(
        matched, lost=[a for o in written if o.frames and not o.found for a in o.annotations],
        extra=[a for o in read if o.frames and not o.found for a in o.annotations],
        differs=min(differences)[1] if differences else None)


def _within(inner: Box | None, outer: Box | None) -> bool:
    if inner is None or outer is None:
        return False
    return (inner.x >= outer.x - TOLERANCE_PX and inner.y >= outer.y - TOLERANCE_PX and
            inner.x + inner.w <= outer.x + outer.w + TOLERANCE_PX and
            inner.y + inner.h <= outer.y + outer.h + TOLERANCE_PX)


def _by_class(want: ItemRecord, have: ItemRecord, *, clip: bool, painted: bool
              ) -> ItemComparison:
    """As `_by_object`, for one region per class: a class present on both sides matches."""
    first = {a.label: a for a in reversed(have.annotations)}
    want_labels = {a.label for a in want.annotations}
    return ItemComparison(
        matched=[(a, first[a.label]) for a in want.annotations if a.label in first],
        lost=[a for a in want.annotations if a.label not in first],
        extra=[a for a in have.annotations if a.label not in want_labels])


def describe(a: Annotation) -> str:
    """An object in words, for a difference: its kind, class and box."""
    box = bounding_box(a.geometry)
    where = "" if box is None else f" at x={box.x:g} y={box.y:g} w={box.w:g} h={box.h:g}"
    return f"{a.geometry.kind.value} of class {a.label!r}{where}"


def linked_images(written: ExportSource, folder: Path, access: MediaAccess | None) -> None:
    """Link each item's image into ``folder`` at its path and by its file name (the first of a
    name wins), as an images folder for readers of formats that carry no image sizes."""
    place = media_placer(MediaMode.SYMLINK, Report(), access)
    for record in written.records():
        path = PurePosixPath(record.item.path)
        for target in dict.fromkeys((folder / path.name, folder.joinpath(*path.parts))):
            if ".." not in path.parts and not path.is_absolute() and not target.exists():
                place(record.item, target)


def verify_export(written: ExportSource, spec: FormatSpec, folder: Path, *,
                  options: Mapping[str, Any], report: Report,
                  outside: OutsidePolicy = OutsidePolicy.CLIP, media_in_export: bool = True,
                  media_access: MediaAccess | None = None) -> Verification:
    """Read ``folder`` (the staged artifact) back with ``spec``'s reader and compare it with
    ``written`` (what the writer was given); a `VerificationError` names the first difference
    the report does not account for. Without media in the export, the reader gets the items'
    images (``media_access`` permitting) as its images folder, for the sizes."""
    refuse_unverifiable(spec)
    with tempfile.TemporaryDirectory(prefix=".verify-", dir=folder.parent) as scratch:
        reader_options = dict(options)
        if not media_in_export:
            linked_images(written, Path(scratch), media_access)
            reader_options["images"] = scratch
        return _compare(written, spec, folder, reader_options, report, outside)


def _compare(written: ExportSource, spec: FormatSpec, folder: Path,
             options: Mapping[str, Any], report: Report, outside: OutsidePolicy
             ) -> Verification:
    assert spec.reader is not None
    try:
        index = _Index(spec.reader(folder, options).records())
    except LabelportError as exc:
        raise VerificationError(f"verify: labelport's {spec.name} reader cannot read the "
                                f"export back: {exc}") from None
    result = Verification(reader=spec.name, expected_differences=explaining(report.counts))
    missing: Counter[str] = Counter()
    first_missing: dict[str, str] = {}
    clip = outside is OutsidePolicy.CLIP
    for record in written.records():
        item = record.item
        found = index.take(item.path)
        if found is None and not spec.images and not item.is_video:
            continue  # a format of videos writes no image items (its writer counts them)
        if found is None:
            raise VerificationError(f"verify: item {item.path!r} (dataset {item.dataset!r}) is "
                                    "not in the export read back")
        if (found.item.width, found.item.height) != (item.width, item.height):
            raise VerificationError(
                f"verify: item {item.path!r} reads back as {found.item.width}x"
                f"{found.item.height}, written as {item.width}x{item.height}")
        result.items += 1
        result.objects += len(record.annotations)
        compared = compare_item(record, found, spec.name, clip=clip)
        if compared.differs is not None:
            raise VerificationError(f"verify: item {item.path!r}: {compared.differs}")
        for want in compared.lost:
            reason = missing_reason(want, report.counts)
            missing[reason] += 1
            first_missing.setdefault(reason, f"item {item.path!r}: {describe(want)}")
        explained = explained_labels(written.schema, record, compared.lost)
        for have in compared.extra:
            if have.label not in explained:
                raise VerificationError(f"verify: item {item.path!r} reads back with "
                                        f"{describe(have)}, which was not written")
        result.extra += len(compared.extra)
    result.missing = sum(missing.values())
    for reason, n in missing.items():
        budget = accounted(reason, report.counts)
        if n > budget:
            raise VerificationError(
                f"verify: {n} written objects ({reason}) are not in the export read back and "
                f"the report accounts for {budget}; the first: {first_missing[reason]}")
    unmatched = sum(1 for level in index.by_key[:1] for records in level.values()
                    for r in records if id(r) not in index.used)
    if unmatched:
        raise VerificationError(f"verify: the export reads back {unmatched} items that were "
                                "not written")
    return result
