"""The native format ``labelport``: a whole project, every field, in one JSON or JSON Lines file.

It is lossless: every labelset, task, classification and annotation field survives, so export
-> import -> export gives identical bytes (keys sorted, store ids never written: an item's
identity is its dataset and path). ``project.labelport.json``, one item per line (keys are
sorted in the file; shown here in reading order)::

    {"datasets":[{"description":"","name":"train-pool"}],"format":"labelport",
     "labelsets":[{"description":"","name":"ground-truth"}],"project":{"description":"","name":"p"},
     "schema":{"classes":[{"color":"#e6194b","geometry":"box","id":1,"name":"car","parent":"vehicle"}],
               "classifications":[{"kind":"radio","name":"weather","options":["sunny","rain"]}]},
     "version":1,"items":[
    {"dataset":"train-pool","height":240,"path":"sub/a.png","width":320,"media_uri":"/data/a.png",
     "metadata":{"camera":"cam-2"},"split":"train",
     "tasks":[{"labelset":"ground-truth","status":"reviewed","assignee":"ana",
               "classifications":[{"name":"weather","values":["sunny"]}],
               "created_at":"2024-05-06T09:00:00+00:00"}],
     "annotations":[{"label":"car","labelset":"ground-truth",
                     "geometry":{"kind":"box","x":10.0,"y":20.0,"w":30.0,"h":40.0},
                     "attributes":{"occluded":false},"source":"model","score":0.9}]},
    ...
    ]}

With the option ``jsonl`` the file is ``project.labelport.jsonl``: the header on line 1 and one
item per following line; it is read lazily, so a project of any size reads in bounded memory.

Conventions (those of `labelport.domain.codec`, which encodes every value): absolute pixels as
floats, origin at the top-left corner of the top-left pixel; boxes ``x, y, w, h``; rotated boxes
centred, ``angle_deg`` clockwise; point lists flat ``[x0, y0, x1, y1, ...]``; keypoints flat
``[x, y, v, ...]`` with COCO's visibility, plus the object's own ``box`` and ``shape`` (a
polygon or mask) when it has them; masks COCO compressed RLE, column-major, ``size``
``[height, width]``; keypoint skeleton and flip pairs 0-based; class ids as in the schema;
datetimes ISO 8601; a field at its default is left out. With media copied or linked, images
(and videos, as files) land at ``media/<dataset>/<path>`` and ``media_uri`` keeps the original
URI. A video item carries ``frame_count`` and ``video`` (``frame_rate`` as an exact fraction
``"30000/1001"``, ``duration_s``, ``rotation_deg``, ``codec``); its tracks are kept as their
keyframes (annotations with ``frame``, ``instance_id`` and ``outside``), never expanded, so a
round trip gives the same keyframes (`labelport.domain.tracks` computes the frames between).

Reading validates at the boundary: a malformed file raises `InputError` naming the file, the
JSON path (JSON) or line (JSON Lines), and what was expected; labels, labelsets and datasets
must be declared in the header.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import msgspec
import orjson

from labelport.domain.codec import (
    Json,
    annotation_from_json,
    annotation_to_json,
    item_from_json,
    item_to_json,
    schema_from_json,
    schema_to_json,
    task_from_json,
    task_to_json,
)
from labelport.domain.geometry import GeometryKind
from labelport.domain.model import (
    DEFAULT_LABELSET,
    Dataset,
    ItemRecord,
    Labelset,
    ProjectInfo,
    Source,
    TaskStatus,
)
from labelport.domain.schema import (
    AttributeType,
    ClassificationKind,
    LabelSchema,
)
from labelport.domain.source import ExportSource, MemorySource, StreamSource
from labelport.errors import InputError
from labelport.formats._shared.input_files import open_binary, read_bytes
from labelport.formats._shared.json_input import convert, decode_json
from labelport.formats._shared.naming import safe_file_name
from labelport.formats._shared.shard_merge import merge_entries, read_lines
from labelport.formats.base import Conventions, FormatSpec, OptionSpec, WriteContext

FORMAT_NAME = "labelport"
FORMAT_VERSION = 1
JSON_FILE = "project.labelport.json"
JSONL_FILE = "project.labelport.jsonl"
MEDIA_DIR = "media"

_T = TypeVar("_T")


# --- the layout, as msgspec validates it ----------------------------------------------------


class _Strict(msgspec.Struct, forbid_unknown_fields=True):
    """A misspelt key is an error, not silently lost data."""


class _BoxJ(_Strict, tag="box", tag_field="kind"):
    x: float
    y: float
    w: float
    h: float


class _RotatedBoxJ(_Strict, tag="rotated_box", tag_field="kind"):
    cx: float
    cy: float
    w: float
    h: float
    angle_deg: float


class _PolygonPartJ(_Strict):
    outer: list[float]
    holes: list[list[float]] = []


class _PolygonJ(_Strict, tag="polygon", tag_field="kind"):
    parts: list[_PolygonPartJ]


class _PolylineJ(_Strict, tag="polyline", tag_field="kind"):
    points: list[float]


class _MaskJ(_Strict, tag="mask", tag_field="kind"):
    counts: str
    size: tuple[int, int]


class _KeypointsJ(_Strict, tag="keypoints", tag_field="kind"):
    points: list[float]
    box: _BoxJ | None = None
    shape: _PolygonJ | _MaskJ | None = None


class _NoGeometryJ(_Strict, tag="none", tag_field="kind"):
    pass


_GeometryJ = _BoxJ | _RotatedBoxJ | _PolygonJ | _PolylineJ | _KeypointsJ | _MaskJ | _NoGeometryJ


class _AttributeDefJ(_Strict):
    name: str
    type: AttributeType
    required: bool = False
    options: list[str] = []
    min: float | None = None
    max: float | None = None
    default: Any = None


class _LabelClassJ(_Strict):
    id: int
    name: str
    geometry: GeometryKind = GeometryKind.BOX
    parent: str | None = None
    color: str | None = None
    keypoint_names: list[str] = []
    skeleton: list[tuple[int, int]] = []
    flip_pairs: list[tuple[int, int]] = []
    attributes: list[_AttributeDefJ] = []


class _ClassificationDefJ(_Strict):
    name: str
    kind: ClassificationKind
    options: list[str] = []
    required: bool = False
    when: str | None = None
    children: list[_ClassificationDefJ] = []


class _SchemaJ(_Strict):
    classes: list[_LabelClassJ] = []
    classifications: list[_ClassificationDefJ] = []


class _HeaderJ(_Strict):
    format: str
    version: int
    project: ProjectInfo
    schema: _SchemaJ
    datasets: list[Dataset] = []
    labelsets: list[Labelset] = []


class _ClassificationJ(_Strict):
    name: str
    values: list[str] = []
    children: list[_ClassificationJ] = []


class _TaskJ(_Strict):
    labelset: str = DEFAULT_LABELSET
    status: TaskStatus = TaskStatus.NEW
    assignee: str | None = None
    reviewer: str | None = None
    classifications: list[_ClassificationJ] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None


class _AnnotationJ(_Strict):
    label: str
    geometry: _GeometryJ
    labelset: str = DEFAULT_LABELSET
    attributes: dict[str, Any] = {}
    tags: list[str] = []
    instance_id: int | None = None
    frame: int | None = None
    z_order: int = 0
    crowd: bool = False
    source: Source = Source.HUMAN
    score: float | None = None
    annotator: str | None = None
    lead_time_s: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    outside: bool = False


class _VideoJ(_Strict):
    frame_rate: str
    duration_s: float
    rotation_deg: int = 0
    codec: str = ""


class _ItemJ(_Strict):
    dataset: str
    path: str
    width: int
    height: int
    media_uri: str | None = None
    frame_count: int | None = None
    channels: int | None = None
    bit_depth: int | None = None
    metadata: dict[str, Any] = {}
    video: _VideoJ | None = None
    split: str | None = None
    tasks: list[_TaskJ] = []
    annotations: list[_AnnotationJ] = []


class _FileJ(_HeaderJ):
    items: list[_ItemJ] = []


# --- writing --------------------------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def header_to_json(source: ExportSource) -> Json:
    """Everything about the project except its items."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "project": msgspec.to_builtins(source.project),
        "schema": schema_to_json(source.schema),
        "datasets": msgspec.to_builtins(source.datasets),
        "labelsets": msgspec.to_builtins(source.labelsets),
    }


