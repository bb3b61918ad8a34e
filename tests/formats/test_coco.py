"""COCO: pure conversions from tables, goldens for the sample project (read back through
pycocotools, not only compared as bytes), round trips, third-party files and errors that name
the file and the JSON path.

Regenerate the goldens with ``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_coco.py``
and read the diff before committing it."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from labelport.domain.geometry import (
    Box,
    GeometryKind,
    Keypoint,
    Keypoints,
    Mask,
    NoGeometry,
    Polygon,
    PolygonPart,
    Polyline,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import rotated_box_corners
from labelport.domain.masks import (
    bitmap_to_rle,
    box_to_rle,
    polygon_to_rle,
    rle_from_uncompressed,
    rle_to_bitmap,
)
from labelport.domain.model import (
    DEFAULT_LABELSET,
    Annotation,
    Item,
    ItemRecord,
    ProjectInfo,
    Source,
)
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource, StreamSource
from labelport.errors import InputError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import OutsidePolicy
from labelport.formats.coco._reader import _RleJ, keypoints_from_coco, segmentation_geometry
from labelport.formats.coco.instances import (
    SPEC,
    box_instance,
    categories_json,
    keypoints_instance,
    mask_instance,
    polygon_instance,
    without_short_rings,
)
from labelport.formats.registry import get_format
from labelport.sample import FIELD, SCHEMA

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "coco"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
_VERSION = re.compile(rb'"labelport_version":"[^"]*"')

DONUT = Polygon(parts=(PolygonPart(outer=(2, 2, 8, 2, 8, 8, 2, 8),
                                   holes=((4, 4, 6, 4, 6, 6, 4, 6),)),))
L_SHAPE = (0, 0, 4, 0, 4, 1, 1, 1, 1, 3, 0, 3)


# --- pure conversions ---------------------------------------------------------------------------


def test_box_touching_the_edges_keeps_its_size() -> None:
    assert box_instance(Box(x=600, y=400, w=40, h=80)) == {
        "segmentation": [], "area": 3200.0, "bbox": [600.0, 400.0, 40.0, 80.0]}


@pytest.mark.parametrize(("polygon", "segmentation", "area", "bbox"), [
    # T1: a hole cannot be a second ring (pycocotools would fill it): RLE, column-major
    (DONUT, {"size": [10, 10], "counts": "f06400LN020N02400b0"}, 32.0, [2.0, 2.0, 6.0, 6.0]),
    # T9: two parts are two rings of one annotation; the area is the shoelace sum
    (Polygon(parts=(PolygonPart(outer=L_SHAPE), PolygonPart(outer=(6, 6, 8, 6, 8, 8)))),
     [[float(v) for v in L_SHAPE], [6.0, 6.0, 8.0, 6.0, 8.0, 8.0]], 8.0, [0.0, 0.0, 8.0, 8.0]),
    (Polygon.simple((0.5, 0.5, 3.5, 0.5, 2, 2.5)),
     [[0.5, 0.5, 3.5, 0.5, 2.0, 2.5]], 3.0, [0.5, 0.5, 3.0, 2.0]),
])
def test_polygon_instance(polygon: Polygon, segmentation: Any, area: float,
                          bbox: list[float]) -> None:
    assert polygon_instance(polygon, image_wh=(10, 10)) == {
        "segmentation": segmentation, "area": area, "bbox": bbox}


def test_mask_instance_is_column_major() -> None:
    """T10: a 3x4 mask with its top row set."""
    bitmap = np.zeros((3, 4), np.uint8)
    bitmap[0] = 1
    instance = mask_instance(bitmap_to_rle(bitmap))
    assert instance["area"] == 4.0 and instance["bbox"] == [0.0, 0.0, 4.0, 1.0]
    rle = instance["segmentation"]
    assert rle["size"] == [3, 4]
    assert rle_to_bitmap(rle_from_uncompressed([0, 1, 2, 1, 2, 1, 2, 1, 2], height=3, width=4)
                         ).tolist() == bitmap.tolist()
    assert rle["counts"] == rle_from_uncompressed([0, 1, 2, 1, 2, 1, 2, 1, 2],
                                                  height=3, width=4).counts


def test_keypoints_instance() -> None:
    """T13: missing -> 0, 0, 0; occluded v = 1; num_keypoints counts v > 0; the box surrounds
    the labelled points only."""
    kps = Keypoints(points=(Keypoint(x=10, y=20), Keypoint(x=5, y=6, v=Visibility.NOT_LABELED),
                            Keypoint(x=30, y=60, v=Visibility.OCCLUDED)))
    assert keypoints_instance(kps, image_wh=(100, 100)) == {
        "segmentation": [], "area": 800.0, "bbox": [10.0, 20.0, 20.0, 40.0],
        "keypoints": [10.0, 20.0, 2, 0.0, 0.0, 0, 30.0, 60.0, 1], "num_keypoints": 2}


def test_keypoints_instance_writes_the_objects_own_box_and_shape() -> None:
    """A person's own box (larger than its points) is its bbox; its outline its segmentation
    and area."""
    kps = Keypoints(points=(Keypoint(x=10, y=20), Keypoint(x=30, y=60)),
                    box=Box(x=5, y=10, w=40, h=70), shape=Polygon.simple((5, 10, 45, 10, 45, 80)))
    assert keypoints_instance(kps, image_wh=(100, 100)) == {
        "segmentation": [[5.0, 10.0, 45.0, 10.0, 45.0, 80.0]], "area": 1400.0,
        "bbox": [5.0, 10.0, 40.0, 70.0], "keypoints": [10.0, 20.0, 2, 30.0, 60.0, 2],
        "num_keypoints": 2}


@pytest.mark.parametrize(("polygon", "kept", "removed"), [
    (Polygon.simple((0, 0, 1, 0, 1, 1)), Polygon.simple((0, 0, 1, 0, 1, 1)), 0),
    (Polygon.simple((0, 0, 1, 1)), None, 1),
    (Polygon(parts=(PolygonPart(outer=(0, 0, 1, 1)), PolygonPart(outer=(0, 0, 4, 0, 4, 4)))),
     Polygon.simple((0, 0, 4, 0, 4, 4)), 1),
    (Polygon(parts=(PolygonPart(outer=(0, 0, 4, 0, 4, 4), holes=((1, 1, 2, 2),)),)),
     Polygon.simple((0, 0, 4, 0, 4, 4)), 1),
])
def test_rings_under_three_points_are_removed(polygon: Polygon, kept: Polygon | None,
                                              removed: int) -> None:
    assert without_short_rings(polygon) == (kept, removed)


def test_categories_follow_the_schema_with_one_based_skeleton() -> None:
    categories = categories_json(SCHEMA, metadata=False)
    assert [(c["id"], c["name"]) for c in categories] == list(
        enumerate(SCHEMA.class_names, start=1))
    assert categories[0]["supercategory"] == "vehicle" and categories[2]["supercategory"] == ""
    person = categories[SCHEMA.index_of("person")]
    assert person["keypoints"] == ["head", "left_hand", "right_hand", "left_foot", "right_foot"]
    assert person["skeleton"] == [[1, 2], [1, 3], [1, 4], [1, 5]]
    assert set(categories[0]) == {"id", "name", "supercategory"}


@pytest.mark.parametrize(("segmentation", "geometry"), [
    ([], None),
    ([[1, 1, 2, 2]], None),  # a 2-point ring covers nothing (pycocotools would read a box)
    ([[0, 0, 2, 0, 2, 2], [3, 0, 4, 0, 4, 1]],
     Polygon(parts=(PolygonPart(outer=(0, 0, 2, 0, 2, 2)), PolygonPart(outer=(3, 0, 4, 0, 4, 1))))),
    (_RleJ(size=(3, 4), counts=[0, 1, 2, 1, 2, 1, 2, 1, 2]),
     rle_from_uncompressed([0, 1, 2, 1, 2, 1, 2, 1, 2], height=3, width=4)),
    (_RleJ(size=(3, 4), counts="012000000"), Mask(counts="012000000", height=3, width=4)),
])
def test_segmentation_geometry(segmentation: Any, geometry: Any) -> None:
    assert segmentation_geometry(segmentation, image_hw=(3, 4)) == geometry


@pytest.mark.parametrize(("flat", "message"), [
    ([1, 2], "triplets"), ([1, 2, 3], "expected 0, 1 or 2"), ([1, 2, 1.5], "expected 0, 1 or 2"),
])
def test_bad_keypoints_are_refused(flat: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        keypoints_from_coco(flat)


# --- exports of the sample project --------------------------------------------------------------


def _ground_truth(source: MemorySource) -> ExportSource:
    return restrict_labelsets(source, [DEFAULT_LABELSET])


def _with_splits(source: MemorySource) -> MemorySource:
    """The sample with its field dataset in ``val``: two files, ids from 1 in each."""
    return replace(source, items=tuple(
        replace(r, split="val" if r.item.dataset == FIELD else "train") for r in source.items))


def _check_golden(written: Path, golden: Path) -> None:
    """Byte equality, except the labelport version (the only thing allowed to change)."""
    def normal(raw: bytes) -> bytes:
        return _VERSION.sub(b'"labelport_version":"-"', raw)

    if REGEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(written.read_bytes())
    assert normal(written.read_bytes()) == normal(golden.read_bytes()), f"differs from {golden}"


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_golden_with_metadata_and_splits(sample_source: MemorySource, tmp_path: Path) -> None:
    result = run_export(_ground_truth(_with_splits(sample_source)), SPEC, tmp_path / "out")
    files = sorted(p.relative_to(result.path).as_posix() for p in result.path.rglob("*.json"))
    assert files == ["annotations/instances_train.json", "annotations/instances_val.json",
                     "labelport-export.json"]
    for split in ("train", "val"):
        _check_golden(result.path / f"annotations/instances_{split}.json",
                      GOLDEN / "metadata" / "annotations" / f"instances_{split}.json")
        COCO(str(GOLDEN / "metadata" / "annotations" / f"instances_{split}.json"))
    assert b"/tmp" not in (result.path / "annotations/instances_train.json").read_bytes()
    train = _load(result.path / "annotations/instances_train.json")
    val = _load(result.path / "annotations/instances_val.json")
    assert train["categories"] == val["categories"]
    assert [i["id"] for i in val["images"]] == [1, 2, 3]
    assert [a["id"] for a in val["annotations"]] == [1]
    assert val["images"][0]["image_labels"][0]["label"] == "blurry"
    # one info for the whole export: the latest timestamp in the data, never the clock
    assert train["info"] == val["info"]
    assert (train["info"]["date_created"], train["info"]["year"]) == (
        "2024-05-06T17:01:00+00:00", 2024)
    assert train["licenses"] == []
    street = train["images"][0]
    assert street["attributes"] == {"camera": "cam-train-pool", "exposure_ms": 8.5}
    assert street["tasks"][0]["classifications"][0] == {
        "name": "weather", "values": ["sunny"],
        "children": [{"name": "daytime", "values": ["noon"]}]}
    car = train["annotations"][0]
    assert car["attributes"] == {"occluded": False, "colour": "red", "passengers": 2,
                                 "truncation": 0.0, "plate": "LP-2024"}
    assert (car["tags"], car["object_id"], car["annotator"]) == (["parked"], 1, "ana")
    sign = train["annotations"][1]
    assert sign["rotated_box"] == {"cx": 480, "cy": 120, "w": 60, "h": 40, "angle_deg": 30}
    assert sign["area"] == pytest.approx(2400.0)
    model_car = next(a for a in train["annotations"] if "score" in a)
    assert (model_car["score"], model_car["source"]) == (0.66, "model")
    counts = result.report.counts
    assert counts["converted: rotated_box to its 4-corner polygon"] == 1
    assert counts["not written: polyline (COCO has no open lines)"] == 1
    assert counts["converted: none (image-level label) to image_labels"] == 1


def test_golden_plain(sample_source: MemorySource, tmp_path: Path) -> None:
    result = run_export(_ground_truth(sample_source), SPEC, tmp_path / "out",
                        options={"metadata": False})
    written = result.path / "annotations/instances_train.json"
    _check_golden(written, GOLDEN / "plain" / "annotations" / "instances_train.json")
    data = _load(written)
    assert set(data) == {"info", "licenses", "categories", "images", "annotations"}
    assert all(set(i) == {"id", "file_name", "width", "height"} for i in data["images"])
    assert all("attributes" not in a for a in data["annotations"])
    counts = result.report.counts
    assert counts["not written: none (image-level label; metadata=false)"] == 1
    assert counts["not written: annotation attributes and metadata (metadata=false)"] > 0
    assert counts["not written: image metadata and classifications (metadata=false)"] == 9


@pytest.mark.parametrize("metadata", [True, False])
def test_pycocotools_reads_every_export(sample_source: MemorySource, tmp_path: Path,
                                        metadata: bool) -> None:
    """The third-party check: COCO() loads the file; each segmentation decodes to exactly our
    rasterisation; the donut keeps its hole; RLE areas are pycocotools' areas."""
    result = run_export(sample_source, SPEC, tmp_path / "out", media=MediaMode.COPY,
                        options={"metadata": metadata})
    coco = COCO(str(result.path / "annotations/instances_train.json"))
    assert sorted(coco.getCatIds()) == list(range(1, len(SCHEMA.classes) + 1))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(SCHEMA.class_names)
    assert coco.getAnnIds(catIds=[SCHEMA.index_of("truck") + 1]) == []
    images = {i["file_name"]: i for i in coco.dataset["images"]}
    assert len(images) == len(sample_source)
    empty = images["empty_006.png"]
    assert coco.getAnnIds(imgIds=[empty["id"]]) == [] and (empty["width"], empty["height"]) == (
        320, 240)
    for name in images:
        assert (result.path / "images" / "train" / name).is_file()

    ours = {r.item.path: r for r in sample_source.records()}
    checked = 0
    for ann in coco.dataset["annotations"]:
        image = coco.imgs[ann["image_id"]]
        record = ours[image["file_name"]]
        wh = (image["width"], image["height"])
        expected = _expected_bitmap(record, ann, wh)
        if ann["segmentation"]:
            assert np.array_equal(coco.annToMask(ann), expected), ann["id"]
            rle = coco.annToRLE(ann)
            if isinstance(ann["segmentation"], dict):
                assert ann["area"] == float(mask_utils.area(rle))
            else:  # polygons: the exact area, close to the rasterised one
                assert ann["area"] == pytest.approx(float(mask_utils.area(rle)), rel=0.01)
            checked += 1
        elif "keypoints" not in ann:  # a box: pycocotools' own bbox rasteriser agrees
            (rle,) = mask_utils.frPyObjects(np.array([ann["bbox"]], dtype=np.float64), wh[1], wh[0])
            assert np.array_equal(mask_utils.decode(rle), expected)
    assert checked == 6  # two rotated signs, the donut building, the tree, two road masks
    building = next(a for a in coco.dataset["annotations"]
                    if a["category_id"] == SCHEMA.index_of("building") + 1)
    bitmap = coco.annToMask(building)
    assert bitmap[80, 100] == 0 and bitmap[30, 30] == 1  # inside the courtyard, on the building
    assert building["iscrowd"] == 0 and isinstance(building["segmentation"], dict)
    crowd = next(a for a in coco.dataset["annotations"] if a["iscrowd"])
    assert crowd["bbox"] == [10.0, 10.0, 60.0, 30.0]


