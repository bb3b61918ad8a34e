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
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import fields
from operator import attrgetter
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
from labelport.domain.construct import new_annotation, new_box
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
from labelport.domain.source import MemorySource
from labelport.errors import InputError
from labelport.formats._shared.image_files import (
    image_size,
    is_absolute_reference,
    is_url,
    local_reference,
    reference_name,
)
from labelport.formats._shared.input_files import is_regular_file, read_bytes
from labelport.formats._shared.json_input import convert, decode_json, gc_paused

_EXTRA_KEYS = frozenset(f.name for f in fields(Annotation)) - {"label", "geometry", "crowd",
                                                                  "score"}
"""Annotation fields the writer's metadata puts beside COCO's own keys."""
_EXTRA_FIELDS = tuple(sorted(_EXTRA_KEYS))
_extra_values = attrgetter(*_EXTRA_FIELDS)
_NO_EXTRAS = (msgspec.UNSET,) * len(_EXTRA_FIELDS)
INSTANCE_ID_KEY = "object_id"
"""Where an annotation's instance id is written: FiftyOne's COCO importer refuses
``instance_id`` (a name it reserves for its Detection objects) among an annotation's keys."""
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


class _DocJ(msgspec.Struct, gc=False):
    """A whole COCO file decoded in one pass, annotations straight into `_AnnotationJ` (no
    intermediate dicts). Only valid files are read this way: on any error the file is read
    again as plain JSON, whose checks name the first problem as they always have."""

    images: list[dict[str, Any]] = []
    annotations: list[_AnnotationJ] = []
    categories: list[Any] = []
    info: Any = msgspec.UNSET
    classifications: Any = msgspec.UNSET


_DOC_DECODER = msgspec.json.Decoder(_DocJ)


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