def record_to_item_json(record: ItemRecord) -> Json:
    """One item line: the item's fields with its split, tasks and annotations; no store id."""
    out = item_to_json(record.item)
    out.pop("id", None)
    if record.split is not None:
        out["split"] = record.split
    if record.tasks:
        out["tasks"] = [task_to_json(t) for t in record.tasks]
    if record.annotations:
        out["annotations"] = [annotation_to_json(a) for a in record.annotations]
    return out


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Write ``project.labelport.json`` (or ``.jsonl``) under ``out_dir``, one item at a time.

    A record naming a label, labelset or dataset the source does not declare is refused, so the
    writer never produces a file its reader would reject."""
    jsonl = bool(options.get("jsonl", False))
    out_dir.mkdir(parents=True, exist_ok=True)
    declared = _Declared.of(source)
    with (out_dir / (JSONL_FILE if jsonl else JSON_FILE)).open("wb") as f:
        header = _dumps(header_to_json(source))
        if jsonl:
            f.write(header + b"\n")
        else:
            f.write(header[:-1] + b',"items":[')  # reopen the header object to append the items
        for done, record in enumerate(source.records(), start=1):
            declared.check(record, origin=f"record {record.item.key!r}", at="$")
            _write_item(f, _dumps(record_to_item_json(record)), jsonl=jsonl, first=done == 1)
            _place_media(record, out_dir, ctx)
            ctx.progress(done)
        if not jsonl:
            f.write(b"\n]}\n")


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """The shards' items in shard order under the first shard's header (the header holds the
    project, never anything counted from the items; items carry no ids)."""
    for name in (JSON_FILE, JSONL_FILE):
        parts = [shard / name for shard in shards if (shard / name).exists()]
        if parts and name == JSON_FILE:
            merge_entries(parts, out / name, opening=None, closing=b"]}")
        elif parts:
            with (out / name).open("wb") as f:
                f.write(next(read_lines(parts[0])) + b"\n")
                for part in parts:
                    with part.open("rb") as lines:
                        next(lines)
                        shutil.copyfileobj(lines, f, 1 << 20)
    return [JSON_FILE, JSONL_FILE]


def _write_item(f: IO[bytes], line: bytes, *, jsonl: bool, first: bool) -> None:
    if jsonl:
        f.write(line + b"\n")
    else:
        f.write((b"\n" if first else b",\n") + line)


def _place_media(record: ItemRecord, out_dir: Path, ctx: WriteContext) -> None:
    segments = [record.item.dataset, *record.item.path.split("/")]
    ctx.place_media(record.item, out_dir.joinpath(MEDIA_DIR, *map(safe_file_name, segments)))


# --- reading --------------------------------------------------------------------------------


class _Declared:
    """What the header declares, against which every item is checked."""

    def __init__(self, schema: LabelSchema, datasets: tuple[Dataset, ...],
                 labelsets: tuple[Labelset, ...]) -> None:
        self.schema = schema
        self.datasets = tuple(d.name for d in datasets)
        self.labelsets = tuple(ls.name for ls in labelsets)

    @classmethod
    def of(cls, source: ExportSource) -> _Declared:
        return cls(source.schema, source.datasets, source.labelsets)

    def check(self, record: ItemRecord, *, origin: str, at: str) -> None:
        """Raise `InputError` for the first name in ``record`` the header does not declare."""
        if record.item.dataset not in self.datasets:
            _fail(origin, f"{at}.dataset",
                  _undeclared("dataset", record.item.dataset, self.datasets))
        for i, task in enumerate(record.tasks):
            if task.labelset not in self.labelsets:
                _fail(origin, f"{at}.tasks[{i}].labelset",
                      _undeclared("labelset", task.labelset, self.labelsets))
        for i, annotation in enumerate(record.annotations):
            if self.schema.get(annotation.label) is None:
                _fail(origin, f"{at}.annotations[{i}].label",
                      _undeclared("label", annotation.label, self.schema.class_names))
            if annotation.labelset not in self.labelsets:
                _fail(origin, f"{at}.annotations[{i}].labelset",
                      _undeclared("labelset", annotation.labelset, self.labelsets))


def _undeclared(kind: str, name: str, declared: tuple[str, ...]) -> str:
    valid = ", ".join(repr(n) for n in declared) or "none"
    return f"{kind} {name!r} is not declared in the header; expected one of: {valid}"


def _fail(origin: str, at: str, what: str) -> None:
    raise InputError(f"{origin}: at {at}: {what}")


def _header(doc: Any, origin: str, struct: type[_HeaderJ]) -> _HeaderJ:
    """Validate the header (and, for ``_FileJ``, the items) after checking this is our file."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise InputError(f"{origin}: at $.format: not a labelport file; "
                         f"expected an object with \"format\": \"{FORMAT_NAME}\"")
    if doc.get("version") != FORMAT_VERSION:
        raise InputError(f"{origin}: at $.version: format version {doc.get('version')!r} "
                         f"cannot be read; this labelport reads version {FORMAT_VERSION}")
    return convert(doc, struct, origin)


