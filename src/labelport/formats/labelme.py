"""LabelMe JSON (wkentaro's labelme, not MIT LabelMe 3.0 XML): one JSON file per image, beside
the image, as labelme saves them and most in-house labelling tools write.

Layout::

    {split}/{stem}.json      one per image, also without objects
    {split}/{file name}      the image, with media copied or linked

A file::

    {"version": "5.5.0", "flags": {"blurry": false},
     "shapes": [{"label": "car", "points": [[100.0, 200.0], [260.0, 290.0]], "group_id": null,
                 "description": "", "shape_type": "rectangle", "flags": {"occluded": false},
                 "mask": null, "attributes": {"colour": "red"}}],
     "imagePath": "street_001.png", "imageData": null, "imageHeight": 360, "imageWidth": 640}

Conventions: points are absolute pixels ``[x, y]``, origin at the top-left corner of the image,
as labelme stores them. ``imagePath`` is the image's path relative to the JSON (absolute with
``--paths absolute``); ``imageData`` is always null (the image is a file beside it).

- box: ``rectangle``, its two corners ``[x, y], [x + w, y + h]``;
- polygon: ``polygon``; a polygon of several parts is one ``polygon`` shape per part sharing a
  ``group_id`` (labelme's grouping of multi-part objects); a polygon with holes cannot be a
  labelme polygon and is written as a ``mask`` (counted);
- rotated box: a 4-point ``polygon`` of its corners (counted);
- polyline: ``linestrip``;
- keypoints: one ``point`` shape per labelled point (v > 0), sharing a ``group_id``, its
  ``description`` the keypoint's name; missing points and v are not carried (counted);
- mask: ``mask``: ``points`` are the first and the last pixel of the mask's tight box (inclusive,
  as labelme crops ``mask[y1:y2 + 1, x1:x2 + 1]``), ``mask`` a base64 PNG (mode 1) of that crop;
- image-level classes: the file's ``flags``, one per class of geometry ``none`` in the schema
  (``true`` where the image has it).

``group_id`` is the annotation's ``instance_id``; objects without one that need a group (several
parts, keypoints) get the next number not used on the image. Bool attributes go to the shape's
``flags`` (labelme shows them as check boxes); other attributes to an ``attributes`` object and a
prediction's score to ``score`` (labelme keeps keys it does not know when it saves). Image
classifications, tags, z-order, crowd flags, annotators and timestamps are not written (counted).

Reading takes the export folder: every ``*.json`` below it but the manifest; the split is the
first folder under the root (none for files at the top). Sizes come from ``imageHeight`` and
``imageWidth``; media is ``imagePath`` relative to the JSON, else the file of its stem in the
``images`` option's folder. ``rectangle`` is a box; ``polygon`` a polygon (shapes of one label and
``group_id`` join into one polygon of several parts); ``line`` and ``linestrip`` polylines;
``point`` and ``points`` keypoints (point shapes of one label and ``group_id`` join: when every
point of a class has a ``description``, those are the class's keypoint names, in order of first
appearance (a name never labelled is not known), and each point goes to its name's place, the
others missing; else in file order);
``circle`` (centre and a point on it) a 64-vertex polygon; ``mask`` a mask. ``group_id`` becomes
the instance id, ``flags`` bool attributes, ``description`` (not on points) an attribute;
file ``flags`` that are true become image-level classes. Classes come in order of first
appearance (file flags first). Errors name the file and the JSON path."""

from __future__ import annotations

import base64
import binascii
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import msgspec
import numpy as np
import orjson

from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    Keypoint,
    Keypoints,
    Mask,
    NoGeometry,
    Polygon,
    Polyline,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import rotated_box_corners
from labelport.domain.masks import bitmap_to_rle, polygon_to_rle, rle_to_bitmap
from labelport.domain.model import (
    DEFAULT_DATASET,
    Annotation,
    Item,
    ItemRecord,
    ProjectInfo,
    Source,
)
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError
from labelport.formats._shared.fields import count_unwritten
from labelport.formats._shared.geometry import count_unwritten_shape, fit_to_image
from labelport.formats._shared.image_files import ImageFolder, find_image, reference_name
from labelport.formats._shared.input_files import MAX_IMAGE_PIXELS, open_image, read_bytes
from labelport.formats._shared.json_input import convert, decode_json
from labelport.formats._shared.naming import FileNamer, file_stem, safe_file_name
from labelport.formats.base import Conventions, FormatSpec, WriteContext, merge_by_copying

