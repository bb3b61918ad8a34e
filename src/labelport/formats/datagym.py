"""DataGym's JSON export: ``datagym``.

Layout (``images/`` only when media is copied or linked)::

    datagym.json
    images/street_001.png
    images/...

``datagym.json`` is one object: ``label_classes`` (the label configuration), then ``tasks``, one
task per line::

    {"label_classes": [
      {"class_name": "car", "geometry_type": "rectangle"},
      {"class_name": "colour", "classification_type": "radio"},
      {"class_name": "weather", "classification_type": "radio"}],
     "tasks": [
    {"internal_image_ID": "train-pool/street_001.png", "external_image_ID": "street_001.png",
     "labeler": "ana", "status": "reviewed",
     "global_classifications": {"weather": ["sunny", {"daytime": ["noon"]}]},
     "labels": {"car": [{"geometry": [{"x": 100, "y": 200, "w": 160, "h": 90}],
                         "classifications": {"colour": ["red"], "plate": [null]}}]}}
    ]}

Conventions:

- coordinates are absolute pixels, origin at the top-left corner of the top-left pixel, not
  rounded (a whole number is written as an integer, as DataGym does);
- ``geometry_type`` follows the class: a box class is ``rectangle`` (``[{"x", "y", "w", "h"}]``,
  the shape DataGym's own SDK uploads), a polyline class ``line`` and a keypoints class
  ``point`` (lists of ``{"x", "y"}``; one ``point`` entry per labelled keypoint, counted), a
  rotated box class ``polygon`` (its 4 corners, counted); a polygon class is
  ``image_segmentation`` by default: each part is one entry whose geometry is the outer ring
  followed by its cut-outs, every ring closed (first point repeated), as the seed shows; with
  option ``polygons=polygon`` it is ``polygon`` and holes are dropped (counted). A polygon of
  several parts becomes one entry per part (counted);
- ``labels`` holds a key for every geometry class, also with no entries;
- classifications are keyed by name; an answer is a list of chosen values, followed by an object
  holding the answers asked under it: ``"weather": ["sunny", {"daytime": ["day"]}]``;
- ``label_classes`` lists the geometry classes in schema order, then each object attribute and
  each image classification (nested ones included) once by name. Option questions are ``radio``
  with up to three options and ``select`` above (the seed's rule: a 3-option ``select`` reads
  back as ``radio``, counted), multiple choice is ``checklist``, text is ``freetext``;
- an object's attributes are its ``classifications``: every attribute the class defines is
  present, ``[null]`` when unanswered (as in the seed); values are text (numbers and booleans
  as JSON text, `labelport.formats._shared.values`), read back with their types;
- ``internal_image_ID`` is the item's ``dataset/path`` (so it reads back), ``external_image_ID``
  its file name (made unique in the export), ``labeler`` the task's assignee;
- ``status``: new ``waiting``, in progress ``in_progress``, labeled ``completed``, reviewed
  ``reviewed``, rejected ``waiting_changed`` (back to the labeler), skipped ``skipped``; an item
  with no task is ``backlog``.

Not carried (counted): masks, image-level classes, scores and every other annotation field but
attributes, reviewers and task times, item metadata, sizes and splits, other labelsets.

Reading takes ``datagym.json`` or a folder holding it (or one ``*.json``). DataGym files carry
no image sizes: each image is looked up by ``external_image_ID`` in ``options["images"]``, else in
the export's ``images/``, and sized from its header; a missing image is an error. Items are
``dataset/path`` from an ``internal_image_ID`` holding a ``/``, else dataset ``default`` and the
file name. Classification options are the values the tasks use (DataGym lists none), a
question nests under the answer it first appears under, and attribute types come from the
values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec
import orjson

from labelport.domain.codec import Json
from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    Keypoint,
    Keypoints,
    Mask,
    NoGeometry,
    Polygon,
    PolygonPart,
    Polyline,
    Ring,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import bounding_box, rotated_box_corners
from labelport.domain.model import (
    DEFAULT_DATASET,
    DEFAULT_LABELSET,
    Annotation,
    ItemRecord,
    ProjectInfo,
    Task,
    TaskStatus,
)
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
from labelport.formats._shared.geometry import count_unwritten_shape, fit_to_image
from labelport.formats._shared.image_files import image_item, readable_file
from labelport.formats._shared.input_files import read_bytes
from labelport.formats._shared.json_input import convert, decode_json, gc_paused
from labelport.formats._shared.naming import FileNamer
from labelport.formats._shared.shard_merge import merge_entries
from labelport.formats._shared.values import decode_value, encode_value
from labelport.formats.base import Conventions, FormatSpec, OptionSpec, WriteContext

FILE_NAME = "datagym.json"
IMAGES_DIR = "images"
_PROGRESS_EVERY = 256

RECTANGLE, POLYGON, SEGMENTATION, LINE, POINT = (
    "rectangle", "polygon", "image_segmentation", "line", "point")
_GEOMETRY_TYPES = {GeometryKind.BOX: RECTANGLE, GeometryKind.ROTATED_BOX: POLYGON,
                   GeometryKind.POLYLINE: LINE, GeometryKind.KEYPOINTS: POINT}
_KIND_OF_TYPE = {RECTANGLE: GeometryKind.BOX, POLYGON: GeometryKind.POLYGON,
                 SEGMENTATION: GeometryKind.POLYGON, LINE: GeometryKind.POLYLINE,
                 POINT: GeometryKind.KEYPOINTS}

RADIO, SELECT, CHECKLIST, FREETEXT = "radio", "select", "checklist", "freetext"
_MAX_RADIO_OPTIONS = 3
_CLASSIFICATION_KINDS = {RADIO: ClassificationKind.RADIO, SELECT: ClassificationKind.SELECT,
                         CHECKLIST: ClassificationKind.CHECKBOX, FREETEXT: ClassificationKind.TEXT}

STATUS_OF = {TaskStatus.NEW: "waiting", TaskStatus.IN_PROGRESS: "in_progress",
             TaskStatus.LABELED: "completed", TaskStatus.REVIEWED: "reviewed",
             TaskStatus.REJECTED: "waiting_changed", TaskStatus.SKIPPED: "skipped"}
NO_TASK = "backlog"
_STATUS_FROM = {v: k for k, v in STATUS_OF.items()}

_CARRIED_ANNOTATION = frozenset({"attributes"})
_CARRIED_TASK = frozenset({"status", "assignee", "classifications"})


# --- pure conversions ------------------------------------------------------------------------


def _num(value: float) -> float | int:
    """Whole numbers as integers (DataGym's own files), others unchanged."""
    return int(value) if float(value).is_integer() else float(value)


def points_json(ring: Ring, *, closed: bool = False) -> list[Json]:
    """``[{"x", "y"}, ...]``; ``closed`` repeats the first point at the end."""
    points = [{"x": _num(x), "y": _num(y)} for x, y in zip(ring[::2], ring[1::2], strict=True)]
    if closed and points and points[0] != points[-1]:
        points.append(points[0])
    return points


def ring_from_points(points: list[tuple[float, float]]) -> Ring:
    """A flat ring; a closing point equal to the first is dropped."""
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1]
    return tuple(v for p in points for v in p)


