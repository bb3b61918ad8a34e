"""Datumaro reads our exports of the sample project, and what it found equals what the store
holds, object by object: COCO, Pascal VOC (boxes and segmentation masks), KITTI, CVAT, COCO
panoptic and YOLO Darknet. Each format's expectation below is its documented convention
(docs/formats.md) applied to the store's records; mask pixels come from pycocotools (the
oracle for polygons, boxes and RLE) with z-order deciding which object owns a pixel.

Datumaro runs in its side venv (``LABELPORT_DATUMARO_PYTHON``; see tests/side_python.py), every
format in one call; a format Datumaro cannot import fails its own test with Datumaro's error.

What Datumaro cannot see, and so is not compared here: attributes other than occlusion, CVAT's
``outside`` on a skeleton point (Datumaro reads every point as visible, so points we mark
outside are checked only for being there), COCO keypoints (its ``coco_instances`` reader gives
their boxes; pycocotools reads them in test_coco.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pycocotools.mask as coco_mask
import pytest
from tests.formats.stored_sample import (
    SPLITS,
    objects,
    own_pixels,
    pixel_digest,
    stored_sample,
    visible_pixels,
)
from tests.side_python import DATUMARO, run_side

from labelport.domain.geometry import (
    Box,
    Keypoints,
    Mask,
    Polygon,
    Polyline,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import bounding_box, rotated_box_corners
from labelport.domain.model import ItemRecord
from labelport.domain.schema import LabelSchema
from labelport.domain.source import MemorySource
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats.registry import get_format

Obj = tuple[str, str, tuple[float, ...]]  # (Datumaro's annotation type, label, values)

_SCRIPT = """
import glob, json, os, sys, traceback
import numpy as np
import pycocotools.mask as coco_mask
from datumaro.components.annotation import AnnotationType
from datumaro.components.dataset import Dataset

def annotation(a, labels):
    entry = {"type": a.type.name, "attributes": dict(a.attributes),
             "label": labels[a.label] if getattr(a, "label", None) is not None else None}
    if a.type.name == "mask":
        rle = coco_mask.encode(np.asfortranarray(a.image.astype(np.uint8)))
        entry["rle"] = {"size": rle["size"], "counts": rle["counts"].decode()}
    elif hasattr(a, "points"):
        entry["values"] = [float(v) for v in a.points]
    if a.type.name == "points":
        entry["visibility"] = [int(v) for v in a.visibility]
    return entry

def load(datumaro_format, path):
    dataset = Dataset.import_from(path, datumaro_format)
    categories = dataset.categories().get(AnnotationType.label)
    labels = [c.name for c in categories] if categories is not None else []
    return [{"id": item.id, "subset": item.subset,
             "annotations": [annotation(a, labels) for a in item.annotations]}
            for item in dataset]

found = {}
for name, datumaro_format, pattern in zip(sys.argv[1::3], sys.argv[2::3], sys.argv[3::3]):
    try:
        found[name] = [i for path in sorted(glob.glob(pattern)) for i in load(datumaro_format,
                                                                             path)]
    except Exception:
        found[name] = traceback.format_exc()
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return stored_sample(tmp_path_factory.mktemp("stored"))


# --- what the store holds, per format ----------------------------------------------------------


def _xyxy(geometry: Any) -> tuple[float, ...]:
    box = bounding_box(geometry)
    assert box is not None
    return (box.x, box.y, box.x + box.w, box.y + box.h)


def _corners(rb: RotatedBox) -> tuple[float, ...]:
    return tuple(rotated_box_corners(rb))


def _coco(record: ItemRecord, schema: LabelSchema) -> list[Obj]:
    """Datumaro's COCO instances: each object's bbox, and its segmentation as polygons (one per
    part) or, for a polygon with holes and a mask, as a mask; keypoints come as the box only
    (Datumaro's ``coco_instances`` does not read them) and lines are not written."""
    found = []
    for a in objects(record):
        g = a.geometry
        if isinstance(g, Polyline):
            continue
        found.append(("bbox", a.label, _xyxy(g)))
        if isinstance(g, RotatedBox):
            found.append(("polygon", a.label, _corners(g)))
        elif isinstance(g, Polygon) and not any(p.holes for p in g.parts):
            found += [("polygon", a.label, tuple(p.outer)) for p in g.parts]
        elif isinstance(g, Polygon | Mask):
            found.append(("mask", a.label, pixel_digest(own_pixels(g, record))))
    return found


def _voc_box(xyxy: tuple[float, ...]) -> tuple[float, ...]:
    """VOC's integer corners (``xmin = x``, ``xmax = x + w``, halves away from zero)."""
    return tuple(float(np.floor(v + 0.5)) for v in xyxy)


def _boxes(record: ItemRecord, schema: LabelSchema, *, round_to_pixels: bool = False
           ) -> list[Obj]:
    """Every object with a geometry as its bounding box (VOC, KITTI, YOLO Darknet)."""
    return [("bbox", a.label, _voc_box(_xyxy(a.geometry)) if round_to_pixels
             else _xyxy(a.geometry)) for a in objects(record)]


