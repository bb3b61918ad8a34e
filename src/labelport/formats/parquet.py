"""Parquet and Hugging Face ``datasets`` layouts: ``parquet``.

Layout ``layout=parquet`` (default; the Hugging Face hub's layout, so ``load_dataset(folder)``
and ``load_dataset("parquet", data_files=...)`` both read it)::

    data/train-00000-of-00001.parquet      one file per split, one row per image
    data/val-00000-of-00001.parquet
    images/train/street_001.png            only when media is copied or linked
    images/train/cam1/frame_001.png        an item's folders are kept (renamings: manifest)

Layout ``layout=imagefolder`` (what ``load_dataset("imagefolder", data_dir=...)`` reads; it
needs the images, so the export must copy or link media)::

    README.md                               dataset card: the features, class names included
    train/metadata.jsonl                    one JSON line per image, ``file_name`` first
    train/street_001.png

Columns of a row (the same fields in a ``metadata.jsonl`` line, with ``file_name`` in place of
``image``):

- ``image``: Hugging Face's ``Image`` shape ``{"bytes": null, "path": "images/train/a.png"}``,
  the path relative to the export folder (``--paths absolute`` gives
  `WriteContext.media_reference`'s). ``datasets`` opens a relative path from the working
  directory (never from the data file's folder), so a relative export loads from the export
  folder only; to load from any folder, export with ``--paths absolute`` (paths of this
  machine) or ``embed_images=true``: the image's bytes go into the row (the hub's
  self-contained convention), ``path`` is the file name, and ``images/`` is not kept.
  Embedding needs media copied or linked. (The imagefolder layout has no such limit:
  ``datasets`` resolves ``file_name`` beside ``metadata.jsonl``);
- ``dataset``, ``path``: the item's identity (its dataset and its path inside it);
- ``width``, ``height``: the image's size in pixels (int32);
- ``status``: the status of the record's first task, null when it has none;
- ``metadata``: the item's metadata as a JSON object string (a string, not typed columns,
  because keys and types vary between items and a streamed file must fix its schema up front);
- ``labelport``: JSON with what has no column: ``tasks`` (assignee, reviewer, classifications,
  times), ``image_labels`` (image-level labels), ``item`` (channels, bit depth, frame count);
- ``objects``: a struct of lists, one entry per object (Hugging Face's detection convention):
  ``id`` (1-based per split, in writing order), ``category`` (0-based index in the label
  schema's order; a ``ClassLabel``, so ``datasets`` shows the names), ``bbox`` (``[x, y, w,
  h]``, absolute pixels, floats, not rounded), ``area`` (of the geometry: exact polygon area
  with holes subtracted, pixel count of a mask, ``w * h`` of a box, 0 for lines and points),
  ``kind`` (the geometry kind), ``geometry`` (labelport's geometry JSON: exact polygons with
  holes, rotated boxes, polylines, keypoints, COCO RLE masks), ``score`` (null unless a
  prediction; a ``metadata.jsonl`` line whose objects have no score leaves ``score`` out, as
  pyarrow's JSON reader fails on a list of nulls), ``crowd``, ``attributes`` (JSON object
  string), ``extras`` (JSON: tags, instance id, z-order, annotator, labelset, source, frame,
  times).

Coordinates are labelport's: absolute pixels, origin at the top-left corner of the top-left
pixel. Every geometry kind is carried (the out-of-image policy applies); ``bbox`` is the
envelope of the geometry after it. Each Parquet file's schema metadata holds ``huggingface``
(the ``datasets`` features JSON, with the class names) and ``labelport`` (project name, label
schema, datasets, labelsets), so a file reads back without anything beside it. Files are
written as a stream: one `pyarrow.parquet.ParquetWriter` per split, ``row_group_size`` rows at a
time.

Reading takes a ``.parquet`` file, a folder of them (``data/*.parquet`` or any ``*.parquet``
below it), or an imagefolder export (``*/metadata.jsonl``). The split is the file name's
prefix before ``-00000-of-...`` (or the file's stem), or the imagefolder's sub-folder. Records
stream from the files. Without ``labelport`` metadata (a third-party file) the classes are the
``ClassLabel`` names of ``objects.category``, else the category numbers as names; a missing
``geometry`` is the ``bbox``; missing sizes are read from the image (bytes or file). Media is the
``image`` path (relative to the export folder, or absolute) when it exists, else found by name
in ``images`` (the option): ``{split}/{name}``, then ``{name}``, then the item's path.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image, UnidentifiedImageError

from labelport import __version__
from labelport.domain.codec import (
    Json,
    annotation_from_json,
    annotation_to_json,
    geometry_from_json,
    geometry_to_json,
    item_to_json,
    schema_from_json,
    schema_to_json,
    task_from_json,
    task_to_json,
)
from labelport.domain.geometry import Box, Geometry, GeometryKind, Mask, NoGeometry
from labelport.domain.geometry_ops import area, bounding_box
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
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.geometry import fit_to_image
from labelport.formats._shared.hf_card import card_features, card_text, read_front_matter
from labelport.formats._shared.image_files import image_size, local_reference, readable_file
from labelport.formats._shared.input_files import open_binary, regular_file
from labelport.formats._shared.json_input import decode_json
from labelport.formats._shared.naming import FileNamer
from labelport.formats._shared.shard_merge import shard_options, shard_parts
from labelport.formats.base import (
    Conventions,
    FormatSpec,
    OptionSpec,
    WriteContext,
    no_media,
)
from labelport.formats.yolo._rows import schema_from_names

DATA_DIR = "data"
IMAGES_DIR = "images"
METADATA_FILE = "metadata.jsonl"
DEFAULT_SPLIT = "train"
PARQUET = "parquet"
IMAGEFOLDER = "imagefolder"
_PROGRESS_EVERY = 256
_MERGED = (f"{DATA_DIR}/*.parquet", f"*/{METADATA_FILE}")
"""The split files `merge_shards` rewrites, as globs under a shard's folder."""
_SHARD = re.compile(r"^(?P<split>.+?)-\d{5}-of-\d{5}$")

