"""The reader half of `coco.instances` (the layout and conventions are documented there).

``read`` takes one COCO JSON file, or an export folder holding ``annotations/instances_*.json``
(else every ``annotations/*.json``). The split comes from the file name
``instances_{split}.json`` (none for other names). Images become items of dataset ``default``
named by ``file_name``, unless the file carries labelport's metadata (``dataset``, ``path``).

Geometry, per annotation: ``rotated_box`` (labelport metadata) gives a rotated box; a RLE
segmentation (compressed, or uncompressed ``counts`` lists) gives a mask; polygon rings give a
polygon with one part per ring (rings under 3 points cover nothing and are skipped); otherwise
``bbox`` gives a box (also when the segmentation is exactly the outline of the ``bbox``, as
``box_segmentation=polygon`` writes it). ``keypoints`` give a keypoints annotation that keeps
the annotation's ``bbox`` as its own box (unless it is exactly the extent of the labelled
points, the fallback) and its segmentation as its shape (COCO's person files), a segmentation
that is the outline of the ``bbox`` excepted. ``score`` makes an
annotation a model's prediction unless ``source`` says otherwise.

Media: ``options["images"]`` (or, when not given, the export folder) is searched for
``images/{split}/{file_name}``, then ``{file_name}``, then the item's ``path``; a found image
sets ``media_uri``, and gives the size when the file lacks ``width``/``height`` (read from the
header as a viewer shows it, EXIF orientation applied, never decoded). A ``file_name`` that is
an absolute path or a URL (``--paths absolute``) names the image itself: that file when it
exists, else its file name is searched as above; the item's path is then that file name, and a
URL with no local copy becomes the media URI as it is. Errors name the file, the JSON path and
what was expected.

A file is read twice, streamed (`JsonStream`), never held whole: once to check it all (an
error is raised by ``read``, before any record), keeping per image its place and size; then
as the records stream, images and annotations side by side. Annotations that are not in the
order of their images are spilled first to temporary files by ranges of images
(`SPILL_ANNOTATIONS`), read back a range at a time.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from array import array
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Generator, Iterator, Mapping
from contextlib import ExitStack, closing
from dataclasses import dataclass, field, fields
from itertools import groupby, islice
from operator import attrgetter, le
from pathlib import Path
from typing import Any

import msgspec

from labelport.domain.codec import (
    Json,
    annotation_from_json,
    attribute_def_from_json,
    classification_def_from_json,
    item_from_json,
    task_from_json,
)
from labelport.domain.construct import new_annotation, new_box, new_item, new_record
from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    Keypoint,
    Keypoints,
    Mask,
    Polygon,
    PolygonPart,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import with_own_box
from labelport.domain.model import (
    DEFAULT_DATASET,
    DEFAULT_LABELSET,
    Annotation,
    Dataset,
    ItemRecord,
    Labelset,
    ProjectInfo,
    Source,
)
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import StreamSource
from labelport.errors import InputError
from labelport.formats._shared.image_files import (
    image_size,
    is_absolute_reference,
    is_url,
    local_reference,
    reference_name,
)
from labelport.formats._shared.input_files import is_regular_file, read_bytes
from labelport.formats._shared.json_input import convert, decode_json
from labelport.formats._shared.json_stream import JsonStream

_EXTRA_KEYS = frozenset(f.name for f in fields(Annotation)) - {"label", "geometry", "crowd",
                                                                  "score"}
"""Annotation fields the writer's metadata puts beside COCO's own keys."""
_EXTRA_FIELDS = tuple(sorted(_EXTRA_KEYS))
_plain_values = attrgetter("rotated_box", "keypoints", "object_id", *_EXTRA_FIELDS)
_PLAIN = (None, None, *(msgspec.UNSET,) * (1 + len(_EXTRA_FIELDS)))
"""`_plain_values` of an annotation that is only COCO's box (see `_is_plain`)."""
INSTANCE_ID_KEY = "object_id"
"""Where an annotation's instance id is written: FiftyOne's COCO importer refuses
``instance_id`` (a name it reserves for its Detection objects) among an annotation's keys."""
_COCO_IMAGE_KEYS = frozenset({"id", "file_name", "width", "height", "attributes", "license",
                              "coco_url", "flickr_url", "date_captured"})
