"""Innotescus' multi-file JSON: ``innotescus``.

Layout, one folder per dataset (``datasets/`` only when media is copied or linked)::

    annotations/train-pool/classes.json
    annotations/train-pool/annotations.json
    annotations/train-pool/annotation_metadata_definitions.json
    annotations/train-pool/dataset_items.json
    annotations/train-pool/dataset_item_metadata_definitions.json
    datasets/train-pool/street_001.png

Each file is a JSON list, one object per line (``dataset_item_metadata_definitions.json`` is
``{"fields": [...]}``, as the seed shows):

- ``classes.json``: ``{"id", "name", "parent_id"}``; ids are the schema's class ids; a class's
  parent (supercategory) that is no class of the schema gets a class of its own, with the ids
  after the schema's;
- ``dataset_items.json``: ``{"index", "name", "num_frames", "width", "height", "url",
  "num_channels", "bits_per_channel", "meta_data"}``; ``index`` counts from 0 in each dataset,
  ``name`` is the file name (made unique in the dataset), ``url`` the image's path in the export
  (``datasets/<dataset>/<name>``), ``meta_data`` the item's metadata; unknown numbers are null;
- ``annotations.json``: ``{"dataset_item_index", "frame_index", "type", "class_id",
  "instance_id", "box", "poly", "is_open", "annotators", "meta_data"}``: a box is ``"Box"`` with
  ``box {"x", "y", "w", "h", "orientation"}`` in whole pixels (rounded half up, counted) and
  ``orientation`` null; a rotated box is a ``"Box"`` around its unrotated extent with
  ``orientation`` its clockwise angle in radians about the centre; a polygon is ``"Poly"`` with
  ``poly`` one ring of ``{"x", "y"}`` per part (not rounded) and ``is_open`` false; holes are
  dropped (Innotescus rings are parts; counted); a polyline is ``"Poly"`` with ``is_open`` true.
  ``frame_index`` is the annotation's frame (0 for an image; on a video, each track is written
  on every frame on which it is visible, `labelport.domain.tracks`), ``annotators`` its annotator
  (``""`` when unknown), ``instance_id`` its instance id (null when it has none), ``meta_data``
  its attributes;
- ``annotation_metadata_definitions.json``: each attribute definition once by name, with the
  ids (as text) of the classes that carry it; types ``Select``/``Int``/``Bool``/``String``/
  ``Float``, ``options`` for ``Select``;
- ``dataset_item_metadata_definitions.json``: one field per metadata key, its type from the
  values (``Int``, ``Float``, ``Bool``, ``String``).

Not carried (counted): masks, keypoints, image-level classes, scores, tags, z-order, times,
tasks (status, assignee, reviewer, image classifications), splits and labelsets other than the
export's first.

Reading takes the export folder (or its ``annotations/``): every ``annotations/<dataset>/``
becomes dataset ``<dataset>``; sizes come from ``dataset_items.json``; media is found at
``datasets/<dataset>/<name>`` beside ``annotations/`` or in ``options["images"]``. A class's
geometry is that of its first annotation (``Box`` with an orientation: rotated box; open
``Poly``: polyline; ``Poly``: polygon; unused: box). An item with ``num_frames`` is a video:
the rows of each ``instance_id`` are one track, reduced to the keyframes that give them back
(`reduce_to_keyframes`; whole-pixel boxes keep more keyframes than were exported).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec
import orjson

from labelport.domain.codec import Json
from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    Polygon,
    PolygonPart,
    Polyline,
    RotatedBox,
)
from labelport.domain.model import (
    DEFAULT_LABELSET,
    Annotation,
    Dataset,
    Item,
    ItemRecord,
    ProjectInfo,
)
from labelport.domain.schema import AttributeDef, AttributeType, LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.domain.tracks import on_every_frame, tracks_from_frames
from labelport.errors import InputError
from labelport.formats._shared.fields import count_unwritten
from labelport.formats._shared.geometry import object_on_image
from labelport.formats._shared.image_files import readable_file
from labelport.formats._shared.input_files import read_bytes
from labelport.formats._shared.json_input import convert, decode_json, gc_paused
from labelport.formats._shared.naming import FileNamer, safe_file_name
from labelport.formats._shared.shard_merge import (
    IdShift,
    merge_entries,
    shard_parts,
    write_entries,
    write_lines,
)
from labelport.formats.base import Conventions, FormatSpec, WriteContext

ANNOTATIONS_DIR = "annotations"
DATASETS_DIR = "datasets"
CLASSES = "classes.json"
ANNOTATIONS = "annotations.json"
ANNOTATION_DEFINITIONS = "annotation_metadata_definitions.json"
ITEMS = "dataset_items.json"
ITEM_DEFINITIONS = "dataset_item_metadata_definitions.json"
_INDEX = IdShift("index")
_ITEM_INDEX = IdShift("dataset_item_index")
_MERGED = (ITEMS, ANNOTATIONS, ITEM_DEFINITIONS)
"""The files of a dataset's folder that `merge_shards` rewrites."""
_PROGRESS_EVERY = 256

