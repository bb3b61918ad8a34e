"""CSV and TSV (``csv``, ``tsv``): one row per object with SATIn's columns, for spreadsheets,
pandas and quick analysis. The two formats differ only in the delimiter.

Layout::

    out/
      annotations.csv          (annotations.tsv for tsv)
      images/<image_name>      only when the export includes media (paths kept, made unique)

A file (header first; the default columns)::

    image_id,image_name,object_id,label,x_min,y_min,x_max,y_max,width,height
    1,street_001.png,1,car,100,200,260,290,160,90
    1,street_001.png,2,"traffic sign, temporary",444.019,87.679,515.981,152.321,71.962,64.641
    6,empty_006.png,,,,,,,,
    7,field_001.jpg,1,blurry,,,,,,

Columns: the SATIn ten by default, then ``split`` when any record has a split, then
``image_file`` when any image is named otherwise than relatively (``--paths absolute``). The
option ``columns`` picks and orders them from `COLUMNS`, which adds ``split``, ``dataset``,
``image_path`` (the item's path inside its dataset), ``image_width``, ``image_height``,
``score`` and ``image_file``: where the image is, ``images/<image_name>`` relative to the table,
or `WriteContext.media_reference`'s absolute path or URL. ``image_name`` is the image's path
below ``images/``: the item's path inside its dataset with its folders (``cam1/a.jpg``), made
unique (a second dataset's same path gets its dataset in its name, listed in the manifest's
``report.renamed``); ``image_path`` stays the item's identity, whatever ``--paths`` says.
Options append ``attr.<name>`` (``attributes``: one per attribute the schema defines, in schema
order), ``meta.<key>`` (``metadata``: one per item-metadata key met, sorted) and ``points``
(``polygon``), in that order.

Conventions:
- absolute pixels, origin at the top-left corner of the top-left pixel; ``x_max = x_min +
  width`` (the box covers ``[x_min, x_max)``, SATIn's ``x=100, w=150 -> x_max=250``);
  ``width``/``height`` are the box's size, as in SATIn's example, not the image's (those are
  ``image_width``/``image_height``). With ``normalized`` every coordinate, ``points`` included,
  is divided by the image's width or height;
- pixels rounded to 3 decimals, normalised values to 6, trailing zeros dropped;
- ``image_id`` is the image's 1-based position in the export (stable for the same selection);
  ``object_id`` is the annotation's 1-based position on its image, so an annotation that is
  not written leaves a gap rather than renumbering the others;
- an object that is not an axis-aligned box (rotated box, polyline, keypoints, mask, or a
  polygon without ``polygon``) is written as its axis-aligned envelope and counted (clipped to
  the image like any box under the clip policy, so a rotated box reaching outside stays in); an
  image-level label is a row with the label and empty coordinates; an image without written
  objects is one row with empty object fields (``empty_rows=false`` leaves it out, counted);
- ``points`` is JSON: a list of parts, each a list of rings (outer first, then holes), each
  ring flat ``[x1, y1, x2, y2, ...]``: ``[[[20,20,180,20,180,140,20,140],[70,60,...]]]``.
  Only polygons fill it; the box columns then hold the polygon's bounding box;
- ``attr.*`` and ``meta.*`` cells hold text as is and other values (numbers, booleans, lists)
  as JSON; text that would itself read as JSON (``"true"``, ``"5"``, empty) is written as a
  JSON string, so every value reads back with its type. An empty cell means "not set";
- RFC 4180 through Python's `csv` module: fields with the delimiter, a quote or a line break
  are quoted, quotes doubled, lines end with CRLF; UTF-8 without a BOM (``encoding=utf-8-sig``
  adds one, which Excel needs to detect UTF-8). Cells are never altered, so a label starting
  with ``=`` is not defused against spreadsheet formulas.

Reading takes the file or the export folder. Media is the ``image_file`` column's file when it
exists (absolute, or relative to the table), else found in ``images`` (the option, or the
export's own ``images/`` folder); an ``image_file`` URL with no local file becomes the media URI.
Image sizes come from ``image_width`` / ``image_height`` when present, else from the found
image's header as a viewer shows it (EXIF orientation applied). ``normalized`` must be given
as it was written. Items get dataset ``default`` unless a ``dataset`` column says otherwise; a
row with a ``score`` is a model's annotation. Classes follow their first appearance in the file.
"""