def _expected_bitmap(record: ItemRecord, ann: dict[str, Any], wh: tuple[int, int]) -> np.ndarray:
    """Our own rasterisation of the sample annotation the COCO annotation came from."""
    label = SCHEMA.classes[ann["category_id"] - 1].name
    candidates = [a for a in record.annotations if a.label == label
                  and (a.score == ann.get("score"))]
    width, height = wh
    for a in candidates:
        g = a.geometry
        if isinstance(g, RotatedBox):
            g = Polygon.simple(rotated_box_corners(g))
        if isinstance(g, Polygon):
            return rle_to_bitmap(polygon_to_rle(g, height=height, width=width))
        if isinstance(g, Mask):
            return rle_to_bitmap(g)
        if isinstance(g, Box) and [g.x, g.y, g.w, g.h] == ann["bbox"]:
            return rle_to_bitmap(box_to_rle(g, height=height, width=width))
        if isinstance(g, Keypoints):
            return np.zeros((height, width), np.uint8)
    raise AssertionError(f"no sample annotation for {ann}")


# --- round trips --------------------------------------------------------------------------------


def _same_bitmap(a: Annotation, b: Annotation, wh: tuple[int, int]) -> bool:
    def bitmap(g: Any) -> np.ndarray:
        if isinstance(g, Polygon):
            return rle_to_bitmap(polygon_to_rle(g, height=wh[1], width=wh[0]))
        return rle_to_bitmap(g)

    return np.array_equal(bitmap(a.geometry), bitmap(b.geometry))


