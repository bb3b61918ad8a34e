"""The YOLO family (``yolo`` with its four tasks, ``yolo_darknet``, ``yolo_keras``): pure row
conversions from tables (with the expected values of the research's tricky cases T1-T4), goldens
for the sample project read back as text and YAML, Ultralytics' own label rules on every
export, round trips, the out-of-image policy, and errors that name the file and line.

Ultralytics itself reads every task's export in test_ultralytics_reads.py (its side venv).
Here, as fast unit tests, `ultralytics_label_problems` applies the rules of its
``verify_image_label`` (ultralytics/data/utils.py, 8.x) and `resolve_like_ultralytics` its
data.yaml path rules (``check_det_dataset``), made stricter where labelport promises more (no
tolerance around [0, 1]).

Regenerate the goldens with ``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_yolo.py``
and read the diff before committing it."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import yaml
from PIL import Image

from labelport.domain.geometry import (
    Box,
    GeometryKind,
    Keypoint,
    Keypoints,
    NoGeometry,
    Polygon,
    PolygonPart,
    Polyline,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import bounding_box, rotated_box_corners
from labelport.domain.masks import polygon_to_rle, rle_to_bitmap
from labelport.domain.model import (
    DEFAULT_LABELSET,
    Annotation,
    Item,
    ItemRecord,
    ProjectInfo,
)
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, UnsupportedError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import FormatSpec, OutsidePolicy
from labelport.formats.registry import get_format
from labelport.formats.yolo import _rows as rows
from labelport.formats.yolo import darknet as yolo_darknet
from labelport.formats.yolo import keras as yolo_keras
from labelport.formats.yolo import ultralytics as yolo

GOLDEN = Path(__file__).parent.parent / "data" / "golden"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
MANIFEST = "labelport-export.json"


# --- Ultralytics' rules (the third-party check) ------------------------------------------------


def ultralytics_label_problems(label: Path, *, task: str, nc: int, nkpt: int = 0) -> list[str]:
    """What Ultralytics' ``verify_image_label`` would reject or repair in one label file: the
    column count per task (detect 5, pose 5 + 3K, obb 9, segment 1 + 2n with n >= 3), values in
    [0, 1] (Ultralytics allows 1 % either side; labelport promises none), no negative values,
    class < nc, no duplicate rows (Ultralytics drops them with a warning)."""
    problems = []
    lines = [x.split() for x in label.read_text(encoding="utf-8").strip().splitlines() if x]
    for number, fields in enumerate(lines, 1):
        values = [float(v) for v in fields]
        n = len(values)
        expected = {"detect": n == 5, "pose": n == 5 + 3 * nkpt, "obb": n == 9,
                    "segment": n >= 7 and n % 2 == 1}[task]
        if not expected:
            problems.append(f"{label.name}:{number}: {n} columns for {task}")
        if fields[0] != str(int(values[0])) or not 0 <= values[0] < nc:
            problems.append(f"{label.name}:{number}: class {fields[0]} not in 0..{nc - 1}")
        coordinates = values[1:]
        if task == "pose":
            kpts = values[5:]
            coordinates = values[1:5] + [v for i, v in enumerate(kpts) if i % 3 != 2]
            if any(v not in (0.0, 1.0, 2.0) for v in kpts[2::3]):
                problems.append(f"{label.name}:{number}: visibility not 0/1/2")
        if any(not 0 <= v <= 1 for v in coordinates):
            problems.append(f"{label.name}:{number}: value outside [0, 1]")
    if len({tuple(f) for f in lines}) != len(lines):
        problems.append(f"{label.name}: duplicate rows")
    return problems


def resolve_like_ultralytics(yaml_path: Path) -> dict[str, Path]:
    """``check_det_dataset``'s path rules: ``path`` (or, when absent, the yaml's folder) is the
    root, and train/val/test are resolved against it; run from another working directory."""
    data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    root = Path(data.get("path") or yaml_path.parent)
    return {k: (root / data[k]).resolve() for k in ("train", "val", "test") if data.get(k)}


def img2label(image: Path) -> Path:
    """Ultralytics' ``img2label_paths``: the last ``/images/`` becomes ``/labels/``."""
    text = str(image)
    head, _, tail = text.rpartition(f"{os.sep}images{os.sep}")
    return Path(f"{head}{os.sep}labels{os.sep}{tail}").with_suffix(".txt")


# --- pure conversions ---------------------------------------------------------------------------