VERSION = "5.5.0"
MANIFEST = "labelport-export.json"
CIRCLE_VERTICES = 64
_CARRIED = frozenset({"attributes", "score", "source", "instance_id"})
_PROGRESS_EVERY = 200

Point = list[float]
Shape = dict[str, Any]


# --- pure conversions ------------------------------------------------------------------------


def _points(ring: Sequence[float]) -> list[Point]:
    return [[float(ring[i]), float(ring[i + 1])] for i in range(0, len(ring), 2)]


def shape(label: str, shape_type: str, points: list[Point], *, group_id: int | None = None,
          description: str = "", flags: Mapping[str, bool] | None = None,
          mask: str | None = None) -> Shape:
    """One shape with the keys labelme 5 writes, in its order."""
    return {"label": label, "points": points, "group_id": group_id,
            "description": description, "shape_type": shape_type, "flags": dict(flags or {}),
            "mask": mask}


def encode_mask(bitmap: np.ndarray) -> tuple[list[Point], str] | None:
    """``points`` (first and last pixel of the tight box, inclusive) and the base64 PNG of the
    crop, as labelme stores a mask; None for an empty mask."""
    from PIL import Image

    rows, columns = np.flatnonzero(bitmap.any(axis=1)), np.flatnonzero(bitmap.any(axis=0))
    if rows.size == 0:
        return None
    y1, y2, x1, x2 = int(rows[0]), int(rows[-1]), int(columns[0]), int(columns[-1])
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(bitmap[y1:y2 + 1, x1:x2 + 1])).save(buffer, "PNG")
    return [[float(x1), float(y1)], [float(x2), float(y2)]], base64.b64encode(
        buffer.getvalue()).decode("ascii")


def decode_mask(points: Sequence[Sequence[float]], encoded: str, *, image_wh: tuple[int, int],
                origin: str) -> Mask:
    """A ``mask`` shape as a mask of the whole image; `InputError` at ``origin`` when the PNG
    is not one or does not fit its box."""
    (x1, y1), (x2, y2) = ((int(round(x)), int(round(y))) for x, y in points)
    width, height = image_wh
    if not (0 <= x1 <= x2 < width and 0 <= y1 <= y2 < height):
        raise InputError(f"{origin}.points: the mask's box {x1},{y1} - {x2},{y2} is not inside "
                         f"the {width}x{height} image")
    try:
        png = base64.b64decode(encoded, validate=True)
    except binascii.Error as error:
        raise InputError(f"{origin}.mask: not base64 ({error})") from None
    with open_image(io.BytesIO(png), f"{origin}.mask") as image:
        if image.size != (x2 - x1 + 1, y2 - y1 + 1):
            raise InputError(f"{origin}.mask: a {image.size[0]}x{image.size[1]} PNG for a "
                             f"{x2 - x1 + 1}x{y2 - y1 + 1} box")
        crop = np.asarray(image.convert("L")) > 0
    bitmap = np.zeros((height, width), dtype=bool)
    bitmap[y1:y2 + 1, x1:x2 + 1] = crop
    return bitmap_to_rle(bitmap)


def circle_polygon(centre: Sequence[float], rim: Sequence[float]) -> Polygon:
    """labelme's circle (its centre and a point on it) as a polygon of `CIRCLE_VERTICES`."""
    radius = math.hypot(rim[0] - centre[0], rim[1] - centre[1])
    ring: list[float] = []
    for k in range(CIRCLE_VERTICES):
        angle = 2 * math.pi * k / CIRCLE_VERTICES
        ring += [centre[0] + radius * math.cos(angle), centre[1] + radius * math.sin(angle)]
    return Polygon.simple(tuple(ring))


# --- writing ---------------------------------------------------------------------------------