TYPE_OF = {AttributeType.SELECT: "Select", AttributeType.INT: "Int",
           AttributeType.BOOL: "Bool", AttributeType.STRING: "String",
           AttributeType.FLOAT: "Float"}
_ATTRIBUTE_TYPE = {v: k for k, v in TYPE_OF.items()} | {"List": AttributeType.SELECT}
_CARRIED_ANNOTATION = frozenset({"attributes", "annotator", "instance_id", "frame"})
_CARRIED_ITEM = frozenset({"metadata", "frame_count", "channels", "bit_depth"})


# --- pure conversions ------------------------------------------------------------------------


def _whole(value: float) -> int:
    """Half up, never banker's rounding."""
    return math.floor(value + 0.5)


def box_json(x: float, y: float, w: float, h: float, orientation: float | None
             ) -> tuple[Json, bool]:
    """Innotescus' integer box, and whether rounding changed it."""
    whole = [_whole(x), _whole(y), _whole(w), _whole(h)]
    return ({"x": whole[0], "y": whole[1], "w": whole[2], "h": whole[3],
             "orientation": orientation}, whole != [x, y, w, h])


def geometry_json(geometry: Geometry, ctx: WriteContext) -> Json | None:
    """``type``, ``box``, ``poly`` and ``is_open`` of one geometry; None (counted) when
    Innotescus cannot carry it."""
    match geometry:
        case Box():
            box, rounded = box_json(geometry.x, geometry.y, geometry.w, geometry.h, None)
        case RotatedBox():
            box, rounded = box_json(geometry.cx - geometry.w / 2, geometry.cy - geometry.h / 2,
                                    geometry.w, geometry.h, math.radians(geometry.angle_deg))
        case Polygon():
            holes = sum(len(p.holes) for p in geometry.parts)
            if holes:
                ctx.report.count("dropped: polygon hole (Innotescus rings are parts)", holes)
            return {"type": "Poly", "box": None,
                    "poly": [_points(p.outer) for p in geometry.parts], "is_open": False}
        case Polyline():
            return {"type": "Poly", "box": None, "poly": [_points(geometry.points)],
                    "is_open": True}
        case _:
            ctx.report.count(f"not written: {geometry.kind.value}")
            return None
    if rounded:
        ctx.report.count(f"converted: {geometry.kind.value} rounded to whole pixels")
    return {"type": "Box", "box": box, "poly": None, "is_open": False}


def _points(ring: tuple[float, ...]) -> list[Json]:
    return [{"x": x, "y": y} for x, y in zip(ring[::2], ring[1::2], strict=True)]


def geometry_from_json(kind: str, box: _Box | None, poly: list[list[_Point]] | None,
                       is_open: bool, origin: str, at: str) -> Geometry:
    if kind == "Box" and box is not None:
        if box.orientation is None:
            return Box(x=box.x, y=box.y, w=box.w, h=box.h)
        return RotatedBox(cx=box.x + box.w / 2, cy=box.y + box.h / 2, w=box.w, h=box.h,
                          angle_deg=math.degrees(box.orientation))
    if kind == "Poly" and poly:
        rings = [tuple(v for p in ring for v in (p.x, p.y)) for ring in poly]
        if is_open:
            return Polyline(points=rings[0])
        return Polygon(parts=tuple(PolygonPart(outer=r) for r in rings))
    raise InputError(f"{origin}: at {at}: expected type \"Box\" with a box, or \"Poly\" with "
                     f"poly rings; got {kind!r}")


