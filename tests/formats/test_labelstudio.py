"""Label Studio JSON and JSON_MIN: coordinate and rotation conversions from tables (T4 of the
research notes), the brush RLE against its documented bit layout, the label config parsed back,
goldens for the sample project (read, not only compared as bytes), round trips, bad input
refused with the file and JSON path, and Label Studio's own converter (label-studio-sdk).

The SDK pulls OpenCV, pandas, nltk and a code generator, so it is not in the ``dev`` extra: the
SDK test runs when ``LABELPORT_LS_PYTHON`` names a Python that has it (through
`tests.side_python.run_side`: a failure in CI without it, a skip elsewhere). ``make test`` builds
one in ``.venv-labelstudio`` and sets it (and so does CI); by hand::

    python -m venv /tmp/lsvenv && /tmp/lsvenv/bin/pip install label-studio-sdk==2.1.2
    LABELPORT_LS_PYTHON=/tmp/lsvenv/bin/python .venv/bin/pytest tests/formats/test_labelstudio.py

Without it, the same rules are checked here: the brush RLE is decoded by a transcription of the
SDK's ``decode_rle`` (bit string, one field at a time) and the rectangle corners follow the SDK's
``convert_annotation_to_yolo_obb``.

Regenerate the goldens with ``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest
tests/formats/test_labelstudio.py`` and read the diff before committing it."""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.side_python import run_side

from labelport.domain.geometry import (
    Box,
    Keypoint,
    Keypoints,
    Mask,
    NoGeometry,
    Polygon,
    PolygonPart,
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
    Task,
    TaskStatus,
)
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats.base import WriteContext
from labelport.formats.labelstudio._config import parse_label_config
from labelport.formats.labelstudio._values import (
    box_to_ls,
    brush_rle_to_bitmap,
    decode_brush_rle,
    encode_brush_rle,
    rectangle_from_ls,
    rotated_box_to_ls,
)
from labelport.formats.labelstudio.tasks import (
    MIN_SPEC,
    SPEC,
    read,
    read_min,
    write,
    write_min,
)
from labelport.formats.registry import get_format
from labelport.sample import PREDICTIONS, SCHEMA

GOLDEN = Path(__file__).parent.parent / "data" / "golden"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
LS_PYTHON = "LABELPORT_LS_PYTHON"


def _write(source: ExportSource, out: Path, writer: Any = write, **options: object
           ) -> WriteContext:
    ctx = WriteContext()
    writer(source, out, options, ctx)
    return ctx


def _tasks(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / "result.json").read_text(encoding="utf-8"))


def _results(task: dict[str, Any], kind: str = "annotations") -> list[dict[str, Any]]:
    return [r for a in task[kind] for r in a["result"]]


# --- pure conversions ---------------------------------------------------------------------------


def sdk_obb_corners(value: dict[str, float], *, image_wh: tuple[int, int]
                    ) -> list[tuple[float, float]]:
    """The corners Label Studio's converter gives a rectangle (``convert_annotation_to_yolo_obb``,
    transcribed): percent to pixels, then turned clockwise about the top-left corner."""
    width, height = image_wh
    x, y = value["x"] / 100 * width, value["y"] / 100 * height
    w, h = value["width"] / 100 * width, value["height"] / 100 * height
    r = math.radians(value.get("rotation", 0))
    cos, sin = math.cos(r), math.sin(r)
    return [(x, y), (x + w * cos, y + w * sin), (x + w * cos - h * sin, y + w * sin + h * cos),
            (x - h * sin, y + h * cos)]


@pytest.mark.parametrize(("box", "image_wh", "expected"), [
    (Box(x=100, y=50, w=200, h=100), (400, 200), (25.0, 25.0, 50.0, 50.0)),
    (Box(x=0, y=0, w=640, h=360), (640, 360), (0.0, 0.0, 100.0, 100.0)),
    (Box(x=600, y=400, w=40, h=80), (640, 480), (93.75, 400 / 4.8, 6.25, 80 / 4.8)),
])
def test_box_to_percent(box: Box, image_wh: tuple[int, int],
                        expected: tuple[float, ...]) -> None:
    value = box_to_ls(box, image_wh=image_wh)
    assert (value["x"], value["y"], value["width"], value["height"]) == pytest.approx(expected)
    assert value["rotation"] == 0
    back = rectangle_from_ls(value, image_wh=image_wh)
    assert isinstance(back, Box) and _close(back, box)