class _Shapes:
    """The shapes of one image, in annotation order, with group ids for multi-shape objects."""

    def __init__(self, record: ItemRecord, names: Mapping[str, tuple[str, ...]],
                 ctx: WriteContext) -> None:
        self.ctx = ctx
        self.names = names
        self.image_wh = (record.item.width, record.item.height)
        used = [a.instance_id for a in record.annotations if a.instance_id is not None]
        self.next_group = max(used, default=0) + 1
        self.shapes: list[Shape] = []
        self.flags: set[str] = set()
        for annotation in record.annotations:
            self.add(annotation)

    def _group(self, annotation: Annotation) -> int:
        if annotation.instance_id is not None:
            return annotation.instance_id
        self.next_group += 1
        return self.next_group - 1

    def add(self, annotation: Annotation) -> None:
        if annotation.geometry.kind is GeometryKind.NONE:
            self.flags.add(annotation.label)
            return
        placed = fit_to_image(annotation.geometry, image_wh=self.image_wh, ctx=self.ctx)
        if placed is None:
            return
        made = self._geometry_shapes(annotation, placed)
        if not made:
            return
        count_unwritten(annotation, carried=_CARRIED, ctx=self.ctx)
        flags = {k: v for k, v in annotation.attributes.items() if isinstance(v, bool)}
        others = {k: v for k, v in annotation.attributes.items() if not isinstance(v, bool)}
        for made_shape in made:
            made_shape["flags"] = flags
            if others:
                made_shape["attributes"] = others
            if annotation.score is not None:
                made_shape["score"] = annotation.score
        self.shapes += made

    def _geometry_shapes(self, annotation: Annotation, geometry: Geometry) -> list[Shape]:
        label, group = annotation.label, annotation.instance_id
        count = self.ctx.report.count
        match geometry:
            case Box():
                return [shape(label, "rectangle", [[geometry.x, geometry.y],
                                                   [geometry.x + geometry.w,
                                                    geometry.y + geometry.h]], group_id=group)]
            case RotatedBox():
                count("converted: rotated_box to polygon")
                return [shape(label, "polygon", _points(rotated_box_corners(geometry)),
                              group_id=group)]
            case Polygon() if any(part.holes for part in geometry.parts):
                count("converted: polygon with holes to mask")
                width, height = self.image_wh
                return self._mask(label, group, polygon_to_rle(geometry, height=height,
                                                               width=width))
            case Polygon():
                if len(geometry.parts) > 1:
                    group = self._group(annotation)
                return [shape(label, "polygon", _points(part.outer), group_id=group)
                        for part in geometry.parts]
            case Polyline():
                return [shape(label, "linestrip", _points(geometry.points), group_id=group)]
            case Keypoints():
                count("converted: keypoints to point shapes (missing points and v not carried)")
                count_unwritten_shape(geometry, self.ctx)
                names = self.names.get(label, ())
                group = self._group(annotation)
                return [shape(label, "point", [[p.x, p.y]], group_id=group,
                              description=names[i] if i < len(names) else str(i))
                        for i, p in enumerate(geometry.points) if p.v > 0]
            case Mask():
                return self._mask(label, group, geometry)
        count(f"not written: {geometry.kind.value}")
        return []

    def _mask(self, label: str, group: int | None, mask: Mask) -> list[Shape]:
        encoded = encode_mask(rle_to_bitmap(mask))
        if encoded is None:
            self.ctx.report.count("not written: empty mask")
            return []
        points, png = encoded
        return [shape(label, "mask", points, group_id=group, mask=png)]


def labelme_document(record: ItemRecord, *, image_path: str, flag_classes: Sequence[str],
                     names: Mapping[str, tuple[str, ...]], ctx: WriteContext) -> dict[str, Any]:
    """The JSON object of one image."""
    shapes = _Shapes(record, names, ctx)
    flags = {name: name in shapes.flags for name in flag_classes}
    flags |= {name: True for name in sorted(shapes.flags - set(flags))}
    for task in record.tasks:
        if task.classifications:
            ctx.report.count("not written: image classification", len(task.classifications))
    return {"version": VERSION, "flags": flags, "shapes": shapes.shapes,
            "imagePath": image_path, "imageData": None,
            "imageHeight": record.item.height, "imageWidth": record.item.width}


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """One JSON per image, beside the image, in its split's folder."""
    schema = source.schema
    flag_classes = [c.name for c in schema.classes if c.geometry is GeometryKind.NONE]
    names = {c.name: c.keypoint_names for c in schema.classes if c.keypoint_names}
    namer = FileNamer(unique_stems=True, report=ctx.report)
    done = 0
    for done, record in enumerate(source.records(), start=1):
        split = safe_file_name(record.split or "train")
        file_name = namer.name(record.item, split)
        target = out_dir / split / file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        ctx.place_media(record.item, target)
        document = labelme_document(
            record, image_path=ctx.media_reference(record.item, target, file_name),
            flag_classes=flag_classes, names=names, ctx=ctx)
        ctx.files.write_text(out_dir / split / f"{file_stem(file_name)}.json",
                             orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        if done % _PROGRESS_EVERY == 0:
            ctx.progress(done)
    ctx.progress(done)


# --- reading ---------------------------------------------------------------------------------


_GroupId = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]


