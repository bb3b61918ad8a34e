"""Segments.ai's release file: ``segments``.

Layout (``segmentation_bitmaps/`` for the ``segmentation-bitmap`` task type only; ``images/``
only when media is copied or linked)::

    release.json
    segmentation_bitmaps/ground-truth/street_001.png
    images/street_001.png

``release.json`` holds the release's ``name``, ``description`` and ``created_at``, then
``dataset``: ``name``, ``task_type``, ``task_attributes`` (``categories`` with ``id``, ``name``,
``color`` ``[r, g, b]`` and ``attributes``; ``image_attributes``), ``labelsets`` (``name``,
``description``) and ``samples``, one per line::

    {"name": "street_001.png", "uuid": "...", "attributes": {"image": {"url": "images/..."}},
     "metadata": {"camera": "cam-1"},
     "labels": {"ground-truth": {"label_status": "REVIEWED", "label_type": "segmentation-bitmap",
       "created_by": "ana", "reviewed_by": "ben", "created_at": "...", "updated_at": "...",
       "attributes": {"format_version": "0.1",
         "annotations": [{"id": 1, "category_id": 1, "attributes": {"colour": "red"}}],
         "segmentation_bitmap": {"url": "segmentation_bitmaps/ground-truth/street_001.png"},
         "image_attributes": {"weather": "sunny"}}}}}

Conventions:

- ``category_id`` is the class's id in the schema (Segments keeps the dataset's own ids); every
  class is a category, in schema order; ``color`` from the class's ``#rrggbb``;
- option ``task_type``: ``segmentation-bitmap`` (default, the seed's) paints every box,
  rotated box, polygon (holes stay holes) and mask into one RGBA PNG per label: the object's
  ``id`` (1, 2, ... in annotation order) is ``R + 256 G + 256^2 B`` and alpha is 255, 0 is
  unlabelled; objects are painted in z-order by `_shared.raster` (the last on top);
  an object left with no visible pixel is dropped (counted). ``vector`` writes ``bbox``
  (``points [[x0, y0], [x1, y1]]``), ``polygon`` (one per part; holes dropped, counted),
  ``polyline`` and ``point`` (one per labelled keypoint) annotations, in absolute pixels, not
  rounded; a rotated box becomes its 4-corner polygon and masks are not written (counted);
- ``label_status``: new ``PRELABELED``, in progress ``LABELING_IN_PROGRESS``, labeled
  ``LABELED``, reviewed ``REVIEWED``, rejected ``REJECTED``, skipped ``SKIPPED``; an item with
  no task in a labelset, or a new one with nothing on it, has label ``null``; ``created_by`` is
  the assignee, ``reviewed_by`` the reviewer;
- every labelset of the export is a labelset of the release, with its description;
- object attributes are the annotation's attributes (JSON values as they are); attribute
  definitions: select ``select`` with ``values``, text ``text``, numbers ``number`` (integers
  with ``step`` 1), booleans ``checkbox``;
- image classifications are ``image_attributes``, flat: a single choice or text is its value, a
  multiple choice the JSON text of its list; nested questions are written at the top (counted);
- the sample's ``name`` is the image's file name (made unique in the export), ``uuid`` is
  derived from the item's ``dataset/path``, ``metadata`` is the item's metadata;
- the release ``created_at`` is the latest timestamp in the data (never the clock).

Not carried (counted): scores, tags, instance ids, z-order (beyond the painting), annotators
and times of objects, image-level classes, the item's dataset and split.

Reading takes ``release.json`` or a folder holding it (or one ``*.json``). Segments files carry
no image sizes: an image found in ``options["images"]``, else beside the release in
``images/``, gives the size (from its header), else the label's bitmap does. Items are dataset
``default`` named by the sample's name. A bitmap becomes one mask per object id, the class from
its ``category_id``. Bitmaps must be local files (a path relative to the release file).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import msgspec
import numpy as np
import orjson
from PIL import Image

from labelport.domain.codec import Json
from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    Keypoint,
    Keypoints,
    Mask,
    Polygon,
    Polyline,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import rotated_box_corners
from labelport.domain.masks import bitmap_to_rle
from labelport.domain.model import (
    DEFAULT_DATASET,
    DEFAULT_LABELSET,
    Annotation,
    Item,
    ItemRecord,
    Labelset,
    ProjectInfo,
    Task,
    TaskStatus,
)
from labelport.domain.moments import assume_utc
from labelport.domain.schema import (
    AttributeDef,
    AttributeType,
    Classification,
    ClassificationDef,
    ClassificationKind,
    LabelClass,
    LabelSchema,
)
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.formats._shared.fields import count_unwritten
from labelport.formats._shared.geometry import count_unwritten_shape, object_on_image
from labelport.formats._shared.image_files import image_size, is_url, readable_file
from labelport.formats._shared.input_files import open_image, read_bytes
from labelport.formats._shared.json_input import convert, decode_json, gc_paused
from labelport.formats._shared.naming import FileNamer, safe_file_name
from labelport.formats._shared.raster import id_to_rgb, object_pixels, paint, parse_color, rgb_to_id
from labelport.formats._shared.shard_merge import (
    copy_entries,
    latest,
    opened_after,
    read_lines,
    write_lines,
)
from labelport.formats._shared.values import encode_value
from labelport.formats.base import (
    Conventions,
    FormatSpec,
    OptionSpec,
    WriteContext,
)

FILE_NAME = "release.json"
IMAGES_DIR = "images"
BITMAPS_DIR = "segmentation_bitmaps"
BITMAP, VECTOR = "segmentation-bitmap", "vector"
DEFAULT_OWNER = "labelport"
FORMAT_VERSION = "0.1"
_PROGRESS_EVERY = 256
_SAMPLES_LINE = b'"samples": ['
_UUIDS = uuid.UUID("6f1c1d55-3a0e-4c38-9a39-5e6b5a0e7c11")
"""Namespace of the samples' uuids (uuid5 of the item's ``dataset/path``)."""

STATUS_OF = {TaskStatus.NEW: "PRELABELED", TaskStatus.IN_PROGRESS: "LABELING_IN_PROGRESS",
             TaskStatus.LABELED: "LABELED", TaskStatus.REVIEWED: "REVIEWED",
             TaskStatus.REJECTED: "REJECTED", TaskStatus.SKIPPED: "SKIPPED"}
_STATUS_FROM = {v: k for k, v in STATUS_OF.items()} | {
    "REVIEWING_IN_PROGRESS": TaskStatus.LABELED, "VERIFIED": TaskStatus.REVIEWED,
    "UNLABELED": TaskStatus.NEW}

_INPUT_TYPES = {AttributeType.SELECT: "select", AttributeType.STRING: "text",
                AttributeType.INT: "number", AttributeType.FLOAT: "number",
                AttributeType.BOOL: "checkbox"}
_CARRIED_ANNOTATION = frozenset({"attributes", "z_order"})
_CARRIED_TASK = frozenset({"status", "assignee", "reviewer", "classifications", "created_at",
                           "updated_at"})
_CARRIED_ITEM = frozenset({"metadata"})


# --- pure conversions ------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def attribute_json(definition: AttributeDef) -> Json:
    """A Segments task attribute (``select``, ``text``, ``number``, ``checkbox``)."""
    d = definition
    out: Json = {"name": d.name, "input_type": _INPUT_TYPES[d.type]}
    if d.type is AttributeType.SELECT:
        out["values"] = list(d.options)
    if d.default is not None:
        out["default_value"] = d.default
    if d.type in (AttributeType.INT, AttributeType.FLOAT):
        for key in ("min", "max"):
            if getattr(d, key) is not None:
                out[key] = getattr(d, key)
        if d.type is AttributeType.INT:
            out["step"] = 1
    return out


def _flat_questions(definitions: tuple[ClassificationDef, ...]) -> Iterator[ClassificationDef]:
    for d in definitions:
        yield d
        yield from _flat_questions(d.children)


def image_attribute_json(definition: ClassificationDef) -> Json:
    if definition.kind in (ClassificationKind.RADIO, ClassificationKind.SELECT):
        return {"name": definition.name, "input_type": "select",
                "values": list(definition.options)}
    return {"name": definition.name, "input_type": "text"}


def task_attributes_json(schema: LabelSchema) -> Json:
    categories = []
    for c in schema.classes:
        category: Json = {"id": c.id, "name": c.name}
        rgb = parse_color(c.color)
        if rgb is not None:
            category["color"] = list(rgb)
        if c.attributes:
            category["attributes"] = [attribute_json(a) for a in c.attributes]
        categories.append(category)
    out: Json = {"format_version": FORMAT_VERSION, "categories": categories}
    questions = list(_flat_questions(schema.classifications))
    if questions:
        out["image_attributes"] = [image_attribute_json(d) for d in questions]
    return out


def image_attributes_json(answers: tuple[Classification, ...],
                          kinds: Mapping[str, ClassificationKind]) -> Json:
    """Flat ``{name: value}``: a multiple choice as the JSON text of its list."""
    out: Json = {}
    for a in answers:
        if kinds.get(a.name) is ClassificationKind.CHECKBOX:
            out[a.name] = encode_value(list(a.values))
        elif a.values:
            out[a.name] = a.values[0]
        out.update(image_attributes_json(a.children, kinds))
    return out


def vector_annotations(geometry: Geometry, ctx: WriteContext) -> list[Json]:
    """``type`` and ``points`` of the vector annotations one geometry becomes (none, counted,
    when it cannot be written)."""
    if isinstance(geometry, RotatedBox):
        ctx.report.count("converted: rotated_box to its 4-corner polygon")
        geometry = Polygon.simple(rotated_box_corners(geometry))
    match geometry:
        case Box():
            x0, y0, x1, y1 = geometry.xyxy
            return [{"type": "bbox", "points": [[x0, y0], [x1, y1]]}]
        case Polygon():
            if len(geometry.parts) > 1:
                ctx.report.count("converted: polygon of several parts to one polygon per part")
            holes = sum(len(p.holes) for p in geometry.parts)
            if holes:
                ctx.report.count("dropped: polygon hole (vector polygons have none)", holes)
            return [{"type": "polygon", "points": _points(p.outer)} for p in geometry.parts]
        case Polyline():
            return [{"type": "polyline", "points": _points(geometry.points)}]
        case Keypoints():
            if len(geometry.points) > 1:
                ctx.report.count("converted: keypoints to one point per labelled keypoint")
            count_unwritten_shape(geometry, ctx)
            return [{"type": "point", "points": [[p.x, p.y]]} for p in geometry.points
                    if p.v is not Visibility.NOT_LABELED]
    ctx.report.count(f"not written: {geometry.kind.value} (task_type vector)")
    return []


def _points(ring: tuple[float, ...]) -> list[list[float]]:
    return [[x, y] for x, y in zip(ring[::2], ring[1::2], strict=True)]


def rgba_of_ids(ids: np.ndarray) -> np.ndarray:
    """Segments' bitmap pixels: the id in R, G, B (``R + 256 G + 256^2 B``), alpha 255."""
    alpha = np.full(ids.shape + (1,), 255, dtype=np.uint8)
    return np.concatenate([id_to_rgb(ids), alpha], axis=-1)