def test_round_trip_keeps_every_record(sample_source: MemorySource, tmp_path: Path) -> None:
    """Export -> read gives the same items, tasks and annotations; a polygon with a hole comes
    back as its mask (the same pixels); the polyline is not carried."""
    source = _with_splits(sample_source)
    result = run_export(source, SPEC, tmp_path / "out", media=MediaMode.COPY)
    read = SPEC.reader(result.path, {"images": None})  # type: ignore[misc]
    assert read.schema == SCHEMA
    assert read.project.name == "labelport sample"
    assert [d.name for d in read.datasets] == ["train-pool", "field"]
    assert [ls.name for ls in read.labelsets] == ["ground-truth", "predictions"]
    originals = {r.item.key: r for r in source.records()}
    assert sorted(originals) == sorted(r.item.key for r in read.records())
    for back in read.records():
        original = originals[back.item.key]
        assert back.split == original.split
        assert back.tasks == original.tasks
        assert back.item == replace(original.item, media_uri=back.item.media_uri)
        assert Path(back.item.media_uri or "").read_bytes() == Path(
            original.item.media_uri or "").read_bytes()
        written = [a for a in original.annotations if not isinstance(a.geometry, Polyline)]
        assert len(back.annotations) == len(written)
        back_sorted = sorted(back.annotations, key=lambda a: isinstance(a.geometry, NoGeometry))
        wanted = sorted(written, key=lambda a: isinstance(a.geometry, NoGeometry))
        for got, want in zip(back_sorted, wanted, strict=True):
            holes = isinstance(want.geometry, Polygon) and any(
                p.holes for p in want.geometry.parts)
            if holes:
                assert isinstance(got.geometry, Mask)
                assert _same_bitmap(got, want, (back.item.width, back.item.height))
                got = replace(got, geometry=want.geometry)
            assert got == want