class _ShapeJ(msgspec.Struct):
    label: str
    points: list[tuple[float, float]]
    shape_type: str = "polygon"
    group_id: _GroupId | None = None
    description: str | None = None
    flags: dict[str, bool] | None = None
    mask: str | None = None
    attributes: dict[str, Any] | None = None
    score: float | None = None


class _FileJ(msgspec.Struct):
    shapes: list[_ShapeJ]
    imagePath: str  # noqa: N815 (labelme's key)
    imageHeight: int  # noqa: N815
    imageWidth: int  # noqa: N815
    flags: dict[str, bool] | None = None


_MIN_POINTS = {"rectangle": 2, "circle": 2, "mask": 2, "polygon": 3, "line": 2,
               "linestrip": 2, "point": 1, "points": 1}
_EXACT_POINTS = {"rectangle", "circle", "mask", "line", "point"}
_KINDS = {"rectangle": GeometryKind.BOX, "circle": GeometryKind.POLYGON,
          "mask": GeometryKind.MASK, "polygon": GeometryKind.POLYGON,
          "line": GeometryKind.POLYLINE, "linestrip": GeometryKind.POLYLINE,
          "point": GeometryKind.KEYPOINTS, "points": GeometryKind.KEYPOINTS}


def _load(path: Path) -> _FileJ:
    document = convert(decode_json(read_bytes(path), path), _FileJ, path)
    width, height = document.imageWidth, document.imageHeight
    if width <= 0 or height <= 0 or width * height > MAX_IMAGE_PIXELS:
        raise InputError(f"{path}: at $.imageWidth/imageHeight: expected a positive size of at "
                         f"most {MAX_IMAGE_PIXELS:,} pixels, got {width}x{height}")
    for index, item in enumerate(document.shapes):
        at = f"{path}: at $.shapes[{index}]"
        if item.shape_type not in _KINDS:
            raise InputError(f"{at}.shape_type: {item.shape_type!r} is not a labelme shape "
                             f"({', '.join(_KINDS)})")
        count, least = len(item.points), _MIN_POINTS[item.shape_type]
        if count < least or (item.shape_type in _EXACT_POINTS and count != least):
            exactly = "" if item.shape_type not in _EXACT_POINTS else "exactly "
            raise InputError(f"{at}.points: a {item.shape_type} needs {exactly}{least} points, "
                             f"got {count}")
        if item.shape_type == "mask" and not item.mask:
            raise InputError(f"{at}.mask: a mask shape needs its base64 PNG")
    return document


def _geometry(item: _ShapeJ, *, image_wh: tuple[int, int], origin: str,
              keypoint_names: Sequence[str]) -> Geometry:
    flat = tuple(v for point in item.points for v in point)
    match item.shape_type:
        case "rectangle":
            (xa, ya), (xb, yb) = item.points
            return Box.from_xyxy(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))
        case "circle":
            return circle_polygon(*item.points)
        case "mask":
            return decode_mask(item.points, item.mask or "", image_wh=image_wh, origin=origin)
        case "polygon":
            return Polygon.simple(flat)
        case "line" | "linestrip":
            return Polyline(points=flat)
        case "point" if item.description in keypoint_names:
            position = list(keypoint_names).index(item.description or "")
            (x, y), = item.points
            return Keypoints(points=tuple(
                Keypoint(x=x, y=y) if i == position
                else Keypoint(x=0, y=0, v=Visibility.NOT_LABELED)
                for i in range(len(keypoint_names))))
    return Keypoints(points=tuple(Keypoint(x=x, y=y) for x, y in item.points))


def _attributes(item: _ShapeJ) -> dict[str, Any]:
    attributes: dict[str, Any] = dict(item.attributes or {})
    attributes |= item.flags or {}
    if item.description and item.shape_type not in ("point", "points"):
        attributes["description"] = item.description
    return attributes


def _joined(first: Geometry, second: Geometry, *, named: bool) -> Geometry | None:
    """Two shapes of one group that form one object: polygon parts, or keypoints (``named``:
    each holds its point at its name's position, else they follow each other)."""
    if isinstance(first, Polygon) and isinstance(second, Polygon):
        return Polygon(parts=first.parts + second.parts)
    if isinstance(first, Keypoints) and isinstance(second, Keypoints):
        if not named:
            return Keypoints(points=first.points + second.points)
        return Keypoints(points=tuple(b if a.v == Visibility.NOT_LABELED else a
                                      for a, b in zip(first.points, second.points,
                                                      strict=True)))
    return None