def _declared(doc: Json, header: _HeaderJ, origin: str) -> _Declared:
    """The header's names; one declared twice is refused (a schema would keep only the last)."""
    names: tuple[tuple[str, list[str]], ...] = (
        ("class", [c.name for c in header.schema.classes]),
        ("class id", [str(c.id) for c in header.schema.classes]),
        ("dataset", [d.name for d in header.datasets]),
        ("labelset", [ls.name for ls in header.labelsets]),
    )
    for kind, declared in names:
        repeated = sorted(name for name, times in Counter(declared).items() if times > 1)
        if repeated:
            raise InputError(f"{origin}: at $: {kind} declared more than once: "
                             f"{', '.join(repeated)}")
    return _Declared(schema_from_json(doc["schema"]), tuple(header.datasets),
                     tuple(header.labelsets))


def _record(obj: Json, declared: _Declared, *, origin: str, at: str) -> ItemRecord:
    """A validated item object as a record, checked against the header."""

    def decode(path: str, from_json: Callable[[Json], _T], data: Json) -> _T:
        try:
            return from_json(data)
        except InputError as exc:  # what the structure cannot say: keypoint visibility, ...
            raise InputError(f"{origin}: at {path}: {exc}") from None

    record = ItemRecord(
        item=decode(at, item_from_json, obj),
        tasks=tuple(decode(f"{at}.tasks[{i}]", task_from_json, t)
                    for i, t in enumerate(obj.get("tasks", ()))),
        annotations=tuple(decode(f"{at}.annotations[{i}]", annotation_from_json, a)
                          for i, a in enumerate(obj.get("annotations", ()))),
        split=obj.get("split"),
    )
    declared.check(record, origin=origin, at=at)
    return record