@pytest.mark.parametrize("metadata", [True, False])
def test_export_read_export_gives_the_same_bytes(sample_source: MemorySource, tmp_path: Path,
                                                metadata: bool) -> None:
    options = {"metadata": metadata}
    first = run_export(_with_splits(sample_source), SPEC, tmp_path / "first", options=options)
    read = SPEC.reader(first.path, {"images": None})  # type: ignore[misc]
    second = run_export(read, SPEC, tmp_path / "second", options=options)
    for split in ("train", "val"):
        name = f"annotations/instances_{split}.json"
        before, after = (first.path / name).read_bytes(), (second.path / name).read_bytes()
        if not metadata:  # the timestamps info's date comes from are not carried
            before, after = before.split(b"\n", 1)[1], after.split(b"\n", 1)[1]
        assert before == after


def test_plain_round_trip_reads_scores_as_predictions(sample_source: MemorySource,
                                                      tmp_path: Path) -> None:
    result = run_export(sample_source, SPEC, tmp_path / "out", options={"metadata": False})
    read = SPEC.reader(result.path / "annotations" / "instances_train.json",  # type: ignore[misc]
                       {"images": None})
    records = list(read.records())
    assert [r.item.path for r in records] == [r.item.path for r in sample_source.records()]
    assert {r.item.dataset for r in records} == {"default"} and records[0].split == "train"
    scored = [a for r in records for a in r.annotations if a.score is not None]
    assert {a.score for a in scored} == {0.91, 0.47, 0.66, 0.78}
    assert all(a.source is Source.MODEL for a in scored)
    assert all(a.source is Source.HUMAN for r in records for a in r.annotations
               if a.score is None)
    sign = next(a for r in records for a in r.annotations if a.label.startswith("traffic"))
    assert isinstance(sign.geometry, Polygon)  # without metadata, the corners stay a polygon
    assert read.schema.get("person").skeleton == SCHEMA.get("person").skeleton  # type: ignore