def ids_of_rgba(pixels: np.ndarray) -> np.ndarray:
    """The inverse of `rgba_of_ids`; alpha is ignored (the SDK zeroes it)."""
    return rgb_to_id(pixels[..., :3])


# --- writing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _SegmentsWriter:
    out_dir: Path
    schema: LabelSchema
    task_type: str
    labelsets: tuple[str, ...]
    ctx: WriteContext
    spool: IO[bytes]
    namer: FileNamer = field(init=False)
    latest: datetime | None = None
    kinds: dict[str, ClassificationKind] = field(init=False)

    def __post_init__(self) -> None:
        self.kinds = {d.name: d.kind for d in _flat_questions(self.schema.classifications)}
        self.namer = FileNamer(unique_stems=True, report=self.ctx.report)

    def _seen(self, *moments: datetime | None) -> None:
        for m in moments:
            if m is not None:
                key = assume_utc(m)
                if self.latest is None or key > self.latest:
                    self.latest = key

    def add(self, record: ItemRecord) -> None:
        item, ctx = record.item, self.ctx
        name = self.namer.name(item, IMAGES_DIR)
        target = self.out_dir / IMAGES_DIR / name
        ctx.place_media(item, target)
        count_unwritten(item, carried=_CARRIED_ITEM, ctx=ctx)
        if item.dataset != DEFAULT_DATASET:
            ctx.report.count("not written: item dataset")
        if item.path != item.file_name:
            ctx.report.count("converted: item path to its file name")
        if record.split is not None:
            ctx.report.count("not written: split")
        tasks = {t.labelset: t for t in record.tasks}
        by_labelset: defaultdict[str, list[Annotation]] = defaultdict(list)
        for a in record.annotations:
            by_labelset[a.labelset].append(a)
        labels: Json = {}
        for labelset in self.labelsets:
            labels[labelset] = self.label(record, name, labelset, tasks.get(labelset),
                                          by_labelset.pop(labelset, []))
        for rest in by_labelset.values():
            ctx.report.count("not written: annotation of a labelset not in the export",
                             len(rest))
        sample = {"name": name, "uuid": str(uuid.uuid5(_UUIDS, item.key)),
                  "attributes": {"image": {"url": ctx.media_reference(
                      item, target, f"{IMAGES_DIR}/{name}")}},
                  "metadata": dict(item.metadata), "labels": labels}
        self.spool.write(orjson.dumps(sample) + b"\n")

    def label(self, record: ItemRecord, name: str, labelset: str, task: Task | None,
              annotations: list[Annotation]) -> Json | None:
        if task is None and not annotations:
            return None
        if task is not None:
            self._seen(task.created_at, task.updated_at)
            count_unwritten(task, carried=_CARRIED_TASK, ctx=self.ctx)
            if task.status is TaskStatus.NEW and not annotations and not task.classifications:
                return None
        attributes: Json = {"format_version": FORMAT_VERSION}
        if self.task_type == BITMAP:
            bitmap = f"{BITMAPS_DIR}/{safe_file_name(labelset)}/{Path(name).stem}.png"
            attributes["annotations"] = self.paint(record, annotations, self.out_dir / bitmap)
            attributes["segmentation_bitmap"] = {"url": bitmap}
        else:
            attributes["annotations"] = self.vectors(record, annotations)
        if task is not None and task.classifications:
            attributes["image_attributes"] = image_attributes_json(task.classifications,
                                                                   self.kinds)
        out: Json = {"label_status": STATUS_OF[task.status] if task else STATUS_OF[TaskStatus.NEW],
                     "label_type": self.task_type, "attributes": attributes}
        if task is not None:
            extras = {"created_by": task.assignee, "reviewed_by": task.reviewer,
                      "created_at": _iso(task.created_at), "updated_at": _iso(task.updated_at)}
            out.update((k, v) for k, v in extras.items() if v is not None)
        return out

    def _objects(self, record: ItemRecord,
                 annotations: list[Annotation]) -> Iterator[tuple[Annotation, Geometry]]:
        image_wh = (record.item.width, record.item.height)
        for a in annotations:
            if self.schema.get(a.label) is None:
                self.ctx.report.count("not written: annotation whose class is not in the schema")
                continue
            geometry = object_on_image(a.geometry, image_wh=image_wh, ctx=self.ctx)
            if geometry is not None:
                yield a, geometry

    def _object(self, annotation: Annotation, object_id: int) -> Json:
        self._seen(annotation.created_at, annotation.updated_at)
        count_unwritten(annotation, carried=_CARRIED_ANNOTATION, ctx=self.ctx)
        category = self.schema.get(annotation.label)
        out: Json = {"id": object_id, "category_id": category.id if category else 0}
        if annotation.attributes:
            out["attributes"] = dict(annotation.attributes)
        return out

    def vectors(self, record: ItemRecord, annotations: list[Annotation]) -> list[Json]:
        out: list[Json] = []
        for annotation, geometry in self._objects(record, annotations):
            for shape in vector_annotations(geometry, self.ctx):
                out.append(self._object(annotation, len(out) + 1) | shape)
        return out

    def paint(self, record: ItemRecord, annotations: list[Annotation], path: Path) -> list[Json]:
        """Paint the objects with area into the label's bitmap, in z-order; the objects listed
        are those left with visible pixels."""
        height, width = record.item.height, record.item.width
        painted: list[tuple[Annotation, Any]] = []
        for annotation, geometry in self._objects(record, annotations):
            if not isinstance(geometry, Box | RotatedBox | Polygon | Mask):
                self.ctx.report.count(f"not written: {geometry.kind.value} (no area to paint)")
                continue
            if not isinstance(geometry, Mask):
                self.ctx.report.count(f"converted: {geometry.kind.value} to the bitmap")
            painted.append((annotation, geometry))
        order = sorted(range(len(painted)), key=lambda i: painted[i][0].z_order)
        pixels = object_pixels([painted[i][1] for i in order], height=height, width=width)
        ids = paint(pixels, [i + 1 for i in order], height=height, width=width,
                    encoding="rgb_id")
        visible = set(np.unique(ids).tolist())
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgba_of_ids(ids), "RGBA").save(path, "PNG")
        out = []
        for i, (annotation, _) in enumerate(painted, start=1):
            if i in visible:
                out.append(self._object(annotation, i))
            else:
                self.ctx.report.count("dropped: object with no visible pixel in the bitmap")
        return out


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Stream ``source`` into ``release.json`` (samples spooled, then merged behind the header
    whose ``created_at`` is known last) and, for bitmap tasks, one PNG per label."""
    task_type = str(options.get("task_type", BITMAP))
    out_dir.mkdir(parents=True, exist_ok=True)
    labelsets = tuple(ls.name for ls in source.labelsets) or (DEFAULT_LABELSET,)
    spool_path = out_dir / ".segments-samples"
    try:
        with spool_path.open("wb") as spool:
            writer = _SegmentsWriter(out_dir=out_dir, schema=source.schema, task_type=task_type,
                                     labelsets=labelsets, ctx=ctx, spool=spool)
            if any(d.children for d in source.schema.classifications):
                ctx.report.count("converted: nested image classifications written flat")
            done = 0
            for done, record in enumerate(source.records(), start=1):
                writer.add(record)
                if done % _PROGRESS_EVERY == 0:
                    ctx.progress(done)
            ctx.progress(done)
        descriptions = {ls.name: ls.description for ls in source.labelsets}
        dataset = {"name": source.project.name,
                   "owner": str(options.get("owner") or DEFAULT_OWNER), "task_type": task_type,
                   "task_attributes": task_attributes_json(source.schema),
                   "labelsets": [{"name": n, "description": descriptions.get(n, "")}
                                 for n in labelsets]}
        head = {"name": source.project.name, "description": source.project.description,
                "created_at": _iso(writer.latest)}
        with (out_dir / FILE_NAME).open("wb") as f, spool_path.open("rb") as lines:
            f.write(orjson.dumps(head)[:-1] + b',\n"dataset": ' + orjson.dumps(dataset)[:-1]
                    + b",\n" + _SAMPLES_LINE)
            write_lines(f, lines)
            f.write(b"\n]}}\n")
    finally:
        spool_path.unlink(missing_ok=True)


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """``release.json``: the release's header with the latest ``created_at`` of all shards
    (the first on a tie, as one writer keeps), the ``dataset`` line (from the schema and the
    labelsets, the same in every shard), then every shard's samples in shard order; bitmaps
    and images merge by copying."""
    parts = [shard / FILE_NAME for shard in shards]
    heads = [next(read_lines(part)) for part in parts]
    created = [orjson.loads(head[:-1] + b"}").get("created_at") for head in heads]
    with (out / FILE_NAME).open("wb") as f:
        f.write(heads[latest(created)] + b"\n")
        lines = read_lines(parts[0])
        next(lines)
        f.write(next(lines) + b"\n" + _SAMPLES_LINE)
        written = 0
        for part in parts:
            with opened_after(part, _SAMPLES_LINE) as src:
                written = copy_entries(f, src, b"]}}", written=written, where=part)
        f.write(b"\n]}}\n")
    return [FILE_NAME]


# --- reading ---------------------------------------------------------------------------------


class _Attribute(msgspec.Struct):
    name: str
    input_type: str
    values: list[str] = []
    default_value: Any = None
    min: float | None = None
    max: float | None = None
    step: float | None = None


class _Category(msgspec.Struct):
    id: int
    name: str
    color: list[int] | None = None
    attributes: list[_Attribute] | None = None


class _TaskAttributes(msgspec.Struct):
    categories: list[_Category] | None = None
    image_attributes: list[_Attribute] | None = None
    format_version: Any = None


class _Url(msgspec.Struct):
    url: str | None = None


class _Object(msgspec.Struct):
    id: int
    category_id: int
    type: str | None = None
    points: list[list[float]] | None = None
    attributes: dict[str, Any] | None = None


class _LabelAttributes(msgspec.Struct):
    annotations: list[_Object] = []
    segmentation_bitmap: _Url | None = None
    image_attributes: dict[str, Any] | None = None
    format_version: Any = None


class _Label(msgspec.Struct):
    label_status: str
    attributes: _LabelAttributes | None = None
    created_by: str | None = None
    reviewed_by: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class _SampleAttributes(msgspec.Struct):
    image: _Url | None = None


class _Sample(msgspec.Struct):
    name: str
    attributes: _SampleAttributes
    uuid: str | None = None
    metadata: dict[str, Any] | None = None
    labels: dict[str, _Label | None] = {}


class _Labelset(msgspec.Struct):
    name: str
    description: str = ""


class _Dataset(msgspec.Struct):
    name: str
    task_type: str
    task_attributes: _TaskAttributes
    labelsets: list[_Labelset] = []
    samples: list[_Sample] = []


class _Release(msgspec.Struct):
    dataset: _Dataset
    name: str = ""
    description: str = ""
    created_at: str | None = None


def _attribute_def(a: _Attribute) -> AttributeDef:
    kind = {"select": AttributeType.SELECT, "text": AttributeType.STRING,
            "checkbox": AttributeType.BOOL}.get(a.input_type)
    if kind is None:
        kind = AttributeType.INT if a.step is not None and float(a.step).is_integer() \
            else AttributeType.FLOAT
    return AttributeDef(name=a.name, type=kind, options=tuple(a.values), min=a.min, max=a.max,
                        default=a.default_value)


def _schema(attributes: _TaskAttributes, task_type: str) -> LabelSchema:
    """Categories as classes (masks for a bitmap task, boxes otherwise: Segments does not say
    which tool drew a vector object), image attributes as flat questions."""
    geometry = GeometryKind.MASK if task_type.startswith(BITMAP) else GeometryKind.BOX
    classes = tuple(
        LabelClass(id=c.id, name=c.name, geometry=geometry,
                   color="#{:02x}{:02x}{:02x}".format(*c.color[:3]) if c.color else None,
                   attributes=tuple(_attribute_def(a) for a in c.attributes or ()))
        for c in attributes.categories or ())
    questions = tuple(
        ClassificationDef(name=a.name, options=tuple(a.values),
                          kind=ClassificationKind.SELECT if a.input_type == "select"
                          else ClassificationKind.TEXT)
        for a in attributes.image_attributes or ())
    return LabelSchema(classes=classes, classifications=questions)


def _find_json(path: Path) -> Path:
    if path.is_file():
        return path
    if (path / FILE_NAME).is_file():
        return path / FILE_NAME
    found = [p for p in sorted(path.glob("*.json")) if p.name != "labelport-export.json"] \
        if path.is_dir() else []
    if len(found) != 1:
        raise InputError(f"{path}: expected {FILE_NAME} (or one Segments.ai release *.json)")
    return found[0]


def _datetime(text: str | None, origin: str, at: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{origin}: at {at}: expected an ISO 8601 time, got {text!r}") from None


@dataclass(slots=True)
class _Reader:
    origin: str
    folder: Path
    images: Path | None
    schema: LabelSchema
    task_type: str
    labels_by_id: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels_by_id = {c.id: c.name for c in self.schema.classes}

    def record(self, sample: _Sample, at: str) -> ItemRecord:
        image = self._image(sample)
        size = image_size(image) if image is not None else None
        tasks: list[Task] = []
        annotations: list[Annotation] = []
        for labelset, label in sample.labels.items():
            if label is None:
                continue
            where = f"{at}.labels.{labelset}"
            status = _STATUS_FROM.get(label.label_status.upper())
            if status is None:
                raise InputError(f"{self.origin}: at {where}.label_status: unknown status "
                                 f"{label.label_status!r}; expected one of "
                                 f"{', '.join(_STATUS_FROM)}")
            attributes = label.attributes or _LabelAttributes()
            answers = tuple(
                Classification(name=k, values=(v if isinstance(v, str) else encode_value(v),))
                for k, v in (attributes.image_attributes or {}).items())
            tasks.append(Task(labelset=labelset, status=status, assignee=label.created_by,
                              reviewer=label.reviewed_by, classifications=answers,
                              created_at=_datetime(label.created_at, self.origin,
                                                   f"{where}.created_at"),
                              updated_at=_datetime(label.updated_at, self.origin,
                                                   f"{where}.updated_at")))
            if attributes.segmentation_bitmap is not None:
                ids, size = self._bitmap(attributes.segmentation_bitmap, size,
                                         f"{where}.attributes.segmentation_bitmap")
                annotations += self._masks(attributes.annotations, ids, labelset, where)
            else:
                annotations += self._vectors(attributes.annotations, labelset, where)
        if size is None:
            raise InputError(f"{self.origin}: at {at}: no image {sample.name!r} to read its "
                             f"size from (release files carry no sizes): pass the images folder")
        url = sample.attributes.image.url if sample.attributes.image else None
        media = str(image.absolute()) if image is not None else (
            url if url is not None and is_url(url) else None)
        item = Item(dataset=DEFAULT_DATASET, path=sample.name, width=size[0], height=size[1],
                    media_uri=media, metadata=sample.metadata or {})
        return ItemRecord(item=item, tasks=tuple(tasks), annotations=tuple(annotations))

    def _image(self, sample: _Sample) -> Path | None:
        for folder in (self.images, self.folder / IMAGES_DIR):
            if folder is not None and readable_file(folder / sample.name):
                return folder / sample.name
        url = sample.attributes.image.url if sample.attributes.image else None
        if url and not is_url(url) and readable_file(self.folder / url):
            return self.folder / url
        return None

    def _bitmap(self, bitmap: _Url, size: tuple[int, int] | None,
                at: str) -> tuple[np.ndarray, tuple[int, int]]:
        if not bitmap.url or is_url(bitmap.url):
            raise InputError(f"{self.origin}: at {at}.url: expected the path of a local PNG "
                             f"relative to the release file, got {bitmap.url!r}")
        path = self.folder / bitmap.url
        with open_image(path) as png:
            pixels = np.asarray(png.convert("RGBA"))
        height, width = pixels.shape[:2]
        if size is not None and size != (width, height):
            raise InputError(f"{path}: the bitmap is {width}x{height}, its image "
                             f"{size[0]}x{size[1]}")
        return ids_of_rgba(pixels), (width, height)

    def _label_of(self, obj: _Object, at: str) -> str:
        label = self.labels_by_id.get(obj.category_id)
        if label is None:
            raise InputError(f"{self.origin}: at {at}.category_id: {obj.category_id} is not a "
                             f"category of task_attributes")
        return label

    def _masks(self, objects: list[_Object], ids: np.ndarray, labelset: str,
               at: str) -> Iterator[Annotation]:
        for i, obj in enumerate(objects):
            label = self._label_of(obj, f"{at}.attributes.annotations[{i}]")
            yield Annotation(label=label, geometry=bitmap_to_rle(ids == obj.id),
                             labelset=labelset, attributes=obj.attributes or {})

    def _vectors(self, objects: list[_Object], labelset: str, at: str) -> Iterator[Annotation]:
        for i, obj in enumerate(objects):
            where = f"{at}.attributes.annotations[{i}]"
            label = self._label_of(obj, where)
            yield Annotation(label=label, geometry=self._geometry(obj, where),
                             labelset=labelset, attributes=obj.attributes or {})

    def _geometry(self, obj: _Object, at: str) -> Geometry:
        points = obj.points or []
        if any(len(p) != 2 for p in points):
            raise InputError(f"{self.origin}: at {at}.points: expected [x, y] pairs")
        flat = tuple(float(v) for p in points for v in p)
        match obj.type, len(points):
            case "bbox", 2:
                return Box.from_xyxy(*flat)
            case "polygon", n if n >= 3:
                return Polygon.simple(flat)
            case "polyline", n if n >= 2:
                return Polyline(points=flat)
            case "point", 1:
                return Keypoints(points=(Keypoint(x=flat[0], y=flat[1]),))
        raise InputError(f"{self.origin}: at {at}: expected a bbox (2 points), polygon (3 or "
                         f"more), polyline (2 or more) or point (1); got {obj.type!r} with "
                         f"{len(points)} points")


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read a release file; see the module's notes for sizes, media and bitmaps."""
    json_file = _find_json(path)
    origin = str(json_file)
    with gc_paused():
        release = convert(decode_json(read_bytes(json_file), origin), _Release, origin)
    dataset = release.dataset
    images = Path(options["images"]) if options.get("images") else None
    reader = _Reader(origin=origin, folder=json_file.parent, images=images,
                     schema=_schema(dataset.task_attributes, dataset.task_type),
                     task_type=dataset.task_type)
    records = tuple(reader.record(s, f"$.dataset.samples[{i}]")
                    for i, s in enumerate(dataset.samples))
    return MemorySource(
        project=ProjectInfo(name=dataset.name, description=release.description),
        schema=reader.schema, items=records,
        labelsets=tuple(Labelset(name=ls.name, description=ls.description)
                        for ls in dataset.labelsets))