from __future__ import annotations

import csv
import math
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    NoGeometry,
    Polygon,
    PolygonPart,
)
from labelport.domain.geometry_ops import bounding_box
from labelport.domain.model import (
    DEFAULT_DATASET,
    Annotation,
    Dataset,
    Item,
    ItemRecord,
    ProjectInfo,
    Source,
)
from labelport.domain.schema import AttributeDef, AttributeType, LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.formats._shared.geometry import box_on_image, fit_to_image
from labelport.formats._shared.image_files import (
    image_size,
    is_url,
    local_reference,
    readable_file,
)
from labelport.formats._shared.naming import FileNamer
from labelport.formats._shared.shard_merge import csv_header, has_bom, shard_items
from labelport.formats._shared.values import decode_value, encode_value
from labelport.formats.base import Conventions, FormatSpec, OptionSpec, WriteContext

SATIN_COLUMNS = ("image_id", "image_name", "object_id", "label",
                 "x_min", "y_min", "x_max", "y_max", "width", "height")
IMAGE_FILE = "image_file"
COLUMNS = SATIN_COLUMNS + ("split", "dataset", "image_path", "image_width", "image_height",
                           "score", IMAGE_FILE)
"""Every column ``columns`` may name, SATIn's first."""
ATTR = "attr."
META = "meta."
POINTS = "points"
IMAGES_DIR = "images"
PIXEL_DECIMALS = 3
NORMALIZED_DECIMALS = 6
_PROGRESS_EVERY = 256
_COORDINATES = ("x_min", "y_min", "x_max", "y_max", "width", "height")


# --- cells --------------------------------------------------------------------------------------