@pytest.mark.parametrize(("box", "image_wh", "row"), [
    # T2: a box touching the right and bottom edges: cx + w/2 is exactly 1.
    (Box(x=600, y=400, w=40, h=80), (640, 480), "0 0.968750 0.916667 0.062500 0.166667"),
    # T3: the clipped box [0, 50, 50, 150] on 200 x 200.
    (Box(x=0, y=50, w=50, h=150), (200, 200), "0 0.125000 0.625000 0.250000 0.750000"),
    (Box(x=0, y=0, w=320, h=240), (320, 240), "0 0.500000 0.500000 1.000000 1.000000"),
    (Box(x=-1e-12, y=0, w=10, h=10), (100, 100), "0 0.050000 0.050000 0.100000 0.100000"),
    (Box(x=-10, y=50, w=60, h=200), (200, 200), None),
    (Box(x=-10, y=50, w=100, h=100), (200, 200), None),  # centre and size inside, edge not
])
def test_box_rows(box: Box, image_wh: tuple[int, int], row: str | None) -> None:
    assert rows.box_to_yolo_row(box, image_wh=image_wh, class_index=0) == row


def test_rotated_box_rows_match_t4() -> None:
    """T4's box B (Label Studio: 200, 100, 300 x 100, turned 90 degrees about its top-left
    corner) is labelport's centre-based box at (150, 250)."""
    b = RotatedBox(cx=150, cy=250, w=300, h=100, angle_deg=90)
    obb = rows.ring_to_yolo_row(rotated_box_corners(b), image_wh=(1000, 500), class_index=1)
    assert obb == "1 0.200000 0.200000 0.200000 0.800000 0.100000 0.800000 0.100000 0.200000"
    envelope = bounding_box(b)
    assert envelope is not None
    assert rows.box_to_yolo_row(envelope, image_wh=(1000, 500), class_index=1) == \
        "1 0.150000 0.500000 0.100000 0.600000"
    back = rows.rotated_box_from_row([float(v) for v in obb.split()[1:]], image_wh=(1000, 500),
                                     where="t")
    assert isinstance(back, RotatedBox)
    assert (back.cx, back.cy, back.w, back.h, back.angle_deg) == pytest.approx((150, 250, 300,
                                                                                100, 90))


def test_axis_aligned_obb_rows_read_back_as_boxes() -> None:
    box = Box(x=10, y=20, w=30, h=40)
    row = rows.ring_to_yolo_row(rows.box_corners(box), image_wh=(100, 100), class_index=0)
    assert row == "0 0.100000 0.200000 0.400000 0.200000 0.400000 0.600000 0.100000 0.600000"
    back = rows.rotated_box_from_row([float(v) for v in row.split()[1:]], image_wh=(100, 100),
                                     where="t")
    assert back == Box(x=10, y=20, w=30, h=40)


def test_pose_rows_write_missing_points_as_zeros() -> None:
    points = (Keypoint(x=50, y=25), Keypoint(x=0, y=0, v=Visibility.NOT_LABELED),
              Keypoint(x=100, y=50, v=Visibility.OCCLUDED))
    row = rows.pose_to_yolo_row(Box(x=50, y=25, w=50, h=25), points, n_keypoints=4,
                                image_wh=(100, 50), class_index=2)
    assert row == ("2 0.750000 0.750000 0.500000 0.500000 0.500000 0.500000 2 "
                   "0.000000 0.000000 0 1.000000 1.000000 1 0.000000 0.000000 0")
    box, keypoints = rows.pose_from_row([float(v) for v in row.split()[1:]], n_keypoints=4,
                                        image_wh=(100, 50), where="t")
    assert box == Box(x=50, y=25, w=50, h=25)
    assert [p.v for p in keypoints.points] == [2, 0, 1, 0]
    assert (keypoints.points[2].x, keypoints.points[2].y) == (100, 50)


def _bitmap(polygon: Polygon, *, size: int = 10) -> np.ndarray:
    return rle_to_bitmap(polygon_to_rle(polygon, height=size, width=size))


def test_single_ring_keeps_t1_hole() -> None:
    """T1's donut: one ring through a zero-width bridge, filled by pycocotools (even-odd, as
    OpenCV's fillPoly in Ultralytics), covers the 32 pixels of the square minus its hole."""
    donut = Polygon(parts=(PolygonPart(outer=(2, 2, 8, 2, 8, 8, 2, 8),
                                       holes=((4, 4, 6, 4, 6, 6, 4, 6),)),))
    ring = rows.polygon_to_single_ring(donut)
    assert len(ring) == 2 * (4 + 1 + 4 + 1)
    flat = mask_utils.decode(mask_utils.frPyObjects([list(ring)], 10, 10))[:, :, 0]
    assert flat.sum() == 32
    assert (flat == _bitmap(donut)).all()