"""An image's keys that carry nothing for `item_from_json` beyond `_ImageJ`'s fields."""
_SPLIT_FILE = re.compile(r"^instances_(.+)\.json$")
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


class _ImageJ(msgspec.Struct):
    id: int
    file_name: str
    width: int | None = None
    height: int | None = None
    attributes: dict[str, Any] = {}


class _RleJ(msgspec.Struct):
    size: tuple[int, int]
    counts: str | list[int]


class _AnnotationJ(msgspec.Struct, gc=False):
    id: int
    image_id: int
    category_id: int
    segmentation: list[list[float]] | _RleJ = []
    bbox: tuple[float, float, float, float] | None = None
    iscrowd: int = 0
    keypoints: list[float] | None = None
    score: float | None = None
    rotated_box: RotatedBox | None = None
    # labelport's metadata beside COCO's keys (`_EXTRA_KEYS`), any JSON: UNSET when absent,
    # so a plain COCO annotation is told apart without its raw object; the codec checks them.
    labelset: Any = msgspec.UNSET
    attributes: Any = msgspec.UNSET
    tags: Any = msgspec.UNSET
    instance_id: Any = msgspec.UNSET  # where earlier labelport files have it: still read
    object_id: Any = msgspec.UNSET  # INSTANCE_ID_KEY: the instance id
    frame: Any = msgspec.UNSET
    z_order: Any = msgspec.UNSET
    source: Any = msgspec.UNSET
    annotator: Any = msgspec.UNSET
    lead_time_s: Any = msgspec.UNSET
    created_at: Any = msgspec.UNSET
    updated_at: Any = msgspec.UNSET
    outside: Any = msgspec.UNSET


class _CategoryJ(msgspec.Struct):
    id: int
    name: str
    supercategory: str | None = None
    keypoints: list[str] = []
    skeleton: list[tuple[int, int]] = []
    geometry: GeometryKind | None = None
    color: str | None = None
    attributes: list[dict[str, Any]] = []
    flip_pairs: list[tuple[int, int]] = []


if not set(_AnnotationJ.__struct_fields__) >= _EXTRA_KEYS:
    raise TypeError("Annotation changed: add its new fields to _AnnotationJ")


def _fail(origin: Path, at: str, what: str) -> InputError:
    return InputError(f"{origin}: at {at}: {what}")


# --- geometry -----------------------------------------------------------------------------------


def _pairs_from_1(pairs: list[tuple[int, int]], n: int, origin: Path, at: str
                  ) -> tuple[tuple[int, int], ...]:
    if any(not (1 <= i <= n) for pair in pairs for i in pair):
        raise _fail(origin, at, f"expected 1-based keypoint indices between 1 and {n}")
    return tuple((a - 1, b - 1) for a, b in pairs)


def keypoints_from_coco(flat: list[float]) -> Keypoints:
    """``[x, y, v, ...]`` as keypoints; raises ValueError for a bad length or visibility."""
    if len(flat) % 3:
        raise ValueError(f"expected x, y, v triplets; got {len(flat)} numbers")
    points = []
    for i in range(0, len(flat), 3):
        v = flat[i + 2]
        if v not in (0, 1, 2):
            raise ValueError(f"visibility at index {i + 2} is {v}; expected 0, 1 or 2")
        points.append(Keypoint(x=flat[i], y=flat[i + 1], v=Visibility(int(v))))
    return Keypoints(points=tuple(points))


def segmentation_geometry(segmentation: list[list[float]] | _RleJ, *,
                          image_hw: tuple[int, int]) -> Polygon | Mask | None:
    """A RLE as a mask, rings as a polygon (one part each); None for no usable segmentation.
    Raises ValueError for odd rings or a RLE that does not fit the image."""
    if isinstance(segmentation, _RleJ):
        if tuple(segmentation.size) != image_hw:
            raise ValueError(f"RLE size {list(segmentation.size)} differs from the image's "
                             f"[height, width] {list(image_hw)}")
        height, width = image_hw
        if isinstance(segmentation.counts, list):
            from labelport.domain.masks import rle_from_uncompressed  # numpy: only here

            return rle_from_uncompressed(segmentation.counts, height=height, width=width)
        return Mask(counts=segmentation.counts, height=height, width=width)
    if any(len(ring) % 2 for ring in segmentation):
        raise ValueError("a polygon ring needs x, y pairs (an even count of numbers)")
    parts = tuple(PolygonPart(outer=tuple(r)) for r in segmentation if len(r) >= 6)
    return Polygon(parts=parts) if parts else None


