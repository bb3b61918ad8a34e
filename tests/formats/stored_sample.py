"""The sample project as the store holds it, for the tests where a third-party reader loads our
export and the test compares what it found with the store, object by object.

The project goes into a SQLite store through `Store.import_source` and comes back through
`Store.source` (ground truth only, as an export of one labelset carries), so what the readers are
compared with is what the store holds, not the builder's values. Items get the splits
``train``, ``val``, ``test`` in turn (in the store's item order), so readers meet every subset.
Pixels come from pycocotools (the oracle for polygons, boxes and RLE), not from labelport's
rasteriser; z-order decides which object owns a pixel.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from labelport.domain.geometry import (
    Box,
    GeometryKind,
    Mask,
    Polygon,
    PolygonPart,
    RotatedBox,
)
from labelport.domain.geometry_ops import rotated_box_corners
from labelport.domain.masks import box_to_rle, polygon_to_rle, rle_to_bitmap
from labelport.domain.model import DEFAULT_LABELSET, Annotation, ItemRecord
from labelport.domain.schema import LabelSchema
from labelport.domain.source import MemorySource
from labelport.sample import build_sample
from labelport.store import open_store

PROJECT = "sample"
SPLITS = ("train", "val", "test")


def stored_sample(folder: Path) -> MemorySource:
    """Import the sample project (images under ``folder / "media"``) into a store in ``folder``
    and read its ground truth back."""
    store = open_store(str(folder / "labelport.db"))
    try:
        built = build_sample(folder / "media")
        store.create_project(PROJECT, LabelSchema(), description=built.project.description)
        store.import_source(PROJECT, built)
        streamed = store.source(PROJECT, labelsets=[DEFAULT_LABELSET])
        records = tuple(replace(r, split=SPLITS[i % len(SPLITS)])
                        for i, r in enumerate(streamed.records()))
        return MemorySource(project=streamed.project, schema=streamed.schema, items=records,
                            datasets=streamed.datasets, labelsets=streamed.labelsets)
    finally:
        store.close()


def objects(record: ItemRecord, *kinds: GeometryKind) -> list[Annotation]:
    """The record's annotations of the given geometry kinds (all that have a geometry when none
    are given), in stored order."""
    wanted = set(kinds) or set(GeometryKind) - {GeometryKind.NONE}
    return [a for a in record.annotations if a.geometry.kind in wanted]


def own_pixels(geometry: Any, record: ItemRecord) -> npt.NDArray[np.bool_]:
    """The pixels a box, rotated box, polygon (holes cut out) or mask covers on its image."""
    size = {"height": record.item.height, "width": record.item.width}
    match geometry:
        case Mask():
            mask = geometry
        case Box():
            mask = box_to_rle(geometry, **size)
        case RotatedBox():
            ring = rotated_box_corners(geometry)
            mask = polygon_to_rle(Polygon(parts=(PolygonPart(outer=ring),)), **size)
        case _:
            mask = polygon_to_rle(geometry, **size)
    return rle_to_bitmap(mask).astype(bool)


def visible_pixels(record: ItemRecord) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    """(label, pixels) of each object with an area, the pixels no object above covers (higher
    z_order on top, then the later annotation), in annotation order; an object left with no
    pixel is not listed."""
    painted = [(a.z_order, i, a) for i, a in enumerate(objects(
        record, GeometryKind.BOX, GeometryKind.ROTATED_BOX, GeometryKind.POLYGON,
        GeometryKind.MASK))]
    covered = np.zeros((record.item.height, record.item.width), dtype=bool)
    shown: dict[int, tuple[str, npt.NDArray[np.bool_]]] = {}
    for _, i, a in sorted(painted, key=lambda t: t[:2], reverse=True):
        own = own_pixels(a.geometry, record) & ~covered
        covered |= own
        if own.any():
            shown[i] = (a.label, own)
    return [shown[i] for i in sorted(shown)]


def pixel_digest(pixels: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """Pixels compared exactly but printed short: their count and the start of a SHA-1 of the
    packed bits (a side-venv script computes the same from what its reader decoded)."""
    head = hashlib.sha1(np.packbits(pixels).tobytes()).digest()[:6]
    return (float(pixels.sum()), float(int.from_bytes(head, "big")))
