"""Domain values to and from plain JSON-able structures (dicts, lists, str, numbers, None).

The store and the native file format both persist values through these functions, so a value
written by one reads back equal through the other. Conventions:
- keys whose value is the field's default (None, empty, False, 0) are left out, and a missing
  key reads back as the default: files stay small and adding a field stays compatible;
- coordinates are labelport's (absolute pixels, see `labelport.domain.geometry`); point lists
  stay flat ``[x0, y0, x1, y1, ...]``; keypoints are flat ``[x0, y0, v0, x1, y1, v1, ...]``
  (COCO's layout), with the object's own ``box`` and ``shape`` (geometries) when it has them;
  a mask is COCO's compressed RLE ``{"counts": str, "size": [h, w]}``;
- a geometry carries its ``kind`` (a `GeometryKind` value);
- datetimes are ISO 8601 strings, offsets kept as given;
- attribute values and metadata are stored as given (they must be JSON-able).

Every ``*_from_json`` raises `InputError` naming the object and the field that is missing or
malformed; callers add the file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

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
    RotatedBox,
    Visibility,
)
from labelport.domain.model import (
    DEFAULT_LABELSET,
    Annotation,
    Item,
    ItemRecord,
    Source,
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
from labelport.domain.video import VideoInfo, rate_from_text, rate_to_text
from labelport.errors import InputError

Json = dict[str, Any]
_T = TypeVar("_T")

_NO_GEOMETRY = NoGeometry()


def _decoding(what: str, decode: Callable[[Any], _T], data: Any) -> _T:
    """Run ``decode`` and turn the errors malformed input causes into one `InputError`."""
    try:
        return decode(data)
    except InputError:
        raise
    except KeyError as exc:
        raise InputError(f"{what}: missing field {exc.args[0]!r} in {_preview(data)}") from None
    except (TypeError, ValueError, IndexError, AttributeError) as exc:
        raise InputError(f"{what}: {exc} in {_preview(data)}") from None


def _preview(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 200 else text[:197] + "..."


def _typed(d: Json, key: str, kind: type[_T], default: _T | None = None) -> _T | None:
    """``d[key]`` when it is a ``kind`` (or absent or null: ``default``); a `TypeError` naming
    the field otherwise, so a number where a name belongs never reaches the store. An integer
    is a number where ``kind`` is float; a boolean is never a number."""
    value = d.get(key)
    if value is None:
        return default
    number = kind is float and isinstance(value, int)
    if (not isinstance(value, kind) and not number) or isinstance(value, bool) and kind is not bool:
        raise TypeError(f"{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _required(d: Json, key: str, kind: type[_T]) -> _T:
    """`_typed` for a field that must be there (a missing one is a `KeyError`)."""
    value = _typed(d, key, kind)
    if value is None:
        raise KeyError(key)
    return value


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _pairs(value: Any) -> tuple[tuple[int, int], ...]:
    return tuple((int(a), int(b)) for a, b in value)


def _put(out: Json, key: str, value: Any) -> None:
    """Set ``key`` unless ``value`` is its default (None, empty, False, 0)."""
    if value:
        out[key] = value


# --- geometry ---------------------------------------------------------------------------


def geometry_to_json(geometry: Geometry) -> Json:
    """A geometry as ``{"kind": ..., <fields>}``; see the module docstring for the layouts.

    A box, the commonest geometry by far, is read by attribute ahead of the ``match``: an
    import converts one per annotation, and the class pattern's tests cost 0.5 s per million
    boxes against 0.3 s."""
    if isinstance(geometry, Box):
        return {"kind": "box", "x": geometry.x, "y": geometry.y, "w": geometry.w,
                "h": geometry.h}
    match geometry:
        case RotatedBox(cx=cx, cy=cy, w=w, h=h, angle_deg=angle):
            return {"kind": "rotated_box", "cx": cx, "cy": cy, "w": w, "h": h, "angle_deg": angle}
        case Polygon(parts=parts):
            return {"kind": "polygon", "parts": [_part_to_json(p) for p in parts]}
        case Polyline(points=points):
            return {"kind": "polyline", "points": list(points)}
        case Keypoints(points=points, box=box, shape=shape):
            flat: list[float] = []
            for p in points:
                flat += (p.x, p.y, int(p.v))
            out: Json = {"kind": "keypoints", "points": flat}
            if box is not None:
                out["box"] = geometry_to_json(box)
            if shape is not None:
                out["shape"] = geometry_to_json(shape)
            return out
        case Mask(counts=counts, height=height, width=width):
            return {"kind": "mask", "counts": counts, "size": [height, width]}
        case NoGeometry():
            return {"kind": "none"}
    raise TypeError(f"not a geometry: {geometry!r}")


def _part_to_json(part: PolygonPart) -> Json:
    out: Json = {"outer": list(part.outer)}
    if part.holes:
        out["holes"] = [list(h) for h in part.holes]
    return out


def _box(d: Json) -> Box:
    return Box(x=d["x"], y=d["y"], w=d["w"], h=d["h"])


def _rotated_box(d: Json) -> RotatedBox:
    return RotatedBox(cx=d["cx"], cy=d["cy"], w=d["w"], h=d["h"], angle_deg=d["angle_deg"])


def _polygon(d: Json) -> Polygon:
    return Polygon(parts=tuple(
        PolygonPart(outer=tuple(p["outer"]), holes=tuple(tuple(h) for h in p.get("holes", ())))
        for p in d["parts"]
    ))


def _polyline(d: Json) -> Polyline:
    return Polyline(points=tuple(d["points"]))


def _keypoints(d: Json) -> Keypoints:
    flat = d["points"]
    if len(flat) % 3:
        raise ValueError("keypoints need x, y, v triplets")
    box = d.get("box")
    shape = d.get("shape")
    if shape is not None and shape.get("kind") not in (GeometryKind.POLYGON, GeometryKind.MASK):
        raise ValueError("a keypoints object's shape must be a polygon or a mask")
    return Keypoints(
        points=tuple(Keypoint(x=flat[i], y=flat[i + 1], v=Visibility(flat[i + 2]))
                     for i in range(0, len(flat), 3)),
        box=None if box is None else _box(box),
        shape=None if shape is None else _geometry(shape),  # type: ignore[arg-type]
    )


def _mask(d: Json) -> Mask:
    height, width = d["size"]
    return Mask(counts=d["counts"], height=int(height), width=int(width))


GEOMETRY_DECODERS: Mapping[str, Callable[[Json], Geometry]] = {
    GeometryKind.BOX: _box,
    GeometryKind.ROTATED_BOX: _rotated_box,
    GeometryKind.POLYGON: _polygon,
    GeometryKind.POLYLINE: _polyline,
    GeometryKind.KEYPOINTS: _keypoints,
    GeometryKind.MASK: _mask,
    GeometryKind.NONE: lambda d: _NO_GEOMETRY,
}
"""Decoder per kind, for hot paths that already know the kind (the store); the ``kind`` key
is not read by them."""


def _geometry(d: Json) -> Geometry:
    kind = d["kind"]
    decoder = GEOMETRY_DECODERS.get(kind)
    if decoder is None:
        raise ValueError(f"unknown geometry kind {kind!r}; valid: {', '.join(GeometryKind)}")
    return decoder(d)


def geometry_from_json(data: Json) -> Geometry:
    """The inverse of `geometry_to_json`."""
    return _decoding("geometry", _geometry, data)


# --- label schema -----------------------------------------------------------------------


def attribute_def_to_json(attribute: AttributeDef) -> Json:
    out: Json = {"name": attribute.name, "type": attribute.type.value}
    _put(out, "required", attribute.required)
    _put(out, "options", list(attribute.options))
    if attribute.min is not None:
        out["min"] = attribute.min
    if attribute.max is not None:
        out["max"] = attribute.max
    if attribute.default is not None:
        out["default"] = attribute.default
    return out


def _attribute_def(d: Json) -> AttributeDef:
    return AttributeDef(
        name=d["name"], type=AttributeType(d["type"]), required=bool(d.get("required", False)),
        options=tuple(d.get("options", ())), min=d.get("min"), max=d.get("max"),
        default=d.get("default"),
    )


def attribute_def_from_json(data: Json) -> AttributeDef:
    return _decoding("attribute definition", _attribute_def, data)


def label_class_to_json(label_class: LabelClass) -> Json:
    """A class with its stable ``id``; skeleton and flip pairs as ``[[i, j], ...]``, 0-based."""
    c = label_class
    out: Json = {"id": c.id, "name": c.name, "geometry": c.geometry.value}
    _put(out, "parent", c.parent)
    _put(out, "color", c.color)
    _put(out, "keypoint_names", list(c.keypoint_names))
    _put(out, "skeleton", [list(e) for e in c.skeleton])
    _put(out, "flip_pairs", [list(p) for p in c.flip_pairs])
    _put(out, "attributes", [attribute_def_to_json(a) for a in c.attributes])
    return out


def _label_class(d: Json) -> LabelClass:
    return LabelClass(
        id=int(d["id"]), name=d["name"], geometry=GeometryKind(d.get("geometry", "box")),
        parent=d.get("parent"), color=d.get("color"),
        keypoint_names=tuple(d.get("keypoint_names", ())),
        skeleton=_pairs(d.get("skeleton", ())), flip_pairs=_pairs(d.get("flip_pairs", ())),
        attributes=tuple(_attribute_def(a) for a in d.get("attributes", ())),
    )


def label_class_from_json(data: Json) -> LabelClass:
    return _decoding("label class", _label_class, data)


def classification_def_to_json(definition: ClassificationDef) -> Json:
    """A question with its nested ``children`` questions."""
    d = definition
    out: Json = {"name": d.name, "kind": d.kind.value}
    _put(out, "options", list(d.options))
    _put(out, "required", d.required)
    _put(out, "when", d.when)
    _put(out, "children", [classification_def_to_json(c) for c in d.children])
    return out


def _classification_def(d: Json) -> ClassificationDef:
    return ClassificationDef(
        name=d["name"], kind=ClassificationKind(d["kind"]), options=tuple(d.get("options", ())),
        required=bool(d.get("required", False)), when=d.get("when"),
        children=tuple(_classification_def(c) for c in d.get("children", ())),
    )


def classification_def_from_json(data: Json) -> ClassificationDef:
    return _decoding("classification definition", _classification_def, data)


def schema_to_json(schema: LabelSchema) -> Json:
    """``{"classes": [...], "classifications": [...]}`` in the schema's order."""
    return {
        "classes": [label_class_to_json(c) for c in schema.classes],
        "classifications": [classification_def_to_json(c) for c in schema.classifications],
    }


