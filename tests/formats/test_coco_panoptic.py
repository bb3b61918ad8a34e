"""COCO panoptic: the PNGs and JSON keep panopticapi's rules, checked here as its converters
and ``pq_compute.py`` check them (https://github.com/cocodataset/panopticapi: ``utils.rgb2id``,
``converters/panoptic2detection_coco_format.py``, ``pq_compute.pq_compute_single_core``): ids
from colours as ``R + 256 G + 256^2 B``, segment ids unique per image, every PNG colour but 0
listed in ``segments_info`` and every listed segment in the PNG, ``area`` = its pixel count,
``bbox`` = its pixels' box, categories known and ``isthing`` set. Plus holes, goldens (decoded
pixels), a pixel round trip and bad input.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_coco_panoptic.py``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from labelport.domain.geometry import Box, GeometryKind, Polygon, PolygonPart
from labelport.domain.model import DEFAULT_LABELSET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, UnsupportedError
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import WriteContext
from labelport.formats.coco.panoptic import read, write

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "coco_panoptic"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
DONUT = Polygon(parts=(PolygonPart(outer=(2, 2, 8, 2, 8, 8, 2, 8),
                                   holes=((4, 4, 6, 4, 6, 6, 4, 6),)),))


def rgb2id(color: np.ndarray) -> np.ndarray:
    """panopticapi's ``utils.rgb2id``, written out here rather than imported."""
    color = color.astype(np.int32)
    return color[:, :, 0] + 256 * color[:, :, 1] + 256 * 256 * color[:, :, 2]