def option_type(options: tuple[str, ...]) -> str:
    """The seed's rule: an option question is ``radio`` with up to three options."""
    return RADIO if len(options) <= _MAX_RADIO_OPTIONS else SELECT


def classification_type(definition: ClassificationDef) -> str:
    match definition.kind:
        case ClassificationKind.CHECKBOX:
            return CHECKLIST
        case ClassificationKind.TEXT:
            return FREETEXT
    return option_type(definition.options)


def attribute_type(definition: AttributeDef) -> str:
    return option_type(definition.options) if definition.type is AttributeType.SELECT \
        else FREETEXT


def classifications_json(answers: tuple[Classification, ...]) -> Json:
    """DataGym's nesting: each answer's values, then an object with the answers under it."""
    out: Json = {}
    for answer in answers:
        values: list[Any] = list(answer.values)
        if answer.children:
            values.append(classifications_json(answer.children))
        out[answer.name] = values
    return out


def classifications_from_json(data: Mapping[str, Any], origin: str, at: str
                              ) -> tuple[Classification, ...]:
    """The inverse of `classifications_json`; ``[null]`` (unanswered) gives no answer."""
    out = []
    for name, values in data.items():
        if not isinstance(values, list):
            raise InputError(f"{origin}: at {at}.{name}: expected a list of values")
        chosen: list[str] = []
        children: tuple[Classification, ...] = ()
        for i, value in enumerate(values):
            if isinstance(value, dict):
                children += classifications_from_json(value, origin, f"{at}.{name}[{i}]")
            elif isinstance(value, str):
                chosen.append(value)
            elif value is not None:
                chosen.append(encode_value(value))
        if chosen or children:
            out.append(Classification(name=name, values=tuple(chosen), children=children))
    return tuple(out)


