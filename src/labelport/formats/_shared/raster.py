"""Label maps for the mask formats (masks_*, voc_segmentation, coco_panoptic, and any other
format that writes PNG masks): one rasteriser, one painting rule, one PNG encoder.

Rasterising: every area is drawn by pycocotools' rasteriser, the rule `labelport.domain.masks`
uses for COCO RLE, so a mask PNG and a COCO RLE of the same object hold the same pixels. A box
is rasterised as pycocotools rasterises a COCO ``bbox`` (its four corners), a rotated box as the
polygon of its four corners, a polygon part as its outer ring AND NOT its holes, the parts
unioned; a mask is its RLE decoded (cut or padded to the image at the top-left when its size
differs). pycocotools draws each ring on the whole image (its cost follows the ring's length),
and the RLEs of one image are decoded together into runs of column-major positions
(`object_pixels`); painting expands an image's runs into the positions they cover at once
and assigns each object's value to its positions, so the cost follows the objects' pixels, not
the image. The tests check every path against `labelport.domain.masks` on the whole image.
Polylines, keypoints and image-level classes have no area and are never rasterised
(`raster_objects` counts them as not written).

Painting: objects are painted in z-order, lowest first, so the higher ``z_order`` is on top;
between equal ``z_order`` the later annotation of the record is on top. A pixel holds the value
of the object painted last on it; 0 is background.

PNG: ``uint8`` maps are mode ``L`` (or ``P`` when a palette is given: index = value, the palette
shows the colour), ``uint16`` maps are 16-bit grey (Pillow's ``I;16``), and ``rgb_id`` maps are
COCO panoptic's RGB, ``id = R + 256 G + 256^2 B``. They are encoded by `_shared.png`
(one filter for all rows and zlib's RLE strategy, several times faster than Pillow's encoder on
label maps); Pillow reads each back with the same mode and values, and reads the formats' PNGs.
`render_all` draws in the calling thread, encodes on a thread pool, and returns results in
input order.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt
from pycocotools import mask as coco_mask

from labelport.domain.geometry import (
    Box,
    GeometryKind,
    Keypoints,
    Mask,
    Polygon,
    Ring,
    RotatedBox,
)
from labelport.domain.geometry_ops import rotated_box_corners
from labelport.domain.model import Annotation, ItemRecord
from labelport.domain.schema import LabelSchema
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.geometry import object_on_image
from labelport.formats._shared.input_files import open_image, read_lines
from labelport.formats._shared.png import encode_png
from labelport.formats.base import WriteContext

RGB = tuple[int, int, int]
Area = Box | RotatedBox | Polygon | Mask
"""The geometries that cover pixels."""

AREA_KINDS = frozenset({GeometryKind.BOX, GeometryKind.ROTATED_BOX, GeometryKind.POLYGON,
                        GeometryKind.MASK})


@dataclass(frozen=True, slots=True)
class Raster:
    """An object's pixels: ``bitmap`` (bool) placed with its top-left pixel at ``top, left``."""

    top: int
    left: int
    bitmap: npt.NDArray[np.bool_]


# --- rasterising -----------------------------------------------------------------------------


def _box_ring(box: Box) -> Ring:
    """The polygon pycocotools draws for a COCO ``bbox`` (``rleFrBbox``)."""
    x0, y0, x1, y1 = box.xyxy
    return (x0, y0, x0, y1, x1, y1, x1, y0)


def _rings(geometry: Box | RotatedBox | Polygon) -> list[tuple[Ring, tuple[Ring, ...]]]:
    """``(outer, holes)`` per part; rings under three points cover nothing and are left out
    (pycocotools would read four numbers as a box)."""
    if isinstance(geometry, Box):
        return [(_box_ring(geometry), ())]
    if isinstance(geometry, RotatedBox):
        return [(rotated_box_corners(geometry), ())]
    return [(p.outer, tuple(h for h in p.holes if len(h) >= 6))
            for p in geometry.parts if len(p.outer) >= 6]