def _one_image(*annotations: Annotation, schema: LabelSchema | None = None) -> MemorySource:
    schema = schema or LabelSchema(classes=(LabelClass(id=1, name="thing"),))
    item = Item(dataset="d", path="a.png", width=100, height=50)
    return MemorySource(project=ProjectInfo(name="p"), schema=schema,
                        items=(ItemRecord(item=item, annotations=annotations),))


def test_out_of_image_geometry_follows_the_policy(tmp_path: Path) -> None:
    source = _one_image(
        Annotation(label="thing", geometry=Box(x=-10, y=10, w=30, h=20)),
        Annotation(label="thing", geometry=Polygon.simple((90, 10, 120, 10, 120, 40, 90, 40))),
        Annotation(label="thing", geometry=Keypoints(points=(
            Keypoint(x=10, y=10), Keypoint(x=150, y=10)))),
        Annotation(label="thing", geometry=Box(x=200, y=200, w=5, h=5)),
    )
    result = run_export(source, SPEC, tmp_path / "clip")
    anns = _load(result.path / "annotations/instances_train.json")["annotations"]
    assert anns[0]["bbox"] == [0.0, 10.0, 20.0, 20.0]
    assert anns[1]["segmentation"] == [[90.0, 10.0, 100.0, 10.0, 100.0, 40.0, 90.0, 40.0]]
    assert anns[2]["keypoints"] == [10.0, 10.0, 2, 0.0, 0.0, 0] and anns[2]["num_keypoints"] == 1
    assert len(anns) == 3
    assert result.report.counts["dropped: entirely outside the image"] == 1
    kept = run_export(source, SPEC, tmp_path / "keep", outside=OutsidePolicy.KEEP)
    assert len(_load(kept.path / "annotations/instances_train.json")["annotations"]) == 4


def test_short_rings_are_never_written(tmp_path: Path) -> None:
    source = _one_image(Annotation(label="thing", geometry=Polygon(parts=(
        PolygonPart(outer=(1, 1, 5, 5)), PolygonPart(outer=(10, 10, 20, 10, 20, 20))))),
        Annotation(label="thing", geometry=Polygon.simple((1, 1, 2, 2))))
    result = run_export(source, SPEC, tmp_path / "out", outside=OutsidePolicy.KEEP)
    anns = _load(result.path / "annotations/instances_train.json")["annotations"]
    assert [a["segmentation"] for a in anns] == [[[10.0, 10.0, 20.0, 10.0, 20.0, 20.0]]]
    assert result.report.counts["dropped: polygon ring with fewer than 3 points"] == 2
    assert result.report.counts["not written: polygon with fewer than 3 points"] == 1


def test_the_writer_streams_and_names_duplicates_apart(tmp_path: Path) -> None:
    """Records are consumed once, as they come; two ``a.png`` in different datasets both
    survive under distinct names."""
    schema = LabelSchema(classes=(LabelClass(id=1, name="thing"),))
    passes = []

    def records() -> Any:
        passes.append(1)
        for i in range(600):
            item = Item(dataset=f"d{i % 2}", path="a.png", width=10, height=10)
            yield ItemRecord(item=item, annotations=(
                Annotation(label="thing", geometry=Box(x=1, y=1, w=2, h=2)),))

    source = StreamSource(project=ProjectInfo(name="p"), schema=schema, count=600,
                          open_records=records)
    done: list[int] = []
    result = run_export(source, SPEC, tmp_path / "out", progress=done.append)
    data = _load(result.path / "annotations/instances_train.json")
    assert len(passes) == 1 and done[-1] == 600
    names = [i["file_name"] for i in data["images"]]
    assert len(set(names)) == 600 and names[:3] == ["a.png", "a__d1.png", "a__d0.png"]
    assert [a["id"] for a in data["annotations"]] == list(range(1, 601))
    assert not (result.path / ".coco-spool").exists()


def test_an_empty_project_has_its_categories(tmp_path: Path) -> None:
    empty = MemorySource(project=ProjectInfo(name="e"), schema=SCHEMA)
    result = run_export(empty, SPEC, tmp_path / "out")
    data = _load(result.path / "annotations/instances_train.json")
    assert len(data["categories"]) == len(SCHEMA.classes)
    assert data["images"] == [] and data["annotations"] == [] and "date_created" not in data["info"]


# --- third-party files --------------------------------------------------------------------------


def _write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _third_party(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "images": [{"id": 7, "file_name": "x.png", "width": 4, "height": 3}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 90, "iscrowd": 1, "area": 4,
             "bbox": [0, 0, 4, 1],
             "segmentation": {"size": [3, 4], "counts": [0, 1, 2, 1, 2, 1, 2, 1, 2]}},
            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 2,
             "iscrowd": 0, "segmentation": [[0, 0, 2, 0, 2, 2], [1, 1, 2, 2]],
             "keypoints": [1, 1, 2, 0, 0, 0], "num_keypoints": 1},
        ],
        "categories": [{"id": 1, "name": "person", "supercategory": "person",
                        "keypoints": ["nose", "eye"], "skeleton": [[1, 2]]},
                       {"id": 90, "name": "crowd", "supercategory": ""}],
    }
    data.update(changes)
    return data