def attributes_json(attributes: Mapping[str, Any], label_class: LabelClass | None) -> Json:
    """Every attribute the class defines (``[null]`` when unanswered), then the others."""
    defined = [a.name for a in label_class.attributes] if label_class else []
    out: Json = {name: [encode_value(attributes[name])] if name in attributes else [None]
                 for name in defined}
    out.update((k, [encode_value(v)]) for k, v in attributes.items() if k not in out)
    return out


def label_classes_json(schema: LabelSchema, *, polygons: str) -> list[Json]:
    """Geometry classes in schema order, then attributes and image questions once by name."""
    out: list[Json] = []
    seen: set[str] = set()

    def add(name: str, key: str, value: str) -> None:
        if name not in seen:
            seen.add(name)
            out.append({"class_name": name, key: value})

    for c in schema.classes:
        kind = geometry_type(c.geometry, polygons=polygons)
        if kind is not None:
            add(c.name, "geometry_type", kind)
    for c in schema.classes:
        for a in c.attributes:
            add(a.name, "classification_type", attribute_type(a))

    def walk(definitions: tuple[ClassificationDef, ...]) -> None:
        for d in definitions:
            add(d.name, "classification_type", classification_type(d))
            walk(d.children)

    walk(schema.classifications)
    return out


def geometry_type(kind: GeometryKind, *, polygons: str) -> str | None:
    """The ``geometry_type`` of a class; None for masks and image-level classes."""
    return polygons if kind is GeometryKind.POLYGON else _GEOMETRY_TYPES.get(kind)


def geometry_entries(geometry: Geometry, kind: str, ctx: WriteContext) -> list[Any]:
    """The ``geometry`` values of one annotation in a class of ``geometry_type`` ``kind``: one
    per polygon part or keypoint; empty (counted) when it cannot be written."""
    if isinstance(geometry, RotatedBox) and kind != RECTANGLE:
        ctx.report.count("converted: rotated_box to its 4-corner polygon")
        geometry = Polygon.simple(rotated_box_corners(geometry))
    if isinstance(geometry, Box) and kind in (POLYGON, SEGMENTATION):
        ctx.report.count("converted: box to a polygon")
        x0, y0, x1, y1 = geometry.xyxy
        geometry = Polygon.simple((x0, y0, x1, y0, x1, y1, x0, y1))
    match kind, geometry:
        case _, Mask() | NoGeometry():
            ctx.report.count(f"not written: {geometry.kind.value}")
            return []
        case "rectangle", _:
            box = geometry if isinstance(geometry, Box) else bounding_box(geometry)
            if box is None:
                ctx.report.count(f"not written: {geometry.kind.value} has no box")
                return []
            if box is not geometry:
                ctx.report.count(f"converted: {geometry.kind.value} to its bounding box")
            return [[{"x": _num(box.x), "y": _num(box.y), "w": _num(box.w), "h": _num(box.h)}]]
        case "line", Polyline():
            return [points_json(geometry.points)]
        case "point", Keypoints():
            labelled = [p for p in geometry.points if p.v is not Visibility.NOT_LABELED]
            if len(geometry.points) > 1:
                ctx.report.count("converted: keypoints to one point per labelled keypoint")
            count_unwritten_shape(geometry, ctx)
            return [[{"x": _num(p.x), "y": _num(p.y)}] for p in labelled]
        case "polygon" | "image_segmentation", Polygon():
            return _polygon_entries(geometry, kind, ctx)
    ctx.report.count(f"not written: {geometry.kind.value} in a {kind} class")
    return []