def _window(rings: Sequence[Ring], *, height: int, width: int) -> tuple[int, int, int, int]:
    """``left, top, right, bottom`` (exclusive) of the pixels the rasteriser may set."""
    xs = [v for ring in rings for v in ring[0::2]]
    ys = [v for ring in rings for v in ring[1::2]]
    left = max(0, math.floor(min(xs)))
    top = max(0, math.floor(min(ys)))
    right = min(width, math.ceil(max(xs)) + 1)
    bottom = min(height, math.ceil(max(ys)) + 1)
    return left, top, right, bottom


def _decode_window(compressed: bytes, *, height: int, left: int, top: int, right: int,
                   bottom: int) -> npt.NDArray[np.bool_]:
    """The ``[top, bottom) x [left, right)`` window of a column-major RLE of an image
    ``height`` pixels high, without decoding the rest of the image."""
    starts, ends, _ = _rle_runs([compressed])
    lo, hi = left * height, right * height
    columns = np.zeros(hi - lo, dtype=bool)
    for start, end in zip((np.clip(starts, lo, hi) - lo).tolist(),
                          (np.clip(ends, lo, hi) - lo).tolist(), strict=True):
        columns[start:end] = True
    return columns.reshape(right - left, height).T[top:bottom]


def _polygon_raster(geometry: Box | RotatedBox | Polygon, *, height: int,
                    width: int) -> Raster | None:
    """pycocotools draws each ring on the whole image (its cost follows the ring's length, not
    the image's area), and only the window around the rings is decoded. Drawing on a smaller,
    shifted image would not do: pycocotools' rounding of ``y + slope * t`` depends on how large
    ``y`` is, so a shifted drawing differs at exact half-pixel ties."""
    parts = _rings(geometry)
    if not parts:
        return None
    rings = [ring for outer, holes in parts for ring in (outer, *holes)]
    left, top, right, bottom = _window(rings, height=height, width=width)
    if bottom <= top or right <= left:
        return None
    rles = coco_mask.frPyObjects([list(ring) for ring in rings], height, width)
    decoded = [_decode_window(rle["counts"], height=height, left=left, top=top, right=right,
                              bottom=bottom) for rle in rles]
    bitmap = np.zeros((bottom - top, right - left), dtype=bool)
    at = 0
    for _, holes in parts:
        part = decoded[at]
        for k in range(len(holes)):
            part = part & ~decoded[at + 1 + k]
        bitmap |= part
        at += 1 + len(holes)
    return Raster(top=top, left=left, bitmap=bitmap)


def _mask_raster(mask: Mask, *, height: int, width: int) -> Raster | None:
    counts = mask.counts.encode("ascii")
    rle = {"size": [mask.height, mask.width], "counts": counts}
    x, y, w, h = (int(v) for v in coco_mask.toBbox(rle))
    left, top = x, y
    right, bottom = min(width, mask.width, x + w), min(height, mask.height, y + h)
    if w == 0 or right <= left or bottom <= top:
        return None
    bitmap = _decode_window(counts, height=mask.height, left=left, top=top,
                            right=right, bottom=bottom)
    return Raster(top=top, left=left, bitmap=bitmap)


def rasterise(geometry: Area, *, height: int, width: int) -> Raster | None:
    """The pixels ``geometry`` covers on a ``height x width`` image; None when it covers none."""
    if isinstance(geometry, Mask):
        return _mask_raster(geometry, height=height, width=width)
    return _polygon_raster(geometry, height=height, width=width)


def full_bitmap(raster: Raster | None, *, height: int, width: int) -> npt.NDArray[np.bool_]:
    """The raster as a whole-image bool array (tests, readers' comparisons)."""
    out = np.zeros((height, width), dtype=bool)
    if raster is not None:
        h, w = raster.bitmap.shape
        out[raster.top:raster.top + h, raster.left:raster.left + w] = raster.bitmap
    return out


# --- which objects are painted, in which order -----------------------------------------------


@dataclass(frozen=True, slots=True)
class RasterObject:
    """An annotation kept for a label map: its geometry after the out-of-image policy, its class
    index in the schema (0-based) and its instance number (1-based, in annotation order)."""

    annotation: Annotation
    geometry: Area
    class_index: int
    instance: int