def _cvat(record: ItemRecord, schema: LabelSchema) -> list[Obj]:
    """CVAT for images: shapes as they are (a rotated box by centre, size and angle), a polygon
    with holes as a mask, keypoints as a skeleton of named points, image classes as tags."""
    found: list[Obj] = []
    for a in record.annotations:
        g = a.geometry
        match g:
            case Box():
                found.append(("bbox", a.label, _xyxy(g)))
            case RotatedBox():
                found.append(("rotated_bbox", a.label, (g.cx, g.cy, g.w, g.h, g.angle_deg)))
            case Polyline():
                found.append(("polyline", a.label, tuple(g.points)))
            case Polygon() if not any(p.holes for p in g.parts):
                found += [("polygon", a.label, tuple(p.outer)) for p in g.parts]
            case Polygon() | Mask():
                found.append(("mask", a.label, pixel_digest(own_pixels(g, record))))
            case Keypoints():
                names = schema.get(a.label).keypoint_names  # type: ignore[union-attr]
                found += [("points", name, (p.x, p.y) if p.v != Visibility.NOT_LABELED else ())
                          for name, p in zip(names, g.points, strict=True)]
            case _:
                found.append(("label", a.label, ()))
    return found


def _visible_masks(record: ItemRecord, schema: LabelSchema) -> list[Obj]:
    """COCO panoptic and VOC segmentation: one mask per object, what shows of it."""
    return [("mask", label, pixel_digest(pixels)) for label, pixels in visible_pixels(record)]


# --- what Datumaro found --------------------------------------------------------------------


def _theirs(annotation: dict[str, Any], *, kitti_names: dict[str, str]) -> Obj:
    kind, label = annotation["type"], annotation["label"]
    label = kitti_names.get(label, label)
    if kind == "mask":
        bitmap = coco_mask.decode({"size": annotation["rle"]["size"],
                                   "counts": annotation["rle"]["counts"].encode()})
        return kind, label, pixel_digest(bitmap.astype(bool))
    return kind, label, tuple(annotation.get("values", ()))


def _outside_points_unchecked(theirs: list[Obj], ours: list[Obj]) -> list[Obj]:
    """Datumaro reads a skeleton point CVAT marks ``outside`` as a visible point: where ours
    has no position, theirs is not compared (the point's presence still is)."""
    unplaced = {(k, label) for k, label, v in ours if k == "points" and not v}
    return [(k, label, () if (k, label) in unplaced else v) for k, label, v in theirs]


# (labelport format, Datumaro format, folders to import relative to the export, subset names,
#  what the store holds, values tolerance in pixels)
Case = tuple[str, str, str, dict[str, str], Callable[[ItemRecord, LabelSchema], list[Obj]], float]
CASES: list[Case] = [
    ("coco", "coco_instances", "annotations/instances_*.json", {}, _coco, 0.01),
    ("voc", "voc_detection", ".", {}, partial(_boxes, round_to_pixels=True), 0.0),
    ("voc_segmentation", "voc_segmentation", ".", {}, _visible_masks, 0.0),
    ("kitti", "kitti_detection", ".", {}, _boxes, 0.005),
    ("cvat", "cvat", "annotations.xml", {}, _cvat, 0.005),
    ("coco_panoptic", "coco_panoptic", ".", {}, _visible_masks, 0.0),
    ("yolo_darknet", "yolo", ".", {"valid": "val"}, _boxes, 0.01),
]


@pytest.fixture(scope="module")
def read_by_datumaro(stored: MemorySource, tmp_path_factory: pytest.TempPathFactory
                     ) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("datumaro")
    args = []
    for name, datumaro_format, pattern, *_ in CASES:
        run_export(stored, get_format(name), root / name, media=MediaMode.COPY)
        args += [name, datumaro_format, str(root / name / pattern)]
    return root, run_side(DATUMARO, _SCRIPT, *args)


def _key(obj: Obj) -> tuple[Any, ...]:
    return (obj[0], obj[1], len(obj[2]), *(round(v) for v in obj[2]))


@pytest.mark.parametrize(("name", "datumaro_format", "pattern", "subsets", "expected",
                          "tolerance"), [pytest.param(*c, id=c[0]) for c in CASES])
def test_datumaro_reads_every_image_and_object(
        name: str, datumaro_format: str, pattern: str, subsets: dict[str, str],
        expected: Callable[[ItemRecord, LabelSchema], list[Obj]], tolerance: float,
        stored: MemorySource, read_by_datumaro: tuple[Path, dict[str, Any]]) -> None:
    root, found = read_by_datumaro
    items = found[name]
    assert not isinstance(items, str), f"Datumaro could not import {name}:\n{items}"
    kitti_names = _kitti_names(root) if name == "kitti" else {}
    # An item's id is its image's name without extension, under the folders the format keeps.
    by_id = {(subsets.get(i["subset"], i["subset"]), i["id"].rsplit("/", 1)[-1]): i
             for i in items}
    records = {(r.split, r.item.file_name.rsplit(".", 1)[0]): r for r in stored.records()}
    assert sorted(by_id) == sorted(records)
    checked = 0
    for key, record in records.items():
        ours = sorted(expected(record, stored.schema), key=_key)
        theirs = sorted((_theirs(a, kitti_names=kitti_names)
                         for a in by_id[key]["annotations"]), key=_key)
        theirs = _outside_points_unchecked(theirs, ours)
        where = f"{name} {record.item.path}"
        assert [o[:2] + (len(o[2]),) for o in theirs] == [o[:2] + (len(o[2]),) for o in ours], \
            where
        for (_, _, a), (_, _, b) in zip(theirs, ours, strict=True):
            assert np.allclose(a, b, rtol=0, atol=tolerance), f"{where}: {a} != {b}"
        checked += len(ours)
    assert checked >= 8, f"{name}: only {checked} objects compared"


def _kitti_names(root: Path) -> dict[str, str]:
    """KITTI's type field has no spaces; classes.tsv maps each written type to the class."""
    lines = (root / "kitti" / "classes.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return dict(line.split("\t", 1) for line in lines)


def test_every_split_reaches_datumaro(read_by_datumaro: tuple[Path, dict[str, Any]]) -> None:
    _, found = read_by_datumaro
    assert {i["subset"] for i in found["coco"]} == set(SPLITS)