def _schema(d: Json) -> LabelSchema:
    return LabelSchema(
        classes=tuple(_label_class(c) for c in d.get("classes", ())),
        classifications=tuple(_classification_def(c) for c in d.get("classifications", ())),
    )


def schema_from_json(data: Json) -> LabelSchema:
    return _decoding("label schema", _schema, data)


# --- answers, items, tasks, annotations, records ----------------------------------------


def classification_to_json(classification: Classification) -> Json:
    """An answer: ``{"name", "values": [...], "children": [...]}``."""
    c = classification
    out: Json = {"name": c.name, "values": list(c.values)}
    _put(out, "children", [classification_to_json(x) for x in c.children])
    return out


def _classification(d: Json) -> Classification:
    return Classification(
        name=d["name"], values=tuple(d.get("values", ())),
        children=tuple(_classification(c) for c in d.get("children", ())),
    )


def classification_from_json(data: Json) -> Classification:
    return _decoding("classification", _classification, data)


def item_to_json(item: Item) -> Json:
    """An item; ``id`` (the store's) is written only when set."""
    out: Json = {"dataset": item.dataset, "path": item.path,
                 "width": item.width, "height": item.height}
    _put(out, "media_uri", item.media_uri)
    for key in ("frame_count", "channels", "bit_depth", "id"):
        value = getattr(item, key)
        if value is not None:
            out[key] = value
    _put(out, "metadata", dict(item.metadata))
    if item.video is not None:
        out["video"] = video_info_to_json(item.video)
    return out