def raster_objects(record: ItemRecord, schema: LabelSchema, *, ctx: WriteContext,
                   carries_attributes: bool = False) -> list[RasterObject]:
    """The record's objects that have an area, numbered in annotation order and returned in
    paint order (z-order, then annotation order: the last one is on top). What cannot be
    painted is counted: image-level classes, polylines, keypoints (a keypoints object with a
    shape is painted as its shape), classes missing from the schema, geometry dropped by the
    out-of-image policy; scores, attributes (unless the format carries them elsewhere) and
    image classifications are counted as not written."""
    image_wh = (record.item.width, record.item.height)
    kept: list[RasterObject] = []
    for annotation in record.annotations:
        geometry = object_on_image(annotation.geometry, image_wh=image_wh, ctx=ctx)
        if geometry is None:
            continue
        if isinstance(geometry, Keypoints) and geometry.shape is not None:
            geometry = geometry.shape  # a person with keypoints and an outline: paint the outline
        if geometry.kind not in AREA_KINDS:
            ctx.report.count(f"not written: {geometry.kind.value} (no area to paint)")
            continue
        if schema.get(annotation.label) is None:
            ctx.report.count("not written: annotation whose class is not in the schema")
            continue
        if annotation.score is not None:
            ctx.report.count("not written: score")
        if annotation.attributes and not carries_attributes:
            ctx.report.count("not written: attributes")
        kept.append(RasterObject(annotation=annotation, geometry=geometry,  # type: ignore[arg-type]
                                 class_index=schema.index_of(annotation.label),
                                 instance=len(kept) + 1))
    for task in record.tasks:
        if task.classifications:
            ctx.report.count("not written: image classification", len(task.classifications))
    return sorted(kept, key=lambda o: o.annotation.z_order)


def check_class_count(schema: LabelSchema, *, limit: int, format_name: str) -> None:
    """Refuse a schema whose classes do not fit in a label map's values ``1..limit``."""
    if len(schema.classes) > limit:
        raise UnsupportedError(
            f"{format_name} writes each class as a pixel value 1..{limit} and the schema has "
            f"{len(schema.classes)} classes; drop or merge classes (--drop-class, --map) or use "
            "a format with more values (masks_instance, coco_panoptic)")


# --- colours ---------------------------------------------------------------------------------


def voc_color(index: int) -> RGB:
    """Colour ``index`` of the Pascal VOC palette (the devkit's ``labelcolormap``: the index's
    bits spread over the high bits of R, G and B); index 0 is black, 255 is VOC's void colour
    (224, 224, 192)."""
    r = g = b = 0
    c = index
    for shift in range(7, -1, -1):
        r |= (c & 1) << shift
        g |= ((c >> 1) & 1) << shift
        b |= ((c >> 2) & 1) << shift
        c >>= 3
    return r, g, b


def parse_color(color: str | None) -> RGB | None:
    """``#e6194b`` as ``(230, 25, 75)``; None for no colour or another spelling."""
    if not color or len(color) != 7 or color[0] != "#":
        return None
    try:
        return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
    except ValueError:
        return None


def class_colors(schema: LabelSchema) -> list[RGB]:
    """Each class's colour in schema order: its own, or, when it has none, the VOC palette's
    colour of its pixel value (class index + 1), so a colour never depends on the export."""
    return [parse_color(c.color) or voc_color(i) for i, c in enumerate(schema.classes, start=1)]


def palette_bytes(colors: Sequence[RGB]) -> bytes:
    """A 256-entry PNG palette: entry ``i`` is ``colors[i]``, black after the given ones."""
    flat = bytearray(768)
    for i, (r, g, b) in enumerate(colors[:256]):
        flat[3 * i:3 * i + 3] = bytes((r, g, b))
    return bytes(flat)


# --- painting and encoding -------------------------------------------------------------------

Encoding = Literal["uint8", "uint16", "rgb_id"]


@dataclass(frozen=True, slots=True)
class PngOut:
    """One PNG of an image: ``values[k]`` is painted for the job's ``k``-th geometry (None:
    not painted in this PNG)."""

    path: Path
    values: tuple[int | None, ...]
    encoding: Encoding = "uint8"
    palette: bytes | None = None


@dataclass(frozen=True, slots=True)
class RasterJob:
    """What one image needs: its size, its geometries in paint order, the PNGs to write."""

    height: int
    width: int
    geometries: tuple[Area, ...]
    outputs: tuple[PngOut, ...]


