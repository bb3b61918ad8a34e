"""Binary masks as COCO RLE, through pycocotools so every mask matches COCO's own encoder bit for
bit.

Conventions (pycocotools'): a mask of an image ``height x width`` is read column by column
(column-major, Fortran order: down the first column, then the next); ``counts`` are the lengths
of the runs of equal pixels, alternating, and the first run counts zeros (it is 0 when the first
pixel is set); ``size`` is ``[height, width]``. `Mask.counts` holds the compressed form (the
LEB128-like string of COCO's JSON), as ``str``. Polygons and boxes are rasterised by pycocotools
in labelport's pixel convention (a box ``0, 0, 1, 1`` is the first pixel). Bitmaps handed out are
``uint8`` 0/1 arrays of shape ``(height, width)`` in C order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pycocotools import mask as coco_mask

from labelport.domain.geometry import Box, Mask, Polygon, PolygonPart, Ring

Bitmap = npt.NDArray[np.uint8]


def _to_coco(mask: Mask) -> dict[str, Any]:
    return {"size": [mask.height, mask.width], "counts": mask.counts.encode("ascii")}


def _from_coco(rle: dict[str, Any]) -> Mask:
    height, width = rle["size"]
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return Mask(counts=counts, height=int(height), width=int(width))


def _ring_rles(rings: Sequence[Ring], *, height: int, width: int) -> list[dict[str, Any]]:
    """Rasterise rings one by one. pycocotools takes a first entry of exactly four numbers for
    a box (and then all entries), so rings are checked before they reach it."""
    for ring in rings:
        if len(ring) < 6 or len(ring) % 2:
            raise ValueError(
                f"a polygon ring needs at least 3 points as x, y pairs (6 or more numbers, an "
                f"even count); got {len(ring)} numbers"
            )
    return coco_mask.frPyObjects([list(ring) for ring in rings], height, width)


def _empty(*, height: int, width: int) -> Mask:
    return bitmap_to_rle(np.zeros((height, width), dtype=np.uint8))


def _part_rle(part: PolygonPart, *, height: int, width: int) -> dict[str, Any]:
    """The outer ring minus its holes; pycocotools merges only by union or intersection, so the
    difference is taken on bitmaps."""
    (outer,) = _ring_rles([part.outer], height=height, width=width)
    if not part.holes:
        return outer
    holes = coco_mask.merge(_ring_rles(part.holes, height=height, width=width), intersect=0)
    bitmap = coco_mask.decode(outer) & (1 - coco_mask.decode(holes))
    return coco_mask.encode(np.asfortranarray(bitmap, dtype=np.uint8))


def polygon_to_rle(polygon: Polygon, *, height: int, width: int) -> Mask:
    """Rasterise a polygon (every part, holes cut out) on a ``height x width`` image; parts
    outside the image are cut off by the rasteriser."""
    if not polygon.parts:
        return _empty(height=height, width=width)
    rles = [_part_rle(part, height=height, width=width) for part in polygon.parts]
    return _from_coco(coco_mask.merge(rles, intersect=0))


def box_to_rle(box: Box, *, height: int, width: int) -> Mask:
    """Rasterise a box as pycocotools does for a COCO ``bbox`` (through its four corners)."""
    xywh = np.array([[box.x, box.y, box.w, box.h]], dtype=np.float64)
    (rle,) = coco_mask.frPyObjects(xywh, height, width)
    return _from_coco(rle)


def rle_to_bitmap(mask: Mask) -> Bitmap:
    """The mask as a ``(height, width)`` uint8 0/1 array in C order."""
    return np.ascontiguousarray(coco_mask.decode(_to_coco(mask)))


def bitmap_to_rle(bitmap: npt.ArrayLike) -> Mask:
    """Encode a ``(height, width)`` array; any non-zero value counts as set (pycocotools itself
    would misread values other than 0 and 1)."""
    array = np.asarray(bitmap)
    if array.ndim != 2:
        raise ValueError(f"a mask bitmap must be 2-D (height, width); got shape {array.shape}")
    return _from_coco(coco_mask.encode(np.asfortranarray(array != 0, dtype=np.uint8)))


def mask_area(mask: Mask) -> int:
    """Number of set pixels."""
    return int(coco_mask.area(_to_coco(mask)))


def rle_bbox(mask: Mask) -> Box:
    """Tight box around the set pixels; ``0, 0, 0, 0`` for an empty mask (as pycocotools)."""
    x, y, w, h = (float(v) for v in coco_mask.toBbox(_to_coco(mask)))
    return Box(x=x, y=y, w=w, h=h)


def rle_from_uncompressed(counts: Sequence[int], *, height: int, width: int) -> Mask:
    """Compress COCO's uncompressed RLE (a list of run lengths, as in ``iscrowd`` files)."""
    if any(c < 0 for c in counts) or sum(counts) != height * width:
        raise ValueError(
            f"uncompressed RLE counts must be non-negative and sum to height x width = "
            f"{height * width}; they sum to {sum(counts)}"
        )
    rle = coco_mask.frPyObjects({"size": [height, width], "counts": list(counts)}, height, width)
    return _from_coco(rle)


def rle_to_uncompressed(mask: Mask) -> list[int]:
    """The run lengths of the mask, first run counting zeros."""
    pixels = coco_mask.decode(_to_coco(mask)).ravel(order="F")
    if pixels.size == 0:
        return []
    changes = np.flatnonzero(np.diff(pixels)) + 1
    bounds = np.concatenate(([0], changes, [pixels.size]))
    runs = np.diff(bounds).tolist()
    return [0, *runs] if pixels[0] else runs