def video_info_to_json(video: VideoInfo) -> Json:
    """``{"frame_rate": "30000/1001", "duration_s", "rotation_deg", "codec"}`` (the rate an
    exact fraction as text, see `labelport.domain.video`)."""
    out: Json = {"frame_rate": rate_to_text(video.frame_rate), "duration_s": video.duration_s}
    _put(out, "rotation_deg", video.rotation_deg)
    _put(out, "codec", video.codec)
    return out


def _video_info(d: Json) -> VideoInfo:
    return VideoInfo(frame_rate=rate_from_text(str(d["frame_rate"])),
                     duration_s=float(d["duration_s"]), rotation_deg=int(d.get("rotation_deg", 0)),
                     codec=str(d.get("codec", "")))


def video_info_from_json(data: Json) -> VideoInfo:
    return _decoding("video", _video_info, data)


def _item(d: Json) -> Item:
    return Item(
        dataset=_required(d, "dataset", str), path=_required(d, "path", str),
        width=int(d["width"]), height=int(d["height"]),
        media_uri=_typed(d, "media_uri", str), frame_count=_typed(d, "frame_count", int),
        channels=_typed(d, "channels", int), bit_depth=_typed(d, "bit_depth", int),
        metadata=_typed(d, "metadata", dict) or {}, id=_typed(d, "id", int),
        video=None if d.get("video") is None else _video_info(d["video"]),
    )