def test_t4_a_quarter_turn_on_a_non_square_image_is_computed_in_pixels() -> None:
    """LS#2293: on a 1000 x 500 image, box B (x=200, y=100, w=300, h=100, rotation 90) covers
    box C (100, 100, 100, 300); the percent-space conversion got it wrong."""
    value = {"x": 20.0, "y": 20.0, "width": 30.0, "height": 20.0, "rotation": 90.0}
    rotated = rectangle_from_ls(value, image_wh=(1000, 500))
    assert isinstance(rotated, RotatedBox)
    corners = rotated_box_corners(rotated)
    assert corners == pytest.approx((200, 100, 200, 400, 100, 400, 100, 100))
    assert _close(bounding_box(rotated), Box(x=100, y=100, w=100, h=300))
    again = rotated_box_to_ls(rotated, image_wh=(1000, 500))
    assert again == pytest.approx(value)


def _close(a: Box | None, b: Box, tol: float = 1e-9) -> bool:
    return a is not None and all(abs(p - q) < tol for p, q in
                                 zip((a.x, a.y, a.w, a.h), (b.x, b.y, b.w, b.h), strict=True))


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0, 135.0, 180.0, -30.0, -179.0])
@pytest.mark.parametrize("image_wh", [(640, 360), (300, 900)])
def test_rotated_boxes_match_the_sdk_corners_and_come_back(angle: float,
                                                           image_wh: tuple[int, int]) -> None:
    box = RotatedBox(cx=200, cy=150, w=120, h=40, angle_deg=angle)
    value = rotated_box_to_ls(box, image_wh=image_wh)
    assert 0 <= value["rotation"] < 360
    ours = rotated_box_corners(box)
    theirs = [v for corner in sdk_obb_corners(value, image_wh=image_wh) for v in corner]
    assert ours == pytest.approx(theirs, abs=1e-9)
    back = rectangle_from_ls(value, image_wh=image_wh)
    if angle == 0.0:
        assert isinstance(back, Box) and _close(back, Box(x=140, y=130, w=120, h=40))
    else:
        assert isinstance(back, RotatedBox)
        assert (back.cx, back.cy, back.w, back.h, back.angle_deg) == pytest.approx(
            (box.cx, box.cy, box.w, box.h, angle))


# --- brush RLE ----------------------------------------------------------------------------------


def sdk_decode_rle(rle: list[int]) -> np.ndarray:
    """Label Studio SDK's ``brush.decode_rle``, transcribed: the stream as a bit string, read
    one field at a time."""
    bits = "".join(f"{b:08b}" for b in rle)
    at = 0

    def read(n: int) -> int:
        nonlocal at
        at += n
        return int(bits[at - n:at], 2)

    num = read(32)
    word_size = read(5) + 1
    sizes = [read(4) + 1 for _ in range(4)]
    out = np.zeros(num, dtype=np.uint8)
    i = 0
    while i < num:
        x = read(1)
        j = i + 1 + read(sizes[read(2)])
        if x:
            out[i:j] = read(word_size)
            i = j
        else:
            while i < j:
                out[i] = read(word_size)
                i += 1
    return out