def _polygon_entries(polygon: Polygon, kind: str, ctx: WriteContext) -> list[Any]:
    if len(polygon.parts) > 1:
        ctx.report.count("converted: polygon of several parts to one entry per part")
    if kind == POLYGON:
        holes = sum(len(part.holes) for part in polygon.parts)
        if holes:
            ctx.report.count("dropped: polygon hole (polygons=polygon)", holes)
        return [points_json(part.outer) for part in polygon.parts]
    return [[points_json(ring, closed=True) for ring in (part.outer, *part.holes)]
            for part in polygon.parts]


# --- writing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _DataGymWriter:
    out_dir: Path
    schema: LabelSchema
    polygons: str
    ctx: WriteContext
    namer: FileNamer = field(default_factory=FileNamer)
    types: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.types = {c.name: kind for c in self.schema.classes
                      if (kind := geometry_type(c.geometry, polygons=self.polygons))}

    def task(self, record: ItemRecord) -> Json:
        item, task, ctx = record.item, record.task, self.ctx
        name = self.namer.name(item, IMAGES_DIR)
        target = self.out_dir / IMAGES_DIR / name
        ctx.place_media(item, target)
        count_unwritten(item, carried=frozenset(), ctx=ctx)
        if record.split is not None:
            ctx.report.count("not written: split")
        if len(record.tasks) > 1:
            ctx.report.count("not written: task of another labelset", len(record.tasks) - 1)
        if task is not None:
            count_unwritten(task, carried=_CARRIED_TASK, ctx=ctx)
        labelset = task.labelset if task else DEFAULT_LABELSET
        out: Json = {"internal_image_ID": item.key,
                     "external_image_ID": ctx.media_reference(item, target, name),
                     "labeler": task.assignee if task else None,
                     "status": STATUS_OF[task.status] if task else NO_TASK}
        if SEGMENTATION in self.types.values():
            out["segmentations"] = []
        out["global_classifications"] = classifications_json(task.classifications if task else ())
        labels: dict[str, list[Json]] = {name: [] for name in self.types}
        for annotation in record.annotations:
            if annotation.labelset != labelset:
                ctx.report.count("not written: annotation of another labelset")
                continue
            kind = self.types.get(annotation.label)
            if kind is None:
                what = annotation.geometry.kind.value
                reason = "class not in the schema" if self.schema.get(annotation.label) is None \
                    else "class without a DataGym geometry type"
                ctx.report.count(f"not written: {what} ({reason})")
                continue
            fitted = fit_to_image(annotation.geometry, image_wh=(item.width, item.height),
                                  ctx=ctx)
            if fitted is None:
                continue
            entries = geometry_entries(fitted, kind, ctx)
            if not entries:
                continue
            count_unwritten(annotation, carried=_CARRIED_ANNOTATION, ctx=ctx)
            classifications = attributes_json(annotation.attributes,
                                              self.schema.get(annotation.label))
            labels[annotation.label] += [{"geometry": g, "classifications": classifications}
                                         for g in entries]
        out["labels"] = labels
        return out


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Stream ``source`` into ``datagym.json``: the label classes come from the schema, so the
    file is written front to back, one task per line, without holding the project."""
    polygons = str(options.get("polygons", SEGMENTATION))
    writer = _DataGymWriter(out_dir=out_dir, schema=source.schema, polygons=polygons, ctx=ctx)
    out_dir.mkdir(parents=True, exist_ok=True)
    for c in source.schema.classes:
        for d in c.attributes:
            if d.type is AttributeType.SELECT and len(d.options) <= _MAX_RADIO_OPTIONS:
                ctx.report.count("converted: select attribute with up to 3 options to radio")
    _count_select_as_radio(source.schema.classifications, ctx)
    with (out_dir / FILE_NAME).open("wb") as f:
        classes = label_classes_json(source.schema, polygons=polygons)
        f.write(b'{"label_classes": [\n')
        f.write(b",\n".join(orjson.dumps(c) for c in classes))
        f.write(b'],\n"tasks": [')
        done = 0
        for done, record in enumerate(source.records(), start=1):
            f.write((b"\n" if done == 1 else b",\n") + orjson.dumps(writer.task(record)))
            if done % _PROGRESS_EVERY == 0:
                ctx.progress(done)
        ctx.progress(done)
        f.write(b"\n]}\n")


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """The shards' tasks in shard order after the label classes (the schema's, the same in
    every shard); tasks carry no ids."""
    merge_entries([shard / FILE_NAME for shard in shards], out / FILE_NAME,
                  opening=b'"tasks": [', closing=b"]}")
    return [FILE_NAME]


def _count_select_as_radio(definitions: tuple[ClassificationDef, ...], ctx: WriteContext) -> None:
    for d in definitions:
        if d.kind is ClassificationKind.SELECT and len(d.options) <= _MAX_RADIO_OPTIONS:
            ctx.report.count("converted: select classification with up to 3 options to radio")
        _count_select_as_radio(d.children, ctx)


# --- reading ---------------------------------------------------------------------------------


class _LabelClass(msgspec.Struct, forbid_unknown_fields=False):
    class_name: str
    geometry_type: str | None = None
    classification_type: str | None = None


class _Label(msgspec.Struct):
    geometry: Any
    classifications: dict[str, Any] = {}


class _Task(msgspec.Struct):
    internal_image_ID: str
    external_image_ID: str
    labeler: str | None = None
    status: str | None = None
    segmentations: list[Any] = []
    global_classifications: dict[str, Any] = {}
    labels: dict[str, list[_Label]] = {}


class _File(msgspec.Struct):
    label_classes: list[_LabelClass]
    tasks: list[_Task] = []


class _Point(msgspec.Struct):
    x: float
    y: float


class _Rect(msgspec.Struct):
    x: float
    y: float
    w: float
    h: float


def _pairs(points: list[_Point]) -> list[tuple[float, float]]:
    return [(p.x, p.y) for p in points]


def geometry_from_json(value: Any, kind: str, origin: str, at: str) -> list[Geometry]:
    """The labelport geometry of one DataGym ``geometry`` of type ``kind``."""
    match kind:
        case "rectangle":
            rects = convert(value if isinstance(value, list) else [value], list[_Rect], origin,
                            at=at)
            return [Box(x=r.x, y=r.y, w=r.w, h=r.h) for r in rects]
        case "polygon":
            return [Polygon.simple(ring_from_points(_pairs(convert(value, list[_Point], origin,
                                                                   at=at))))]
        case "image_segmentation":
            rings = [ring_from_points(_pairs(r))
                     for r in convert(value, list[list[_Point]], origin, at=at)]
            if not rings:
                raise InputError(f"{origin}: at {at}: expected the outer ring, then cut-outs")
            return [Polygon(parts=(PolygonPart(outer=rings[0], holes=tuple(rings[1:])),))]
        case "line":
            return [Polyline(points=ring_from_points(
                _pairs(convert(value, list[_Point], origin, at=at))))]
        case "point":
            points = convert(value if isinstance(value, list) else [value], list[_Point], origin,
                             at=at)
            return [Keypoints(points=tuple(Keypoint(x=p.x, y=p.y) for p in points))]
    raise InputError(f"{origin}: unknown geometry_type {kind!r}; expected one of "
                     f"{', '.join(_KIND_OF_TYPE)}")


def _find_json(path: Path) -> Path:
    if path.is_file():
        return path
    if (path / FILE_NAME).is_file():
        return path / FILE_NAME
    found = sorted(path.glob("*.json")) if path.is_dir() else []
    found = [p for p in found if p.name != "labelport-export.json"]
    if len(found) != 1:
        raise InputError(f"{path}: expected {FILE_NAME} (or one DataGym *.json file)")
    return found[0]


@dataclass(slots=True)
class _Questions:
    """What the tasks tell about the classification questions, which DataGym lists only by
    name and type: their options (values used), nesting and, for attributes, value types."""

    options: dict[str, list[str]] = field(default_factory=dict)
    parent: dict[str, tuple[str, str]] = field(default_factory=dict)
    global_names: set[str] = field(default_factory=set)
    attributes: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    def answers(self, answers: tuple[Classification, ...], parent: tuple[str, str] | None) -> None:
        for a in answers:
            self.global_names.add(a.name)
            if parent is not None:
                self.parent.setdefault(a.name, parent)
            options = self.options.setdefault(a.name, [])
            options += [v for v in a.values if v not in options]
            if a.children:
                self.answers(a.children, (a.name, a.values[0] if a.values else ""))

    def attribute(self, label: str, name: str, values: list[Any]) -> None:
        """``values`` given to attribute ``name`` of a ``label`` object (none: unanswered)."""
        self.attributes.setdefault(label, {}).setdefault(name, []).extend(values)


def _attribute_def(name: str, values: list[Any], declared: str | None) -> AttributeDef:
    if not values:
        kind = AttributeType.SELECT if declared in (RADIO, SELECT) else AttributeType.STRING
        return AttributeDef(name=name, type=kind)
    if all(isinstance(v, bool) for v in values):
        return AttributeDef(name=name, type=AttributeType.BOOL)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return AttributeDef(name=name, type=AttributeType.INT)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return AttributeDef(name=name, type=AttributeType.FLOAT)
    if declared in (RADIO, SELECT) and all(isinstance(v, str) for v in values):
        return AttributeDef(name=name, type=AttributeType.SELECT,
                            options=tuple(dict.fromkeys(values)))
    return AttributeDef(name=name, type=AttributeType.STRING)


def _schema(file: _File, questions: _Questions) -> LabelSchema:
    declared = {c.class_name: c.classification_type for c in file.label_classes
                if c.classification_type}
    classes = []
    for i, c in enumerate((c for c in file.label_classes if c.geometry_type), start=1):
        seen = questions.attributes.get(c.class_name, {})
        classes.append(LabelClass(
            id=i, name=c.class_name, geometry=_KIND_OF_TYPE[c.geometry_type or ""],
            attributes=tuple(_attribute_def(n, seen[n], declared.get(n))
                             for n in declared if n in seen)))
    attribute_only = {n for c in questions.attributes.values() for n in c} - \
        questions.global_names

    def definition(name: str) -> ClassificationDef:
        kind = _CLASSIFICATION_KINDS.get(declared[name] or "", ClassificationKind.TEXT)
        children = tuple(definition(n) for n in declared
                         if questions.parent.get(n, ("",))[0] == name)
        when = questions.parent[name][1] if name in questions.parent else None
        options = () if kind is ClassificationKind.TEXT else tuple(questions.options.get(name, ()))
        return ClassificationDef(name=name, kind=kind, options=options, when=when,
                                 children=children)

    top = [n for n in declared if n not in attribute_only and n not in questions.parent]
    return LabelSchema(classes=tuple(classes),
                       classifications=tuple(definition(n) for n in top))


def _media(name: str, options: Mapping[str, Any], export_dir: Path) -> Path | None:
    folders = [Path(options["images"])] if options.get("images") else []
    folders.append(export_dir / IMAGES_DIR)
    for folder in folders:
        if readable_file(folder / name):
            return folder / name
    return None


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read a DataGym export; see the module's notes for sizes, media and the schema."""
    json_file = _find_json(path)
    origin = str(json_file)
    with gc_paused():
        file = convert(decode_json(read_bytes(json_file), origin), _File, origin)
    types = {c.class_name: c.geometry_type for c in file.label_classes if c.geometry_type}
    for i, c in enumerate(file.label_classes):
        if c.geometry_type and c.geometry_type not in _KIND_OF_TYPE:
            raise InputError(f"{origin}: at $.label_classes[{i}].geometry_type: unknown "
                             f"{c.geometry_type!r}; expected one of {', '.join(_KIND_OF_TYPE)}")
    questions = _Questions()
    records = [_record(t, i, types, questions, origin, options, json_file.parent)
               for i, t in enumerate(file.tasks)]
    return MemorySource(project=ProjectInfo(name=json_file.stem),
                        schema=_schema(file, questions), items=tuple(records))