def box_outline(box: Box) -> list[float]:
    """A box's four corners, clockwise from the top-left one: the segmentation the writer's
    option ``box_segmentation=polygon`` gives a box, read back as the box."""
    x0, y0, x1, y1 = (float(v) for v in box.xyxy)
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def annotation_geometry(ann: _AnnotationJ, *, image_hw: tuple[int, int]) -> Geometry:
    """The geometry one COCO annotation carries (see the module docstring)."""
    if ann.rotated_box is not None:
        return ann.rotated_box
    shape = segmentation_geometry(ann.segmentation, image_hw=image_hw)
    box = None if ann.bbox is None else Box(x=ann.bbox[0], y=ann.bbox[1], w=ann.bbox[2],
                                            h=ann.bbox[3])
    if box is not None and shape == Polygon.simple(tuple(box_outline(box))):
        shape = None  # the box's own outline (box_segmentation=polygon): the box says it
    if ann.keypoints:
        points = keypoints_from_coco(ann.keypoints).points
        return with_own_box(Keypoints(points=points, shape=shape), box)
    found = shape if shape is not None else box
    if found is None:
        raise ValueError("expected a bbox, a segmentation or keypoints")
    return found


# --- files --------------------------------------------------------------------------------------


def _annotation_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    folder = path / "annotations"
    files = sorted(folder.glob("instances_*.json")) or sorted(folder.glob("*.json"))
    if not files:
        raise InputError(f"{path}: expected a COCO JSON file, or a folder with "
                         "annotations/instances_{split}.json")
    return sorted(files, key=lambda f: (_SPLIT_ORDER.get(_split_of(f) or "", 3), f.name))


def _split_of(file: Path) -> str | None:
    match = _SPLIT_FILE.match(file.name)
    return match.group(1) if match else None