def test_reads_a_third_party_file(tmp_path: Path) -> None:
    file = _write(tmp_path / "person_keypoints_val.json", _third_party())
    source = SPEC.reader(file, {"images": None})  # type: ignore[misc]
    assert [(c.id, c.name, c.parent, c.geometry) for c in source.schema.classes] == [
        (1, "person", "person", GeometryKind.KEYPOINTS), (90, "crowd", None, GeometryKind.MASK)]
    assert source.schema.get("person").skeleton == ((0, 1),)  # type: ignore[union-attr]
    (record,) = source.records()
    assert record.split is None and record.item.dataset == "default"
    assert record.item.path == "x.png" and record.item.media_uri is None
    crowd, kps = record.annotations
    assert crowd.crowd and rle_to_bitmap(crowd.geometry).tolist() == [  # type: ignore[arg-type]
        [1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert kps.geometry == Keypoints(  # one object: its points, its own box and its outline
        points=(Keypoint(x=1, y=1), Keypoint(x=0, y=0, v=Visibility.NOT_LABELED)),
        box=Box(x=0, y=0, w=2, h=2),
        shape=Polygon.simple((0, 0, 2, 0, 2, 2)))  # the 2-point ring is skipped


def test_images_option_finds_media_and_sizes(tmp_path: Path) -> None:
    from PIL import Image

    media = tmp_path / "media"
    (media / "images" / "val").mkdir(parents=True)
    Image.new("RGB", (4, 3)).save(media / "images" / "val" / "x.png")
    Image.new("RGB", (8, 6)).save(media / "y.png")
    data = _third_party(images=[{"id": 7, "file_name": "x.png"}, {"id": 8, "file_name": "y.png"}])
    file = _write(tmp_path / "coco" / "annotations" / "instances_val.json", data)
    source = get_format("coco").reader(tmp_path / "coco", {"images": media})  # type: ignore[misc]
    x, y = source.records()
    assert (x.split, x.item.width, x.item.height) == ("val", 4, 3)
    assert x.item.media_uri == str((media / "images" / "val" / "x.png").absolute())
    assert (y.item.width, y.item.height, y.item.media_uri) == (8, 6, str(media / "y.png"))
    with pytest.raises(InputError, match=r"instances_val.json: image 'x.png' has no width"):
        SPEC.reader(file, {"images": tmp_path / "nowhere"})  # type: ignore[misc]


@pytest.mark.parametrize(("data", "message"), [
    ("{", r"not valid JSON"),
    ([], r"at \$: expected a COCO object"),
    ({"images": {}}, r"at \$\.images: expected an array"),
    (_third_party(images=[{"id": "7", "file_name": "x.png"}]),
     r"at \$\.images\[0\]\.id: Expected `int`, got `str`"),
    (_third_party(annotations=[{"id": 1, "image_id": 7, "category_id": 1, "bbox": [1, 2]}]),
     r"at \$\.annotations\[0\]\.bbox: Expected `array` of length 4"),
    (_third_party(annotations=[{"id": 1, "image_id": 8, "category_id": 1, "bbox": [0, 0, 1, 1]}]),
     r"at \$\.annotations\[0\]\.image_id: no image has id 8"),
    (_third_party(annotations=[{"id": 1, "image_id": 7, "category_id": 3, "bbox": [0, 0, 1, 1]}]),
     r"at \$\.annotations\[0\]\.category_id: no category has id 3; expected one of \[1, 90\]"),
    (_third_party(annotations=[{"id": 1, "image_id": 7, "category_id": 1,
                                "segmentation": [[0, 0, 1, 1, 2]]}]),
     r"at \$\.annotations\[0\]: a polygon ring needs x, y pairs"),
    (_third_party(annotations=[{"id": 1, "image_id": 7, "category_id": 1,
                                "segmentation": {"size": [5, 5], "counts": "abc"}}]),
     r"at \$\.annotations\[0\]: RLE size \[5, 5\] differs"),
    (_third_party(annotations=[{"id": 1, "image_id": 7, "category_id": 1,
                                "keypoints": [1, 1, 7, 0, 0, 0]}]),
     r"at \$\.annotations\[0\]: visibility at index 2 is 7"),
    (_third_party(annotations=[{"id": 1, "image_id": 7, "category_id": 1}]),
     r"at \$\.annotations\[0\]: expected a bbox, a segmentation or keypoints"),
    (_third_party(annotations=[{"id": 1, "image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1],
                                "source": "robot"}]),
     r"at \$\.annotations\[0\]: .*robot"),
    (_third_party(annotations=[], categories=[{"id": 1, "name": "p", "keypoints": ["a"],
                                               "skeleton": [[0, 1]]}]),
     r"at \$\.categories\[0\]\.skeleton: expected 1-based keypoint indices"),
    (_third_party(images=[{"id": 7, "file_name": "x.png", "width": 4, "height": 3,
                           "image_labels": [{"label": "nope"}]}]),
     r"at \$\.images\[0\]\.image_labels: class 'nope' is not a category"),
])
def test_bad_input_names_the_file_and_json_path(tmp_path: Path, data: Any, message: str) -> None:
    file = tmp_path / "bad.json"
    file.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=rf"bad\.json: .*{message}|bad\.json: {message}"):
        SPEC.reader(file, {"images": None})  # type: ignore[misc]


def test_a_folder_without_coco_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"expected a COCO JSON file, or a folder"):
        SPEC.reader(tmp_path, {"images": None})  # type: ignore[misc]