def _project_file(path: Path) -> Path:
    if path.is_dir():
        for name in (JSONL_FILE, JSON_FILE):
            if (path / name).is_file():
                return path / name
        raise InputError(f"{path}: no {JSON_FILE} or {JSONL_FILE} in this folder")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read a ``.json`` or ``.jsonl`` file (by its suffix), or the one in the folder ``path``.

    JSON is read whole; JSON Lines is counted now and read line by line each time its records
    are asked for, so errors in an item line surface while iterating."""
    file = _project_file(path)
    return _read_jsonl(file) if file.suffix == ".jsonl" else _read_json(file)


def _read_json(file: Path) -> MemorySource:
    origin = str(file)
    doc = decode_json(read_bytes(file), origin)
    validated = _header(doc, origin, _FileJ)
    declared = _declared(doc, validated, origin)
    items = tuple(_record(obj, declared, origin=origin, at=f"$.items[{i}]")
                  for i, obj in enumerate(doc.get("items", ())))
    return MemorySource(project=validated.project, schema=declared.schema, items=items,
                        datasets=tuple(validated.datasets), labelsets=tuple(validated.labelsets))


def _read_jsonl(file: Path) -> StreamSource:
    with open_binary(file) as f:
        first = f.readline()
        count = sum(1 for line in f if line.strip())
    origin = f"{file}, line 1"
    doc = decode_json(first, origin)
    header = _header(doc, origin, _HeaderJ)
    declared = _declared(doc, header, origin)

    def open_records() -> Iterator[ItemRecord]:
        with open_binary(file) as lines:
            next(lines, None)
            for number, line in enumerate(lines, start=2):
                if line.strip():
                    yield _item_line(line, declared, origin=f"{file}, line {number}")

    return StreamSource(project=header.project, schema=declared.schema, count=count,
                        open_records=open_records, datasets=tuple(header.datasets),
                        labelsets=tuple(header.labelsets))


def _item_line(line: bytes, declared: _Declared, *, origin: str) -> ItemRecord:
    obj = decode_json(line, origin)
    convert(obj, _ItemJ, origin)
    return _record(obj, declared, origin=origin, at="$")


SPEC = FormatSpec(
    name=FORMAT_NAME,
    title="labelport native (JSON / JSON Lines)",
    extension="json",
    geometries=frozenset(GeometryKind),
    conventions=Conventions(
        coordinates="absolute pixels, float; boxes x, y, w, h; rotated boxes centred, clockwise",
        index_base="0-based (keypoint skeleton and flip pairs)",
        ids="class ids as in the schema; store ids are not written (identity: dataset + path)",
        notes="masks are COCO compressed RLE, column-major; keypoints flat x, y, v; "
              "datetimes ISO 8601",
    ),
    attributes=True,
    scores=True,
    splits=True,
    video=True,
    media=True,
    lossless=True,
    options=(OptionSpec(name="jsonl", type=bool, default=False,
                        help=f"write JSON Lines ({JSONL_FILE}): a header line, then one item "
                             "per line; for large projects"),),
    writer=write,
    reader=read,
    merge_shards=merge_shards,
)