def test_single_ring_joins_parts() -> None:
    tree = Polygon(parts=(PolygonPart(outer=(0, 0, 4, 0, 4, 4, 0, 4)),
                          PolygonPart(outer=(6, 0, 9, 0, 9, 3, 6, 3))))
    ring = rows.polygon_to_single_ring(tree)
    flat = mask_utils.decode(mask_utils.frPyObjects([list(ring)], 10, 10))[:, :, 0]
    assert flat.sum() == _bitmap(tree).sum() == 16 + 9


@pytest.mark.parametrize(("box", "field"), [
    (Box(x=600, y=400, w=40, h=80), "600,400,640,480,3"),
    (Box(x=10.5, y=10.4, w=20.0, h=20.6), "11,10,31,31,3"),
    (Box(x=0.49, y=0, w=1.0, h=1.5), "0,0,1,2,3"),
])
def test_keras_fields(box: Box, field: str) -> None:
    assert rows.box_to_keras_field(box, class_index=3) == field


@pytest.mark.parametrize(("line", "message"), [
    ("x 0.5 0.5 0.1 0.1", "expected a class index and numbers"),
    ("9 0.5 0.5 0.1 0.1", "class index 9 is outside 0..2"),
    ("-1 0.5 0.5 0.1 0.1", "class index -1 is outside 0..2"),
    ("0 nan 0.5 0.1 0.1", "non-finite"),
])
def test_parse_row_errors(line: str, message: str) -> None:
    with pytest.raises(InputError, match=f"^f.txt:3: {message}"):
        rows.parse_row(line, where="f.txt:3", n_classes=3)