def check_panopticapi_rules(out: Path) -> dict[str, Any]:
    """Every split's JSON and PNGs against panopticapi's checks; returns the last JSON."""
    data: dict[str, Any] = {}
    for file in sorted((out / "annotations").glob("panoptic_*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        categories = {c["id"]: c for c in data["categories"]}
        assert all(c["isthing"] in (0, 1) for c in categories.values())
        images = {i["id"]: i for i in data["images"]}
        assert len(data["annotations"]) == len(images)
        for annotation in data["annotations"]:
            image = images[annotation["image_id"]]
            with Image.open(file.with_suffix("") / annotation["file_name"]) as png:
                assert png.mode == "RGB" and png.size == (image["width"], image["height"])
                ids = rgb2id(np.asarray(png))
            segments = annotation["segments_info"]
            listed = [s["id"] for s in segments]
            assert len(set(listed)) == len(listed), "segment ids unique per image"
            present = set(np.unique(ids).tolist()) - {0}
            assert present == set(listed), "PNG ids and segments_info agree"
            stuff_seen: set[int] = set()
            for s in segments:
                category = categories[s["category_id"]]
                mask = ids == s["id"]
                assert s["area"] == int(mask.sum())
                rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
                assert s["bbox"] == [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1),
                                     int(rows[-1] - rows[0] + 1)]
                assert s["iscrowd"] in (0, 1)
                if not category["isthing"]:
                    assert s["category_id"] not in stuff_seen, "one segment per stuff class"
                    stuff_seen.add(s["category_id"])
    return data


def _source(*records: ItemRecord) -> MemorySource:
    schema = LabelSchema(classes=(LabelClass(id=1, name="car"),
                                  LabelClass(id=2, name="road", geometry=GeometryKind.MASK)))
    return MemorySource(project=ProjectInfo(name="p"), schema=schema, items=records)


def _record(*annotations: Annotation, path: str = "a.jpg", split: str | None = None) -> ItemRecord:
    return ItemRecord(item=Item(dataset="d", path=path, width=10, height=10),
                      annotations=annotations, split=split)


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


def test_segments_things_stuff_holes_and_crowds(tmp_path: Path) -> None:
    record = _record(Annotation(label="car", geometry=DONUT),
                     Annotation(label="road", geometry=Box(x=0, y=0, w=2, h=10)),
                     Annotation(label="car", geometry=Box(x=4, y=4, w=1, h=1), crowd=True),
                     Annotation(label="road", geometry=Box(x=8, y=0, w=2, h=10)),
                     Annotation(label="car", geometry=Box(x=0, y=0, w=1, h=1), z_order=-1),
                     split="val")
    ctx = WriteContext()
    write(_source(record), tmp_path, {}, ctx)
    data = check_panopticapi_rules(tmp_path)
    assert [(c["name"], c["isthing"]) for c in data["categories"]] == [("car", 1), ("road", 0)]
    (annotation,) = data["annotations"]
    assert annotation["file_name"] == "a.png"
    assert annotation["segments_info"] == [
        {"id": 1, "category_id": 1, "iscrowd": 0, "area": 32, "bbox": [2, 2, 6, 6]},
        {"id": 2, "category_id": 2, "iscrowd": 0, "area": 40, "bbox": [0, 0, 10, 10]},
        {"id": 3, "category_id": 1, "iscrowd": 1, "area": 1, "bbox": [4, 4, 1, 1]},
    ]  # the crowd sits in the donut's hole; the two road strips are one segment
    assert ctx.report.counts["not written: segment with no visible pixel (hidden under others "
                             "or too thin)"] == 1
    ids = rgb2id(np.asarray(Image.open(tmp_path / "annotations" / "panoptic_val" / "a.png")))
    assert ids[5, 5] == 0 and ids[3, 3] == 1 and ids[4, 4] == 3  # the hole is void


def test_stuff_option(tmp_path: Path) -> None:
    write(_source(_record()), tmp_path / "a", {"stuff": "car"}, WriteContext())
    data = json.loads((tmp_path / "a/annotations/panoptic_train.json").read_text("utf-8"))
    assert [c["isthing"] for c in data["categories"]] == [0, 1]
    write(_source(_record()), tmp_path / "b", {"stuff": "none"}, WriteContext())
    data = json.loads((tmp_path / "b/annotations/panoptic_train.json").read_text("utf-8"))
    assert [c["isthing"] for c in data["categories"]] == [1, 1]
    with pytest.raises(UnsupportedError, match="stuff names classes the schema does not have: "
                                               "sky"):
        write(_source(_record()), tmp_path / "c", {"stuff": "car, sky"}, WriteContext())


def test_golden_sample(sample_source: MemorySource, tmp_path: Path,
                       png_goldens: Callable[..., list[str]]) -> None:
    out = tmp_path / "coco_panoptic"
    write(_ground_truth(sample_source), out, {}, WriteContext())
    png_goldens(out, GOLDEN, regen=REGEN)
    data = check_panopticapi_rules(GOLDEN)
    assert len(data["images"]) == len(sample_source)
    by_name = {c["name"]: c for c in data["categories"]}
    assert by_name["road"]["isthing"] == 0 and by_name["car"]["isthing"] == 1
    assert by_name["car"]["supercategory"] == "vehicle" and "truck" in by_name
    yard = next(a for a in data["annotations"] if a["file_name"] == "yard_002.png")
    assert yard["segments_info"][0]["area"] == 160 * 120 - 60 * 40  # the courtyard is a hole


def test_round_trip_keeps_every_pixel(sample_source: MemorySource, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write(_ground_truth(sample_source), first, {}, WriteContext())
    source = read(first, {"images": None})
    assert len(source) == len(sample_source)
    assert source.schema.class_names == sample_source.schema.class_names
    crossing = next(r for r in source.records() if r.item.path == "crossing_005.png")
    assert [(a.label, a.crowd) for a in crossing.annotations] == [("road", False), ("car", True)]
    write(source, second, {}, WriteContext())
    for file in sorted(first.rglob("*.png")):
        name = file.relative_to(first)
        assert np.array_equal(np.asarray(Image.open(file)), np.asarray(Image.open(second / name)))
    a = json.loads((first / "annotations/panoptic_train.json").read_text("utf-8"))
    b = json.loads((second / "annotations/panoptic_train.json").read_text("utf-8"))
    assert a["annotations"] == b["annotations"] and a["categories"] == b["categories"]


def _break(out: Path, change: Callable[[dict[str, Any]], None]) -> None:
    file = out / "annotations" / "panoptic_train.json"
    data = json.loads(file.read_text(encoding="utf-8"))
    change(data)
    file.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["annotations"][0]["segments_info"].pop(), r"segment ids \[1\] are in the PNG"),
    (lambda d: d["annotations"][0]["segments_info"].append(
        {"id": 9, "category_id": 1}), "segment 9 of segments_info is not in the PNG"),
    (lambda d: d["annotations"][0]["segments_info"][0].update(category_id=7),
     "category_id 7, which no category has"),
    (lambda d: d["annotations"][0].update(image_id="x"),
     r"at \$.annotations\[0\].image_id: Expected `int`"),
    (lambda d: d["annotations"][0].update(file_name="gone.png"), "gone.png does not exist"),
])
def test_bad_input(change: Callable[[dict[str, Any]], None], message: str,
                   tmp_path: Path) -> None:
    write(_source(_record(Annotation(label="car", geometry=Box(x=0, y=0, w=2, h=2)))),
          tmp_path, {}, WriteContext())
    _break(tmp_path, change)
    with pytest.raises(InputError, match=message):
        list(read(tmp_path, {}).records())


def test_no_panoptic_json(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected annotations/panoptic_<split>.json"):
        read(tmp_path, {})
