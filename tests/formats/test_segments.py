"""Segments.ai release files: the seed's example read back, the keys the seed describes,
bitmaps decoded by the SDK's rule (``utils.load_label_bitmap_from_url``: alpha zeroed, the RGBA
pixel read as a little-endian uint32), goldens for the sample project (read, not only compared),
round trips for both task types and bad input.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_segments.py``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelport.domain.geometry import Box, Mask, Polygon, PolygonPart
from labelport.domain.masks import polygon_to_rle, rle_to_bitmap
from labelport.domain.model import DEFAULT_LABELSET, TaskStatus
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import WriteContext
from labelport.formats.segments import (
    SPEC,
    ids_of_rgba,
    read,
    rgba_of_ids,
    vector_annotations,
    write,
)

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "segments"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"

_SEED_LABEL = {
    "label_status": "LABELED",
    "attributes": {
        "format_version": "0.1",
        "annotations": [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 1},
                        {"id": 3, "category_id": 1}, {"id": 4, "category_id": 1}],
        "segmentation_bitmap": {"url": "donuts_label.png"},
    },
}
_SEED = {
    "name": "first release",
    "description": "This is a first release of Segments.ai playground dataset",
    "created_at": "2020-07-09 10:20:19.888887+00:00",
    "dataset": {
        "name": "flowers",
        "task_type": "segmentation-bitmap",
        "task_attributes": {"format_version": "0.1",
                            "categories": [{"id": 1, "name": "donut"}]},
        "labelsets": [{"name": "ground-truth", "description": ""}],
        "samples": [{"name": "donuts.jpg",
                     "attributes": {"image": {"url": "https://segmentsai-prod.s3.eu-west-2."
                                              "amazonaws.com/assets/segments/3b8b.jpg"}},
                     "labels": {"ground-truth": _SEED_LABEL}}],
    },
}
"""The seed's release structure, sample and label (the bitmap a local file, as our reader
requires)."""


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


def _sdk_ids(png: Path) -> np.ndarray:
    """What the Segments SDK reads from a bitmap: alpha zeroed, each pixel a uint32."""
    pixels = np.array(Image.open(png))
    pixels[:, :, 3] = 0
    return pixels.view(np.uint32).squeeze(2)


# --- pure conversions ------------------------------------------------------------------------


@pytest.mark.parametrize("object_id", [0, 1, 255, 256, 70000, 2**24 - 1])
def test_bitmap_ids_round_trip_and_match_the_sdk(object_id: int) -> None:
    ids = np.full((2, 3), object_id, dtype=np.uint32)
    rgba = rgba_of_ids(ids)
    assert (rgba[..., 3] == 255).all()
    assert (ids_of_rgba(rgba) == ids).all()
    sdk = rgba.copy()
    sdk[:, :, 3] = 0
    assert (sdk.view(np.uint32).squeeze(2) == ids).all()


def test_vector_shapes() -> None:
    ctx = WriteContext()
    assert vector_annotations(Box(x=1, y=2, w=3, h=4), ctx) == [
        {"type": "bbox", "points": [[1, 2], [4, 6]]}]
    donut = Polygon(parts=(PolygonPart(outer=(0, 0, 9, 0, 9, 9), holes=((1, 1, 2, 1, 2, 2),)),))
    assert vector_annotations(donut, ctx) == [
        {"type": "polygon", "points": [[0, 0], [9, 0], [9, 9]]}]
    assert ctx.report.counts["dropped: polygon hole (vector polygons have none)"] == 1


# --- the seed --------------------------------------------------------------------------------


def test_reads_the_seeds_example(tmp_path: Path) -> None:
    ids = np.zeros((6, 8), dtype=np.uint32)
    ids[1:3, 1:3], ids[4:6, 5:8] = 1, 3
    Image.fromarray(rgba_of_ids(ids), "RGBA").save(tmp_path / "donuts_label.png")
    (tmp_path / "release.json").write_text(json.dumps(_SEED))
    source = read(tmp_path, {})
    assert [(c.id, c.name) for c in source.schema.classes] == [(1, "donut")]
    assert [ls.name for ls in source.labelsets] == ["ground-truth"]
    (record,) = source.records()
    assert (record.item.path, record.item.width, record.item.height) == ("donuts.jpg", 8, 6)
    assert record.item.media_uri == _SEED["dataset"]["samples"][0]["attributes"]["image"]["url"]  # type: ignore[index]
    assert record.task is not None and record.task.status is TaskStatus.LABELED
    masks = [a.geometry for a in record.annotations]
    assert all(isinstance(m, Mask) for m in masks)
    assert [int(rle_to_bitmap(m).sum()) for m in masks] == [4, 0, 6, 0]  # type: ignore[arg-type]


def test_our_export_has_the_seeds_keys(sample_source: MemorySource, tmp_path: Path) -> None:
    write(_ground_truth(sample_source), tmp_path, {}, WriteContext())
    data = json.loads((tmp_path / "release.json").read_text(encoding="utf-8"))
    assert list(data) == ["name", "description", "created_at", "dataset"]
    assert list(data["dataset"]) == ["name", "owner", "task_type", "task_attributes",
                                     "labelsets", "samples"]
    assert data["dataset"]["owner"] == "labelport"  # the SDK's SegmentsDataset needs one
    assert data["dataset"]["labelsets"] == [{"name": "ground-truth",
                                             "description": "human-checked labels"}]
    for sample in data["dataset"]["samples"]:
        assert {"name", "attributes", "labels"} <= set(sample)
        assert list(sample["attributes"]) == ["image"]
        for label in sample["labels"].values():
            if label is not None:
                assert list(label["attributes"])[:3] == ["format_version", "annotations",
                                                         "segmentation_bitmap"]
                assert label["label_status"] in {"LABELED", "REVIEWED", "REJECTED", "SKIPPED",
                                                 "LABELING_IN_PROGRESS", "PRELABELED"}


# --- goldens ---------------------------------------------------------------------------------


def test_golden_sample(sample_source: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "segments"
    ctx = WriteContext()
    write(_ground_truth(sample_source), out, {}, ctx)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    if REGEN:
        for name in written:
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes((out / name).read_bytes())
    golden = sorted(p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file())
    assert written == golden
    for name in written:
        assert (out / name).read_bytes() == (GOLDEN / name).read_bytes(), f"{name} differs"
    text = (GOLDEN / "release.json").read_text(encoding="utf-8")
    assert str(tmp_path) not in text
    data = json.loads(text)
    samples = {s["name"]: s for s in data["dataset"]["samples"]}
    categories = data["dataset"]["task_attributes"]["categories"]
    assert [c["name"] for c in categories] == list(sample_source.schema.class_names)
    assert categories[0]["color"] == [230, 25, 75]
    assert samples["empty_006.png"]["labels"]["ground-truth"] is None  # new and empty
    yard = samples["yard_002.jpg"]["labels"]["ground-truth"]
    assert yard["label_status"] == "LABELED" and yard["created_by"] == "ben"
    ids = _sdk_ids(GOLDEN / yard["attributes"]["segmentation_bitmap"]["url"])
    building = polygon_to_rle(sample_source.items[1].annotations[0].geometry,  # type: ignore[arg-type]
                              height=240, width=320)
    # The courtyard stays a hole: the building's pixels are exactly its rasterised polygon
    # (no object overlaps it).
    assert ((ids == 1) == rle_to_bitmap(building).astype(bool)).all()
    assert ids[65, 100] == 0
    # The front car (z_order 1) is painted over the back car where they overlap.
    assert ids[75, 240] == 3
    counts = ctx.report.counts
    assert counts["not written: polyline (no area to paint)"] == 1
    assert counts["not written: keypoints (no area to paint)"] == 1
    assert counts["not written: annotation score"] == 1


# --- round trips and bad input ---------------------------------------------------------------


def test_round_trip_bitmap(sample_source: MemorySource, tmp_path: Path) -> None:
    source = _ground_truth(sample_source)
    result = run_export(source, SPEC, tmp_path / "out", media=MediaMode.COPY)
    back = {r.item.path: r for r in read(result.path, {}).records()}
    crossing = sample_source.items[4]
    got = back["crossing_005.png"]
    road = next(a for a in got.annotations if a.label == "road")
    assert road.geometry == crossing.annotations[0].geometry  # a mask comes back bit for bit
    assert got.task is not None and got.task.reviewer == "ana"
    assert got.item.metadata == crossing.item.metadata
    street = back["street_001.png"]
    assert street.task is not None
    assert street.task.created_at == sample_source.items[0].tasks[0].created_at
    assert dict(street.annotations[0].attributes) == dict(
        sample_source.items[0].annotations[0].attributes)


def test_round_trip_vector_keeps_boxes_polygons_lines_and_statuses(
        sample_source: MemorySource, tmp_path: Path) -> None:
    source = _ground_truth(sample_source)
    result = run_export(source, SPEC, tmp_path / "out", options={"task_type": "vector"},
                        media=MediaMode.COPY)
    back = {r.item.path: r for r in read(result.path, {}).records()}
    for want in source.records():
        got = back[want.item.file_name]
        if want.task is not None and want.task.status is not TaskStatus.NEW:
            assert got.task is not None and got.task.status is want.task.status
        boxes = [(a.label, a.geometry) for a in want.annotations if isinstance(a.geometry, Box)]
        assert [(a.label, a.geometry) for a in got.annotations
                if isinstance(a.geometry, Box)] == boxes
    tree = [a.geometry for a in back["straße_ü.png"].annotations]
    assert tree == [Polygon(parts=(p,)) for p in sample_source.items[2].annotations[0]
                    .geometry.parts]  # type: ignore[union-attr]


@pytest.mark.parametrize(("content", "message"), [
    ("[", r"release\.json: not valid JSON"),
    ("{}", r"at \$: Object missing required field `dataset`"),
    ('{"dataset": {"name": "d", "task_type": "vector", "task_attributes": {}, "samples": '
     '[{"name": "a.png", "attributes": {}, "labels": {"gt": {"label_status": "DONE"}}}]}}',
     r"at \$\.dataset\.samples\[0\]\.labels\.gt\.label_status: unknown status 'DONE'"),
    ('{"dataset": {"name": "d", "task_type": "vector", "task_attributes": {"categories": '
     '[{"id": 1, "name": "c"}]}, "samples": [{"name": "a.png", "attributes": {}, "labels": '
     '{"gt": {"label_status": "LABELED", "attributes": {"annotations": [{"id": 1, '
     '"category_id": 1, "type": "bbox", "points": [[1, 2]]}]}}}}]}}',
     r"annotations\[0\]: expected a bbox \(2 points\)"),
    ('{"dataset": {"name": "d", "task_type": "vector", "task_attributes": {}, "samples": '
     '[{"name": "b.png", "attributes": {}}]}}', r"no image 'b\.png'"),
    ('{"dataset": {"name": "d", "task_type": "segmentation-bitmap", "task_attributes": {}, '
     '"samples": [{"name": "a.png", "attributes": {}, "labels": {"gt": {"label_status": '
     '"LABELED", "attributes": {"segmentation_bitmap": {"url": "https://x/y.png"}}}}}]}}',
     r"segmentation_bitmap\.url: expected the path of a local PNG"),
])
def test_bad_input_names_the_file_and_place(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "release.json").write_text(content)
    (tmp_path / "images").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "images" / "a.png")
    with pytest.raises(InputError, match=message):
        read(tmp_path, {})