def item_from_json(data: Json) -> Item:
    return _decoding("item", _item, data)


def task_to_json(task: Task) -> Json:
    out: Json = {"labelset": task.labelset, "status": task.status.value}
    _put(out, "assignee", task.assignee)
    _put(out, "reviewer", task.reviewer)
    _put(out, "classifications", [classification_to_json(c) for c in task.classifications])
    _put(out, "created_at", _iso(task.created_at))
    _put(out, "updated_at", _iso(task.updated_at))
    return out


def _task(d: Json) -> Task:
    return Task(
        labelset=_typed(d, "labelset", str, DEFAULT_LABELSET) or DEFAULT_LABELSET,
        status=TaskStatus(d.get("status", "new")),
        assignee=_typed(d, "assignee", str), reviewer=_typed(d, "reviewer", str),
        classifications=tuple(_classification(c) for c in d.get("classifications", ())),
        created_at=_from_iso(d.get("created_at")), updated_at=_from_iso(d.get("updated_at")),
    )


def task_from_json(data: Json) -> Task:
    return _decoding("task", _task, data)


def annotation_to_json(annotation: Annotation) -> Json:
    """An annotation with its geometry nested under ``geometry``; ``source`` is written only
    when not ``human``."""
    a = annotation
    out: Json = {"label": a.label, "geometry": geometry_to_json(a.geometry),
                 "labelset": a.labelset}
    _put(out, "attributes", dict(a.attributes))
    _put(out, "tags", list(a.tags))
    for key in ("instance_id", "frame", "score", "annotator", "lead_time_s"):
        value = getattr(a, key)
        if value is not None:
            out[key] = value
    _put(out, "z_order", a.z_order)
    _put(out, "crowd", a.crowd)
    _put(out, "outside", a.outside)
    if a.source is not Source.HUMAN:
        out["source"] = a.source.value
    _put(out, "created_at", _iso(a.created_at))
    _put(out, "updated_at", _iso(a.updated_at))
    return out


def _annotation(d: Json) -> Annotation:
    return Annotation(
        label=_required(d, "label", str), geometry=_geometry(d["geometry"]),
        labelset=_typed(d, "labelset", str, DEFAULT_LABELSET) or DEFAULT_LABELSET,
        attributes=_typed(d, "attributes", dict) or {},
        tags=tuple(d.get("tags", ())), instance_id=_typed(d, "instance_id", int),
        frame=_typed(d, "frame", int),
        z_order=int(d.get("z_order", 0)), crowd=bool(d.get("crowd", False)),
        source=Source(d.get("source", "human")), score=_typed(d, "score", float),
        annotator=_typed(d, "annotator", str), lead_time_s=_typed(d, "lead_time_s", float),
        created_at=_from_iso(d.get("created_at")), updated_at=_from_iso(d.get("updated_at")),
        outside=bool(d.get("outside", False)),
    )


def annotation_from_json(data: Json) -> Annotation:
    return _decoding("annotation", _annotation, data)


def record_to_json(record: ItemRecord) -> Json:
    """``{"item": ..., "tasks": [...], "annotations": [...], "split": ...}`` (one JSON line of
    the native format)."""
    out: Json = {"item": item_to_json(record.item)}
    _put(out, "tasks", [task_to_json(t) for t in record.tasks])
    _put(out, "annotations", [annotation_to_json(a) for a in record.annotations])
    _put(out, "split", record.split)
    return out


def _record(d: Json) -> ItemRecord:
    return ItemRecord(
        item=_item(d["item"]), tasks=tuple(_task(t) for t in d.get("tasks", ())),
        annotations=tuple(_annotation(a) for a in d.get("annotations", ())),
        split=d.get("split"),
    )


def record_from_json(data: Json) -> ItemRecord:
    return _decoding("record", _record, data)