def class_entries(schema: LabelSchema) -> list[Json]:
    """The schema's classes, then each parent that is no class, with the next ids."""
    ids = {c.name: c.id for c in schema.classes}
    next_id = max(ids.values(), default=0) + 1
    extra: list[Json] = []
    for c in schema.classes:
        if c.parent is not None and c.parent not in ids:
            ids[c.parent] = next_id
            extra.append({"id": next_id, "name": c.parent, "parent_id": None})
            next_id += 1
    return [{"id": c.id, "name": c.name,
             "parent_id": ids[c.parent] if c.parent is not None else None}
            for c in schema.classes] + extra


def _definition(name: str, kind: str, *, classes: list[str], required: bool = False,
                default: Any = None, minimum: float | None = None, maximum: float | None = None,
                options: tuple[str, ...] = ()) -> Json:
    return {"name": name, "display_name": name, "type": kind, "required": required,
            "classes": classes, "helpText": "",
            "default": None if default is None else str(default),
            "trueText": "true" if kind == "Bool" else None, "min": minimum, "max": maximum,
            "options": [{"value": o, "display_name": o} for o in options]}


def attribute_definitions(schema: LabelSchema) -> list[Json]:
    """Each attribute once by name, with the ids of the classes that define it."""
    out: dict[str, Json] = {}
    for c in schema.classes:
        for a in c.attributes:
            if a.name in out:
                out[a.name]["classes"].append(str(c.id))
                continue
            out[a.name] = _definition(a.name, TYPE_OF[a.type], classes=[str(c.id)],
                                      required=a.required, default=a.default, minimum=a.min,
                                      maximum=a.max, options=a.options)
    return list(out.values())


def value_type(values: list[Any]) -> str:
    """The Innotescus type of metadata values seen under one key."""
    if all(isinstance(v, bool) for v in values):
        return "Bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "Int"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "Float"
    return "String"


# --- writing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Dataset:
    items: IO[bytes]
    annotations: IO[bytes]
    metadata: dict[str, list[Any]] = field(default_factory=dict)
    count: int = 0


@dataclass(slots=True)
class _InnotescusWriter:
    out_dir: Path
    spool_dir: Path
    schema: LabelSchema
    ctx: WriteContext
    datasets: dict[str, _Dataset] = field(default_factory=dict)
    namer: FileNamer = field(default_factory=FileNamer)

    def dataset(self, name: str) -> _Dataset:
        if name not in self.datasets:
            n = len(self.datasets)
            self.datasets[name] = _Dataset(items=(self.spool_dir / f"{n}.items").open("wb"),
                                           annotations=(self.spool_dir / f"{n}.ann").open("wb"))
        return self.datasets[name]

    def add(self, record: ItemRecord) -> None:
        item, ctx = record.item, self.ctx
        dataset = self.dataset(item.dataset)
        folder = f"{DATASETS_DIR}/{safe_file_name(item.dataset)}"
        name = self.namer.name(item, folder)
        target = self.out_dir / folder / name
        ctx.place_media(item, target)
        count_unwritten(item, carried=_CARRIED_ITEM, ctx=ctx)
        if item.path != item.file_name:
            ctx.report.count("converted: item path to its file name")
        if record.split is not None:
            ctx.report.count("not written: split")
        for task in record.tasks:
            count_unwritten(task, carried=frozenset(), ctx=ctx)
        for key, value in item.metadata.items():
            dataset.metadata.setdefault(key, []).append(value)
        index = dataset.count
        dataset.count += 1
        entry = {"index": index, "name": name, "num_frames": item.frame_count,
                 "width": item.width, "height": item.height,
                 "url": ctx.media_reference(item, target, f"{folder}/{name}"),
                 "num_channels": item.channels, "bits_per_channel": item.bit_depth,
                 "meta_data": dict(item.metadata)}
        dataset.items.write(orjson.dumps(entry) + b"\n")
        labelset = record.task.labelset if record.task else DEFAULT_LABELSET
        annotations = record.annotations
        if item.is_video:  # Innotescus has no keyframes: each track on every visible frame
            framed, unframed = on_every_frame(annotations, frame_count=item.frame_count)
            if unframed:
                ctx.report.count("not written: annotation without a frame on a video",
                                 len(unframed))
            annotations = tuple(framed)
        for annotation in annotations:
            if annotation.labelset != labelset:
                ctx.report.count("not written: annotation of another labelset")
                continue
            out = self.annotation(annotation, index, (item.width, item.height))
            if out is not None:
                dataset.annotations.write(orjson.dumps(out) + b"\n")

    def annotation(self, annotation: Annotation, index: int,
                   image_wh: tuple[int, int]) -> Json | None:
        label_class = self.schema.get(annotation.label)
        if label_class is None:
            self.ctx.report.count("not written: annotation whose class is not in the schema")
            return None
        geometry = object_on_image(annotation.geometry, image_wh=image_wh, ctx=self.ctx)
        shape = geometry_json(geometry, self.ctx) if geometry is not None else None
        if shape is None:
            return None
        count_unwritten(annotation, carried=_CARRIED_ANNOTATION, ctx=self.ctx)
        return {"dataset_item_index": index, "frame_index": annotation.frame or 0,
                "type": shape["type"], "class_id": label_class.id,
                "instance_id": annotation.instance_id, "box": shape["box"],
                "poly": shape["poly"], "is_open": shape["is_open"],
                "annotators": annotation.annotator or "", "meta_data": dict(annotation.attributes)}

    def finish(self) -> None:
        classes = class_entries(self.schema)
        definitions = attribute_definitions(self.schema)
        for name, dataset in self.datasets.items():
            folder = self.out_dir / ANNOTATIONS_DIR / safe_file_name(name)
            folder.mkdir(parents=True, exist_ok=True)
            _write_list(folder / CLASSES, (orjson.dumps(c) for c in classes))
            _write_list(folder / ANNOTATION_DEFINITIONS, (orjson.dumps(d) for d in definitions))
            for file_name, spool in ((ITEMS, dataset.items), (ANNOTATIONS, dataset.annotations)):
                spool.close()
                with open(spool.name, "rb") as lines, (folder / file_name).open("wb") as f:
                    f.write(b"[")
                    write_lines(f, lines)
                    f.write(b"\n]\n")
            _write_item_definitions(folder, {key: value_type(values)
                                             for key, values in dataset.metadata.items()})