@pytest.mark.parametrize(("field", "message"), [
    ("1,2,3,4", "expected x_min,y_min,x_max,y_max,class"),
    ("1,2,3,4,5", "class index 5 is outside"),
    ("5,2,3,4,0", "x_max/y_max below"),
    ("1.5,2,3,4,0", "expected x_min"),
])
def test_keras_field_errors(field: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        rows.box_from_keras_field(field, n_classes=3, where="a.txt:1")


def test_pose_shape_from_the_schema(sample_source: MemorySource) -> None:
    shape = yolo.pose_shape(sample_source.schema)
    assert shape == yolo.PoseShape(5, (0, 2, 1, 4, 3))
    with pytest.raises(UnsupportedError, match="keypoint names"):
        yolo.pose_shape(LabelSchema(classes=(LabelClass(id=1, name="car"),)))


# --- goldens ------------------------------------------------------------------------------------


def _ground_truth(source: ExportSource) -> ExportSource:
    return restrict_labelsets(source, [DEFAULT_LABELSET])


def _text_files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def _check_golden(written: Path, golden: Path) -> dict[str, str]:
    files = _text_files(written)
    if REGEN:
        for name, text in files.items():
            (golden / name).parent.mkdir(parents=True, exist_ok=True)
            (golden / name).write_text(text, encoding="utf-8")
    assert files == _text_files(golden), f"differs from {golden}"
    for text in files.values():
        assert "/tmp" not in text and str(Path.home()) not in text
    return files


@pytest.mark.parametrize("task", yolo.TASKS)
def test_golden_yolo(task: str, sample_source: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_export(_ground_truth(sample_source), yolo.SPEC, out, options={"task": task})
    files = _check_golden(out, GOLDEN / "yolo" / task)
    data = yaml.safe_load(files["data.yaml"])
    assert data["names"] == dict(enumerate(sample_source.schema.class_names))
    assert data["nc"] == 9 and "path" not in data
    assert (data["train"], data["val"]) == ("images/train", "images/train")
    stems = {Path(i.item.path).stem for i in sample_source.items}
    assert {Path(n).stem for n in files if n.startswith("labels/train/")} == stems
    assert files["labels/train/empty_006.txt"] == ""
    assert "labels/train/straße_ü.txt" in files
    yard = files["labels/train/yard_002.txt"].splitlines()
    if task == "detect":
        assert yard[-1] == "0 0.890625 0.895833 0.218750 0.208333"  # T2: right/bottom edge
        assert files["labels/train/sub/dir/walker.txt"] == "6 0.500000 0.520833 0.250000 0.625000\n"
    if task == "pose":
        assert (data["kpt_shape"], data["flip_idx"]) == ([5, 3], [0, 2, 1, 4, 3])
        assert files["labels/train/sub/dir/walker.txt"].split()[5:] == [
            "0.500000", "0.208333", "2", "0.375000", "0.458333", "2", "0.625000", "0.458333",
            "1", "0.000000", "0.000000", "0", "0.546875", "0.833333", "2"]
    if task == "segment":
        assert files["labels/train/sub/dir/walker.txt"] == ""  # keypoints: not a polygon
        assert len(yard[0].split()) == 1 + 2 * (4 + 1 + 4 + 1)  # building: hole bridged
    if task == "obb":
        street = files["labels/train/street_001.txt"].splitlines()
        assert street[1].startswith("2 0.725030 0.243554 ")  # the sign keeps its angle


@pytest.mark.parametrize(("splits", "expected"), [
    (("train", "val", "test"), {"train": "data/train.txt", "valid": "data/valid.txt",
                                "test": "data/test.txt"}),
    (("val",), {"valid": "data/valid.txt"}),
    (("test", "train"), {"train": "data/train.txt", "valid": "data/train.txt",
                         "test": "data/test.txt"}),
])
def test_darknet_obj_data_names_only_splits_with_images(
        sample_source: MemorySource, tmp_path: Path, splits: tuple[str, ...],
        expected: dict[str, str]) -> None:
    records = [replace(r, split=splits[i % len(splits)])
               for i, r in enumerate(_ground_truth(sample_source).records())]
    source = MemorySource(project=sample_source.project, schema=sample_source.schema,
                          items=tuple(records))
    result = run_export(source, yolo_darknet.SPEC, tmp_path / "out", media=MediaMode.COPY)
    lines = (result.path / "obj.data").read_text(encoding="utf-8").splitlines()
    data = dict(line.split(" = ") for line in lines)
    assert {k: v for k, v in data.items() if k not in ("classes", "names", "backup")} == expected
    for listed in set(expected.values()):  # every list named has images
        assert (result.path / listed.removeprefix("data/")).read_text(encoding="utf-8")
    said = "obj.data: valid names the train list (no val images)" in result.report.counts
    assert said == (expected.get("valid") == "data/train.txt")
    read = yolo_darknet.read(result.path, {})  # the train list named twice is read once
    assert len(read) == len(records)


def test_golden_yolo_darknet(sample_source: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_export(_ground_truth(sample_source), yolo_darknet.SPEC, out)
    files = _check_golden(out, GOLDEN / "yolo_darknet")
    data = dict(line.split(" = ") for line in files["obj.data"].splitlines())
    # no val images: valid names the train list (Darknet's examples), no empty valid.txt
    assert data == {"classes": "9", "train": "data/train.txt", "valid": "data/train.txt",
                    "names": "data/obj.names", "backup": "backup/"}
    assert files["obj.names"].splitlines() == list(sample_source.schema.class_names)
    listed = files["train.txt"].splitlines()
    assert listed[0] == "data/obj_train_data/street_001.png" and len(listed) == 9
    assert "valid.txt" not in files
    for line in listed:
        label = Path(line).relative_to("data").with_suffix(".txt").as_posix()
        assert label in files


def test_golden_yolo_keras(sample_source: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_export(_ground_truth(sample_source), yolo_keras.SPEC, out)
    files = _check_golden(out, GOLDEN / "yolo_keras")
    lines = files[yolo_keras.ANNOTATIONS_FILE].splitlines()
    assert lines[0] == "images/train/street_001.png 100,200,260,290,0 444,88,516,152,2 " \
                       "0,280,639,340,3"
    assert "images/train/empty_006.png" in lines
    assert files[yolo_keras.CLASSES_FILE].splitlines() == list(sample_source.schema.class_names)


# --- Ultralytics' rules on real exports ---------------------------------------------------------


def _with_splits(source: MemorySource) -> MemorySource:
    splits = ["train", "val", "train", "test", "val", "train", "train", "val", "train"]
    items = tuple(replace(r, split=s) for r, s in zip(source.items, splits, strict=True))
    return replace(source, items=items)


@pytest.mark.parametrize("task", yolo.TASKS)
def test_exports_satisfy_ultralytics(task: str, sample_source: MemorySource, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "export"
    run_export(_with_splits(sample_source), yolo.SPEC, out, options={"task": task},
               media=MediaMode.COPY)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    folders = resolve_like_ultralytics(Path(os.path.relpath(out / "data.yaml")))
    assert folders == {s: (out / "images" / s).resolve() for s in ("train", "val", "test")}
    data = yaml.safe_load((out / "data.yaml").read_text(encoding="utf-8"))
    nkpt = data["kpt_shape"][0] if task == "pose" else 0
    images = [p for folder in folders.values()  # Ultralytics globs `**/*.*`: nested too
              for p in sorted(folder.rglob("*")) if p.is_file()]
    assert len(images) == 9
    for image in images:
        with Image.open(image) as opened:
            assert min(opened.size) > 9
        label = img2label(image)
        assert label.is_file(), label
        assert ultralytics_label_problems(label, task=task, nc=data["nc"], nkpt=nkpt) == []


def test_keep_policy_never_writes_values_outside_the_unit_range(tmp_path: Path) -> None:
    schema = LabelSchema(classes=(LabelClass(id=1, name="a"),
                                  LabelClass(id=2, name="p", geometry=GeometryKind.KEYPOINTS,
                                             keypoint_names=("x", "y"))))
    item = Item(dataset="d", path="a.png", width=100, height=100)
    annotations = (
        Annotation(label="a", geometry=Box(x=-10, y=10, w=50, h=50)),
        Annotation(label="a", geometry=Box(x=10, y=10, w=50, h=50)),
        Annotation(label="a", geometry=RotatedBox(cx=95, cy=50, w=20, h=10, angle_deg=45)),
        Annotation(label="p", geometry=Keypoints(points=(Keypoint(x=50, y=50),
                                                         Keypoint(x=150, y=60)))),
    )
    source = MemorySource(project=ProjectInfo(name="p"), schema=schema,
                          items=(ItemRecord(item=item, annotations=annotations),))
    for task, kept in (("detect", 1), ("obb", 1), ("pose", 1)):
        keep = run_export(source, yolo.SPEC, tmp_path / f"keep-{task}",
                          options={"task": task}, outside=OutsidePolicy.KEEP)
        text = (tmp_path / f"keep-{task}" / "labels" / "train" / "a.txt").read_text()
        assert len(text.splitlines()) == kept, text
        assert keep.report.counts[rows.OUTSIDE_UNIT] == len(annotations) - kept
        assert all(0 <= float(v) <= 1 for line in text.splitlines() for v in line.split()[1:])
    clip = run_export(source, yolo.SPEC, tmp_path / "clip", options={"task": "obb"})
    text = (tmp_path / "clip" / "labels" / "train" / "a.txt").read_text().splitlines()
    assert text[0] == "0 0.000000 0.100000 0.400000 0.100000 0.400000 0.600000 0.000000 0.600000"
    assert clip.report.counts["clipped to the image: rotated_box corners"] == 1
    assert clip.report.counts["clipped to the image: box"] == 1
    assert all(0 <= float(v) <= 1 for line in text for v in line.split()[1:])


def test_clip_policy_clips_the_envelope_of_a_rotated_box_reaching_outside(
        tmp_path: Path) -> None:
    """The clip policy keeps a rotated box whole; the box rows carry its envelope clipped to
    the image, not an envelope that leaves [0, 1] (dropped by the unit check)."""
    schema = LabelSchema(classes=(LabelClass(id=1, name="a"),))
    item = Item(dataset="d", path="a.png", width=100, height=100)
    sticking_out = RotatedBox(cx=95, cy=50, w=20, h=10, angle_deg=45)  # x up to ~105.6
    source = MemorySource(project=ProjectInfo(name="p"), schema=schema, items=(ItemRecord(
        item=item, annotations=(Annotation(label="a", geometry=sticking_out),)),))
    for spec, label in ((yolo.SPEC, "labels/train/a.txt"),
                        (yolo_darknet.SPEC, "obj_train_data/a.txt")):
        result = run_export(source, spec, tmp_path / spec.name, outside=OutsidePolicy.CLIP)
        lines = (tmp_path / spec.name / label).read_text().splitlines()
        assert len(lines) == 1, spec.name
        cx, cy, w, h = (float(v) for v in lines[0].split()[1:])
        assert all(0 <= v <= 1 for v in (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        assert cx + w / 2 == pytest.approx(1.0)
        assert result.report.counts["clipped to the image: box"] == 1
        assert rows.OUTSIDE_UNIT not in result.report.counts
    run_export(source, yolo_keras.SPEC, tmp_path / "keras", outside=OutsidePolicy.CLIP)
    line = (tmp_path / "keras" / yolo_keras.ANNOTATIONS_FILE).read_text().split()
    x0, y0, x1, y1, _ = (int(v) for v in line[1].split(","))
    assert 0 <= x0 < x1 <= 100 and 0 <= y0 < y1 <= 100
    assert x1 == 100


def test_pose_uses_the_box_of_the_same_instance(tmp_path: Path) -> None:
    schema = LabelSchema(classes=(LabelClass(id=1, name="person",
                                             geometry=GeometryKind.KEYPOINTS,
                                             keypoint_names=("a", "b")),))
    item = Item(dataset="d", path="p.png", width=100, height=100)
    points = Keypoints(points=(Keypoint(x=40, y=40), Keypoint(x=60, y=60)))
    source = MemorySource(project=ProjectInfo(name="p"), schema=schema, items=(ItemRecord(
        item=item, annotations=(
            Annotation(label="person", geometry=Box(x=20, y=20, w=60, h=70), instance_id=4),
            Annotation(label="person", geometry=points, instance_id=4),
            Annotation(label="person", geometry=NoGeometry()))),))
    result = run_export(source, yolo.SPEC, tmp_path / "out", options={"task": "pose"})
    label = tmp_path / "out" / "labels" / "train" / "p.txt"
    assert label.read_text() == ("0 0.500000 0.550000 0.600000 0.700000 0.400000 0.400000 2 "
                                 "0.600000 0.600000 2\n")
    assert result.report.counts["not written: none (image-level class)"] == 1


def test_same_stem_in_one_split_gets_two_label_files(tmp_path: Path) -> None:
    schema = LabelSchema(classes=(LabelClass(id=1, name="a"),))
    records = tuple(ItemRecord(item=Item(dataset=ds, path=name, width=10, height=10),
                               annotations=(Annotation(label="a", geometry=Box(x=0, y=0, w=n,
                                                                               h=n)),))
                    for n, (ds, name) in enumerate([("x", "a.jpg"), ("y", "a.png")], 1))
    source = MemorySource(project=ProjectInfo(name="p"), schema=schema, items=records)
    for spec, folder in ((yolo.SPEC, "labels/train"), (yolo_darknet.SPEC, "obj_train_data")):
        run_export(source, spec, tmp_path / spec.name)
        labels = sorted(p.name for p in (tmp_path / spec.name / folder).glob("*.txt"))
        assert labels == ["a.txt", "a__y.txt"]


# --- round trips --------------------------------------------------------------------------------


def _read(spec: FormatSpec, out: Path, **options: object) -> dict[str, ItemRecord]:
    """The records read back by file name (yolo keeps an item's folders in its path; the darknet
    and keras layouts do not)."""
    records = {r.item.file_name: r  # type: ignore[misc]
               for r in spec.reader(out, options).records()}
    return records


def _close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= 1e-6 * scale


def _same_box(a: Box, b: Box, image_wh: tuple[int, int], *, pixels: float = 0.0) -> bool:
    w, h = image_wh
    return all(abs(p - q) <= pixels + 1e-6 * s
               for p, q, s in zip(a.xyxy, b.xyxy, (w, h, w, h), strict=True))


def _expected(source: ExportSource) -> list[tuple[str, ItemRecord]]:
    return [(r.item.file_name, r) for r in _ground_truth(source).records()]


@pytest.mark.parametrize(("spec", "pixels"), [(yolo.SPEC, 0.0), (yolo_darknet.SPEC, 0.0),
                                              (yolo_keras.SPEC, 0.5)])
def test_box_round_trip(spec: FormatSpec, pixels: float, sample_source: MemorySource,
                        tmp_path: Path) -> None:
    """Every object comes back as its bounding box, in order, with the same class; sizes come
    from the exported images' headers."""
    out = tmp_path / "out"
    run_export(_ground_truth(sample_source), spec, out, media=MediaMode.COPY)
    back = _read(spec, out)
    for name, record in _expected(sample_source):
        read = back[name]
        assert (read.item.width, read.item.height) == (record.item.width, record.item.height)
        assert read.split == "train"
        expected = [a for a in record.annotations if a.geometry.kind is not GeometryKind.NONE]
        assert [a.label for a in read.annotations] == [a.label for a in expected]
        for got, want in zip(read.annotations, expected, strict=True):
            box = bounding_box(want.geometry)
            assert isinstance(got.geometry, Box) and box is not None
            assert _same_box(got.geometry, box, (read.item.width, read.item.height),
                             pixels=pixels)


def test_segment_round_trip_covers_the_same_pixels(sample_source: MemorySource,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_export(_ground_truth(sample_source), yolo.SPEC, out, options={"task": "segment"},
               media=MediaMode.COPY)
    back = _read(yolo.SPEC, out)
    for name, record in _expected(sample_source):
        kept = [a for a in record.annotations
                if isinstance(a.geometry, Box | RotatedBox | Polygon)]
        got = back[name].annotations
        assert [a.label for a in got] == [a.label for a in kept]
        w, h = record.item.width, record.item.height
        for read, want in zip(got, kept, strict=True):
            assert isinstance(read.geometry, Polygon)
            geometry = want.geometry
            if isinstance(geometry, Box):
                geometry = Polygon.simple(rows.box_corners(geometry))
            elif isinstance(geometry, RotatedBox):
                geometry = Polygon.simple(rotated_box_corners(geometry))
            a = rle_to_bitmap(polygon_to_rle(read.geometry, height=h, width=w)).astype(bool)
            b = rle_to_bitmap(polygon_to_rle(geometry, height=h, width=w)).astype(bool)
            assert (a & b).sum() / (a | b).sum() > 0.97, name


def test_obb_round_trip(sample_source: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_export(_ground_truth(sample_source), yolo.SPEC, out, options={"task": "obb"},
               media=MediaMode.COPY)
    back = _read(yolo.SPEC, out, task="obb")
    sign = back["street_001.png"].annotations[1].geometry
    assert isinstance(sign, RotatedBox)
    assert (sign.cx, sign.cy, sign.w, sign.h, sign.angle_deg) == pytest.approx(
        (480, 120, 60, 40, 30), abs=1e-3)
    car = back["street_001.png"].annotations[0].geometry
    assert isinstance(car, Box) and _same_box(car, Box(x=100, y=200, w=160, h=90), (640, 360))


def test_pose_round_trip(sample_source: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_export(_ground_truth(sample_source), yolo.SPEC, out, options={"task": "pose"},
               media=MediaMode.COPY)
    source = yolo.SPEC.reader(out, {})  # type: ignore[misc]
    assert source.schema.classes[6].flip_pairs == ((1, 2), (3, 4))
    back = {r.item.file_name: r for r in source.records()}
    (person,) = back["walker.png"].annotations
    assert isinstance(person.geometry, Keypoints)
    want = next(r for n, r in _expected(sample_source) if n == "walker.png")
    original = want.annotations[0].geometry
    assert isinstance(original, Keypoints)
    for got, exp in zip(person.geometry.points, original.points, strict=True):
        assert got.v == exp.v
        assert _close(got.x, exp.x, 320) and _close(got.y, exp.y, 240)
    assert isinstance(back["yard_002.jpg"].annotations[0].geometry, Box)


def test_splits_round_trip_and_val_folder(sample_source: MemorySource, tmp_path: Path) -> None:
    source = _with_splits(sample_source)
    for spec in (yolo.SPEC, yolo_darknet.SPEC, yolo_keras.SPEC):
        out = tmp_path / spec.name
        run_export(source, spec, out, media=MediaMode.COPY)
        back = _read(spec, out)
        assert {p: r.split for p, r in back.items()} == {
            r.item.file_name: r.split for r in source.items}


def test_reading_without_exported_media_needs_the_images_folder(
        sample_source: MemorySource, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for record in sample_source.items:
        (flat / record.item.file_name).write_bytes(Path(record.item.media_uri or "").read_bytes())
    for spec in (yolo.SPEC, yolo_darknet.SPEC, yolo_keras.SPEC):
        out = tmp_path / spec.name
        run_export(_ground_truth(sample_source), spec, out)
        with pytest.raises(InputError, match="crossing_005|street_001"):
            list(spec.reader(out, {}).records())  # type: ignore[misc]
        back = _read(spec, out, images=str(flat))
        assert back["walker.png"].item.media_uri == str((flat / "walker.png").absolute())
        assert (back["street_001.png"].item.width, back["street_001.png"].item.height) == \
            (640, 360)


def test_registered() -> None:
    assert get_format("yolo") is yolo.SPEC
    assert get_format("yolo_darknet") is yolo_darknet.SPEC
    assert get_format("yolo_keras") is yolo_keras.SPEC


# --- bad input ----------------------------------------------------------------------------------


@pytest.fixture
def detect_export(sample_source: MemorySource, tmp_path: Path) -> Path:
    out = tmp_path / "det"
    run_export(_ground_truth(sample_source), yolo.SPEC, out, media=MediaMode.COPY)
    return out


def test_bad_yaml_names_file_and_line(detect_export: Path) -> None:
    (detect_export / "data.yaml").write_text("train: images/train\nnames: [a, b\n")
    with pytest.raises(InputError, match=r"data\.yaml:3: not valid YAML"):
        yolo.read(detect_export, {})
    (detect_export / "data.yaml").write_text("train: images/train\nnames: {0: a, 2: b}\n")
    with pytest.raises(InputError, match=r"data\.yaml: names: keys must be 0..1"):
        yolo.read(detect_export, {})
    (detect_export / "data.yaml").write_text("train: images/nowhere\nnames: [a]\n")
    with pytest.raises(InputError, match="train: folder .*nowhere does not exist"):
        yolo.read(detect_export, {})


def test_bad_rows_name_file_and_line(detect_export: Path) -> None:
    label = detect_export / "labels" / "train" / "yard_002.txt"
    lines = label.read_text().splitlines()
    cases = [("12 0.5 0.5 0.1 0.1", "class index 12 is outside 0..8"),
             ("0 0.5 0.5 0.1", "3 numbers after the class"),
             ("0 0.5 0.5 -0.1 0.2", "negative box size")]
    for bad, message in cases:
        label.write_text("\n".join([lines[0], bad]) + "\n")
        with pytest.raises(InputError, match=rf"yard_002\.txt:2: .*{message}"):
            list(yolo.read(detect_export, {}).records())


def test_missing_image_is_named(detect_export: Path) -> None:
    (detect_export / "images" / "train" / "sub" / "dir" / "walker.png").unlink()
    with pytest.raises(InputError, match=r"labels/train/sub/dir/walker\.txt: its image "
                                         r"sub/dir/walker\.\*"):
        yolo.read(detect_export, {})


def test_darknet_and_keras_bad_input(sample_source: MemorySource, tmp_path: Path) -> None:
    dark = tmp_path / "dark"
    run_export(_ground_truth(sample_source), yolo_darknet.SPEC, dark, media=MediaMode.COPY)
    (dark / "obj.data").write_text("classes = 9\ntrain data/train.txt\n")
    with pytest.raises(InputError, match=r"obj\.data:2: expected 'key = value'"):
        yolo_darknet.read(dark, {})
    (dark / "obj.data").write_text("classes = 9\ntrain = data/train.txt\nnames = data/obj.names\n")
    (dark / "train.txt").write_text("data/obj_train_data/street_001.png\ndata/nope.png\n")
    with pytest.raises(InputError, match=r"train\.txt:2: image 'data/nope\.png' not found"):
        yolo_darknet.read(dark, {})
    keras = tmp_path / "keras"
    run_export(_ground_truth(sample_source), yolo_keras.SPEC, keras, media=MediaMode.COPY)
    annotations = keras / yolo_keras.ANNOTATIONS_FILE
    annotations.write_text("images/train/street_001.png 1,2,3,4,0 1,2,3\n")
    with pytest.raises(InputError, match=r"annotations\.txt:1: expected x_min"):
        yolo_keras.read(keras, {})
    annotations.write_text("../outside.png\n")
    with pytest.raises(InputError, match="outside the dataset folder"):
        yolo_keras.read(keras, {})


def test_keras_file_names_never_contain_whitespace(tmp_path: Path) -> None:
    schema = LabelSchema(classes=(LabelClass(id=1, name="a"),))
    item = Item(dataset="d", path="my photo 1.png", width=10, height=10)
    source = MemorySource(project=ProjectInfo(name="p"), schema=schema, items=(ItemRecord(
        item=item, annotations=(Annotation(label="a", geometry=Polyline(points=(0, 0, 5, 5))),)),))
    result = run_export(source, yolo_keras.SPEC, tmp_path / "out")
    line = (tmp_path / "out" / yolo_keras.ANNOTATIONS_FILE).read_text()
    assert line == "images/train/my_photo_1.png 0,0,5,5,0\n"
    assert result.report.counts["renamed: whitespace in file name"] == 1
    assert result.report.counts["converted: polyline to its bounding box"] == 1


@pytest.mark.parametrize("split", ["names", "nc", "path", "kpt_shape"])
def test_a_split_named_like_a_data_yaml_key_is_refused(
        split: str, sample_source: MemorySource, tmp_path: Path) -> None:
    source = replace(sample_source, items=tuple(replace(r, split=split)
                                                for r in sample_source.items))
    with pytest.raises(UnsupportedError, match=f"split named '{split}'"):
        run_export(source, yolo.SPEC, tmp_path / "out", options={"task": "pose"})
    assert not (tmp_path / "out").exists()