def test_splits_must_share_their_categories(tmp_path: Path) -> None:
    _write(tmp_path / "annotations" / "instances_train.json", _third_party())
    _write(tmp_path / "annotations" / "instances_val.json",
           _third_party(categories=[{"id": 1, "name": "person"}, {"id": 90, "name": "other"}]))
    with pytest.raises(InputError, match=r"instances_val\.json: at \$\.categories: expected the "
                                         r"same categories"):
        SPEC.reader(tmp_path, {"images": None})  # type: ignore[misc]



def test_media_lookup_lists_folders_and_asks_the_file_system_only_when_unsure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from labelport.formats.coco import _reader
    from labelport.formats.coco._reader import _Media

    (tmp_path / "IMG.JPG").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.jpg").write_bytes(b"y")
    asked: list[str] = []
    real_is_file = _reader.is_regular_file
    monkeypatch.setattr(_reader, "is_regular_file",
                        lambda p: asked.append(p.name) or real_is_file(p))
    media = _Media(tmp_path)
    assert media.find(None, "IMG.JPG", "IMG.JPG") == tmp_path / "IMG.JPG"
    assert media.find(None, "missing.jpg", "missing.jpg") is None
    assert asked == []  # both answered by the folder's listing
    # a name that differs only in case: what a case-insensitive file system would find
    assert media.find(None, "img.jpg", "img.jpg") is None  # this one is case-sensitive
    assert media.find(None, "sub/a.jpg", "sub/a.jpg") == tmp_path / "sub" / "a.jpg"
    assert asked == ["img.jpg", "a.jpg"]


COCO_ANNOTATION_KEYS = frozenset({"id", "image_id", "category_id", "segmentation", "area", "bbox",
                                  "iscrowd", "keypoints", "num_keypoints", "score"})
FIFTYONE_RESERVED = frozenset({"_id", "id", "_cls", "label", "bounding_box", "mask", "mask_path",
                               "confidence", "index", "instance", "instance_id"})
"""The names FiftyOne 1.22's COCO importer cannot take among an annotation's other keys (it makes
them attributes of a Detection, whose own fields these are): ``instance_id`` made it refuse
labelport's COCO + metadata export (issue 12)."""


def test_no_annotation_key_is_one_fiftyone_reserves(sample_source: MemorySource,
                                                    tmp_path: Path) -> None:
    result = run_export(_ground_truth(sample_source), SPEC, tmp_path / "out")
    doc = _load(result.path / "annotations" / "instances_train.json")
    extras = {key for ann in doc["annotations"] for key in ann} - COCO_ANNOTATION_KEYS
    assert "object_id" in extras and not extras & FIFTYONE_RESERVED
    read = SPEC.reader(result.path, {"images": None})  # type: ignore[misc]
    ids = {(r.item.key, a.instance_id) for r in read.records() for a in r.annotations}
    assert ids - {(key, None) for key, _ in ids} == {
        (r.item.key, a.instance_id) for r in _ground_truth(sample_source).records()
        for a in r.annotations if a.instance_id is not None
        and a.geometry.kind is not GeometryKind.POLYLINE}


def test_an_earlier_files_instance_id_is_still_read(tmp_path: Path) -> None:
    data = _third_party(annotations=[{"id": 1, "image_id": 7, "category_id": 1,
                                      "bbox": [0, 0, 2, 2], "instance_id": 5}])
    (record,) = SPEC.reader(_write(tmp_path / "old.json", data), {}).records()  # type: ignore[misc]
    assert record.annotations[0].instance_id == 5