_ANNOTATION_COLUMNS = frozenset({"label", "geometry", "attributes", "score", "crowd"})
"""Fields of an annotation that have their own entry in ``objects``; the rest go to extras."""
_ITEM_COLUMNS = frozenset({"dataset", "path", "width", "height", "metadata", "media_uri", "id"})
"""Fields of an item with their own column, or never written (local URIs, the store's id)."""

OBJECT_TYPE = pa.struct([
    ("id", pa.list_(pa.int64())),
    ("category", pa.list_(pa.int64())),
    ("bbox", pa.list_(pa.list_(pa.float64()))),
    ("area", pa.list_(pa.float64())),
    ("kind", pa.list_(pa.string())),
    ("geometry", pa.list_(pa.string())),
    ("score", pa.list_(pa.float64())),
    ("crowd", pa.list_(pa.bool_())),
    ("attributes", pa.list_(pa.string())),
    ("extras", pa.list_(pa.string())),
])
ARROW_SCHEMA = pa.schema([
    ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
    ("dataset", pa.string()),
    ("path", pa.string()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("status", pa.string()),
    ("metadata", pa.string()),
    ("labelport", pa.string()),
    ("objects", OBJECT_TYPE),
])


def split_file(split: str) -> str:
    """The hub's name of a split's only shard: ``data/train-00000-of-00001.parquet``."""
    return f"{DATA_DIR}/{split}-00000-of-00001.parquet"


def split_of(file: Path) -> str:
    """The split a Parquet file holds: the prefix of a hub shard name, else the file's stem."""
    match = _SHARD.match(file.stem)
    return match["split"] if match else file.stem


# --- pure conversions ---------------------------------------------------------------------------


def _value(dtype: str) -> Json:
    return {"dtype": dtype, "_type": "Value"}


def _sequence(feature: Json) -> Json:
    return {"feature": feature, "_type": "Sequence"}


def hf_features(schema: LabelSchema) -> Json:
    """The ``datasets`` features of a row, class names as a ``ClassLabel``. Lists of objects use
    the ``Sequence`` spelling, which every ``datasets`` version from 2 on reads."""
    strings = ("kind", "geometry", "attributes", "extras")
    objects: Json = {
        "id": _value("int64"),
        "category": {"names": [c.name for c in schema.classes], "_type": "ClassLabel"},
        "bbox": _sequence(_value("float64")),
        "area": _value("float64"),
        **{name: _value("string") for name in strings[:2]},
        "score": _value("float64"),
        "crowd": _value("bool"),
        **{name: _value("string") for name in strings[2:]},
    }
    return {"image": {"_type": "Image"}, "dataset": _value("string"), "path": _value("string"),
            "width": _value("int32"), "height": _value("int32"), "status": _value("string"),
            "metadata": _value("string"), "labelport": _value("string"),
            "objects": _sequence(objects)}


def object_xywh_area(geometry: Geometry) -> tuple[list[float], float] | None:
    """``bbox`` ``[x, y, w, h]`` (the geometry's envelope) and ``area`` of one object; None when
    the geometry has no extent (no labelled point)."""
    box = geometry if isinstance(geometry, Box) else bounding_box(geometry)
    if box is None:
        return None
    return [float(box.x), float(box.y), float(box.w), float(box.h)], float(area(geometry))


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _extras(annotation: Annotation) -> Json:
    out = {k: v for k, v in annotation_to_json(annotation).items()
           if k not in _ANNOTATION_COLUMNS}
    if out.get("labelset") == DEFAULT_LABELSET:
        del out["labelset"]
    return out


def _empty_objects() -> dict[str, list[Any]]:
    return {name: [] for name in OBJECT_TYPE.names}


# --- writing ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Rows:
    """Rows of one split waiting for the next row group; ``next_id`` numbers its objects."""

    writer: Any
    rows: list[Json] = field(default_factory=list)
    next_id: int = 1


@dataclass(slots=True)
class _Writer:
    out_dir: Path
    source_schema: LabelSchema
    ctx: WriteContext
    imagefolder: bool
    embed: bool
    row_group_size: int
    file_metadata: dict[bytes, bytes]
    splits: dict[str, _Rows] = field(default_factory=dict)
    namer: FileNamer = field(init=False)
    category: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.category = {c.name: i for i, c in enumerate(self.source_schema.classes)}
        self.namer = FileNamer(keep_folders=True, report=self.ctx.report)

    def split(self, name: str) -> _Rows:
        """The rows of split ``name``; its Parquet writer (or JSON lines file) opens on first
        use."""
        if name not in self.splits:
            if self.imagefolder:
                target = self.out_dir / name / METADATA_FILE
                target.parent.mkdir(parents=True, exist_ok=True)
                handle: Any = target.open("wb")
            else:
                target = self.out_dir / split_file(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                handle = pq.ParquetWriter(target, ARROW_SCHEMA.with_metadata(self.file_metadata))
            self.splits[name] = _Rows(writer=handle)
        return self.splits[name]

    def add(self, record: ItemRecord) -> None:
        split_name = record.split or DEFAULT_SPLIT
        rows = self.split(split_name)
        item = record.item
        folder = split_name if self.imagefolder else f"{IMAGES_DIR}/{split_name}"
        file_name = self.namer.name(item, folder)
        target = self.out_dir / folder / file_name
        self.ctx.place_media(item, target)
        objects, image_labels = self._objects(record, rows)
        extra: Json = {}
        item_extras = {k: v for k, v in item_to_json(item).items() if k not in _ITEM_COLUMNS}
        if item_extras:
            extra["item"] = item_extras
        if record.tasks:
            extra["tasks"] = [task_to_json(t) for t in record.tasks]
        if image_labels:
            extra["image_labels"] = image_labels
        row: Json = {"dataset": item.dataset, "path": item.path, "width": item.width,
                     "height": item.height,
                     "status": record.tasks[0].status.value if record.tasks else None,
                     "metadata": _json(dict(item.metadata)), "labelport": _json(extra),
                     "objects": objects}
        if self.imagefolder:
            if not any(score is not None for score in objects["score"]):
                del objects["score"]  # pyarrow's JSON reader fails on a list of nulls
            rows.writer.write(orjson.dumps({"file_name": file_name, **row}) + b"\n")
            return
        row["image"] = self._image(item, target, file_name, split_name)
        rows.rows.append(row)
        if len(rows.rows) >= self.row_group_size:
            self.flush(rows)

    def _image(self, item: Item, target: Path, file_name: str, split: str) -> Json:
        if not self.embed:
            relative = f"{IMAGES_DIR}/{split}/{file_name}"
            return {"bytes": None, "path": self.ctx.media_reference(item, target, relative)}
        if not target.is_file():  # the media stage counted it as missing
            return {"bytes": None, "path": file_name}
        data = target.read_bytes()
        target.unlink()
        return {"bytes": data, "path": file_name}

    def _objects(self, record: ItemRecord, rows: _Rows) -> tuple[dict[str, list[Any]], list[Json]]:
        """The ``objects`` columns of a record, and its image-level labels (written in the
        ``labelport`` column: they have no box)."""
        objects = _empty_objects()
        image_labels: list[Json] = []
        image_wh = (record.item.width, record.item.height)
        for annotation in record.annotations:
            category = self.category.get(annotation.label)
            if category is None:
                self.ctx.report.count("not written: annotation whose class is not in the schema")
                continue
            if isinstance(annotation.geometry, NoGeometry):
                self.ctx.report.count("converted: none (image-level label) to image_labels")
                image_labels.append({k: v for k, v in annotation_to_json(annotation).items()
                                     if k != "geometry"})
                continue
            geometry = annotation.geometry
            if isinstance(geometry, Mask) and (geometry.width, geometry.height) != image_wh:
                self.ctx.report.count("not written: mask whose size differs from its image")
                continue
            fitted = fit_to_image(geometry, image_wh=image_wh, ctx=self.ctx)
            if fitted is None:
                continue
            extent = object_xywh_area(fitted)
            if extent is None:
                self.ctx.report.count(f"not written: {fitted.kind.value} with no labelled point")
                continue
            bbox, object_area = extent
            values = {"id": rows.next_id, "category": category, "bbox": bbox,
                      "area": object_area, "kind": fitted.kind.value,
                      "geometry": _json(geometry_to_json(fitted)), "score": annotation.score,
                      "crowd": annotation.crowd, "attributes": _json(dict(annotation.attributes)),
                      "extras": _json(_extras(annotation))}
            for name, value in values.items():
                objects[name].append(value)
            rows.next_id += 1
        return objects, image_labels

    def flush(self, rows: _Rows) -> None:
        if rows.rows:
            rows.writer.write_table(pa.Table.from_pylist(rows.rows, schema=ARROW_SCHEMA))
            rows.rows.clear()

    def close(self) -> None:
        for rows in self.splits.values():
            if not self.imagefolder:
                self.flush(rows)
            rows.writer.close()


def _file_metadata(source: ExportSource) -> dict[bytes, bytes]:
    info = {"features": hf_features(source.schema)}
    own = {"project": source.project.name, "description": source.project.description,
           "schema": schema_to_json(source.schema), "labelport_version": __version__,
           "datasets": [d.name for d in source.datasets],
           "labelsets": [ls.name for ls in source.labelsets]}
    return {b"huggingface": orjson.dumps({"info": info}), b"labelport": orjson.dumps(own)}


def _dataset_card(source: ExportSource) -> str:
    """README.md whose front matter declares the features (``configs[0].features``), so
    ``load_dataset(folder)`` shows class names; the labelport schema rides along for the
    reader."""
    card = {"configs": [{"config_name": "default",
                         "features": card_features(hf_features(source.schema))}],
            "labelport": {"project": source.project.name,
                          "description": source.project.description,
                          "schema": schema_to_json(source.schema),
                          "datasets": [d.name for d in source.datasets],
                          "labelsets": [ls.name for ls in source.labelsets]}}
    body = (f"# {source.project.name}\n\nExported by labelport {__version__}: "
            "`datasets.load_dataset(\"<this folder>\")` reads it with its class names.\n")
    return card_text(card, body)


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Stream ``source`` into one Parquet file (or ``metadata.jsonl``) per split; at most
    ``row_group_size`` rows per split are held before they are written."""
    imagefolder = options.get("layout", PARQUET) == IMAGEFOLDER
    embed = bool(options.get("embed_images", False))
    row_group_size = int(options.get("row_group_size", 1000))
    if row_group_size < 1:
        raise InputError(f"parquet: row_group_size must be at least 1, got {row_group_size}")
    if (imagefolder or embed) and ctx.place_media is no_media:
        what = "layout=imagefolder" if imagefolder else "embed_images=true"
        raise UnsupportedError(f"parquet: {what} needs the images; export with media copied "
                               "or linked (--media copy)")
    if imagefolder and embed:
        raise UnsupportedError("parquet: embed_images applies to layout=parquet only")
    writer = _Writer(out_dir=out_dir, source_schema=source.schema, ctx=ctx,
                     imagefolder=imagefolder, embed=embed, row_group_size=row_group_size,
                     file_metadata=_file_metadata(source))
    try:
        done = 0
        for done, record in enumerate(source.records(), start=1):
            writer.add(record)
            if done % _PROGRESS_EVERY == 0:
                ctx.progress(done)
        ctx.progress(done)
        if not writer.splits:  # an empty project still gets a file with its features
            writer.split(DEFAULT_SPLIT)
    finally:
        writer.close()
    if imagefolder:
        (out_dir / "README.md").write_text(_dataset_card(source), encoding="utf-8")
    elif embed and (out_dir / IMAGES_DIR).is_dir():
        _remove_empty_dirs(out_dir / IMAGES_DIR)


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """Each split's file from the shards' in shard order, objects' ids shifted by the split's
    objects in the shards before: a Parquet file's row groups are read one at a time and
    written again in groups of the export's ``row_group_size`` rows (as one writer cuts them,
    whatever the shards' cuts), a ``metadata.jsonl``'s lines one at a time. The empty default
    split file of a shard without items is left out when other splits have rows, as one
    writer leaves it out; the card merges by copying."""
    row_group_size = int(shard_options(shards[0])["row_group_size"])
    found = shard_parts(shards, *_MERGED)
    rows: dict[str, int] = {}
    for name, parts in found.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        merge = _merge_lines if name.endswith(METADATA_FILE) else partial(
            _merge_parquet, row_group_size=row_group_size)
        rows[name] = merge(parts, out / name)
    if any(rows.values()):
        for name, n in rows.items():
            if not n:
                (out / name).unlink()
    return list(found)


def _merge_parquet(parts: list[Path], target: Path, *, row_group_size: int) -> int:
    """One split's Parquet file from the shards'; its rows."""
    metadata = {k: v for k, v in (pq.read_schema(parts[0]).metadata or {}).items()
                if k != b"ARROW:schema"}
    held: list[pa.Table] = []
    rows = objects = 0
    with pq.ParquetWriter(target, ARROW_SCHEMA.with_metadata(metadata)) as writer:
        for part in parts:
            file = pq.ParquetFile(part)
            shift = objects  # the split's objects in the shards before
            for group in range(file.num_row_groups):
                table = file.read_row_group(group)
                held.append(_objects_shifted(table, shift))
                objects += len(table.column("objects").combine_chunks().field("id").flatten())
                rows += len(table)
                while sum(map(len, held)) >= row_group_size:
                    together = pa.concat_tables(held)
                    writer.write_table(together.slice(0, row_group_size).combine_chunks())
                    held = [together.slice(row_group_size)]
        if sum(map(len, held)):
            writer.write_table(pa.concat_tables(held).combine_chunks())
    return rows


def _objects_shifted(table: pa.Table, offset: int) -> pa.Table:
    """``table`` with ``offset`` added to each ``objects.id``."""
    if not offset:
        return table
    objects = table.column("objects").combine_chunks()
    ids = objects.field("id")
    shifted = pa.ListArray.from_arrays(ids.offsets, pc.add(ids.flatten(), offset))
    fields = [shifted if f.name == "id" else objects.field(f.name) for f in OBJECT_TYPE]
    return table.set_column(table.schema.get_field_index("objects"), "objects",
                            pa.StructArray.from_arrays(fields, fields=list(OBJECT_TYPE)))


def _merge_lines(parts: list[Path], target: Path) -> int:
    """One split's ``metadata.jsonl`` from the shards'; its lines."""
    lines = objects = 0
    with target.open("wb") as f:
        for part in parts:
            shift = objects
            with part.open("rb") as src:
                for line in src:
                    row = orjson.loads(line)
                    ids = row["objects"]["id"]
                    objects += len(ids)
                    lines += 1
                    if shift:
                        row["objects"]["id"] = [i + shift for i in ids]
                        line = orjson.dumps(row) + b"\n"
                    f.write(line)
    return lines


def _remove_empty_dirs(folder: Path) -> None:
    for sub in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _File:
    """One split's file: a Parquet file, or an imagefolder's ``metadata.jsonl``."""

    path: Path
    split: str
    root: Path

    @property
    def jsonl(self) -> bool:
        return self.path.name == METADATA_FILE


def _files(path: Path) -> list[_File]:
    if path.is_file():
        if path.name == METADATA_FILE:
            return [_File(path, path.parent.name, path.parent.parent)]
        root = path.parent.parent if path.parent.name == DATA_DIR else path.parent
        return [_File(path, split_of(path), root)]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    found = [_File(p, split_of(p), path) for p in sorted(path.rglob("*.parquet"))]
    found += [_File(p, p.parent.name, path) for p in sorted(path.glob(f"*/{METADATA_FILE}"))]
    if not found:
        raise InputError(f"{path}: no *.parquet file and no */{METADATA_FILE} found")
    for file in found:
        regular_file(file.path)  # pyarrow would wait forever on a FIFO, in C
    return found


_UNREADABLE = (pa.ArrowException, OSError, UnicodeDecodeError)
"""What pyarrow raises for a damaged file (``UnicodeDecodeError``: bad UTF-8 in a string
column, met only when rows become Python values)."""


def _parquet_schema(file: Path) -> pa.Schema:
    try:
        return pq.read_schema(file)
    except _UNREADABLE as error:
        raise InputError(f"{file}: not a readable Parquet file ({error})") from None


def _meta(metadata: Mapping[bytes, bytes] | None, key: bytes, file: Path) -> Json | None:
    raw = (metadata or {}).get(key)
    if raw is None:
        return None
    value = decode_json(raw, f"{file} (schema metadata {key.decode()!r})")
    if not isinstance(value, dict):
        raise InputError(f"{file}: schema metadata {key.decode()!r}: expected a JSON object")
    return value


def _class_names(features: Json | None) -> list[str] | None:
    """The ``ClassLabel`` names of ``objects.category`` in a features JSON, if any."""
    objects = (features or {}).get("objects")
    while isinstance(objects, dict) and "feature" in objects and "_type" in objects:
        objects = objects["feature"]  # Sequence / List wrappers
    category = objects.get("category") if isinstance(objects, dict) else None
    while isinstance(category, dict) and category.get("_type") in ("Sequence", "List"):
        category = category.get("feature")
    if isinstance(category, dict) and category.get("_type") == "ClassLabel":
        return [str(n) for n in category.get("names", [])]
    return None


@dataclass(slots=True)
class _Header:
    """What the files say up front: project, schema, datasets, labelsets."""

    project: ProjectInfo
    schema: LabelSchema
    datasets: list[str]
    labelsets: list[str]


def _header(files: list[_File]) -> _Header:
    first = files[0]
    own: Json | None
    features: Json | None
    if first.jsonl:
        own, features = _card(first.root)
    else:
        metadata = _parquet_schema(first.path).metadata
        own = _meta(metadata, b"labelport", first.path)
        hf = _meta(metadata, b"huggingface", first.path)
        features = (hf or {}).get("info", {}).get("features")
    if own is not None and "schema" in own:
        try:
            schema = schema_from_json(own["schema"])
        except InputError as error:
            raise InputError(f"{first.path}: labelport schema: {error}") from None
        return _Header(project=ProjectInfo(name=str(own.get("project") or first.root.name),
                                           description=str(own.get("description") or "")),
                       schema=schema, datasets=list(own.get("datasets") or []),
                       labelsets=list(own.get("labelsets") or []))
    names = _class_names(features)
    if names is None:  # no names anywhere: the category numbers, 0 to the largest one used
        names = [str(i) for i in range(_largest_category(files) + 1)]
    return _Header(project=ProjectInfo(name=first.root.name), schema=schema_from_names(names),
                   datasets=[], labelsets=[])


def _largest_category(files: list[_File]) -> int:
    """The largest ``objects.category`` in ``files`` (-1 when there is none), read from that
    column alone."""
    largest = -1
    for file in files:
        if file.jsonl:
            with open_binary(file.path) as lines:
                for number, line in enumerate(lines, start=1):
                    row = decode_json(line, f"{file.path}:{number}") if line.strip() else {}
                    objects = row.get("objects") if isinstance(row, dict) else None
                    values = objects.get("category") if isinstance(objects, dict) else None
                    for value in values if isinstance(values, list) else ():
                        if isinstance(value, int):
                            largest = max(largest, value)
            continue
        try:
            column = pq.read_table(file.path, columns=["objects"]).column("objects")
        except (pa.ArrowException, OSError, KeyError) as error:
            raise InputError(f"{file.path}: expected an 'objects' column ({error})") from None
        categories = pc.list_flatten(pc.struct_field(column, "category"))
        if len(categories):
            largest = max(largest, int(pc.max(categories).as_py()))
    return largest


def _card(root: Path) -> tuple[Json | None, Json | None]:
    """The labelport section and features of an imagefolder's dataset card, if it has one."""
    front = read_front_matter(root)
    own = front.get("labelport") if front is not None else None
    return (own if isinstance(own, dict) else None), None


@dataclass(slots=True)
class _Reader:
    header: _Header
    images: Path | None
    classes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.classes = [c.name for c in self.header.schema.classes]

    def rows(self, file: _File) -> Iterator[tuple[str, Json]]:
        """``(place, row)`` for each row of ``file``; place names the row for errors."""
        if file.jsonl:
            with open_binary(file.path) as lines:
                for number, line in enumerate(lines, start=1):
                    if line.strip():
                        row = decode_json(line, f"{file.path}:{number}")
                        if not isinstance(row, dict):
                            raise InputError(f"{file.path}:{number}: expected a JSON object")
                        yield f"{file.path}:{number}", row
            return
        try:
            parquet = pq.ParquetFile(file.path)
            number = 0
            for batch in parquet.iter_batches(batch_size=512):
                for row in batch.to_pylist():
                    number += 1
                    yield f"{file.path}: row {number}", row
        except _UNREADABLE as error:
            raise InputError(f"{file.path}: not a readable Parquet file ({error})") from None

    def records(self, files: list[_File]) -> Iterator[ItemRecord]:
        for file in files:
            for place, row in self.rows(file):
                yield self.record(row, file, place)

    def record(self, row: Json, file: _File, place: str) -> ItemRecord:
        extra = _json_column(row, "labelport", place, default={})
        metadata = _json_column(row, "metadata", place, default={})
        reference, data = _image_reference(row, file, place)
        path = row.get("path") or (PurePosixPath(reference).name if reference else None)
        if not isinstance(path, str) or not path:
            raise InputError(f"{place}: expected a 'path' or an image path")
        found = self.media(file, reference, path)
        width, height = row.get("width"), row.get("height")
        if not isinstance(width, int) or not isinstance(height, int):
            width, height = _size(found, data, place)
        try:
            item = Item(**{**_item_extras(extra), "dataset": row.get("dataset") or DEFAULT_DATASET,
                           "path": path, "width": width, "height": height,
                           "media_uri": str(found.absolute()) if found else None,
                           "metadata": metadata})
            tasks = tuple(task_from_json(t) for t in extra.get("tasks", ()))
            labels = tuple(annotation_from_json({**a, "geometry": {"kind": "none"}})
                           for a in extra.get("image_labels", ()))
        except (InputError, TypeError) as error:
            raise InputError(f"{place}: column 'labelport': {error}") from None
        for label in labels:
            self.check_class(label.label, f"{place}: labelport.image_labels")
        return ItemRecord(item=item, tasks=tasks, annotations=self.objects(row, place) + labels,
                          split=file.split)

    def check_class(self, name: str, place: str) -> None:
        if self.header.schema.get(name) is None:
            raise InputError(f"{place}: class {name!r} is not in the schema")

    def objects(self, row: Json, place: str) -> tuple[Annotation, ...]:
        objects = row.get("objects") or {}
        if not isinstance(objects, dict):
            raise InputError(f"{place}: column 'objects': expected a struct of lists")
        columns = {k: v for k, v in objects.items() if v is not None}
        categories = columns.get("category", [])
        for name, values in columns.items():
            if not isinstance(values, list) or len(values) != len(categories):
                raise InputError(f"{place}: objects.{name}: expected a list as long as "
                                 f"objects.category ({len(categories)})")
        return tuple(self.annotation({k: v[i] for k, v in columns.items()},
                                     f"{place}: objects[{i}]")
                     for i in range(len(categories)))

    def annotation(self, values: Json, place: str) -> Annotation:
        label = self.label(values.get("category"), place)
        try:
            if values.get("geometry") is not None:
                geometry = geometry_from_json(_decode(values["geometry"], f"{place}.geometry"))
            else:
                x, y, w, h = (float(v) for v in values.get("bbox") or ())
                geometry = Box(x=x, y=y, w=w, h=h)
            extras = _decode(values.get("extras") or "{}", f"{place}.extras")
            attributes = _decode(values.get("attributes") or "{}", f"{place}.attributes")
            return annotation_from_json({
                **extras, "label": label, "geometry": geometry_to_json(geometry),
                "attributes": attributes, "score": values.get("score"),
                "crowd": bool(values.get("crowd"))})
        except (InputError, TypeError, ValueError) as error:
            message = str(error)
            if not message.startswith(place):
                message = f"{place}: {message}"
            raise InputError(message) from None

    def label(self, category: Any, place: str) -> str:
        if not isinstance(category, int) or isinstance(category, bool) or category < 0:
            raise InputError(f"{place}.category: expected a class index >= 0, got {category!r}")
        if category >= len(self.classes):
            raise InputError(f"{place}.category: {category} is not a class index (the schema "
                             f"has {len(self.classes)} classes)")
        return self.classes[category]

    def media(self, file: _File, reference: str | None, path: str) -> Path | None:
        candidates: list[Path] = []
        if reference:
            local = local_reference(reference)
            candidates.append(local if local is not None else file.root / reference)
        if self.images is not None:
            name = PurePosixPath(reference or path).name
            candidates += [self.images / file.split / name, self.images / name,
                           self.images / path]
        return next((c for c in candidates if readable_file(c)), None)


def _json_column(row: Json, name: str, place: str, *, default: Json) -> Json:
    raw = row.get(name)
    if raw is None:
        return default
    value = _decode(raw, f"{place}: column {name!r}")
    if not isinstance(value, dict):
        raise InputError(f"{place}: column {name!r}: expected a JSON object")
    return value


def _decode(raw: Any, place: str) -> Any:
    if not isinstance(raw, str | bytes):
        raise InputError(f"{place}: expected a JSON string, got {type(raw).__name__}")
    return decode_json(raw.encode() if isinstance(raw, str) else raw, place)


def _image_reference(row: Json, file: _File, place: str) -> tuple[str | None, bytes | None]:
    """The image path a row names (``image.path`` or ``file_name``) and its embedded bytes."""
    if file.jsonl:
        name = row.get("file_name")
        if not isinstance(name, str):
            raise InputError(f"{place}: expected 'file_name' naming the image")
        return f"{file.split}/{name}", None
    image = row.get("image")
    if isinstance(image, str):
        return image, None
    if isinstance(image, dict):
        return image.get("path"), image.get("bytes")
    return None, None


def _size(found: Path | None, data: bytes | None, place: str) -> tuple[int, int]:
    if found is not None:
        return image_size(found)
    if data is not None:
        try:
            with Image.open(io.BytesIO(data)) as image:
                return image.size
        except (OSError, UnidentifiedImageError) as error:
            raise InputError(f"{place}: image bytes are not a readable image ({error})") from None
    raise InputError(f"{place}: no width and height, and no image to read them from; "
                     "pass --images DIR")


def _item_extras(extra: Json) -> Json:
    item = extra.get("item") or {}
    return {k: item[k] for k in ("frame_count", "channels", "bit_depth") if k in item}


def read(path: Path, options: Mapping[str, Any]) -> StreamSource:
    """Read a Parquet export (or an imagefolder export) as a stream of records; the schema and
    the counts come from the files' metadata, rows are decoded as they are asked for."""
    files = _files(path)
    header = _header(files)
    images = options.get("images")
    reader = _Reader(header=header, images=Path(images) if images is not None else None)
    count = 0
    datasets = dict.fromkeys(header.datasets)
    for file in files:
        if file.jsonl:
            with open_binary(file.path) as lines:
                count += sum(1 for line in lines if line.strip())
            continue
        try:
            count += pq.ParquetFile(file.path).metadata.num_rows
            if not header.datasets and "dataset" in _parquet_schema(file.path).names:
                column = pq.read_table(file.path, columns=["dataset"]).column("dataset")
                datasets.update(dict.fromkeys(v for v in column.unique().to_pylist() if v))
        except _UNREADABLE as error:
            raise InputError(f"{file.path}: not a readable Parquet file ({error})") from None
    labelsets = header.labelsets or [DEFAULT_LABELSET]
    return StreamSource(
        project=header.project, schema=header.schema, count=count,
        open_records=lambda: reader.records(files),
        datasets=tuple(Dataset(name=d) for d in datasets or [DEFAULT_DATASET]),
        labelsets=tuple(Labelset(name=ls) for ls in labelsets))


SPEC = FormatSpec(
    name="parquet",
    title="Parquet / Hugging Face datasets (one row per image, objects as nested columns)",
    extension=".parquet",
    geometries=frozenset(GeometryKind) - {GeometryKind.NONE},
    conventions=Conventions(
        coordinates="absolute pixels as floats, bbox [x, y, w, h], not rounded",
        index_base="objects.category 0-based in the label schema's order (a ClassLabel)",
        ids="objects.id from 1 in each split",
        notes="one Parquet file per split (data/{split}-00000-of-00001.parquet) or an "
              "imagefolder with metadata.jsonl; exact geometry as labelport JSON in "
              "objects.geometry; metadata, attributes and extras as JSON strings",
    ),
    attributes=True,
    scores=True,
    splits=True,
    media=True,
    options=(
        OptionSpec(name="layout", type=str, default=PARQUET, choices=(PARQUET, IMAGEFOLDER),
                   help="parquet: data/{split}-00000-of-00001.parquet; imagefolder: "
                        "{split}/metadata.jsonl beside the images (needs media)"),
        OptionSpec(name="embed_images", type=bool, default=False,
                   help="put each image's bytes in its row (self-contained, as on the hub); "
                        "needs media"),
        OptionSpec(name="row_group_size", type=int, default=1000,
                   help="rows per Parquet row group: how many rows a split holds in memory"),
    ),
    writer=write,
    reader=read,
    merge_shards=merge_shards,
    merge_reads=_MERGED,
)
