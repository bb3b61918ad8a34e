"""KITTI: label lines from tables, goldens for the sample project (checked by a strict parser
written from the object devkit's readme, not only compared as bytes), round trips, and bad input
refused with the file, line and field. Datumaro reads every split folder of our export in
test_datumaro_reads.py; the strict parser here stays as a fast check of the devkit's rules.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_kitti.py`` and read the diff
before committing it."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from labelport.domain.geometry import Box, NoGeometry, Polygon
from labelport.domain.geometry_ops import bounding_box
from labelport.domain.model import Annotation, Item, ItemRecord, ProjectInfo, Source
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, UnsupportedError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats._shared.label_colors import class_token
from labelport.formats.base import OutsidePolicy, WriteContext
from labelport.formats.kitti.detection import (
    SPEC,
    kitti_line,
    occlusion_level,
    read,
    write,
)

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "kitti"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
DONT_CARE_3D = "-1 -1 -1 -1000 -1000 -1000 -10"


# --- the devkit's label format, as its readme states it ---------------------------------------


@dataclass(frozen=True)
class DevkitObject:
    type: str
    truncated: float
    occluded: int
    alpha: float
    bbox: tuple[float, float, float, float]
    dimensions: tuple[float, float, float]
    location: tuple[float, float, float]
    rotation_y: float
    score: float | None


def devkit_parse(line: str, *, image_wh: tuple[int, int]) -> DevkitObject:
    """The readme of the KITTI object devkit: 15 space-separated values per object, a 16th
    ``score`` in results; truncated a float in 0..1, occluded an integer 0..3, alpha and
    rotation_y in [-pi, pi] (-10 when unknown), bbox 0-based pixel left top right bottom,
    dimensions in metres (-1 unknown), location in camera coordinates (-1000 unknown)."""
    fields = line.split(" ")
    assert len(fields) in (15, 16), line
    assert all(fields), f"empty field (double space) in {line!r}"
    numbers = [float(v) for v in fields[1:]]
    assert all(math.isfinite(v) for v in numbers)
    truncated, occluded, alpha = numbers[0], numbers[1], numbers[2]
    assert 0 <= truncated <= 1
    assert fields[2] in ("0", "1", "2", "3")
    assert -math.pi <= alpha <= math.pi or alpha == -10
    left, top, right, bottom = numbers[3:7]
    assert 0 <= left <= right <= image_wh[0] and 0 <= top <= bottom <= image_wh[1], line
    dimensions, location = tuple(numbers[7:10]), tuple(numbers[10:13])
    assert all(d > 0 for d in dimensions) or dimensions == (-1, -1, -1)
    rotation_y = numbers[13]
    assert -math.pi <= rotation_y <= math.pi or rotation_y == -10
    score = numbers[14] if len(numbers) == 15 else None
    return DevkitObject(fields[0], truncated, int(occluded), alpha, (left, top, right, bottom),
                        dimensions, location, rotation_y, score)  # type: ignore[arg-type]


# --- pure conversions ------------------------------------------------------------------------


def _line(box: Box, **kwargs: object) -> str:
    defaults: dict[str, object] = {"type_": "car", "truncated": 0.0, "occluded": 0,
                                   "attributes": {}, "score": None}
    return kitti_line(box=box, **(defaults | kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(("box", "kwargs", "expected"), [
    # T2: a box touching the right and bottom edges
    (Box(x=600, y=400, w=40, h=80), {},
     f"car 0.00 0 -10 600.00 400.00 640.00 480.00 {DONT_CARE_3D}"),
    # T3: clipped, 0.375 of it was outside
    (Box(x=0, y=50, w=50, h=150), {"truncated": 0.375, "occluded": 2},
     f"car 0.38 2 -10 0.00 50.00 50.00 200.00 {DONT_CARE_3D}"),
    (Box(x=10.004, y=2.5, w=0.333, h=1), {"score": 0.91},
     f"car 0.00 0 -10 10.00 2.50 10.34 3.50 {DONT_CARE_3D} 0.910000"),
    # the devkit's own example line, from 3-D attributes
    (Box.from_xyxy(564.62, 174.59, 616.43, 224.74),
     {"attributes": {"alpha": -1.56, "dimensions": [1.61, 1.66, 3.2],
                     "location": [-0.69, 1.69, 25.01], "rotation_y": -1.59}},
     "car 0.00 0 -1.56 564.62 174.59 616.43 224.74 1.61 1.66 3.20 -0.69 1.69 25.01 -1.59"),
    # 3-D attributes that are not numbers of the right count fall back to DontCare
    (Box(x=0, y=0, w=1, h=1), {"attributes": {"dimensions": [1, 2], "alpha": "left"}},
     f"car 0.00 0 -10 0.00 0.00 1.00 1.00 {DONT_CARE_3D}"),
])
def test_kitti_lines(box: Box, kwargs: dict[str, object], expected: str) -> None:
    line = _line(box, **kwargs)
    assert line == expected
    devkit_parse(line, image_wh=(1242, 375) if "564" in expected else (640, 480))


@pytest.mark.parametrize(("name", "type_"), [
    ("car", "car"), ("traffic sign, temporary", "traffic_sign,_temporary"),
    (" two\tspaces  here ", "two_spaces_here"), ("行人", "行人"),
])
def test_class_names_become_one_token(name: str, type_: str) -> None:
    assert class_token(name) == type_


@pytest.mark.parametrize(("value", "level"), [
    (False, 0), (True, 1), (0, 0), (2, 2), (3.0, 3), ("1", 1), (4, None), ("heavy", None),
    (None, None),
])
def test_occlusion_levels(value: object, level: int | None) -> None:
    assert occlusion_level(value) == level


# --- helpers ---------------------------------------------------------------------------------


def _source(*records: ItemRecord, classes: tuple[str, ...] = ("car",)) -> MemorySource:
    schema = LabelSchema(classes=tuple(LabelClass(id=i, name=n)
                                       for i, n in enumerate(classes, start=1)))
    return MemorySource(project=ProjectInfo(name="p"), schema=schema, items=records)


def _record(path: str, *annotations: Annotation, size: tuple[int, int] = (200, 200),
            split: str | None = None) -> ItemRecord:
    return ItemRecord(item=Item(dataset="d", path=path, width=size[0], height=size[1]),
                      annotations=annotations, split=split)


def _write(source: ExportSource, out: Path, ctx: WriteContext | None = None) -> WriteContext:
    ctx = ctx or WriteContext()
    write(source, out, {}, ctx)
    return ctx


def _lines(out: Path, stem: str, split: str = "train") -> list[str]:
    return (out / split / "label_2" / f"{stem}.txt").read_text(encoding="utf-8").splitlines()


def _with_images(out: Path, source: ExportSource) -> None:
    for record in source.records():
        folder = out / (record.split or "train") / "image_2"
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (record.item.width, record.item.height)).save(
            folder / f"{Path(record.item.path).stem}.png")


# --- goldens ---------------------------------------------------------------------------------


def test_golden_sample(sample_source: MemorySource, tmp_path: Path) -> None:
    """The whole sample, predictions included, so the goldens show 16-field lines too."""
    out = tmp_path / "kitti"
    ctx = _write(sample_source, out)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    if REGEN:
        for name in written:
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes((out / name).read_bytes())
    golden = sorted(p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file())
    assert written == golden
    for name in written:
        assert (out / name).read_bytes() == (GOLDEN / name).read_bytes(), f"{name} differs"

    objects: dict[str, list[DevkitObject]] = {}
    for record in sample_source.records():
        stem = Path(record.item.file_name).stem
        labels = (GOLDEN / "train" / "label_2" / record.item.path).with_suffix(".txt")
        lines = labels.read_text("utf-8").splitlines()  # the item's folders kept
        objects[stem] = [devkit_parse(line, image_wh=(record.item.width, record.item.height))
                         for line in lines]
    assert objects["empty_006"] == []  # T5: an image without objects keeps an empty file
    assert [o.type for o in objects["street_001"]] == [
        "car", "traffic_sign,_temporary", 'lane_"dashed"', "car", "traffic_sign,_temporary"]
    assert [o.score for o in objects["street_001"]] == [None, None, None, 0.91, 0.47]
    edge_car = objects["yard_002"][3]  # T2, with the annotator's truncation of 0.25
    assert (edge_car.bbox, edge_car.truncated, edge_car.score) == ((250, 190, 320, 240), 0.25,
                                                                  0.66)
    assert objects["yard_002"][1].occluded == 1  # occluded: True
    assert objects["crossing_005"][1].occluded == 1
    assert all(o.dimensions == (-1, -1, -1) and o.location == (-1000, -1000, -1000)
               and o.alpha == -10 and o.rotation_y == -10
               for found in objects.values() for o in found)
    classes = (GOLDEN / "classes.tsv").read_text("utf-8").splitlines()
    assert classes[0] == "type\tname"
    assert [line.split("\t")[1] for line in classes[1:]] == list(sample_source.schema.class_names)

    counts = ctx.report.counts
    assert counts["converted: rotated_box to its bounding box"] == 2
    assert counts["converted: keypoints to its bounding box"] == 1
    assert counts["not written: none (image-level class)"] == 1
    assert counts["converted: white space in class name written as '_'"] == 3
    assert counts["dropped: attributes"] == 4  # colour, passengers, plate
    assert counts["not written: image classification"] == 9


# --- round trips -----------------------------------------------------------------------------


def test_round_trip_through_the_export_with_images(sample_source: MemorySource,
                                                   tmp_path: Path) -> None:
    result = run_export(sample_source, SPEC, tmp_path / "kitti", media=MediaMode.COPY)
    back = read(result.path, {})
    assert back.schema.class_names == sample_source.schema.class_names
    originals = {r.item.path: r for r in sample_source.records()}
    assert len(back) == len(originals)
    for got in back.records():
        want = originals.pop(got.item.path)
        assert (got.item.width, got.item.height, got.split) == (want.item.width,
                                                                want.item.height, "train")
        assert got.item.media_uri == str(result.path / "train" / "image_2" / got.item.path)
        written = [a for a in want.annotations if bounding_box(a.geometry) is not None]
        assert [a.label for a in got.annotations] == [a.label for a in written]
        for back_annotation, original in zip(got.annotations, written, strict=True):
            envelope = bounding_box(original.geometry)
            assert envelope is not None
            for a, b in zip(back_annotation.geometry.xyxy, envelope.xyxy, strict=True):  # type: ignore[union-attr]
                assert abs(a - b) <= 0.005
            assert back_annotation.score == original.score
            assert back_annotation.source == (Source.MODEL if original.score is not None
                                              else Source.HUMAN)
            occluded = original.attributes.get("occluded", 0)
            assert back_annotation.attributes["occluded"] == int(occluded)
    assert not originals


def test_3d_fields_survive_a_round_trip(tmp_path: Path) -> None:
    attributes = {"alpha": -1.56, "dimensions": [1.61, 1.66, 3.2],
                  "location": [-0.69, 1.69, 25.01], "rotation_y": -1.59, "occluded": 2,
                  "truncated": 0.3}
    car = Annotation(label="car", geometry=Box(x=10, y=20, w=30, h=40), attributes=attributes)
    source = _source(_record("000001.png", car, split="training"))
    _write(source, tmp_path)
    _with_images(tmp_path, source)
    (record,) = read(tmp_path, {}).records()
    assert record.split == "training"
    assert record.annotations == (car,)


def test_a_classes_file_maps_types_back_to_names(tmp_path: Path) -> None:
    sign = Annotation(label="traffic sign", geometry=Box(x=1, y=1, w=2, h=2))
    source = _source(_record("a.png", sign), classes=("unused class", "traffic sign"))
    _write(source, tmp_path)
    assert _lines(tmp_path, "a")[0].startswith("traffic_sign 0.00 0 ")
    _with_images(tmp_path, source)
    back = read(tmp_path, {})
    assert back.schema.class_names == ("unused class", "traffic sign")
    assert [a.label for r in back.records() for a in r.annotations] == ["traffic sign"]


def test_two_classes_with_the_same_token_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match="'traffic sign' and 'traffic_sign'"):
        _write(_source(classes=("traffic sign", "traffic_sign")), tmp_path)


# --- truncated, occluded, geometry -----------------------------------------------------------


def test_truncated_is_the_share_outside_the_image_before_clipping(tmp_path: Path) -> None:
    """T3: 200 x 200 image, box x=-10 y=50 w=60 h=200: clipped to 0 50 50 200, 0.375 outside."""
    car = Annotation(label="car", geometry=Box(x=-10, y=50, w=60, h=200))
    ctx = _write(_source(_record("a.png", car)), tmp_path)
    obj = devkit_parse(_lines(tmp_path, "a")[0], image_wh=(200, 200))
    assert (obj.truncated, obj.bbox) == (0.38, (0, 50, 50, 200))
    assert ctx.report.counts["clipped to the image: box"] == 1


def test_keep_policy_keeps_the_box_and_still_computes_truncation(tmp_path: Path) -> None:
    car = Annotation(label="car", geometry=Box(x=-10, y=50, w=60, h=200))
    _write(_source(_record("a.png", car)), tmp_path, WriteContext(outside=OutsidePolicy.KEEP))
    assert _lines(tmp_path, "a") == [f"car 0.38 0 -10 -10.00 50.00 50.00 250.00 {DONT_CARE_3D}"]


def test_polygon_envelope_and_unknown_occlusion(tmp_path: Path) -> None:
    building = Annotation(label="car", geometry=Polygon.simple((10, 10, 50, 10, 30, 40)),
                          attributes={"occluded": "heavily", "plate": "X"})
    image_level = Annotation(label="car", geometry=NoGeometry())
    ctx = _write(_source(_record("a.png", building, image_level)), tmp_path)
    assert _lines(tmp_path, "a") == [f"car 0.00 3 -10 10.00 10.00 50.00 40.00 {DONT_CARE_3D}"]
    counts = ctx.report.counts
    assert counts["converted: polygon to its bounding box"] == 1
    assert counts["converted: occluded attribute not 0..3 written as 3 (unknown)"] == 1
    assert counts["dropped: attributes"] == 1
    assert counts["not written: none (image-level class)"] == 1


def test_splits_and_duplicate_stems(tmp_path: Path) -> None:
    source = _source(_record("a.jpg", split="val"), _record("a.png", split="val"),
                     _record("a.png", split="train"))
    _write(source, tmp_path)
    assert sorted(p.name for p in (tmp_path / "val" / "label_2").iterdir()) == ["a.txt",
                                                                                "a__d.txt"]
    assert [p.name for p in (tmp_path / "train" / "label_2").iterdir()] == ["a.txt"]


# --- reading other tools' files and bad input ------------------------------------------------


def test_reads_devkit_ground_truth_with_dontcare_and_images_from_the_option(
        tmp_path: Path) -> None:
    (tmp_path / "label_2").mkdir()
    (tmp_path / "label_2" / "000000.txt").write_text(
        "Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 "
        "0.01\nDontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10\n")
    images = tmp_path / "elsewhere"
    images.mkdir()
    Image.new("RGB", (1224, 370)).save(images / "000000.png")
    source = read(tmp_path, {"images": images})
    assert source.schema.class_names == ("Pedestrian", "DontCare")
    (record,) = source.records()
    assert (record.item.path, record.item.width, record.item.height, record.split) == (
        "000000.png", 1224, 370, None)
    pedestrian, dont_care = record.annotations
    assert pedestrian.geometry == Box.from_xyxy(712.40, 143.00, 810.73, 307.92)
    assert pedestrian.attributes == {"truncated": 0.0, "occluded": 0, "alpha": -0.2,
                                     "dimensions": [1.89, 0.48, 1.2],
                                     "location": [1.84, 1.47, 8.41], "rotation_y": 0.01}
    assert dont_care.attributes == {"truncated": -1.0, "occluded": -1}


@pytest.mark.parametrize(("content", "message"), [
    ("car 0 0 -10 1 2 3\n", r"a\.txt: line 1: expected 15 fields \(16 with a score\), got 7"),
    (f"car 0 0 -10 1 2 3 4 {DONT_CARE_3D}\ncar 0 0 -10 1 2 x 4 {DONT_CARE_3D}\n",
     r"a\.txt: line 2: right should be a number, got 'x'"),
    (f"car 0 0 -10 5 2 3 4 {DONT_CARE_3D}\n", "line 1: expected left <= right"),
    (f"car 0 7 -10 1 2 3 4 {DONT_CARE_3D}\n", "line 1: occluded should be 0, 1, 2 or 3"),
    (f"car 0 0 nan 1 2 3 4 {DONT_CARE_3D}\n", "line 1: alpha should be finite"),
])
def test_bad_lines_are_refused_with_the_file_line_and_field(tmp_path: Path, content: str,
                                                            message: str) -> None:
    (tmp_path / "label_2").mkdir()
    (tmp_path / "label_2" / "a.txt").write_text(content)
    (tmp_path / "image_2").mkdir()
    Image.new("RGB", (10, 10)).save(tmp_path / "image_2" / "a.png")
    with pytest.raises(InputError, match=message):
        read(tmp_path, {})


def test_a_label_file_without_its_image_is_refused(tmp_path: Path) -> None:
    (tmp_path / "label_2").mkdir()
    (tmp_path / "label_2" / "a.txt").write_text("")
    with pytest.raises(InputError, match=r"a\.txt: KITTI stores no image size"):
        read(tmp_path, {})


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_a_folder_without_labels_is_refused(tmp_path: Path, make: str) -> None:
    path = tmp_path / "missing" if make == "missing" else tmp_path
    with pytest.raises(InputError, match="label_2"):
        read(path, {})


def test_a_bad_classes_file_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "label_2").mkdir()
    (tmp_path / "classes.tsv").write_text("type\tname\ncar\tcar\nno tab here\n")
    with pytest.raises(InputError, match=r"classes\.tsv: line 3: expected 'type<TAB>name'"):
        read(tmp_path, {})