def test_box_segmentation_polygon_lets_ann_to_mask_read_every_annotation(
        sample_source: MemorySource, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    source = _ground_truth(sample_source)
    result = run_export(source, SPEC, tmp_path / "out", options={"box_segmentation": "polygon"})
    coco = COCO(str(result.path / "annotations" / "instances_train.json"))
    boxes = 0
    for ann in coco.dataset["annotations"]:
        image = coco.imgs[ann["image_id"]]
        mask = coco.annToMask(ann)  # raises IndexError on "segmentation": []
        assert mask.shape == (image["height"], image["width"]) and mask.any(), ann["id"]
        if "keypoints" not in ann and ann["segmentation"] == [_outline(ann["bbox"])]:
            boxes += 1
            x, y, w, h = ann["bbox"]
            assert mask.sum() == pytest.approx(w * h, rel=0.1)
    assert boxes > 0
    default = run_export(source, SPEC, tmp_path / "default")  # the default is unchanged: []
    first = _load(default.path / "annotations" / "instances_train.json")["annotations"][0]
    assert first["segmentation"] == []
    read = SPEC.reader(result.path, {"images": None})  # type: ignore[misc]
    same = SPEC.reader(default.path, {"images": None})  # type: ignore[misc]
    assert list(read.records()) == list(same.records())  # a box's outline reads as the box


def _outline(bbox: list[float]) -> list[float]:
    x, y, w, h = bbox
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def _many_images(order: str) -> dict[str, Any]:
    """12 images with 0-3 annotations each (plain boxes, a polygon, a labelport extra), the
    annotations in image order, reversed, or (``first``) in image order with the
    annotations array and the categories before the images."""
    images = [{"id": 100 + k, "file_name": f"{k}.png", "width": 40, "height": 30}
              for k in range(12)]
    annotations = []
    for k in range(12):
        for j in range(k % 4):
            ann: dict[str, Any] = {"id": len(annotations) + 1, "image_id": 100 + k,
                                   "category_id": 1 + j % 2, "bbox": [j, k, 3.5, 2],
                                   "area": 7, "iscrowd": 0, "segmentation": []}
            if j == 2:
                ann["segmentation"] = [[0, 0, 4, 0, 4, 4]]
            if k == 5:
                ann["tags"] = ["checked"]
            annotations.append(ann)
    if order == "reversed":
        annotations.reverse()
    categories = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    if order == "first":
        return {"annotations": annotations, "categories": categories, "images": images}
    return {"images": images, "annotations": annotations, "categories": categories}


@pytest.mark.parametrize("order", ["in order", "reversed", "first"])
def test_a_file_is_streamed_in_small_windows_whatever_its_order(
        tmp_path: Path, order: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from labelport.formats._shared import json_stream
    from labelport.formats.coco import _reader

    expected = [(r.item.path, r.annotations) for r in SPEC.reader(  # type: ignore[misc]
        _write(tmp_path / "in_order.json", _many_images("in order")), {}).records()]
    assert sum(len(a) for _, a in expected) == 18 and expected[5][1][0].tags == ("checked",)
    monkeypatch.setattr(json_stream, "CHUNK", 64)  # a few annotations a batch
    monkeypatch.setattr(_reader, "SPILL_ANNOTATIONS", 4)  # out of order: 5 spill files
    source = SPEC.reader(_write(tmp_path / f"{order}.json", _many_images(order)), {})  # type: ignore[misc]
    for _ in range(2):  # records() may be asked for twice
        got = [(r.item.path, r.annotations) for r in source.records()]
        if order == "reversed":  # each image's annotations in the order of the file
            got = [(path, tuple(reversed(annotations))) for path, annotations in got]
        assert got == expected
    assert len(source) == 12 and not list(tmp_path.glob("labelport-coco-*"))


@pytest.mark.parametrize(("bad", "message"), [
    ({"image_id": 99}, r"at \$\.annotations\[37\]\.image_id: no image has id 99"),
    ({"category_id": 5}, r"at \$\.annotations\[37\]\.category_id: no category has id 5"),
    ({"bbox": None}, r"at \$\.annotations\[37\]: expected a bbox, a segmentation"),
])
def test_a_wrong_plain_box_among_many_is_named(tmp_path: Path, bad: dict[str, Any],
                                                message: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of plain boxes are checked whole; one that is wrong is checked again box by
    box, so the error names the box."""
    from labelport.formats._shared import json_stream

    monkeypatch.setattr(json_stream, "CHUNK", 1 << 10)  # several boxes a batch, many batches
    data = json.loads(_boxes_file(tmp_path / "boxes.json", 1).read_text())
    data["annotations"] = data["annotations"][:60]
    data["annotations"][37].update(bad)
    with pytest.raises(InputError, match=message):
        SPEC.reader(_write(tmp_path / "bad.json", data), {})  # type: ignore[misc]


def _peak_reading(file: Path) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        source = SPEC.reader(file, {})  # type: ignore[misc]
        assert sum(len(r.annotations) for r in source.records()) == _BOXES_PER_IMAGE * len(
            source)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


_BOXES_PER_IMAGE = 500


def _boxes_file(file: Path, images: int) -> Path:
    return _write(file, {
        "images": [{"id": k, "file_name": f"{k}.png", "width": 40, "height": 30}
                   for k in range(images)],
        "annotations": [{"id": n, "image_id": n // _BOXES_PER_IMAGE, "category_id": 1,
                         "bbox": [1, 1, 2, 2], "area": 4, "iscrowd": 0, "segmentation": []}
                        for n in range(images * _BOXES_PER_IMAGE)],
        "categories": [{"id": 1, "name": "a"}]})


def test_a_large_file_is_read_with_bounded_memory(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Checking the file keeps what is per image, not per annotation; the records are read
    again from the file as they stream: 4 times the annotations, the same peak (the old
    whole-file reading grew 4 times)."""
    from labelport.formats._shared import json_stream

    monkeypatch.setattr(json_stream, "CHUNK", 1 << 16)  # each file many batches
    small = _peak_reading(_boxes_file(tmp_path / "small.json", 24))  # 12k boxes, 1.2 MB
    large = _peak_reading(_boxes_file(tmp_path / "large.json", 96))
    assert large < 1.3 * small, (small, large)