@dataclass(frozen=True, slots=True)
class Visible:
    """What is left of a value once everything is painted: when measured, its pixel count and
    tight box ``x, y, w, h`` in whole pixels (else only that some pixel holds it)."""

    pixels: int | None = None
    box_xywh: tuple[int, int, int, int] | None = None


_DTYPES = {"uint8": np.uint8, "uint16": np.uint16, "rgb_id": np.uint32}

Pixels = npt.NDArray[np.int64]
"""Positions in the image flattened column by column (``x * height + y``): the order of COCO's
RLE, so runs need no transpose."""


@dataclass(frozen=True, slots=True)
class Runs:
    """An object's pixels as runs ``[starts[i], ends[i])`` of column-major positions, as COCO's
    RLE holds them: the cost of painting follows the object's pixels, not the image. Runs of
    different parts of one object may overlap."""

    starts: Pixels
    ends: Pixels


def _segmented_cumsum(values: Pixels, first: Pixels, sizes: Pixels) -> Pixels:
    """Cumulative sums restarting at each segment (``first[i]``: its first index)."""
    total = np.cumsum(values)
    return total - np.repeat((total - values)[first], sizes)


def _rle_runs(strings: Sequence[bytes]) -> tuple[Pixels, Pixels, Pixels]:
    """``(starts, ends, string)`` of the runs of set pixels of the compressed RLEs, all decoded
    at once (runs in string order; ``string``: the index of the RLE each run belongs to)
    (``rleFrString`` of pycocotools' ``maskApi.c``, vectorised over every string of an image:
    6-bit groups of 5 data bits, 0x20 continues a number, 0x10 of its last group is the sign,
    and from the fourth count on each is a difference to the count two before)."""
    chars = np.frombuffer(b"".join(strings), dtype=np.uint8).astype(np.int64) - 48
    if chars.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    ends = np.flatnonzero((chars & 0x20) == 0)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    shift = 5 * (np.arange(chars.size) - np.repeat(starts, lengths))
    numbers = np.add.reduceat((chars & 0x1F) << shift, starts)
    negative = (chars[ends] & 0x10) != 0
    numbers[negative] -= np.left_shift(1, 5 * lengths[negative])
    string_of_char = np.repeat(np.arange(len(strings)), [len(s) for s in strings])
    string = string_of_char[ends]
    first = np.searchsorted(string, np.arange(len(strings)))
    sizes = np.diff(np.concatenate((first, [numbers.size])))
    m = np.arange(numbers.size) - np.repeat(first, sizes)
    odd, even = m % 2 == 1, (m % 2 == 0) & (m >= 2)
    counts = np.where(odd, _segmented_cumsum(np.where(odd, numbers, 0), first, sizes),
                      np.where(even, _segmented_cumsum(np.where(even, numbers, 0), first, sizes),
                               numbers))
    position = _segmented_cumsum(counts, first, sizes)
    opens = np.flatnonzero((m % 2 == 0) & (m + 1 < np.repeat(sizes, sizes)))
    return position[opens], position[opens + 1], string[opens]


def _raster_runs(raster: Raster | None, *, height: int) -> Runs | None:
    """The runs of a window bitmap: where each of its columns switches on and off."""
    if raster is None:
        return None
    columns = np.pad(raster.bitmap.T, ((0, 0), (1, 1))).astype(np.int8)
    cols_on, rows_on = np.nonzero(np.diff(columns, axis=1) == 1)
    cols_off, rows_off = np.nonzero(np.diff(columns, axis=1) == -1)
    base_on = (cols_on + raster.left) * height + raster.top
    base_off = (cols_off + raster.left) * height + raster.top
    return Runs(starts=base_on + rows_on, ends=base_off + rows_off)