def _load(file: Path) -> Json:
    doc = decode_json(read_bytes(file), file)
    if not isinstance(doc, dict):
        raise _fail(file, "$", "expected a COCO object with images, annotations, categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(doc.get(key, []), list):
            raise _fail(file, f"$.{key}", "expected an array")
    return doc


def _schema(doc: Json, file: Path, annotations_kinds: dict[int, GeometryKind]) -> LabelSchema:
    classes = []
    for i, raw in enumerate(doc.get("categories", [])):
        at = f"$.categories[{i}]"
        c = convert(raw, _CategoryJ, file, at=at)
        try:
            attributes = tuple(attribute_def_from_json(a) for a in c.attributes)
        except InputError as exc:
            raise _fail(file, f"{at}.attributes", str(exc)) from None
        n = len(c.keypoints)
        geometry = c.geometry or annotations_kinds.get(c.id) or (
            GeometryKind.KEYPOINTS if n else GeometryKind.BOX)
        classes.append(LabelClass(
            id=c.id, name=c.name, geometry=geometry, parent=c.supercategory or None,
            color=c.color, keypoint_names=tuple(c.keypoints),
            skeleton=_pairs_from_1(c.skeleton, n, file, f"{at}.skeleton"),
            flip_pairs=_pairs_from_1(c.flip_pairs, n, file, f"{at}.flip_pairs"),
            attributes=attributes))
    try:
        classifications = tuple(classification_def_from_json(c)
                                for c in doc.get("classifications", []))
    except InputError as exc:
        raise _fail(file, "$.classifications", str(exc)) from None
    return LabelSchema(classes=tuple(classes), classifications=classifications)


def _plainly_relative(reference: str) -> bool:
    """True when ``reference`` is certainly neither a URL nor an absolute path (on any
    platform), so `local_reference` gives None and `image_path` the name itself."""
    return ":" not in reference and not reference.startswith(("/", "\\"))


def _single_name(name: str) -> bool:
    """A name that can only be a direct child of a folder (no separator, not ``.``/``..``)."""
    return (name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and ":" not in name)


def _fold(name: str) -> str:
    """A name as a case-insensitive, normalisation-insensitive file system compares it."""
    return unicodedata.normalize("NFC", name).casefold()


class _Media:
    """Finds an image's file under the media folder."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._listings: dict[str, tuple[frozenset[str], frozenset[str]] | None] = {}

    def _listing(self, folder: str) -> tuple[frozenset[str], frozenset[str]] | None:
        """The names of the files in ``folder``, as written and folded (`_fold`), listed once:
        one ``scandir`` instead of a ``stat`` per image, the most a COCO import does per image.
        Empty when the folder is missing; None when it cannot be listed."""
        if folder not in self._listings:
            try:
                with os.scandir(folder) as entries:
                    names = frozenset(e.name for e in entries if e.is_file())
                listing: tuple[frozenset[str], frozenset[str]] | None = (
                    names, frozenset(map(_fold, names)))
            except (FileNotFoundError, NotADirectoryError):
                listing = (frozenset(), frozenset())
            except OSError:
                listing = None
            self._listings[folder] = listing
        return self._listings[folder]

    def _file(self, root: Path, *parts: str) -> Path | None:
        """``root`` joined with ``parts`` when that is a file. A single name is looked up in
        its folder's listing; the file system is asked only when the name is not a single
        one, the folder cannot be listed, or a listed name differs from it only in case or
        Unicode normalisation (which some file systems ignore)."""
        *folders, name = parts
        if _single_name(name):
            folder = os.path.join(root, *folders)
            listing = self._listing(folder)
            if listing is not None:
                names, folded = listing
                if name in names:
                    return Path(folder, name)
                if _fold(name) not in folded:
                    return None
        candidate = root.joinpath(*parts)
        return candidate if is_regular_file(candidate) else None

    def find(self, split: str | None, file_name: str, path: str) -> Path | None:
        """The image ``file_name`` names: itself when it is an absolute path to a file, else
        looked up by name under the media folder."""
        plain = _plainly_relative(file_name)
        local = None if plain else local_reference(file_name)
        if local is not None and local.is_file():
            return local
        if self.root is None:
            return None
        if not isinstance(path, str):  # not text in the raw JSON: the join fails as before
            _ = self.root / path
        name = image_path(file_name)
        if split is not None:
            found = self._file(self.root, "images", split, name)
            if found is not None:
                return found
        found = self._file(self.root, name)
        if found is not None or path == name:  # the same file, just found missing
            return found
        return self._file(self.root, path)


def image_path(file_name: str) -> str:
    """The item path a ``file_name`` gives: the name as written, or the file name at the end of
    an absolute path or URL (where the export put the image is not part of its identity)."""
    if _plainly_relative(file_name):  # most names: no path parsing
        return file_name
    return reference_name(file_name) if is_absolute_reference(file_name) else file_name


def _extras(ann: _AnnotationJ) -> Json:
    """labelport's metadata keys the annotation had, as the raw JSON gave them, the instance id
    under its field's name."""
    out = {key: value for key in _EXTRA_FIELDS
           if (value := getattr(ann, key)) is not msgspec.UNSET}
    if ann.object_id is not msgspec.UNSET:
        out["instance_id"] = ann.object_id
    return out


def _annotation(raw: Json | None, ann: _AnnotationJ, label: str,
                geometry: Geometry) -> Annotation:
    """A domain annotation from the COCO fields and labelport's extras beside them. ``raw`` is
    the annotation's JSON object when the caller has it (its other keys reach the codec)."""
    extras = _extras(ann)
    if not extras:  # a plain COCO annotation: no decoding of extras
        return Annotation(label=label, geometry=geometry, crowd=bool(ann.iscrowd),
                          score=ann.score,
                          source=Source.HUMAN if ann.score is None else Source.MODEL)
    base = annotation_from_json({**(raw or {}), **extras, "label": label,
                                 "geometry": {"kind": "none"}, "crowd": bool(ann.iscrowd)})
    source = base.source if "source" in extras or ann.score is None else Source.MODEL
    return Annotation(
        label=label, geometry=geometry, labelset=base.labelset, attributes=base.attributes,
        tags=base.tags, instance_id=base.instance_id, frame=base.frame, z_order=base.z_order,
        crowd=base.crowd, source=source, score=ann.score, annotator=base.annotator,
        lead_time_s=base.lead_time_s, created_at=base.created_at, updated_at=base.updated_at)


class _BoxJ(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An annotation that is only COCO's box (`_is_plain`): most of a large file, decoded with
    less work than `_AnnotationJ`. Any other key refuses the batch, then decoded as that."""

    id: int
    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float] | None = None
    iscrowd: int = 0
    score: float | None = None
    segmentation: tuple[()] = ()  # only empty
    area: Any = None  # COCO's, not read (the geometry gives it)
    num_keypoints: Any = None  # COCO's, not read (with no keypoints)

    def full(self) -> _AnnotationJ:
        return _AnnotationJ(id=self.id, image_id=self.image_id, category_id=self.category_id,
                            bbox=self.bbox, iscrowd=self.iscrowd, score=self.score)


class _ImageIdJ(msgspec.Struct):
    image_id: int


_IMAGES = msgspec.json.Decoder(list[dict[str, Any]])
_ANNOTATIONS = msgspec.json.Decoder(list[_AnnotationJ])
_BOXES = msgspec.json.Decoder(list[_BoxJ])
_RAW_ANNOTATIONS = msgspec.json.Decoder(list[msgspec.Raw])
_NUMBERED_ANNOTATIONS = msgspec.json.Decoder(list[tuple[int, _AnnotationJ]])
_IMAGE_IDS = msgspec.json.Decoder(list[_ImageIdJ])
_IMAGE_ID = msgspec.json.Decoder(_ImageIdJ)
_ARRAY = msgspec.json.Decoder(list[Any])
_ANY = msgspec.json.Decoder()
_SMALL_KEYS = {"categories": _ARRAY, "classifications": _ARRAY, "info": _ANY}
"""The top-level values read whole; ``images`` and ``annotations`` are streamed."""
SPILL_ANNOTATIONS = 200_000
"""Annotations held at once, at most (or one image's), when a file's annotations are not in
the order of its images: they are spilled to temporary files by ranges of images first."""


def _is_plain(ann: _BoxJ | _AnnotationJ) -> bool:
    """No rotated box, keypoints, segmentation or labelport extras: only the bbox counts
    (`annotation_geometry`) and `_annotation` needs no codec, as in most third-party files."""
    return type(ann) is _BoxJ or (  # (empty keypoints: not plain, read the long way)
        isinstance(ann, _AnnotationJ) and not ann.segmentation and _plain_values(ann) == _PLAIN)


_bbox = attrgetter("bbox")
_category_id = attrgetter("category_id")
_image_id = attrgetter("image_id")
_HUMAN, _MODEL = Source.HUMAN, Source.MODEL


def _box_annotation(label: str, ann: _BoxJ | _AnnotationJ) -> Annotation:
    """A plain box (`_is_plain`, with a bbox) as ``Annotation(label, Box(*bbox), crowd,
    score, source)``, built by the positional constructors."""
    x, y, w, h = ann.bbox  # type: ignore[misc]  # the caller checked it is there
    score = ann.score
    return new_annotation(label, new_box(x, y, w, h), DEFAULT_LABELSET, {}, (), None, None, 0,
                          bool(ann.iscrowd), _HUMAN if score is None else _MODEL, score, None,
                          None, None, None)


def _built(checked: _Checked, i: int, ann: _BoxJ | _AnnotationJ, place: int) -> Annotation:
    """Annotation ``i`` of a checked file, on the image at ``place``, or an error naming it."""
    label = checked.labels[ann.category_id]
    if _is_plain(ann) and ann.bbox is not None:
        return _box_annotation(label, ann)
    if isinstance(ann, _BoxJ):
        ann = ann.full()
    image_hw = (checked.heights[place], checked.widths[place])
    try:
        return _annotation(None, ann, label, annotation_geometry(ann, image_hw=image_hw))
    except (InputError, ValueError) as exc:
        raise _fail(checked.file, f"$.annotations[{i}]", str(exc)) from None


@dataclass(slots=True)
class _Checked:
    """What checking one COCO file learnt, for streaming its records afterwards: where its
    images and annotations are, each image's place by id, and whether the annotations come
    in the order of their images (then both are read side by side)."""

    file: Path
    split: str | None
    doc: Json = field(default_factory=dict)  # the values of `_SMALL_KEYS`
    labels: dict[int, str] = field(default_factory=dict)
    images_at: int | None = None
    annotations_at: int | None = None
    places: dict[int, int] = field(default_factory=dict)
    widths: array[int] = field(default_factory=lambda: array("q"))
    heights: array[int] = field(default_factory=lambda: array("q"))
    in_order: bool = True
    kinds: dict[int, GeometryKind] = field(default_factory=dict)


def _check(file: Path, media: _Media, datasets: dict[str, None],
           labelsets: dict[str, None]) -> _Checked:
    """Read ``file`` through once (twice when its annotations come before its images or
    categories), checking everything its records need, keeping only `_Checked`; the
    datasets and labelsets it names are added to ``datasets`` and ``labelsets``."""
    checked = _Checked(file=file, split=_split_of(file))
    images_done = annotations_done = False
    with JsonStream(file) as stream:
        for key in stream.members("a COCO object with images, annotations, categories"):
            if key in _SMALL_KEYS:
                checked.doc[key] = stream.value(_SMALL_KEYS[key], f"$.{key}")
                if key == "categories":
                    checked.labels = _labels(checked.doc[key], file)
            elif key == "images":
                checked.images_at = stream.value_offset
                if "categories" in checked.doc:
                    _check_images(checked, stream, media, datasets, labelsets)
                    images_done = True
            elif key == "annotations":
                checked.annotations_at = stream.value_offset
                if images_done:
                    _check_annotations(checked, stream, labelsets)
                    annotations_done = True
    if checked.images_at is not None and not images_done:
        with JsonStream(file, offset=checked.images_at) as stream:
            _check_images(checked, stream, media, datasets, labelsets)
    if checked.annotations_at is not None and not annotations_done:
        with JsonStream(file, offset=checked.annotations_at) as stream:
            _check_annotations(checked, stream, labelsets)
    return checked


def _labels(categories: list[Any], file: Path) -> dict[int, str]:
    labels = {}
    for i, raw in enumerate(categories):
        category = convert(raw, _CategoryJ, file, at=f"$.categories[{i}]")
        labels[category.id] = category.name
    return labels


def _check_images(checked: _Checked, stream: JsonStream, media: _Media,
                  datasets: dict[str, None], labelsets: dict[str, None]) -> None:
    file, split, places, names = checked.file, checked.split, checked.places, \
        frozenset(checked.labels.values())
    for batch in stream.batches(_IMAGES, "$.images"):
        for raw in batch:
            at = f"$.images[{len(places)}]"
            image = convert(raw, _ImageJ, file, at=at)
            if image.id in places:
                raise _fail(file, f"{at}.id", f"image id {image.id} appears twice")
            places[image.id] = len(places)
            width, height = _size(image, raw, split, media, file)
            checked.widths.append(width)
            checked.heights.append(height)
            record = _record(raw, image, [], split=split, size=(width, height), media=None,
                             file=file, at=at, classes=names)
            datasets[record.item.dataset] = None
            labelsets.update(dict.fromkeys(t.labelset for t in record.tasks))
            labelsets.update(dict.fromkeys(a.labelset for a in record.annotations))


def _check_annotations(checked: _Checked, stream: JsonStream,
                       labelsets: dict[str, None]) -> None:
    file, places, labels, kinds = checked.file, checked.places, checked.labels, checked.kinds
    box_kind, last, i = GeometryKind.BOX, 0, 0
    batch: list[_BoxJ] | list[_AnnotationJ]
    for batch in stream.batches(_ANNOTATIONS, "$.annotations", lean=_BOXES):
        at = _box_places(batch, places, labels) if type(batch[0]) is _BoxJ else None
        if at is not None:
            if at[0] < last or not all(map(le, at, islice(at, 1, None))):
                checked.in_order = False
            last = at[-1]
            for category in set(map(_category_id, batch)):
                kinds.setdefault(category, box_kind)
            i += len(batch)
            continue
        for ann in batch:  # the long way, which names what is wrong
            place = places.get(ann.image_id)
            if place is None:
                raise _fail(file, f"$.annotations[{i}].image_id",
                            f"no image has id {ann.image_id}")
            if ann.category_id not in labels:
                raise _fail(file, f"$.annotations[{i}].category_id", f"no category has id "
                            f"{ann.category_id}; expected one of {sorted(labels)}")
            if place < last:
                checked.in_order = False
            last = place
            annotation = _built(checked, i, ann, place)
            kinds.setdefault(ann.category_id, annotation.geometry.kind)
            labelsets[annotation.labelset] = None
            i += 1


def _box_places(batch: list[_BoxJ], places: dict[int, int], labels: dict[int, str]
                ) -> list[int] | None:
    """The places of the images of a batch of plain boxes, checked as `_check_annotations`
    checks each annotation, in C loops over the batch; None when one is wrong."""
    if None in map(_bbox, batch) or not set(map(_category_id, batch)) <= labels.keys():
        return None
    try:
        return list(map(places.__getitem__, map(_image_id, batch)))
    except KeyError:
        return None


_Group = list[_BoxJ | tuple[int, _BoxJ | _AnnotationJ]]
"""An image's annotations: a plain box (checked, `_box_places`) as it is, another with its
index in the file (`_built`)."""


def _groups(checked: _Checked) -> Generator[tuple[int, _Group]]:
    """``(image place, [(annotation index, annotation), ...])`` by increasing place."""
    if checked.annotations_at is None:
        return
    if not checked.in_order:
        yield from _spilled_groups(checked)
        return
    places, current, i = checked.places, 0, 0
    group: _Group = []
    batch: list[_BoxJ] | list[_AnnotationJ]
    with JsonStream(checked.file, offset=checked.annotations_at) as stream:
        for batch in stream.batches(_ANNOTATIONS, "$.annotations", lean=_BOXES):
            if type(batch[0]) is _BoxJ:  # plain boxes (checked): grouped by runs
                start = 0
                for image_id, run in groupby(map(_image_id, batch)):
                    end = start + sum(1 for _ in run)
                    if image_id != current and group:
                        yield places[current], group
                        group = []
                    current = image_id
                    group += batch[start:end]
                    start = end
                i += len(batch)
                continue
            for ann in batch:
                if ann.image_id != current and group:
                    yield places[current], group
                    group = []
                current = ann.image_id
                group.append((i, ann))
                i += 1
    if group:
        yield places[current], group


def _spilled_groups(checked: _Checked
                    ) -> Iterator[tuple[int, _Group]]:
    """`_groups` of annotations in any order: each written, with its index, to the
    temporary file of its image's range of places (ranges of at most `SPILL_ANNOTATIONS`),
    then one range at a time read back and grouped."""
    counts = array("q", bytes(8 * len(checked.places)))
    with JsonStream(checked.file, offset=checked.annotations_at or 0) as stream:
        for ids in stream.batches(_IMAGE_IDS, "$.annotations"):
            for one in ids:
                counts[checked.places[one.image_id]] += 1
    starts, total = [0], 0
    for place, n in enumerate(counts):
        if total and total + n > SPILL_ANNOTATIONS:
            starts.append(place)
            total = 0
        total += n
    image_id, places = _IMAGE_ID.decode, checked.places
    with tempfile.TemporaryDirectory(prefix="labelport-coco-") as folder:
        spills = [Path(folder, str(k)) for k in range(len(starts))]
        with ExitStack() as files, JsonStream(checked.file,
                                              offset=checked.annotations_at or 0) as stream:
            outs = [files.enter_context(open(spill, "wb")) for spill in spills]
            i = 0
            for raws in stream.batches(_RAW_ANNOTATIONS, "$.annotations"):
                for raw in raws:
                    place = places[image_id(raw).image_id]
                    outs[bisect_right(starts, place) - 1].write(b"[%d,%b]," % (i, bytes(raw)))
                    i += 1
        for spill in spills:
            data = spill.read_bytes()
            spill.unlink()
            by_place: dict[int, _Group] = defaultdict(list)
            for i, spilled in _NUMBERED_ANNOTATIONS.decode(b"[" + data[:-1] + b"]"):
                by_place[places[spilled.image_id]].append((i, spilled))
            del data
            yield from sorted(by_place.items())


def _file_records(checked: _Checked, media: _Media) -> Iterator[ItemRecord]:
    """The records of a checked file, in the order of its images, its annotations each in
    the order of the file."""
    if checked.images_at is None:
        return
    file, split, labels = checked.file, checked.split, checked.labels
    names = frozenset(labels.values())
    with closing(_groups(checked)) as groups, \
            JsonStream(file, offset=checked.images_at) as stream:
        pending = next(groups, None)
        place = 0
        for raws in stream.batches(_IMAGES, "$.images"):
            for raw in raws:
                at = f"$.images[{place}]"
                image = convert(raw, _ImageJ, file, at=at)
                group: _Group = []
                if pending is not None and pending[0] == place:
                    group, pending = pending[1], next(groups, None)
                found = [_built(checked, *a, place) if isinstance(a, tuple)
                         else _box_annotation(labels[a.category_id], a) for a in group]
                yield _record(raw, image, found, split=split, media=media, file=file, at=at,
                              size=(checked.widths[place], checked.heights[place]),
                              classes=names)
                place += 1


def _size(image: _ImageJ, raw: Json, split: str | None, media: _Media,
          file: Path) -> tuple[int, int]:
    if image.width is not None and image.height is not None:
        return image.width, image.height
    found = media.find(split, image.file_name, raw.get("path", image_path(image.file_name)))
    if found is None:
        raise InputError(f"{file}: image {image.file_name!r} has no width and height, and no "
                         "image file was found to read them from; pass --images DIR")
    return image_size(found)


def _objects(raw: Json, key: str, file: Path, at: str) -> list[Json]:
    """``raw[key]``, a list of JSON objects (empty when absent)."""
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _fail(file, f"{at}.{key}", "expected a list of objects")
    return value


def _record(raw: Json, image: _ImageJ, annotations: list[Annotation], *, split: str | None,
            size: tuple[int, int], media: _Media | None, file: Path, at: str,
            classes: frozenset[str]) -> ItemRecord:
    """The image's record; ``media`` None leaves its media out (the record only checked)."""
    if raw.keys() <= _COCO_IMAGE_KEYS and _plainly_relative(image.file_name):
        # only COCO's own keys, a relative name: nothing for the codec to check
        found = media.find(split, image.file_name, image.file_name) if media else None
        width, height = size
        return new_record(
            new_item(DEFAULT_DATASET, image.file_name, width, height,
                     str(found.absolute()) if found else None, None, None, None,
                     image.attributes, None),
            (), tuple(annotations), split)
    path = raw.get("path", image_path(image.file_name))
    if not isinstance(path, str):
        raise _fail(file, f"{at}.path", f"expected a string, got {type(path).__name__}")
    found = media.find(split, image.file_name, path) if media else None
    width, height = size
    remote = image.file_name if is_url(image.file_name) else None
    try:
        item = item_from_json({**raw, "dataset": raw.get("dataset", DEFAULT_DATASET),
                               "path": path, "width": width, "height": height, "id": None,
                               "metadata": image.attributes,
                               "media_uri": str(found.absolute()) if found else remote})
        tasks = tuple(task_from_json(t) for t in _objects(raw, "tasks", file, at))
        image_labels = tuple(annotation_from_json({**a, "geometry": {"kind": "none"}})
                             for a in _objects(raw, "image_labels", file, at))
    except InputError as exc:
        raise _fail(file, at, str(exc)) from None
    for label in image_labels:
        if label.label not in classes:
            raise _fail(file, f"{at}.image_labels", f"class {label.label!r} is not a category")
    return ItemRecord(item=item, tasks=tasks, annotations=tuple(annotations) + image_labels,
                      split=split)


def read(path: Path, options: Mapping[str, Any]) -> StreamSource:
    """Read a COCO file or export folder: every file is checked first (all or nothing), then
    read again as the records are streamed, so memory does not grow with the file."""
    files = _annotation_files(path)
    images = options.get("images")
    if images is None:
        root = path if path.is_dir() else path.parent
        images = root.parent if root.name == "annotations" else root
    media = _Media(Path(images))
    schema: LabelSchema | None = None
    info: Json = {}
    datasets: dict[str, None] = {}
    labelsets = dict.fromkeys([DEFAULT_LABELSET])
    checked = []
    for file in files:
        done = _check(file, media, datasets, labelsets)
        if schema is None:
            schema = _schema(done.doc, file, done.kinds)
        elif [(c.id, c.name) for c in schema.classes] != list(done.labels.items()):
            raise _fail(file, "$.categories", "expected the same categories as the other splits")
        info = info or done.doc.get("info") or {}
        checked.append(done)
    assert schema is not None  # at least one file was read

    def records() -> Iterator[ItemRecord]:
        for done in checked:
            yield from _file_records(done, media)

    name = info.get("description") if isinstance(info, dict) else None
    return StreamSource(
        project=ProjectInfo(name=str(name or files[0].stem)), schema=schema,
        count=sum(len(done.places) for done in checked), open_records=records,
        datasets=tuple(Dataset(name=d) for d in datasets),
        labelsets=tuple(Labelset(name=ls) for ls in labelsets))