def _record(task: _Task, index: int, types: Mapping[str, str], questions: _Questions,
            origin: str, options: Mapping[str, Any], export_dir: Path) -> ItemRecord:
    at = f"$.tasks[{index}]"
    image = _media(task.external_image_ID, options, export_dir)
    if image is None:
        raise InputError(f"{origin}: at {at}.external_image_ID: no image "
                         f"{task.external_image_ID!r} to read its size from (DataGym files "
                         f"carry no sizes): pass the images folder")
    dataset, _, path = task.internal_image_ID.partition("/")
    if not path:
        dataset, path = DEFAULT_DATASET, task.external_image_ID
    item = replace(image_item(image), dataset=dataset, path=path)
    answers = classifications_from_json(task.global_classifications, origin,
                                        f"{at}.global_classifications")
    questions.answers(answers, None)
    tasks: tuple[Task, ...] = ()
    if task.status is not None and task.status.lower() != NO_TASK:
        status = _STATUS_FROM.get(task.status.lower())
        if status is None:
            raise InputError(f"{origin}: at {at}.status: unknown status {task.status!r}; "
                             f"expected one of {', '.join([*_STATUS_FROM, NO_TASK])}")
        tasks = (Task(status=status, assignee=task.labeler, classifications=answers),)
    return ItemRecord(item=item, tasks=tasks,
                      annotations=tuple(_annotations(task, at, types, questions, origin)))