def object_pixels(geometries: Sequence[Area], *, height: int,
                  width: int) -> list[Runs | None]:
    """Each geometry's pixels (`Runs`), as `rasterise` draws them, for one image. Rings
    without holes (boxes, rotated boxes, polygon parts) and masks of the image's size are drawn
    by pycocotools on the whole image and their RLEs decoded together, so the cost follows the
    objects' outlines, not the image; parts with holes, and masks of another size, go through
    `rasterise`."""
    strings: list[bytes] = []
    owners: list[int] = []
    out: list[Runs | None] = [None] * len(geometries)
    rings: list[list[float]] = []
    ring_owners: list[int] = []
    for k, geometry in enumerate(geometries):
        if isinstance(geometry, Mask):
            if (geometry.height, geometry.width) == (height, width):
                strings.append(geometry.counts.encode("ascii"))
                owners.append(k)
            else:
                out[k] = _raster_runs(rasterise(geometry, height=height, width=width),
                                      height=height)
            continue
        parts = _rings(geometry)
        if any(holes for _, holes in parts):
            out[k] = _raster_runs(rasterise(geometry, height=height, width=width),
                                  height=height)
            continue
        for outer, _ in parts:
            rings.append(list(outer))
            ring_owners.append(k)
    if rings:
        strings += [rle["counts"] for rle in coco_mask.frPyObjects(rings, height, width)]
        owners += ring_owners
    if strings:
        starts, ends, string = _rle_runs(strings)
        bounds = np.searchsorted(string, np.arange(len(strings) + 1))
        first = 0
        while first < len(owners):  # the strings of one object are next to each other
            last = first
            while last + 1 < len(owners) and owners[last + 1] == owners[first]:
                last += 1
            a, b = bounds[first], bounds[last + 1]
            if b > a:
                out[owners[first]] = Runs(starts=starts[a:b], ends=ends[a:b])
            first = last + 1
    return out


Positions = npt.NDArray[np.signedinteger]
"""Column-major positions (see `Pixels`), ``int32`` when the image allows."""


def _positions(objects: Sequence[Runs | None], *, size: int) -> list[Positions | None]:
    """Each object's runs expanded to the positions they cover, for every object of an image
    in a few numpy calls: filling one slice per run (some 1,700 runs for 20 objects) cost
    three times as much in Python overhead."""
    present = [runs for runs in objects if runs is not None]
    if not present:
        return [None] * len(objects)
    index = np.int32 if size <= np.iinfo(np.int32).max else np.int64
    starts: Positions = np.concatenate([runs.starts for runs in present]).astype(index)
    ends: Positions = np.concatenate([runs.ends for runs in present]).astype(index)
    lengths = ends - starts
    covered = np.concatenate(([0], np.cumsum(lengths)))  # pixels before each run
    positions = (np.arange(int(covered[-1]), dtype=index)
                 + np.repeat(starts - covered[:-1].astype(index), lengths))
    bounds = covered[np.cumsum([0] + [runs.starts.size for runs in present])].tolist()
    each = iter(zip(bounds[:-1], bounds[1:], strict=True))
    return [None if runs is None else positions[slice(*next(each))] for runs in objects]


MAX_POSITIONS = 1 << 22
"""Above this many covered pixels in one image, objects are painted and checked run by run:
expanding runs into positions takes about 12 bytes per covered pixel at its peak (a 3000 x 3000
image under a few large masks would need half a gigabyte), while long runs are cheap as
slices."""


def _covered(runs: Runs) -> int:
    return int((runs.ends - runs.starts).sum())


def _fill_runs(objects: Sequence[Runs | None], values: Sequence[int | None], *, size: int,
               encoding: Encoding) -> npt.NDArray[np.integer]:
    """`_fill` one slice per run, for images whose objects cover many pixels."""
    flat = np.zeros(size, dtype=_DTYPES[encoding])
    for runs, value in zip(objects, values, strict=True):
        if runs is not None and value is not None:
            for start, end in zip(runs.starts.tolist(), runs.ends.tolist(), strict=True):
                flat[start:end] = value
    return flat


def _shows_anywhere(columns: npt.NDArray[np.integer], runs: Runs, value: int) -> bool:
    """Whether any pixel of ``runs`` holds ``value``."""
    if _covered(runs) > MAX_POSITIONS:
        return any(bool(np.any(columns[start:end] == value))
                   for start, end in zip(runs.starts.tolist(), runs.ends.tolist(), strict=True))
    (at,) = _positions([runs], size=columns.size)
    return at is not None and bool(np.any(columns[at] == value))