def _write_list(path: Path, entries: Iterator[bytes]) -> None:
    with path.open("wb") as f:
        f.write(b"[")
        write_entries(f, entries)
        f.write(b"\n]\n")


def _write_item_definitions(folder: Path, types: Mapping[str, str]) -> None:
    """The folder's metadata definitions: a field per key, of its Innotescus type."""
    fields = [_definition(key, kind, classes=[]) for key, kind in types.items()]
    (folder / ITEM_DEFINITIONS).write_bytes(b'{"fields": ' + orjson.dumps(fields) + b"}\n")


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """Each dataset's folder from the shards' in shard order: ``dataset_items.json`` with each
    ``index`` shifted by the dataset's items in the shards before, ``annotations.json`` with
    its ``dataset_item_index`` likewise, the metadata fields of every shard (in the order
    they first came, each typed from all its values); the classes and attribute definitions,
    from the schema alone, merge by copying."""
    folders = {name.rpartition("/")[0]: [items.parent for items in found] for name, found
               in shard_parts(shards, f"{ANNOTATIONS_DIR}/*/{ITEMS}").items()}
    for folder, parts in folders.items():
        (out / folder).mkdir(parents=True)
        before = merge_entries([p / ITEMS for p in parts], out / folder / ITEMS, opening=None,
                               closing=b"]", shift=_INDEX)
        merge_entries([p / ANNOTATIONS for p in parts], out / folder / ANNOTATIONS,
                      opening=None, closing=b"]", shift=_ITEM_INDEX, offsets=before)
        types: dict[str, set[str]] = {}
        for part in parts:
            for found in orjson.loads((part / ITEM_DEFINITIONS).read_bytes())["fields"]:
                types.setdefault(found["name"], set()).add(found["type"])
        _write_item_definitions(out / folder, {key: _merged_type(kinds)
                                               for key, kinds in types.items()})
    return [f"{folder}/{name}" for folder in folders
            for name in _MERGED]