def format_number(value: float, decimals: int) -> str:
    """``value`` rounded to ``decimals``, without trailing zeros or a negative zero."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _number_json(value: float, decimals: int) -> float | int:
    rounded = round(value, decimals)
    return int(rounded) if rounded.is_integer() else rounded


def points_json(polygon: Polygon, *, scale: tuple[float, float], decimals: int) -> str:
    """``points`` cell: parts, each a list of rings (outer first), each ring flat."""
    sx, sy = scale
    parts = [[[_number_json(v * (sx if i % 2 == 0 else sy), decimals) for i, v in enumerate(ring)]
              for ring in (part.outer, *part.holes)]
             for part in polygon.parts]
    return orjson.dumps(parts).decode()


def polygon_from_points(cell: str) -> Polygon:
    """The inverse of `points_json` at scale 1; `ValueError` saying what is wrong."""
    try:
        parts = orjson.loads(cell)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error})") from None
    if not isinstance(parts, list) or not parts:
        raise ValueError("expected a non-empty list of parts")
    built = []
    for p, part in enumerate(parts):
        if not isinstance(part, list) or not part:
            raise ValueError(f"part {p}: expected a non-empty list of rings")
        rings = []
        for r, ring in enumerate(part):
            if (not isinstance(ring, list) or len(ring) < 6 or len(ring) % 2
                    or not all(isinstance(v, int | float) and not isinstance(v, bool)
                               for v in ring)):
                raise ValueError(f"part {p} ring {r}: expected [x1, y1, x2, y2, x3, y3, ...] "
                                 "with at least three points")
            rings.append(tuple(float(v) for v in ring))
        built.append(PolygonPart(outer=rings[0], holes=tuple(rings[1:])))
    return Polygon(parts=tuple(built))


def box_cells(box: Box, *, scale: tuple[float, float], decimals: int) -> dict[str, str]:
    """The coordinate columns of a box, in pixels (scale 1) or divided by the image size."""
    sx, sy = scale
    x0, y0, x1, y1 = box.xyxy
    return {"x_min": format_number(x0 * sx, decimals), "y_min": format_number(y0 * sy, decimals),
            "x_max": format_number(x1 * sx, decimals), "y_max": format_number(y1 * sy, decimals),
            "width": format_number(box.w * sx, decimals),
            "height": format_number(box.h * sy, decimals)}


# --- writing ------------------------------------------------------------------------------------


def parse_columns(text: str) -> tuple[str, ...] | None:
    """The ``columns`` option: None for the default, else the names in order; `InputError`
    listing the valid names for anything else."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        return None
    unknown_names = [n for n in names if n not in COLUMNS]
    if unknown_names:
        raise InputError(f"option columns: unknown column(s) {', '.join(unknown_names)}; "
                         f"valid columns: {', '.join(COLUMNS)}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"option columns: {', '.join(duplicates)} given more than once")
    return names


def _attribute_names(schema: LabelSchema) -> tuple[str, ...]:
    """Every attribute the schema defines, once, in schema order."""
    return tuple(dict.fromkeys(a.name for c in schema.classes for a in c.attributes))


@dataclass(slots=True, kw_only=True)
class _RowMaker:
    """Turns one record into its rows' cells (column -> text) under the export's options."""

    ctx: WriteContext
    normalized: bool
    polygon: bool
    attributes: frozenset[str] | None
    metadata: bool
    meta_keys: set[str] = field(default_factory=set)
    splits: int = 0
    """Records with a split."""

    def rows(self, record: ItemRecord, image_id: int, image_name: str) -> list[dict[str, str]]:
        item = record.item
        image = {"image_id": str(image_id), "image_name": image_name,
                 "split": record.split or "train", "dataset": item.dataset,
                 "image_path": item.path, "image_width": str(item.width),
                 "image_height": str(item.height)}
        self.splits += record.split is not None
        if self.metadata:
            for key, value in item.metadata.items():
                self.meta_keys.add(key)
                image[META + key] = encode_value(value)
        task = record.task
        if task is not None and task.classifications:
            self.ctx.report.count("not written: image classifications")
        rows = []
        for object_id, annotation in enumerate(record.annotations, start=1):
            cells = self._object(annotation, (item.width, item.height))
            if cells is not None:
                rows.append(image | cells | {"object_id": str(object_id)})
        return rows if rows else [image]

    def _object(self, annotation: Annotation, image_wh: tuple[int, int]) -> dict[str, str] | None:
        cells = {"label": annotation.label}
        if annotation.geometry.kind is not GeometryKind.NONE:
            coordinates = self._coordinates(annotation.geometry, image_wh)
            if coordinates is None:
                return None
            cells |= coordinates
        if annotation.score is not None:
            cells["score"] = format_number(annotation.score, NORMALIZED_DECIMALS)
        self._attributes(annotation, cells)
        if annotation.tags:
            self.ctx.report.count("not written: tags")
        return cells

    def _coordinates(self, geometry: Geometry,
                     image_wh: tuple[int, int]) -> dict[str, str] | None:
        """The box cells (and ``points`` for a polygon with the option) under the out-of-image
        policy; None when the object is not written (counted). Other geometries go through
        `box_on_image`, so a rotated box reaching outside is clipped as its envelope."""
        decimals = NORMALIZED_DECIMALS if self.normalized else PIXEL_DECIMALS
        scale = (1 / image_wh[0], 1 / image_wh[1]) if self.normalized else (1.0, 1.0)
        cells: dict[str, str] = {}
        if self.polygon and isinstance(geometry, Polygon):
            fitted = fit_to_image(geometry, image_wh=image_wh, ctx=self.ctx)
            if not isinstance(fitted, Polygon):
                return None
            cells[POINTS] = points_json(fitted, scale=scale, decimals=decimals)
            box = bounding_box(fitted)
        else:
            box = box_on_image(geometry, image_wh=image_wh, ctx=self.ctx)
        if box is None:
            return None
        return cells | box_cells(box, scale=scale, decimals=decimals)

    def _attributes(self, annotation: Annotation, cells: dict[str, str]) -> None:
        if not annotation.attributes:
            return
        if self.attributes is None:
            self.ctx.report.count("not written: attributes (option attributes is off)")
            return
        for name, value in annotation.attributes.items():
            if name in self.attributes:
                cells[ATTR + name] = encode_value(value)
            else:
                self.ctx.report.count("not written: attribute not defined in the schema")


def _default_columns(*, any_split: bool, any_absolute: bool) -> tuple[str, ...]:
    """SATIn's ten, then ``split`` when any record has one, then ``image_file`` when any image
    is named otherwise than relatively."""
    return (SATIN_COLUMNS + (("split",) if any_split else ())
            + ((IMAGE_FILE,) if any_absolute else ()))


def write_table(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
                ctx: WriteContext, *, delimiter: str, file_name: str) -> None:
    """Rows are spooled as JSON lines first, since the metadata columns and whether a split
    column is needed are known only after the last record; then the file is written."""
    chosen = parse_columns(options.get("columns", ""))
    attr_names = _attribute_names(source.schema) if options.get("attributes", False) else ()
    maker = _RowMaker(ctx=ctx, normalized=bool(options.get("normalized", False)),
                      polygon=bool(options.get("polygon", False)),
                      attributes=frozenset(attr_names) if options.get("attributes") else None,
                      metadata=bool(options.get("metadata", False)))
    empty_rows = bool(options.get("empty_rows", True))
    namer = FileNamer(keep_folders=True, report=ctx.report)
    done = 0
    any_absolute = 0  # images named otherwise than relatively
    with tempfile.TemporaryFile(dir=out_dir) as spool:
        for image_id, record in enumerate(source.records(), start=1):
            done = image_id
            image_name = namer.name(record.item, IMAGES_DIR)
            rows = maker.rows(record, image_id, image_name)
            if "label" not in rows[0] and not empty_rows:
                ctx.report.count("not written: image without objects (empty_rows is off)")
                continue
            target = out_dir / IMAGES_DIR / image_name
            ctx.place_media(record.item, target)
            relative = f"{IMAGES_DIR}/{image_name}"
            image_file = ctx.media_reference(record.item, target, relative)
            any_absolute += image_file != relative
            spool.writelines(orjson.dumps(row | {IMAGE_FILE: image_file}) + b"\n"
                             for row in rows)
            if image_id % _PROGRESS_EVERY == 0:
                ctx.progress(image_id)
        ctx.progress(done)
        if chosen is None:
            chosen = _default_columns(any_split=maker.splits > 0, any_absolute=any_absolute > 0)
        else:
            if "split" not in chosen and maker.splits:
                ctx.report.count("not written: split (not among the chosen columns)",
                                 maker.splits)
            if IMAGE_FILE not in chosen and any_absolute:
                ctx.report.count("not written: absolute image paths (image_file is not among "
                                 "the chosen columns)", any_absolute)
        header = (*chosen, *(ATTR + n for n in attr_names),
                  *(META + k for k in sorted(maker.meta_keys)),
                  *((POINTS,) if maker.polygon else ()))
        spool.seek(0)
        encoding = options.get("encoding", "utf-8")
        with (out_dir / file_name).open("w", encoding=encoding, newline="") as out:
            writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
            writer.writerow(header)
            for line in spool:
                cells = orjson.loads(line)
                writer.writerow([cells.get(column, "") for column in header])


def merge_tables(shards: Sequence[Path], out: Path, *, delimiter: str,
                 file_name: str) -> list[str]:
    """`FormatSpec.merge_shards`: the header of every shard's columns (the default ones with
    ``split`` or ``image_file`` when a shard has them, the metadata keys of all), then each
    shard's rows in that header with ``image_id`` shifted by the records of the shards before
    (a shard's rows are copied as they are when its header and ids stay)."""
    parts = [shard / file_name for shard in shards]
    encoding = "utf-8-sig" if has_bom(parts[0]) else "utf-8"
    headers = [csv_header(part, delimiter=delimiter, encoding=encoding) for part in parts]
    header = _merged_header([tuple(cells) for cells, _ in headers])
    image_id = header.index("image_id") if "image_id" in header else None
    with (out / file_name).open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(header)
        offset = 0
        for shard, part, (cells, head) in zip(shards, parts, headers, strict=True):
            if tuple(cells) == header and (image_id is None or offset == 0):
                f.flush()
                with part.open("rb") as src:
                    src.seek(len(head))
                    shutil.copyfileobj(src, f.buffer, 1 << 20)
            else:
                with part.open(encoding=encoding, newline="") as src:
                    rows = csv.reader(src, delimiter=delimiter, strict=True)
                    next(rows)
                    for row in rows:
                        cell = dict(zip(cells, row, strict=True))
                        if image_id is not None:
                            cell["image_id"] = str(int(cell["image_id"]) + offset)
                        writer.writerow([cell.get(column, "") for column in header])
            offset += shard_items(shard)
    return [file_name]


def _merged_header(headers: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The header one writer of every shard's rows writes: the shards' chosen columns (the
    same in each, else the default ones, with those any shard has), the attributes, every
    metadata key met, sorted, then ``points``."""
    bases = {tuple(c for c in h if not c.startswith((ATTR, META)) and c != POINTS)
             for h in headers}
    base = next(iter(bases)) if len(bases) == 1 else _default_columns(
        any_split=any("split" in b for b in bases), any_absolute=any(IMAGE_FILE in b
                                                                     for b in bases))
    first = headers[0]
    metadata = sorted({c for h in headers for c in h if c.startswith(META)})
    return (*base, *(c for c in first if c.startswith(ATTR)), *metadata,
            *((POINTS,) if POINTS in first else ()))


# --- reading ------------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class _PendingObject:
    """A row's object before the image size is known (normalised files need it)."""

    line: int
    label: str
    box: tuple[float, float, float, float] | None
    """x_min, y_min, x_max, y_max, as written."""
    polygon: Polygon | None
    score: float | None
    attributes: dict[str, Any]


@dataclass(slots=True, kw_only=True)
class _PendingImage:
    line: int
    name: str
    dataset: str
    path: str
    split: str | None
    size: tuple[int, int] | None
    metadata: dict[str, Any]
    file: str | None = None
    """The ``image_file`` cell: where the image is, relative to the table or absolute."""
    objects: list[_PendingObject] = field(default_factory=list)


class _Rows:
    """The data rows of a file with their line numbers (where each record starts) and cells
    by column name; every error names the file and the line."""

    def __init__(self, file: Path, lines: Iterator[str], delimiter: str) -> None:
        self.file = file
        self._reader = csv.reader(lines, delimiter=delimiter, strict=True)
        self.line = 1
        header = self._next()
        if header is None:
            raise InputError(f"{file}: the file is empty; expected a header row with the "
                             f"columns {', '.join(SATIN_COLUMNS)}")
        self.header = self._check_header(header)

    def error(self, message: str, column: str | None = None) -> InputError:
        where = f"{self.file} line {self.line}" + (f", column {column!r}" if column else "")
        return InputError(f"{where}: {message}")

    def _next(self) -> list[str] | None:
        self.line = self._reader.line_num + 1
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except csv.Error as error:
            raise self.error(f"malformed CSV ({error})") from None

    def _check_header(self, header: list[str]) -> tuple[str, ...]:
        for index, name in enumerate(header, start=1):
            if name not in COLUMNS and name != POINTS and not (
                    name.startswith((ATTR, META)) and name not in (ATTR, META)):
                raise self.error(f"unknown column {name!r} (column {index}); valid columns: "
                                 f"{', '.join(COLUMNS)}, {POINTS}, {ATTR}<name>, {META}<key>")
            if header.count(name) > 1:
                raise self.error(f"column {name!r} appears more than once")
        present = set(header)
        if "label" not in present or not present & {"image_name", "image_path"}:
            raise self.error("the header needs the columns label and image_name (or "
                             "image_path)")
        coordinates = present & set(_COORDINATES)
        complete = {"x_min", "y_min"} <= coordinates and (
            {"x_max", "y_max"} <= coordinates or {"width", "height"} <= coordinates)
        if coordinates and not complete:
            raise self.error("incomplete box columns: expected x_min, y_min and either x_max, "
                             "y_max or width, height")
        return tuple(header)

    def __iter__(self) -> Iterator[dict[str, str]]:
        while (row := self._next()) is not None:
            if not row:
                continue
            if len(row) != len(self.header):
                raise self.error(f"{len(row)} fields, but the header has {len(self.header)}")
            yield dict(zip(self.header, row, strict=True))

    def number(self, cells: Mapping[str, str], column: str) -> float:
        text = cells[column]
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise self.error(f"expected a number, got {text!r}", column)
        return value


def _box(rows: _Rows, cells: Mapping[str, str]) -> tuple[float, float, float, float] | None:
    given = [c for c in _COORDINATES if cells.get(c)]
    if not given:
        return None
    x0, y0 = rows.number(cells, "x_min"), rows.number(cells, "y_min")
    if cells.get("x_max") or cells.get("y_max"):
        x1, y1 = rows.number(cells, "x_max"), rows.number(cells, "y_max")
    else:
        x1, y1 = x0 + rows.number(cells, "width"), y0 + rows.number(cells, "height")
    if x1 < x0 or y1 < y0:
        raise rows.error(f"the box has a negative size ({x0}, {y0}) to ({x1}, {y1})")
    return x0, y0, x1, y1


def _object(rows: _Rows, cells: Mapping[str, str]) -> _PendingObject | None:
    label = cells["label"]
    box = _box(rows, cells)
    polygon = None
    if cells.get(POINTS):
        try:
            polygon = polygon_from_points(cells[POINTS])
        except ValueError as error:
            raise rows.error(str(error), POINTS) from None
    if not label:
        if box is not None or polygon is not None:
            raise rows.error("a row with coordinates needs a label", "label")
        return None
    score = rows.number(cells, "score") if cells.get("score") else None
    attributes = {name[len(ATTR):]: decode_value(value) for name, value in cells.items()
                  if name.startswith(ATTR) and value}
    return _PendingObject(line=rows.line, label=label, box=box, polygon=polygon, score=score,
                          attributes=attributes)


def _image_size(rows: _Rows, cells: Mapping[str, str]) -> tuple[int, int] | None:
    if not cells.get("image_width") and not cells.get("image_height"):
        return None
    w, h = rows.number(cells, "image_width"), rows.number(cells, "image_height")
    if w <= 0 or h <= 0 or not w.is_integer() or not h.is_integer():
        raise rows.error(f"expected a positive whole image size, got {w} x {h}", "image_width")
    return int(w), int(h)


def _read_rows(rows: _Rows) -> list[_PendingImage]:
    images: dict[str, _PendingImage] = {}
    for cells in rows:
        name = cells.get("image_name") or cells.get("image_path", "").rsplit("/", 1)[-1]
        path = cells.get("image_path") or name
        dataset = cells.get("dataset") or DEFAULT_DATASET
        if not name:
            raise rows.error("expected the image's name", "image_name")
        key = cells.get("image_id") or f"{dataset}/{path}"
        image = images.get(key)
        if image is None:
            image = images[key] = _PendingImage(
                line=rows.line, name=name, dataset=dataset, path=path,
                split=cells.get("split") or None, size=_image_size(rows, cells),
                file=cells.get(IMAGE_FILE) or None,
                metadata={n[len(META):]: decode_value(v) for n, v in cells.items()
                          if n.startswith(META) and v})
        elif (image.name, image.dataset, image.path) != (name, dataset, path):
            raise rows.error(f"image_id {key} is {image.dataset}/{image.path} on line "
                             f"{image.line} but {dataset}/{path} here", "image_id")
        pending = _object(rows, cells)
        if pending is not None:
            image.objects.append(pending)
    return list(images.values())


def _find_media(table_dir: Path, images_dir: Path | None, image: _PendingImage) -> Path | None:
    """The ``image_file`` when it is a local file (absolute, or relative to the table), else
    the image by path, name or file name in ``images_dir``."""
    candidates: list[Path] = []
    if image.file is not None and not is_url(image.file):
        candidates.append(local_reference(image.file) or table_dir / image.file)
    if images_dir is not None:
        candidates += (images_dir / image.dataset / image.path, images_dir / image.path,
                       images_dir / image.name, images_dir / image.name.rsplit("/", 1)[-1])
    return next((c for c in candidates if readable_file(c)), None)


def _media_uri(media: Path | None, image: _PendingImage) -> str | None:
    """The found file, else an ``image_file`` URL as it is (remote media is fetched later)."""
    if media is not None:
        return str(media.absolute())
    return image.file if image.file is not None and is_url(image.file) else None


def _geometry(pending: _PendingObject, scale: tuple[float, float]) -> Geometry:
    sx, sy = scale
    if pending.polygon is not None:
        return Polygon(parts=tuple(
            PolygonPart(outer=_scaled(part.outer, sx, sy),
                        holes=tuple(_scaled(h, sx, sy) for h in part.holes))
            for part in pending.polygon.parts))
    if pending.box is None:
        return NoGeometry()
    x0, y0, x1, y1 = pending.box
    return Box.from_xyxy(x0 * sx, y0 * sy, x1 * sx, y1 * sy)


def _scaled(ring: Sequence[float], sx: float, sy: float) -> tuple[float, ...]:
    return tuple(v * (sx if i % 2 == 0 else sy) for i, v in enumerate(ring))


def _attribute_type(value: Any) -> AttributeType:
    if isinstance(value, bool):
        return AttributeType.BOOL
    if isinstance(value, int):
        return AttributeType.INT
    if isinstance(value, float):
        return AttributeType.FLOAT
    return AttributeType.STRING


def _schema(images: list[_PendingImage]) -> LabelSchema:
    """Classes in order of first appearance; a class's geometry is that of its first object,
    its attributes those its objects carry (typed from the first value)."""
    kinds: dict[str, GeometryKind] = {}
    attributes: dict[str, dict[str, AttributeType]] = {}
    for image in images:
        for pending in image.objects:
            kind = (GeometryKind.POLYGON if pending.polygon is not None
                    else GeometryKind.BOX if pending.box is not None else GeometryKind.NONE)
            kinds.setdefault(pending.label, kind)
            defs = attributes.setdefault(pending.label, {})
            for name, value in pending.attributes.items():
                defs.setdefault(name, _attribute_type(value))
    return LabelSchema(classes=tuple(
        LabelClass(id=i, name=name, geometry=kind,
                   attributes=tuple(AttributeDef(name=a, type=t)
                                    for a, t in attributes[name].items()))
        for i, (name, kind) in enumerate(kinds.items(), start=1)))


def read_table(path: Path, options: Mapping[str, Any], *, delimiter: str,
               file_name: str) -> ExportSource:
    path = Path(path)
    file = path / file_name if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"{file}: no such file; expected a {file_name} or the export folder "
                         "holding it")
    images_dir = Path(options["images"]) if options.get("images") else None
    if images_dir is None and (file.parent / IMAGES_DIR).is_dir():
        images_dir = file.parent / IMAGES_DIR
    normalized = bool(options.get("normalized", False))
    try:
        with file.open(encoding="utf-8-sig", newline="") as lines:
            rows = _Rows(file, lines, delimiter)
            pending_images = _read_rows(rows)
    except UnicodeDecodeError as error:
        raise InputError(f"{file}: not UTF-8 text ({error})") from None
    records = []
    for image in pending_images:
        media = _find_media(file.parent, images_dir, image)
        size = image.size
        if size is None and media is not None:
            size = image_size(media)
        if size is None:
            raise InputError(
                f"{file} line {image.line}: no size for image {image.path!r}; add the "
                "image_width and image_height columns or give the images folder"
                + (f" ({images_dir} has no such file)" if images_dir else ""))
        scale = (float(size[0]), float(size[1])) if normalized else (1.0, 1.0)
        annotations = tuple(
            Annotation(label=p.label, geometry=_geometry(p, scale), attributes=p.attributes,
                       score=p.score, source=Source.HUMAN if p.score is None else Source.MODEL)
            for p in image.objects)
        item = Item(dataset=image.dataset, path=image.path, width=size[0], height=size[1],
                    media_uri=_media_uri(media, image),
                    metadata=image.metadata)
        records.append(ItemRecord(item=item, annotations=annotations, split=image.split))
    datasets = tuple(Dataset(name=n) for n in dict.fromkeys(r.item.dataset for r in records))
    return MemorySource(project=ProjectInfo(name=file.stem), schema=_schema(pending_images),
                        items=tuple(records), datasets=datasets)


# --- the two formats ----------------------------------------------------------------------------

_OPTIONS = (
    OptionSpec(name="normalized", type=bool, default=False,
               help="coordinates (points included) as fractions of the image's width/height"),
    OptionSpec(name="columns", type=str, default="",
               help="comma-separated columns in order, from: " + ", ".join(COLUMNS)
                    + " (default: SATIn's ten, then split when records have splits)"),
    OptionSpec(name="attributes", type=bool, default=False,
               help="an attr.<name> column per attribute the schema defines"),
    OptionSpec(name="metadata", type=bool, default=False,
               help="a meta.<key> column per item metadata key"),
    OptionSpec(name="polygon", type=bool, default=False,
               help="a points column with each polygon as JSON parts/rings"),
    OptionSpec(name="empty_rows", type=bool, default=True,
               help="a row with empty object fields for each image without objects"),
    OptionSpec(name="encoding", type=str, default="utf-8", choices=("utf-8", "utf-8-sig"),
               help="utf-8-sig writes a byte order mark, for Excel"),
)


def _spec(name: str, title: str, delimiter: str) -> FormatSpec:
    file_name = f"annotations.{name}"
    return FormatSpec(
        name=name,
        title=title,
        extension=name,
        geometries=frozenset({GeometryKind.BOX, GeometryKind.POLYGON, GeometryKind.NONE}),
        conventions=Conventions(
            coordinates="absolute pixels (fractions of the image size with normalized)",
            index_base="x_max = x_min + width (exclusive corner)",
            ids="image_id 1-based position in the export; object_id 1-based position on "
                "its image",
            notes="width/height are the box's; other geometries as their envelope; "
                  "polygons as JSON points with polygon=true",
        ),
        attributes=True,
        scores=True,
        splits=True,
        media=True,
        options=_OPTIONS,
        writer=partial(write_table, delimiter=delimiter, file_name=file_name),
        reader=partial(read_table, delimiter=delimiter, file_name=file_name),
        merge_shards=partial(merge_tables, delimiter=delimiter, file_name=file_name),
        merge_reads=(file_name,),
    )


CSV_SPEC = _spec("csv", "CSV (one row per object, SATIn columns)", ",")
TSV_SPEC = _spec("tsv", "TSV (one row per object, SATIn columns)", "\t")
SPEC = CSV_SPEC
"""The registry test looks for ``SPEC``; `TSV_SPEC` is registered beside it."""