def _fill(positions: Sequence[Positions | None], values: Sequence[int | None], *, size: int,
          encoding: Encoding) -> npt.NDArray[np.integer]:
    """A flat label map with each object's value at its positions, in the given order."""
    flat = np.zeros(size, dtype=_DTYPES[encoding])
    for at, value in zip(positions, values, strict=True):
        if at is not None and value is not None:
            flat[at] = value
    return flat


def _paint_columns(objects: Sequence[Runs | None], values: Sequence[int | None], *,
                   height: int, width: int, encoding: Encoding) -> npt.NDArray[np.integer]:
    """The label map flattened column by column (the runs' order)."""
    size = height * width
    if sum(_covered(runs) for runs in objects if runs is not None) > MAX_POSITIONS:
        return _fill_runs(objects, values, size=size, encoding=encoding)
    return _fill(_positions(objects, size=size), values, size=size, encoding=encoding)


def paint(objects: Sequence[Runs | None], values: Sequence[int | None], *, height: int,
          width: int, encoding: Encoding = "uint8") -> npt.NDArray[np.integer]:
    """A ``height x width`` label map with each object's value painted in the given order (a
    later object covers an earlier one)."""
    flat = _paint_columns(objects, values, height=height, width=width, encoding=encoding)
    return np.ascontiguousarray(flat.reshape(width, height).T)


def _shown(columns: npt.NDArray[np.integer], painted: Sequence[tuple[Runs, int]]) -> set[int]:
    """The values whose objects still show in ``columns``: the first pixels of all runs,
    looked up at once, answer for most values; only the objects of the other values have all
    their pixels looked up."""
    if not painted:
        return set()
    starts = np.concatenate([runs.starts for runs, _ in painted])
    expected = np.repeat([value for _, value in painted],
                         [runs.starts.size for runs, _ in painted])
    shown = set(np.unique(expected[columns[starts] == expected]).tolist())
    for runs, value in painted:
        if value not in shown and _shows_anywhere(columns, runs, value):
            shown.add(value)
    return shown


def visible_values(columns: npt.NDArray[np.integer], objects: Sequence[Runs | None],
                   values: Sequence[int | None], *, height: int,
                   measure: bool = False) -> dict[int, Visible]:
    """The painted values still visible in the label map ``columns`` (flattened column by
    column); with ``measure``, each one's pixel count and box (found in the window around the
    runs painted with it), else only that it is there (``pixels`` None)."""
    painted = [(r, v) for r, v in zip(objects, values, strict=True)
               if r is not None and v is not None]
    if not measure:
        return {value: Visible() for value in _shown(columns, painted)}
    label_map = columns.reshape(-1, height).T
    found: dict[int, Visible] = {}
    for value in {v for _, v in painted}:
        starts = np.concatenate([r.starts for r, v in painted if v == value])
        lasts = np.concatenate([r.ends for r, v in painted if v == value]) - 1
        x0, x1 = int(starts.min()) // height, int(lasts.max()) // height + 1
        y0 = int(min((starts % height).min(), (lasts % height).min()))
        y1 = int(max((starts % height).max(), (lasts % height).max())) + 1
        hit = label_map[y0:y1, x0:x1] == value
        rows, cols = np.flatnonzero(hit.any(axis=1)), np.flatnonzero(hit.any(axis=0))
        if rows.size:
            found[value] = Visible(pixels=int(np.count_nonzero(hit)),
                                   box_xywh=(x0 + int(cols[0]), y0 + int(rows[0]),
                                             int(cols[-1] - cols[0]) + 1,
                                             int(rows[-1] - rows[0]) + 1))
    return found


def id_to_rgb(ids: npt.NDArray[np.integer]) -> npt.NDArray[np.uint8]:
    """COCO panoptic's colour of each segment id: ``R = id % 256``, ``G = id // 256 % 256``,
    ``B = id // 256^2 % 256`` (panopticapi's ``id2rgb``)."""
    little = np.asarray(ids, dtype="<u4")  # the low three bytes of each id, as stored
    flat = np.ascontiguousarray(little.reshape(-1)).view(np.uint8)
    return np.ascontiguousarray(flat.reshape(*little.shape, 4)[..., :3])