@pytest.mark.parametrize("shape", [(1, 1), (3, 4), (37, 53), (240, 320)])
def test_brush_rle_round_trips_and_decodes_like_the_sdk(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    bitmap = (rng.random(shape) > 0.6).astype(np.uint8)
    bitmap[: shape[0] // 2, : shape[1] // 2] = 1  # long runs as well as short ones
    rle = encode_brush_rle(bitmap)
    assert all(0 <= b <= 255 for b in rle)
    assert (brush_rle_to_bitmap(rle, height=shape[0], width=shape[1]) == bitmap).all()
    rgba = sdk_decode_rle(rle).reshape(*shape, 4)
    assert (rgba[:, :, 3] > 0).astype(np.uint8).tolist() == bitmap.tolist()
    assert set(np.unique(rgba).tolist()) <= {0, 255}


def test_brush_rle_header_and_a_single_run() -> None:
    """A 1 x 1 set pixel: 4 words of 255 = one repeat chunk of length 4 with run size 3."""
    rle = encode_brush_rle(np.ones((1, 1), dtype=np.uint8))
    bits = "".join(f"{b:08b}" for b in rle)
    assert bits[:32] == f"{4:032b}"  # num
    assert bits[32:37] == "00111"  # word size 8
    assert bits[37:53] == "0010" "0011" "0111" "1111"  # run sizes 3, 4, 8, 16
    assert bits[53:67] == "1" "00" "011" "11111111"  # repeat, size 0, length 4, value 255
    assert set(bits[67:]) <= {"0"} and len(bits) % 8 == 0


def test_runs_longer_than_65536_words_are_split() -> None:
    bitmap = np.ones((200, 200), dtype=np.uint8)  # 160,000 words of 255
    rle = encode_brush_rle(bitmap)
    assert (sdk_decode_rle(rle) == 255).all()
    assert brush_rle_to_bitmap(rle, height=200, width=200).all()


def test_literal_chunks_are_decoded() -> None:
    """Label Studio's editor also writes literal chunks (flag 0): 3 words 1, 2, 3 then a repeat
    of 5 x 0, hand-assembled."""
    bits = (f"{8:032b}" "00111" "0010" "0011" "0111" "1111"
            "0" "00" "010" "00000001" "00000010" "00000011"
            "1" "00" "100" "00000000")
    bits += "0" * (-len(bits) % 8)
    rle = list(int(bits, 2).to_bytes(len(bits) // 8, "big"))
    assert decode_brush_rle(rle).tolist() == [1, 2, 3, 0, 0, 0, 0, 0]
    assert decode_brush_rle(rle).tolist() == sdk_decode_rle(rle).tolist()


@pytest.mark.parametrize(("rle", "message"), [
    ([0, 0], "ends early"),
    ([0, 0, 0, 9, 14, 0x47, 0xF0], "ends early"),
    ([300], "bytes"),
])
def test_bad_brush_rle_is_refused(rle: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_brush_rle(rle)


def test_brush_of_the_wrong_size_is_refused() -> None:
    rle = encode_brush_rle(np.ones((2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="a 3 x 2 RGBA image needs 24"):
        brush_rle_to_bitmap(rle, height=2, width=3)


# --- the label config ---------------------------------------------------------------------------


def test_label_config_reads_back_as_the_schema(sample_source: MemorySource,
                                               tmp_path: Path) -> None:
    _write(sample_source, tmp_path)
    config = tmp_path / "label_config.xml"
    root = ET.parse(config).getroot()
    assert root.tag == "View"
    names = [e.get("name") for e in root if e.get("name")]
    assert len(names) == len(set(names)), "control names must be unique"
    assert all(e.get("toName") == "image" for e in root if e.tag != "Image")
    parsed = parse_label_config(config)
    schema = parsed.schema
    # Every class with a Label Studio tool, in the schema's order, with its colour.
    carried = [c for c in SCHEMA.classes if c.geometry.value != "polyline"]
    assert schema.class_names == tuple(c.name for c in carried)
    assert [c.color for c in schema.classes] == [c.color for c in carried]
    assert schema.get("person").keypoint_names == SCHEMA.get("person").keypoint_names  # type: ignore[union-attr]
    assert schema.get("car").attributes == tuple(  # type: ignore[union-attr]
        a.__class__(name=a.name, type=a.type, required=a.required, options=a.options,
                    min=a.min, max=a.max)
        for a in SCHEMA.get("car").attributes)  # type: ignore[union-attr]
    assert schema.classifications == SCHEMA.classifications
    daytime = root.find("Choices[@name='daytime']")
    assert daytime is not None and (daytime.get("visibleWhen"), daytime.get("whenTagName"),
                                    daytime.get("whenChoiceValue")) == (
        "choice-selected", "weather", "sunny")


def test_clashing_names_get_a_counter(tmp_path: Path) -> None:
    from labelport.domain.schema import ClassificationDef, ClassificationKind

    schema = LabelSchema(
        classes=(LabelClass(id=1, name="a"),),
        classifications=(ClassificationDef(name="rectangle", kind=ClassificationKind.TEXT),
                         ClassificationDef(name="q", kind=ClassificationKind.RADIO,
                                           options=("x",))))
    source = MemorySource(project=ProjectInfo(name="p"), schema=schema)
    _write(source, tmp_path)
    parsed = parse_label_config(tmp_path / "label_config.xml")
    assert [d.name for d in parsed.schema.classifications] == ["rectangle", "q"]
    assert parsed.classifications == {"rectangle (2)": ("rectangle",), "q": ("q",)}


# --- goldens ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec_name", "writer"), [("labelstudio", write),
                                                   ("labelstudio_min", write_min)])
def test_golden_sample(sample_source: MemorySource, tmp_path: Path, spec_name: str,
                       writer: Any) -> None:
    out = tmp_path / spec_name
    _write(sample_source, out, writer)
    golden = GOLDEN / spec_name
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    if REGEN:
        for name in written:
            (golden / name).parent.mkdir(parents=True, exist_ok=True)
            (golden / name).write_bytes((out / name).read_bytes())
    assert written == sorted(p.relative_to(golden).as_posix() for p in golden.rglob("*")
                             if p.is_file())
    for name in written:
        text = (golden / name).read_text(encoding="utf-8")
        assert (out / name).read_text(encoding="utf-8") == text, f"{name} differs"
        assert str(tmp_path) not in text


def test_golden_says_what_it_should() -> None:
    tasks = _tasks(GOLDEN / "labelstudio")
    by_path = {t["data"]["path"]: t for t in tasks}
    assert [t["id"] for t in tasks] == list(range(1, 10))
    # Every image, the empty one too; data points at images/ relatively.
    assert by_path["empty_006.png"]["annotations"] == []
    assert by_path["sub/dir/walker.png"]["data"]["image"] == "images/sub/dir/walker.png"
    # The skipped task is a cancelled annotation.
    (skipped,) = by_path["field_003.jpg"]["annotations"]
    assert skipped["was_cancelled"] is True and skipped["result"] == []
    street = by_path["street_001.png"]
    car, *car_attributes = [r for r in _results(street) if r["id"] == "1-1"]
    assert car["value"]["x"] == pytest.approx(100 / 6.4)
    assert car["value"]["y"] == pytest.approx(200 / 3.6)
    assert (car["original_width"], car["original_height"], car["image_rotation"]) == (640, 360, 0)
    assert {r["from_name"]: r["value"] for r in car_attributes} == {
        "car: occluded": {"choices": ["false"]}, "car: colour": {"choices": ["red"]},
        "car: passengers": {"number": 2}, "car: truncation": {"number": 0.0},
        "car: plate": {"text": ["LP-2024"]}}
    # The sign turned by 30 degrees about its centre: its LS anchor is the turned corner.
    sign = next(r for r in _results(street) if r["value"].get("rectanglelabels") ==
                ["traffic sign, temporary"])
    corners = sdk_obb_corners(sign["value"], image_wh=(640, 360))
    expected = rotated_box_corners(RotatedBox(cx=480, cy=120, w=60, h=40, angle_deg=30))
    assert [v for c in corners for v in c] == pytest.approx(expected, abs=1e-9)
    assert sign["value"]["rotation"] == 30.0
    # Predictions with their model and scores.
    (prediction,) = street["predictions"]
    assert prediction["model_version"] == "detector-v2"
    assert [r["score"] for r in prediction["result"]] == [0.91, 0.47]
    assert prediction["score"] == pytest.approx((0.91 + 0.47) / 2)
    # Nested classifications and text.
    answers = {r["from_name"]: r["value"] for r in _results(street) if r["type"] in
               ("choices", "textarea") and not r["from_name"].startswith("car: ")}
    assert answers == {"weather": {"choices": ["sunny"]}, "daytime": {"choices": ["noon"]},
                       "hazards": {"choices": ["glare", "roadworks"]},
                       "notes": {"text": ['sign leans, "temporary"']}}
    # The building's courtyard stays a hole: written as a brush mask.
    yard = by_path["yard_002.jpg"]
    building = next(r for r in _results(yard) if r["type"] == "brushlabels")
    bitmap = brush_rle_to_bitmap(building["value"]["rle"], height=240, width=320)
    assert bitmap[80, 100] == 0 and bitmap[30, 30] == 1 and bitmap.sum() == 160 * 120 - 60 * 40
    # The tree in two parts: the second names the first as parent.
    first, second = [r for r in _results(by_path["straße_ü.png"])
                     if r["type"] == "polygonlabels"]
    assert second["parentID"] == first["id"] and "parentID" not in first
    # Keypoints hang from the person's rectangle; the unlabelled point is not written.
    walker = _results(by_path["sub/dir/walker.png"])
    owner = walker[0]
    points = [r for r in walker if r["type"] == "keypointlabels"]
    assert owner["value"]["rectanglelabels"] == ["person"]
    assert [p["value"]["keypointlabels"] for p in points] == [
        ["head"], ["left_hand"], ["right_hand"], ["right_foot"]]
    assert all(p["parentID"] == owner["id"] for p in points)
    assert [p.get("meta") for p in points] == [None, None, {"text": ["occluded"]}, None]
    # The image-level class.
    (blurry,) = [r for r in _results(by_path["field_001.jpg"]) if r["from_name"] == "image_labels"]
    assert blurry["value"] == {"choices": ["blurry"]}


def test_min_golden_is_flat() -> None:
    records = json.loads((GOLDEN / "labelstudio_min" / "result.json").read_text(encoding="utf-8"))
    assert len(records) == 9
    street = records[0]
    assert street["image"] == "images/street_001.png"
    assert street["weather"] == "sunny" and street["notes"] == 'sign leans, "temporary"'
    assert street["hazards"] == {"choices": ["glare", "roadworks"]}  # two: not a string
    assert street["annotator"] == "ana" and street["annotation_id"] == 1
    assert street["rectangle"][0]["rectanglelabels"] == ["car"]
    assert records[5]["annotation_id"] is None  # the empty image keeps a record
    assert records[8]["was_cancelled"] is True


# --- round trips --------------------------------------------------------------------------------


def _geometry_close(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, Mask):
        return (rle_to_bitmap(a) == rle_to_bitmap(b)).all()
    if isinstance(a, Keypoints):
        return all(p.v == q.v and (p.v == 0 or (abs(p.x - q.x) < 1e-9 and abs(p.y - q.y) < 1e-9))
                   for p, q in zip(a.points, b.points, strict=True))
    if isinstance(a, NoGeometry):
        return True
    if isinstance(a, Polygon):
        return all(np.allclose(p.outer, q.outer, atol=1e-9)
                   for p, q in zip(a.parts, b.parts, strict=True))
    fields = ("x", "y", "w", "h") if isinstance(a, Box) else ("cx", "cy", "w", "h", "angle_deg")
    return all(abs(getattr(a, f) - getattr(b, f)) < 1e-9 for f in fields)


def test_round_trip_keeps_geometry_attributes_classifications_and_labelsets(
        sample_source: MemorySource, tmp_path: Path) -> None:
    _write(sample_source, tmp_path)
    back = {r.item.path: r for r in read(tmp_path, {}).records()}
    for record in sample_source.records():
        got = back[record.item.path]
        assert (got.item.dataset, got.item.width, got.item.height, got.split) == (
            record.item.dataset, record.item.width, record.item.height, "train")
        assert got.item.metadata == record.item.metadata
        expected = [a for a in record.annotations if a.geometry.kind.value != "polyline"]
        assert len(got.annotations) == len(expected), record.item.path
        for want, have in zip(expected, got.annotations, strict=True):
            assert (have.label, have.labelset, have.score) == (
                want.label, want.labelset, want.score)
            assert have.attributes == want.attributes
            assert have.source == want.source
            if want.label == "building":  # the polygon with a hole came back as its mask
                assert isinstance(have.geometry, Mask)
                assert _geometry_close(have.geometry, polygon_to_rle(
                    want.geometry, height=240, width=320))  # type: ignore[arg-type]
            else:
                assert _geometry_close(have.geometry, want.geometry), (want, have)
        for want_task in record.tasks:
            have_task = next(t for t in got.tasks if t.labelset == want_task.labelset)
            assert have_task.classifications == want_task.classifications
            if want_task.status in (TaskStatus.NEW, TaskStatus.SKIPPED):
                assert have_task.status == want_task.status
            if want_task.labelset == DEFAULT_LABELSET and want_task.status is not TaskStatus.NEW:
                assert have_task.assignee == want_task.assignee
                assert have_task.created_at == want_task.created_at
    source = read(tmp_path, {})
    assert [ls.name for ls in source.labelsets] == [DEFAULT_LABELSET, PREDICTIONS]


def test_export_read_export_is_byte_identical(sample_source: MemorySource,
                                              tmp_path: Path) -> None:
    _write(sample_source, tmp_path / "a")
    _write(read(tmp_path / "a", {}), tmp_path / "b")
    a, b = _tasks(tmp_path / "a"), _tasks(tmp_path / "b")
    assert [_results(t) for t in a] == [_results(t) for t in b]
    assert [t["predictions"] for t in a] == [t["predictions"] for t in b]


def test_through_the_pipeline_with_media(sample_source: MemorySource, tmp_path: Path) -> None:
    result = run_export(sample_source, get_format("labelstudio"), tmp_path / "out",
                        media=MediaMode.COPY)
    for task in _tasks(result.path):
        assert (result.path / task["data"]["image"]).is_file()
    back = read(result.path, {})
    assert all(r.item.media_uri and Path(r.item.media_uri).is_file() for r in back.records())
    assert result.report.counts["not written: polyline (Label Studio has no polyline tool)"] == 1
    assert result.report.counts["converted: polygon with holes to a brush mask"] == 1


def test_holes_drop_writes_outer_rings_and_counts(tmp_path: Path) -> None:
    donut = Polygon(parts=(PolygonPart(outer=(2, 2, 8, 2, 8, 8, 2, 8),
                                       holes=((4, 4, 6, 4, 6, 6, 4, 6),)),))
    source = MemorySource(
        project=ProjectInfo(name="p"),
        schema=LabelSchema(classes=(LabelClass(id=1, name="d", geometry=donut.kind),)),
        items=(ItemRecord(item=Item(dataset="default", path="a.png", width=10, height=10),
                          annotations=(Annotation(label="d", geometry=donut),)),))
    ctx = _write(source, tmp_path, holes="drop")
    (result,) = _results(_tasks(tmp_path)[0])
    assert result["type"] == "polygonlabels"
    assert result["value"]["points"] == [[20.0, 20.0], [80.0, 20.0], [80.0, 80.0], [20.0, 80.0]]
    assert ctx.report.counts["dropped: polygon holes (holes=drop)"] == 1


def test_rotated_box_on_a_non_square_image_round_trips(tmp_path: Path) -> None:
    box = RotatedBox(cx=500, cy=250, w=300, h=100, angle_deg=90)
    source = MemorySource(
        project=ProjectInfo(name="p"),
        schema=LabelSchema(classes=(LabelClass(id=1, name="r", geometry=box.kind),)),
        items=(ItemRecord(item=Item(dataset="default", path="a.png", width=1000, height=500),
                          tasks=(Task(status=TaskStatus.LABELED),),
                          annotations=(Annotation(label="r", geometry=box),)),))
    _write(source, tmp_path)
    (result,) = _results(_tasks(tmp_path)[0])
    value = result["value"]
    assert value.pop("rectanglelabels") == ["r"]
    assert value == pytest.approx({"x": 55.0, "y": 20.0, "width": 30.0, "height": 20.0,
                                   "rotation": 90.0})
    (back,) = next(iter(read(tmp_path, {}).records())).annotations
    assert _geometry_close(back.geometry, box)


def test_reads_a_label_studio_file_without_config(tmp_path: Path) -> None:
    """Hand-written as Label Studio exports it: a Rectangle with a separate Labels result
    sharing its id, a local-files URL, a completed_by id, a prediction."""
    task = {"id": 7, "data": {"img": "/data/local-files/?d=photos/cat%201.jpg", "extra": 3},
            "annotations": [{"id": 1, "completed_by": 5, "was_cancelled": False, "result": [
                {"id": "a1", "type": "rectangle", "from_name": "box", "to_name": "img",
                 "original_width": 200, "original_height": 100,
                 "value": {"x": 10, "y": 20, "width": 50, "height": 30, "rotation": 0}},
                {"id": "a1", "type": "labels", "from_name": "label", "to_name": "img",
                 "value": {"labels": ["cat"]}},
                {"id": "c1", "type": "choices", "from_name": "mood", "to_name": "img",
                 "value": {"choices": ["calm"]}}]}],
            "predictions": [{"model_version": "m1", "score": 0.5, "result": [
                {"id": "p1", "type": "rectanglelabels", "from_name": "box", "to_name": "img",
                 "original_width": 200, "original_height": 100,
                 "value": {"x": 0, "y": 0, "width": 10, "height": 10,
                           "rectanglelabels": ["dog"]}}]}]}
    (tmp_path / "export.json").write_text(json.dumps([task]), encoding="utf-8")
    source = read(tmp_path / "export.json", {})
    (record,) = source.records()
    assert record.item.path == "cat 1.jpg" and (record.item.width, record.item.height) == (200, 100)
    assert record.item.metadata == {"extra": 3}
    cat, dog = record.annotations
    assert (cat.label, cat.geometry, cat.annotator) == ("cat", Box(x=20, y=20, w=100, h=30), "5")
    assert (dog.labelset, dog.score, dog.annotator, dog.source.value) == (
        PREDICTIONS, 0.5, "m1", "model")
    assert record.tasks[0].classifications[0].values == ("calm",)
    assert source.schema.class_names == ("cat", "dog")


@pytest.mark.parametrize(("content", "where"), [
    ("not json", "not valid JSON"),
    ('{"x": 1}', "at $: Object missing required field `data`"),
    ('[{"data": {}}]', "at $[0].data.image: expected the image's path or URL"),
    ('[{"data": {"image": "a.png"}}]', "at $[0].data: no image size"),
    ('[{"data": {"image": "a.png", "width": 4, "height": 4}, "annotations": [{"result": ['
     '{"id": "1", "type": "ellipselabels", "value": {}}]}]}]',
     "at $[0].annotations[0].result[0].type: result type 'ellipselabels' is not supported"),
    ('[{"data": {"image": "a.png", "width": 4, "height": 4}, "annotations": [{"result": ['
     '{"id": "1", "type": "rectanglelabels", "value": {"y": 1, "width": 1, "height": 1, '
     '"rectanglelabels": ["a"]}}]}]}]',
     "at $[0].annotations[0].result[0].value: Object missing required field `x`"),
    ('[{"data": {"image": "a.png", "width": 4, "height": 4}, "annotations": [{"result": ['
     '{"id": "1", "type": "brushlabels", "original_width": 4, "original_height": 4, '
     '"value": {"format": "rle", "rle": [0, 0], "brushlabels": ["a"]}}]}]}]',
     "at $[0].annotations[0].result[0]: the brush RLE ends early"),
    ('[{"data": {"image": "a.png", "width": 4, "height": 4}, "annotations": [{"result": ['
     '{"id": "1", "type": "rectangle", "value": {"x": 1, "y": 1, "width": 1, "height": 1}}'
     ']}]}]', "at $[0].annotations[0].result[0].value: expected a label for the region"),
])
def test_bad_files_are_refused_with_the_file_and_place(tmp_path: Path, content: str,
                                                       where: str) -> None:
    file = tmp_path / "result.json"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=str(file).replace(".", r"\.") + ".*") as error:
        read(tmp_path, {})
    assert where in str(error.value)


def test_a_bad_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text("[]", encoding="utf-8")
    (tmp_path / "label_config.xml").write_text("<Config/>", encoding="utf-8")
    with pytest.raises(InputError, match="expected a Label Studio config with <View>"):
        read(tmp_path, {})


def test_specs_are_registered() -> None:
    assert get_format("labelstudio") is SPEC and get_format("labelstudio_min") is MIN_SPEC
    assert MIN_SPEC.reader is read_min


# --- Label Studio's own converter ---------------------------------------------------------------

_SDK_SCRIPT = r"""
import json, sys
import numpy as np
from label_studio_sdk.converter import Converter, brush
from label_studio_sdk.converter.utils import convert_annotation_to_yolo_obb
from label_studio_sdk._extensions.label_studio_tools.core.label_config import parse_config

out, config = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
converter = Converter(config=config, project_dir=out, download_resources=False)
coco_dir, min_dir = "coco", "min"  # in run_side's temporary working folder
converter.convert_to_coco(out + "/result.json", coco_dir, is_dir=False)
converter.convert_to_json_min(out + "/result.json", min_dir, is_dir=False)
tasks = json.load(open(out + "/result.json", encoding="utf-8"))
obb, brushes = {}, {}
for task in tasks:
    for annotation in task["annotations"] + task["predictions"]:
        for r in annotation["result"]:
            sizes = {"original_width": r.get("original_width"),
                     "original_height": r.get("original_height")}
            if r["type"] == "rectanglelabels":
                obb[r["id"]] = convert_annotation_to_yolo_obb({**r["value"], **sizes},
                                                               normalize=False)
            if r["type"] == "brushlabels":
                alpha = brush.decode_rle(r["value"]["rle"]).reshape(
                    sizes["original_height"], sizes["original_width"], 4)[:, :, 3]
                brushes[r["id"]] = np.packbits(alpha > 0).tolist()
print(json.dumps({"coco": json.load(open(coco_dir + "/result.json")),
                  "min": json.load(open(min_dir + "/result.json")),
                  "schema": parse_config(config), "obb": obb, "brush": brushes}))
"""


def test_label_studio_sdk_reads_the_export(sample_source: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "ls"
    _write(sample_source, out, annotators="email")  # the SDK's JSON_MIN reads completed_by
    sdk = run_side(LS_PYTHON, _SDK_SCRIPT, str(out), str(out / "label_config.xml"))
    tasks = _tasks(out)
    records = {r.item.path: r for r in read(out, {}).records()}

    # The config: every control with its labels and the image it labels.
    schema = sdk["schema"]
    assert schema["rectangle"]["type"] == "RectangleLabels"
    assert schema["rectangle"]["labels"] == ["car", "truck", "traffic sign, temporary", "person"]
    assert schema["person keypoints"]["labels"] == list(SCHEMA.get("person").keypoint_names)  # type: ignore[union-attr]
    assert schema["car: occluded"]["to_name"] == ["image"]

    # Axis-aligned boxes and polygons through the SDK's COCO conversion, within 1e-3 px.
    coco = sdk["coco"]
    names = {c["id"]: c["name"] for c in coco["categories"]}
    theirs = sorted((names[a["category_id"]], tuple(round(v, 3) for v in a["bbox"]))
                    for a in coco["annotations"] if "keypoints" not in a
                    and names[a["category_id"]] != "traffic sign, temporary")
    ours = []
    for task in tasks:
        record = records[task["data"]["path"]]
        for a in record.annotations:
            if a.labelset != DEFAULT_LABELSET or a.geometry.kind.value in ("mask", "none",
                                                                            "rotated_box"):
                continue
            if isinstance(a.geometry, Polygon):
                boxes = [bounding_box(Polygon(parts=(p,))) for p in a.geometry.parts]
            else:
                boxes = [bounding_box(a.geometry)]
            ours += [(a.label, tuple(round(v, 3) for v in (b.x, b.y, b.w, b.h)))
                     for b in boxes if b is not None]
    assert sorted(ours) == theirs

    # Rotated boxes (and every rectangle) through the SDK's pixel-space OBB conversion.
    for task in tasks:
        for r in _results(task) + _results(task, "predictions"):
            if r["type"] == "rectanglelabels":
                expected = sdk_obb_corners(r["value"], image_wh=(r["original_width"],
                                                                 r["original_height"]))
                assert np.allclose(sdk["obb"][r["id"]], expected, atol=1e-3)
    sign = next(a for a in records["street_001.png"].annotations if a.label.startswith("traffic"))
    sign_result = next(r for r in _results(tasks[0]) if r["value"].get("rectanglelabels") ==
                       ["traffic sign, temporary"])
    assert np.allclose(np.array(sdk["obb"][sign_result["id"]]).ravel(),
                       rotated_box_corners(sign.geometry), atol=1e-3)  # type: ignore[arg-type]

    # Brush masks decoded by the SDK equal ours.
    for task in tasks:
        for r in _results(task) + _results(task, "predictions"):
            if r["type"] == "brushlabels":
                bitmap = brush_rle_to_bitmap(r["value"]["rle"], height=r["original_height"],
                                             width=r["original_width"])
                assert np.packbits(bitmap > 0).tolist() == sdk["brush"][r["id"]]

    # Keypoints through the SDK's COCO keypoints (it rounds to whole pixels).
    (person,) = [a for a in coco["annotations"] if "keypoints" in a]
    walker = records["sub/dir/walker.png"].annotations[0].geometry
    assert isinstance(walker, Keypoints)
    assert person["keypoints"][0::3] == [round(p.x) if p.v else 0 for p in walker.points]

    # JSON_MIN: ours equals the SDK's conversion of our JSON (less the skipped task it drops).
    ours_min = json.loads((_min_export(sample_source, tmp_path) / "result.json").read_text(
        encoding="utf-8"))
    assert [r for r in ours_min if not r.get("was_cancelled")] == sdk["min"]


def _min_export(source: MemorySource, tmp_path: Path) -> Path:
    out = tmp_path / "min"
    _write(source, out, write_min)
    return out


def test_keypoint_visibility_round_trips(tmp_path: Path) -> None:
    points = Keypoints(points=(Keypoint(x=1, y=2), Keypoint(x=0, y=0, v=Visibility.NOT_LABELED),
                               Keypoint(x=5, y=6, v=Visibility.OCCLUDED)))
    schema = LabelSchema(classes=(LabelClass(id=1, name="p", geometry=points.kind,
                                             keypoint_names=("a", "b", "c")),))
    source = MemorySource(project=ProjectInfo(name="p"), schema=schema, items=(ItemRecord(
        item=Item(dataset="default", path="a.png", width=10, height=10),
        annotations=(Annotation(label="p", geometry=points),)),))
    _write(source, tmp_path)
    (back,) = next(iter(read(tmp_path, {}).records())).annotations
    assert back.geometry == points