def _annotations(task: _Task, at: str, types: Mapping[str, str], questions: _Questions,
                 origin: str) -> Iterator[Annotation]:
    for label, entries in task.labels.items():
        kind = types.get(label)
        if kind is None:
            raise InputError(f"{origin}: at {at}.labels.{label}: not a geometry class of "
                             f"label_classes")
        for j, entry in enumerate(entries):
            where = f"{at}.labels.{label}[{j}]"
            attributes = {}
            for name, values in entry.classifications.items():
                if not isinstance(values, list):
                    raise InputError(f"{origin}: at {where}.classifications.{name}: expected "
                                     f"a list of values")
                chosen = [decode_value(v) if isinstance(v, str) else v for v in values
                          if v is not None and not isinstance(v, dict)]
                if chosen:
                    attributes[name] = chosen[0]
                questions.attribute(label, name, chosen[:1])
            for geometry in geometry_from_json(entry.geometry, kind, origin, f"{where}.geometry"):
                yield Annotation(label=label, geometry=geometry, attributes=attributes)


SPEC = FormatSpec(
    name="datagym",
    title="DataGym JSON",
    extension=".json",
    geometries=frozenset({GeometryKind.BOX, GeometryKind.POLYGON, GeometryKind.POLYLINE,
                          GeometryKind.ROTATED_BOX}),
    conventions=Conventions(
        coordinates="absolute pixels, not rounded; rectangles {x, y, w, h}, points {x, y}",
        ids="internal_image_ID = dataset/path, external_image_ID = file name",
        notes="polygon classes as image_segmentation (outer ring then cut-outs, rings "
              "closed); option questions radio up to 3 options, else select; nested answers "
              "as [values..., {child: [...]}]; rotated boxes as 4-corner polygons; keypoints "
              "as single points; masks and image-level classes not written",
    ),
    attributes=True,
    media=True,
    options=(OptionSpec(name="polygons", type=str, default=SEGMENTATION,
                        choices=(SEGMENTATION, POLYGON),
                        help="geometry_type of polygon classes: image_segmentation keeps "
                             "holes; polygon drops them (counted)"),),
    writer=write,
    reader=read,
    merge_shards=merge_shards,
)