def _merged_type(kinds: set[str]) -> str:
    """The `value_type` of the values of shards that typed theirs as ``kinds``."""
    if len(kinds) == 1:
        return next(iter(kinds))
    return "Float" if kinds <= {"Int", "Float"} else "String"


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Stream ``source`` into one folder of files per dataset; items and annotations are
    spooled per dataset and merged at the end (metadata definitions need every item)."""
    spool_dir = out_dir / ".innotescus-spool"
    spool_dir.mkdir(parents=True, exist_ok=True)
    writer = _InnotescusWriter(out_dir=out_dir, spool_dir=spool_dir, schema=source.schema,
                               ctx=ctx)
    try:
        done = 0
        for done, record in enumerate(source.records(), start=1):
            writer.add(record)
            if done % _PROGRESS_EVERY == 0:
                ctx.progress(done)
        ctx.progress(done)
        writer.finish()
    finally:
        for dataset in writer.datasets.values():
            dataset.items.close()
            dataset.annotations.close()
        for path in spool_dir.iterdir():
            path.unlink()
        spool_dir.rmdir()


# --- reading ---------------------------------------------------------------------------------


class _Class(msgspec.Struct):
    id: int
    name: str
    parent_id: int | None = None


class _Box(msgspec.Struct):
    x: float
    y: float
    w: float
    h: float
    orientation: float | None = None


class _Point(msgspec.Struct):
    x: float
    y: float


class _Annotation(msgspec.Struct):
    dataset_item_index: int
    type: str
    class_id: int
    frame_index: int = 0
    instance_id: int | None = None
    box: _Box | None = None
    poly: list[list[_Point]] | None = None
    is_open: bool = False
    annotators: str | None = None
    meta_data: dict[str, Any] | None = None


class _Option(msgspec.Struct):
    value: str
    display_name: str | None = None


class _Definition(msgspec.Struct):
    name: str
    type: str
    required: bool = False
    classes: list[str | int] = []
    default: Any = None
    min: float | None = None
    max: float | None = None
    options: list[_Option] | None = None


class _Item(msgspec.Struct):
    index: int
    name: str
    width: int
    height: int
    num_frames: int | None = None
    url: str | None = None
    num_channels: int | None = None
    bits_per_channel: int | None = None
    meta_data: dict[str, Any] | None = None


def _load(path: Path, kind: type[Any]) -> Any:
    if not path.is_file():
        raise InputError(f"{path}: missing; an Innotescus dataset folder holds {CLASSES}, "
                         f"{ANNOTATIONS} and {ITEMS}")
    with gc_paused():
        return convert(decode_json(read_bytes(path), path), kind, path)


def _typed_default(text: Any, kind: AttributeType) -> Any:
    if text is None or kind in (AttributeType.SELECT, AttributeType.STRING):
        return text
    if kind is AttributeType.BOOL:
        return str(text).lower() == "true"
    try:
        return int(text) if kind is AttributeType.INT else float(text)
    except ValueError:
        return text


def _schema(classes: list[_Class], annotations: list[_Annotation],
            definitions: list[_Definition], origin: Path) -> LabelSchema:
    names = {c.id: c.name for c in classes}
    geometry: dict[int, GeometryKind] = {}
    for a in annotations:
        if a.type == "Box":
            kind = GeometryKind.ROTATED_BOX if a.box and a.box.orientation is not None \
                else GeometryKind.BOX
        else:
            kind = GeometryKind.POLYLINE if a.is_open else GeometryKind.POLYGON
        geometry.setdefault(a.class_id, kind)
    attributes: dict[int, list[AttributeDef]] = {}
    for i, d in enumerate(definitions):
        value_kind = _ATTRIBUTE_TYPE.get(d.type)
        if value_kind is None:
            raise InputError(f"{origin}: at $[{i}].type: unknown type {d.type!r}; expected one "
                             f"of {', '.join(_ATTRIBUTE_TYPE)}")
        definition = AttributeDef(name=d.name, type=value_kind, required=d.required,
                                  options=tuple(o.value for o in d.options or ()),
                                  min=d.min, max=d.max,
                                  default=_typed_default(d.default, value_kind))
        for class_id in d.classes:
            if not str(class_id).lstrip("-").isdigit() or len(str(class_id)) > 18:
                raise InputError(f"{origin}: at $[{i}].classes: expected class ids, got "
                                 f"{str(class_id)[:40]!r}")
            attributes.setdefault(int(class_id), []).append(definition)
    return LabelSchema(classes=tuple(
        LabelClass(id=c.id, name=c.name, geometry=geometry.get(c.id, GeometryKind.BOX),
                   parent=names.get(c.parent_id) if c.parent_id is not None else None,
                   attributes=tuple(attributes.get(c.id, ())))
        for c in classes))


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read an Innotescus JSON export; see the module's notes."""
    root = path.parent if path.name == ANNOTATIONS_DIR else path
    annotations_dir = root / ANNOTATIONS_DIR
    if not annotations_dir.is_dir():
        raise InputError(f"{path}: expected an Innotescus export holding {ANNOTATIONS_DIR}/"
                         f"<dataset>/{CLASSES}")
    folders = sorted(p for p in annotations_dir.iterdir() if p.is_dir())
    images = Path(options["images"]) if options.get("images") else None
    loaded = []
    for folder in folders:
        definitions = _load(folder / ANNOTATION_DEFINITIONS, list[_Definition]) \
            if (folder / ANNOTATION_DEFINITIONS).is_file() else []
        loaded.append((folder, _load(folder / CLASSES, list[_Class]),
                       _load(folder / ANNOTATIONS, list[_Annotation]), definitions,
                       _load(folder / ITEMS, list[_Item])))
    schema = LabelSchema()
    if loaded:
        _, classes, _, definitions, _ = loaded[0]
        schema = _schema(classes, [a for entry in loaded for a in entry[2]], definitions,
                         folders[0] / ANNOTATION_DEFINITIONS)
    records: list[ItemRecord] = []
    for folder, classes, objects, _, items in loaded:
        records += _records(folder, root, images, items, objects,
                            {c.id: c.name for c in classes})
    return MemorySource(project=ProjectInfo(name=root.name), schema=schema,
                        items=tuple(records),
                        datasets=tuple(Dataset(name=f.name) for f in folders))