SPEC = FormatSpec(
    name="segments",
    title="Segments.ai release file (JSON + bitmap PNGs)",
    extension=".json",
    geometries=frozenset({GeometryKind.BOX, GeometryKind.ROTATED_BOX, GeometryKind.POLYGON,
                          GeometryKind.MASK}),
    conventions=Conventions(
        coordinates="absolute pixels, not rounded (vector); bitmaps RGBA with object id = "
                    "R + 256 G + 256^2 B, alpha 255",
        index_base="object ids from 1 per label; 0 is unlabelled",
        ids="category_id = the class's schema id",
        notes="task_type segmentation-bitmap (default) paints boxes, polygons and masks in "
              "z-order; vector writes bbox/polygon/polyline/point; label_status from the task",
    ),
    attributes=True,
    media=True,
    options=(OptionSpec(name="task_type", type=str, default=BITMAP, choices=(BITMAP, VECTOR),
                        help="segmentation-bitmap: one RGBA bitmap per label; vector: bbox, "
                             "polygon, polyline and point annotations"),
             OptionSpec(name="owner", type=str, default=DEFAULT_OWNER,
                        help="the dataset's owner (a Segments.ai account): the SDK's "
                             "SegmentsDataset needs it to load a release file")),
    writer=write,
    reader=read,
    merge_shards=merge_shards,
    merge_reads=(FILE_NAME,),
)