class _Retry(Exception):
    """The one-pass reading met a problem; the file is read again the plain way, whose error
    names the problem with the raw JSON object as it always has."""


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
        name = file_name if plain else image_path(file_name)
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
    the annotation's JSON object (None when the file was decoded in one pass: then a problem in
    the extras raises `_Retry`)."""
    extras = _extras(ann)
    if not extras:  # a plain COCO annotation: no decoding of extras
        return Annotation(label=label, geometry=geometry, crowd=bool(ann.iscrowd),
                          score=ann.score,
                          source=Source.HUMAN if ann.score is None else Source.MODEL)
    try:
        base = annotation_from_json({**(extras if raw is None else {**raw, **extras}),
                                     "label": label,
                                     "geometry": {"kind": "none"}, "crowd": bool(ann.iscrowd)})
    except InputError:
        if raw is None:
            raise _Retry from None
        raise
    source = base.source if "source" in extras or ann.score is None else Source.MODEL
    return Annotation(
        label=label, geometry=geometry, labelset=base.labelset, attributes=base.attributes,
        tags=base.tags, instance_id=base.instance_id, frame=base.frame, z_order=base.z_order,
        crowd=base.crowd, source=source, score=ann.score, annotator=base.annotator,
        lead_time_s=base.lead_time_s, created_at=base.created_at, updated_at=base.updated_at)


def _decode_in_one_pass(file: Path) -> tuple[Json, _DocJ] | None:
    """The file decoded straight into `_DocJ`, with the top-level keys the rest reads as a
    plain dict; None when it is not a valid COCO file that way (read it the plain way)."""
    try:
        decoded = _DOC_DECODER.decode(read_bytes(file))
    except (msgspec.DecodeError, RecursionError):
        return None  # the plain reading says why
    doc: Json = {"categories": decoded.categories}
    for key in ("info", "classifications"):
        value = getattr(decoded, key)
        if value is not msgspec.UNSET:
            doc[key] = value
    return doc, decoded


def _raw_annotations(doc: Json, file: Path) -> Iterator[tuple[Json | None, _AnnotationJ]]:
    """``(raw object, validated annotation)`` in file order, the plain way."""
    for i, raw in enumerate(doc.get("annotations", [])):
        yield raw, convert(raw, _AnnotationJ, file, at=f"$.annotations[{i}]")


def _decoded_annotations(decoded: _DocJ) -> Iterator[tuple[Json | None, _AnnotationJ]]:
    """``(None, annotation)`` in file order, each let go once read, so the decoded file does
    not stay in memory beside the records built from it."""
    pending = decoded.annotations
    decoded.annotations = []
    pending.reverse()
    while pending:
        yield None, pending.pop()


def _is_plain(ann: _AnnotationJ) -> bool:
    """No rotated box, keypoints, segmentation or labelport extras: only the bbox counts
    (`annotation_geometry`) and `_annotation` needs no codec, as in most third-party files."""
    return (ann.rotated_box is None and not ann.keypoints and ann.segmentation == []
            and _extra_values(ann) == _NO_EXTRAS and ann.object_id is msgspec.UNSET)


def _read_file(file: Path, media: _Media, schema: LabelSchema | None
               ) -> tuple[LabelSchema, Json, list[ItemRecord]]:
    """One COCO file's schema, info and records: decoded in one pass when it is valid, else
    (or when the one-pass reading meets a problem) the plain way, which names the problem."""
    one_pass = _decode_in_one_pass(file)
    if one_pass is not None:
        doc, decoded = one_pass
        try:
            return _read_doc(file, doc, decoded.images, _decoded_annotations(decoded), media,
                             schema)
        except (_Retry, InputError):
            pass  # the plain reading finds the first problem, named as it always was
    doc = _load(file)
    return _read_doc(file, doc, doc.get("images", []), _raw_annotations(doc, file), media,
                     schema)


def _read_doc(file: Path, doc: Json, raw_images: list[Json],
              annotations: Iterator[tuple[Json | None, _AnnotationJ]], media: _Media,
              schema: LabelSchema | None) -> tuple[LabelSchema, Json, list[ItemRecord]]:
    split = _split_of(file)
    labels = {}
    for i, c in enumerate(doc.get("categories", [])):
        category = convert(c, _CategoryJ, file, at=f"$.categories[{i}]")
        labels[category.id] = category.name
    images: dict[int, tuple[Json, _ImageJ, list[Annotation]]] = {}
    for i, raw in enumerate(raw_images):
        image = convert(raw, _ImageJ, file, at=f"$.images[{i}]")
        if image.id in images:
            raise _fail(file, f"$.images[{i}].id", f"image id {image.id} appears twice")
        images[image.id] = (raw, image, [])
    kinds: dict[int, GeometryKind] = {}
    sizes: dict[int, tuple[int, int]] = {}
    box_kind, human, model = GeometryKind.BOX, Source.HUMAN, Source.MODEL
    for i, (raw_ann, ann) in enumerate(annotations):
        entry = images.get(ann.image_id)
        if entry is None:
            raise _fail(file, f"$.annotations[{i}].image_id", f"no image has id {ann.image_id}")
        label = labels.get(ann.category_id)
        if label is None:
            raise _fail(file, f"$.annotations[{i}].category_id", f"no category has id "
                        f"{ann.category_id}; expected one of {sorted(labels)}")
        image_raw, image, found = entry
        size = sizes.get(ann.image_id)
        if size is None:
            size = sizes[ann.image_id] = _size(image, image_raw, split, media, file)
        bbox = ann.bbox
        if bbox is not None and _is_plain(ann):
            x, y, w, h = bbox
            kinds.setdefault(ann.category_id, box_kind)
            score = ann.score  # Annotation(label, Box(...), crowd, score, source), defaults else
            found.append(new_annotation(
                label, new_box(x, y, w, h), DEFAULT_LABELSET, {}, (), None, None, 0,
                bool(ann.iscrowd), human if score is None else model, score, None, None, None,
                None))
            continue
        width, height = size
        try:
            geometry = annotation_geometry(ann, image_hw=(height, width))
            kinds.setdefault(ann.category_id, geometry.kind)
            found.append(_annotation(raw_ann, ann, label, geometry))
        except (InputError, ValueError) as exc:
            raise _fail(file, f"$.annotations[{i}]", str(exc)) from None
    if schema is None:
        schema = _schema(doc, file, kinds)
    elif [(c.id, c.name) for c in schema.classes] != list(labels.items()):
        raise _fail(file, "$.categories", "expected the same categories as the other splits")
    records = [_record(raw, image, found, split=split, media=media, sizes=sizes, file=file,
                       at=f"$.images[{i}]", schema=schema)
               for i, (raw, image, found) in enumerate(images.values())]
    return schema, doc.get("info") or {}, records


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
            media: _Media, sizes: dict[int, tuple[int, int]], file: Path, at: str,
            schema: LabelSchema) -> ItemRecord:
    path = raw.get("path", image_path(image.file_name))
    if not isinstance(path, str):
        raise _fail(file, f"{at}.path", f"expected a string, got {type(path).__name__}")
    found = media.find(split, image.file_name, path)
    width, height = sizes.get(image.id) or _size(image, raw, split, media, file)
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
        if schema.get(label.label) is None:
            raise _fail(file, f"{at}.image_labels", f"class {label.label!r} is not a category")
    return ItemRecord(item=item, tasks=tasks, annotations=tuple(annotations) + image_labels,
                      split=split)


def read(path: Path, options: Mapping[str, Any]) -> MemorySource:
    """Read a COCO file or export folder into memory (COCO files are read whole)."""
    with gc_paused():
        return _read(path, options)


def _read(path: Path, options: Mapping[str, Any]) -> MemorySource:
    files = _annotation_files(path)
    images = options.get("images")
    if images is None:
        root = path if path.is_dir() else path.parent
        images = root.parent if root.name == "annotations" else root
    media = _Media(Path(images))
    schema: LabelSchema | None = None
    info: Json = {}
    records: list[ItemRecord] = []
    for file in files:
        schema, file_info, file_records = _read_file(file, media, schema)
        info = info or file_info
        records += file_records
    assert schema is not None  # at least one file was read
    datasets = dict.fromkeys(r.item.dataset for r in records)
    labelsets = dict.fromkeys([DEFAULT_LABELSET])
    for r in records:
        labelsets.update(dict.fromkeys(t.labelset for t in r.tasks))
        labelsets.update(dict.fromkeys(a.labelset for a in r.annotations))
    name = info.get("description") if isinstance(info, dict) else None
    return MemorySource(
        project=ProjectInfo(name=str(name or files[0].stem)), schema=schema, items=tuple(records),
        datasets=tuple(Dataset(name=d) for d in datasets),
        labelsets=tuple(Labelset(name=ls) for ls in labelsets))