def _records(folder: Path, root: Path, images: Path | None, items: list[_Item],
             annotations: list[_Annotation], names: Mapping[int, str]) -> list[ItemRecord]:
    by_index: dict[int, list[Annotation]] = {item.index: [] for item in items}
    videos = {item.index for item in items if item.num_frames is not None}
    origin = folder / ANNOTATIONS
    for i, a in enumerate(annotations):
        at = f"$[{i}]"
        if a.dataset_item_index not in by_index:
            raise InputError(f"{origin}: at {at}.dataset_item_index: no item "
                             f"{a.dataset_item_index} in {ITEMS}")
        if a.class_id not in names:
            raise InputError(f"{origin}: at {at}.class_id: {a.class_id} is not in {CLASSES}")
        geometry = geometry_from_json(a.type, a.box, a.poly, a.is_open, str(origin), at)
        by_index[a.dataset_item_index].append(Annotation(
            label=names[a.class_id], geometry=geometry, attributes=a.meta_data or {},
            instance_id=a.instance_id,
            frame=a.frame_index if a.dataset_item_index in videos else a.frame_index or None,
            annotator=a.annotators or None))
    out = []
    for item in items:
        if item.num_frames is not None:  # a video: per-frame shapes back to keyframes
            by_index[item.index] = tracks_from_frames(by_index[item.index],
                                                      frame_count=item.num_frames)
        media = None
        for candidate in (root / (item.url or ""), root / DATASETS_DIR / folder.name / item.name,
                          (images / item.name) if images else None):
            if candidate is not None and readable_file(candidate):
                media = str(candidate.absolute())
                break
        out.append(ItemRecord(
            item=Item(dataset=folder.name, path=item.name, width=item.width,
                      height=item.height, media_uri=media, frame_count=item.num_frames,
                      channels=item.num_channels, bit_depth=item.bits_per_channel,
                      metadata=item.meta_data or {}),
            annotations=tuple(by_index[item.index])))
    return out


SPEC = FormatSpec(
    name="innotescus",
    title="Innotescus JSON (classes, annotations, dataset items, metadata definitions)",
    extension=".json",
    geometries=frozenset({GeometryKind.BOX, GeometryKind.ROTATED_BOX, GeometryKind.POLYGON,
                          GeometryKind.POLYLINE}),
    conventions=Conventions(
        coordinates="absolute pixels; boxes x, y, w, h in whole pixels (rounded half up), "
                    "polygon points not rounded",
        index_base="dataset_item_index and frame_index from 0",
        ids="class ids are the schema's; parents that are no class get the next ids",
        notes="one folder of five files per dataset; rotated boxes as Box with orientation in "
              "radians; polygon holes dropped; masks and keypoints not written",
    ),
    attributes=True,
    media=True,
    video=True,
    dataset_folders=True,
    writer=write,
    reader=read,
    merge_shards=merge_shards,
    merge_reads=tuple(f"{ANNOTATIONS_DIR}/*/{name}" for name in _MERGED),
)