def rgb_to_id(rgb: npt.NDArray[np.integer]) -> npt.NDArray[np.uint32]:
    """The inverse of `id_to_rgb` (panopticapi's ``rgb2id``)."""
    rgb = rgb.astype(np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


def save_png(label_map: npt.NDArray[np.integer], path: Path, *, encoding: Encoding = "uint8",
             palette: bytes | None = None) -> None:
    """Write a label map as a PNG of its encoding (creating the folder): ``L`` (``P`` with a
    palette), ``I;16`` or panoptic ``RGB``. Not atomic by itself: exports write into a staging
    folder that is published when complete."""
    pixels = (id_to_rgb(label_map) if encoding == "rgb_id"
              else label_map.astype(_DTYPES[encoding], copy=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(pixels, palette=palette))


def read_png(path: Path, modes: tuple[str, ...]) -> npt.NDArray[np.integer]:
    """A label-map PNG's values (palette indices for ``P``, not colours); `InputError` naming
    the file when it is not a PNG of one of ``modes``."""
    with open_image(path) as image:
        if image.mode not in modes:
            raise InputError(f"{path}: expected a PNG of mode {' or '.join(modes)}, got "
                             f"{image.mode}")
        return np.asarray(image)


def read_split_lists(folder: Path) -> dict[str, str]:
    """``<split>.txt`` files of one name per line, as name -> split (first list wins)."""
    splits: dict[str, str] = {}
    for lst in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        for line in read_lines(lst):
            if line.strip():
                splits.setdefault(line.strip(), lst.stem)
    return splits


def _draw(job: RasterJob) -> tuple[list[tuple[npt.NDArray[np.integer], PngOut]],
                                   list[dict[int, Visible]]]:
    """Rasterise the job's geometries once and paint each of its PNGs: the label maps (views
    of the column-major maps: the encoder reads them row by row in its thread, so the calling
    thread copies nothing), and per PNG what each value kept visible."""
    pixels = object_pixels(job.geometries, height=job.height, width=job.width)
    size = job.height * job.width
    positions = _positions(pixels, size=size)
    maps: list[tuple[npt.NDArray[np.integer], PngOut]] = []
    results: list[dict[int, Visible]] = []
    for out in job.outputs:
        columns = _fill(positions, out.values, size=size, encoding=out.encoding)
        maps.append((columns.reshape(job.width, job.height).T, out))
        results.append(visible_values(columns, pixels, out.values, height=job.height,
                                      measure=out.encoding == "rgb_id"))
    return maps, results


def _save_all(maps: list[tuple[npt.NDArray[np.integer], PngOut]]) -> None:
    for label_map, out in maps:
        save_png(label_map, out.path, encoding=out.encoding, palette=out.palette)


def render(job: RasterJob) -> list[dict[int, Visible]]:
    """Paint, encode and write the job's PNGs; returns, per PNG, what each value kept
    visible."""
    maps, results = _draw(job)
    _save_all(maps)
    return results


_K = TypeVar("_K")


def default_workers() -> int:
    """Threads for `render_all`: the CPUs this process may use, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


def render_all(jobs: Iterable[tuple[_K, RasterJob]], *,
               workers: int = 0) -> Iterator[tuple[_K, list[dict[int, Visible]]]]:
    """`render` every job, yielding ``(key, result)`` in the jobs' order.

    Rasterising and painting are many small numpy calls that hold the GIL; PNG encoding is zlib,
    which releases it. So the calling thread draws every label map and a pool of ``workers``
    threads (0: `default_workers`) encodes and writes them: the threads never fight over the
    GIL, and the cores work in parallel. At most a few images per thread wait to be written, so
    memory stays flat; ``workers=1`` does everything inline. (Worker processes were tried: a
    fork server re-imports the caller's main module, which breaks scripts without a
    ``__main__`` guard, and they were slower.)"""
    workers = workers or default_workers()
    if workers == 1:
        for key, job in jobs:
            yield key, render(job)
        return
    pending: deque[tuple[_K, list[dict[int, Visible]], Future[None]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="png") as pool:
        for key, job in jobs:
            maps, results = _draw(job)
            pending.append((key, results, pool.submit(_save_all, maps)))
            if len(pending) >= 4 * workers:
                done_key, done, future = pending.popleft()
                future.result()
                yield done_key, done
        while pending:
            done_key, done, future = pending.popleft()
            future.result()
            yield done_key, done