def _annotations(document: _FileJ, path: Path,
                 keypoint_names: Mapping[str, tuple[str, ...]]) -> list[Annotation]:
    image_wh = (document.imageWidth, document.imageHeight)
    annotations = [Annotation(label=name, geometry=NoGeometry())
                   for name, on in (document.flags or {}).items() if on]
    grouped: dict[tuple[str, int], int] = {}  # (label, group id) -> position in annotations
    for index, item in enumerate(document.shapes):
        names = keypoint_names.get(item.label, ())
        geometry = _geometry(item, image_wh=image_wh, origin=f"{path}: at $.shapes[{index}]",
                             keypoint_names=names)
        key = (item.label, item.group_id) if item.group_id is not None else None
        if key is not None and key in grouped:
            earlier = annotations[grouped[key]]
            joined = _joined(earlier.geometry, geometry, named=bool(names))
            if joined is not None:
                annotations[grouped[key]] = Annotation(
                    label=earlier.label, geometry=joined, attributes=earlier.attributes,
                    instance_id=earlier.instance_id, score=earlier.score, source=earlier.source)
                continue
        if key is not None:
            grouped.setdefault(key, len(annotations))
        annotations.append(Annotation(
            label=item.label, geometry=geometry, attributes=_attributes(item),
            instance_id=item.group_id, score=item.score,
            source=Source.MODEL if item.score is not None else Source.HUMAN))
    return annotations


def _split(path: Path, root: Path) -> str | None:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else None


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"{root}: no such file or folder; expected a folder of LabelMe JSON "
                         "files")
    return sorted(p for p in root.rglob("*.json") if p.is_file() and p != root / MANIFEST)


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read LabelMe files. Every file is checked first, so a bad file fails the whole import;
    records are then parsed again as they are asked for."""
    root = Path(path)
    files = _files(root)
    classes: dict[str, GeometryKind] = {}
    descriptions: dict[str, dict[str, None] | None] = {}  # point class -> names, None: unnamed
    for file in files:
        document = _load(file)
        _annotations(document, file, {})  # masks decode here, so a bad one fails the import
        for name in document.flags or {}:
            classes.setdefault(name, GeometryKind.NONE)
        for item in document.shapes:
            classes.setdefault(item.label, _KINDS[item.shape_type])
            if item.shape_type == "point":
                named = descriptions.setdefault(item.label, {})
                if named is not None and item.description:
                    named[item.description] = None
                else:
                    descriptions[item.label] = None
    keypoint_names = {label: tuple(named) for label, named in descriptions.items() if named}
    schema = LabelSchema(classes=tuple(
        LabelClass(id=i, name=name, geometry=kind, keypoint_names=keypoint_names.get(name, ()))
        for i, (name, kind) in enumerate(classes.items(), start=1)))
    given = options.get("images")
    fallback = ImageFolder(Path(given)) if given else None
    top = root.parent if root.is_file() else root

    def record(file: Path) -> ItemRecord:
        document = _load(file)
        image = find_image(file.parent / document.imagePath, fallback)
        item = Item(dataset=DEFAULT_DATASET, path=reference_name(document.imagePath) or file.name,
                    width=document.imageWidth, height=document.imageHeight,
                    media_uri=str(image.absolute()) if image is not None else None)
        return ItemRecord(item=item, annotations=tuple(_annotations(document, file,
                                                                    keypoint_names)),
                          split=_split(file, top))

    def records() -> Iterator[ItemRecord]:
        for file in files:
            yield record(file)

    return StreamSource(project=ProjectInfo(name=top.name), schema=schema, count=len(files),
                        open_records=records)


SPEC = FormatSpec(
    name="labelme",
    title="LabelMe JSON (labelme, one file per image)",
    extension="json",
    geometries=frozenset({GeometryKind.BOX, GeometryKind.POLYGON, GeometryKind.POLYLINE,
                          GeometryKind.MASK, GeometryKind.NONE}),
    conventions=Conventions(
        coordinates="absolute pixels [x, y] as labelme stores them",
        ids="group_id = instance id (multi-part polygons and keypoints share one)",
        notes="rectangle: two corners; polygon with holes as a mask shape; mask: inclusive "
              "first and last pixel of its box and a base64 PNG crop; keypoints as point "
              "shapes; image-level classes as file flags; imageData null",
    ),
    attributes=True,
    scores=True,
    splits=True,
    media=True,
    writer=write,
    reader=read,
    merge_shards=merge_by_copying,
)
