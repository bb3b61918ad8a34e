"""CVAT for images 1.1: conversions from tables, the golden file for the sample project
(checked by a strict parser written from CVAT's XML format page, and masks decoded the way
Datumaro's CVAT importer decodes them; Datumaro itself reads the export in
test_datumaro_reads.py), round trips, and bad input refused with its place.

Regenerate the golden with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_cvat.py`` and read the diff
before committing it."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from labelport.domain.geometry import (
    Box,
    GeometryKind,
    Mask,
    Polygon,
    PolygonPart,
    RotatedBox,
)
from labelport.domain.masks import polygon_to_rle, rle_to_bitmap
from labelport.domain.model import DEFAULT_LABELSET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import AttributeDef, AttributeType, LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import WriteContext
from labelport.formats.cvat.images import (
    SPEC,
    CvatRle,
    attribute_def,
    attribute_spec,
    attribute_text,
    attribute_value,
    bitmap_to_cvat_rle,
    coordinate_text,
    cvat_box_to_geometry,
    cvat_rle_to_bitmap,
    parse_points,
    points_text,
    read,
    rotated_box_to_cvat,
    write,
)
from labelport.sample import SCHEMA

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "cvat"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"


# --- pure conversions ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [
    (100, "100.00"), (0.005, "0.01"), (-0.001, "0.00"), (639.999, "640.00"), (12.345, "12.35"),
])
def test_coordinates_have_two_decimals(value: float, text: str) -> None:
    assert coordinate_text(value) == text


def test_points_text_and_back() -> None:
    assert points_text((0, 340, 320.5, 300)) == "0.00,340.00;320.50,300.00"
    assert parse_points("0.00,340.00;320.50,300.00") == (0, 340, 320.5, 300)
    for bad in ("1,2;3", "a,b", "1,2,3", "nan,1"):
        with pytest.raises(ValueError):
            parse_points(bad)


@pytest.mark.parametrize(("box", "expected"), [
    (RotatedBox(cx=480, cy=120, w=60, h=40, angle_deg=30), (450, 100, 510, 140, 30)),
    (RotatedBox(cx=10, cy=10, w=4, h=2, angle_deg=-90), (8, 9, 12, 11, 270)),
    (RotatedBox(cx=10, cy=10, w=4, h=2, angle_deg=720.5), (8, 9, 12, 11, 0.5)),
    (RotatedBox(cx=10, cy=10, w=4, h=2, angle_deg=359.999), (8, 9, 12, 11, 0)),
])
def test_rotated_box_is_the_unrotated_box_about_its_centre(
        box: RotatedBox, expected: tuple[float, ...]) -> None:
    assert rotated_box_to_cvat(box) == pytest.approx(expected)


def test_cvat_boxes_read_back() -> None:
    assert cvat_box_to_geometry(1, 2, 4, 6, 0) == Box(x=1, y=2, w=3, h=4)
    assert cvat_box_to_geometry(1, 2, 4, 6, 360) == Box(x=1, y=2, w=3, h=4)
    assert cvat_box_to_geometry(450, 100, 510, 140, 30) == RotatedBox(
        cx=480, cy=120, w=60, h=40, angle_deg=30)


def _donut() -> np.ndarray:
    """T1: a 10 x 10 image, pixels 2..7 set, 4..5 cut out."""
    bitmap = np.zeros((10, 10), dtype=np.uint8)
    bitmap[2:8, 2:8] = 1
    bitmap[4:6, 4:6] = 0
    return bitmap


@pytest.mark.parametrize(("bitmap", "expected"), [
    # T10: 3 x 4 with the top row set; row major over the tight box is one run of ones.
    (np.array([[1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]),
     CvatRle(counts=(0, 4), left=0, top=0, width=4, height=1)),
    # A diagonal: the box is 2 x 2 and the first run counts zeros (none here).
    (np.array([[0, 0, 0], [0, 1, 0], [0, 0, 1]]),
     CvatRle(counts=(0, 1, 2, 1), left=1, top=1, width=2, height=2)),
    # A transposed mask gives other counts: rows are read first.
    (np.array([[0, 1], [1, 1]]), CvatRle(counts=(1, 3), left=0, top=0, width=2, height=2)),
    (_donut(), CvatRle(counts=(0, 14, 2, 4, 2, 14), left=2, top=2, width=6, height=6)),
])
def test_cvat_rle_is_row_major_over_the_tight_box(bitmap: np.ndarray, expected: CvatRle) -> None:
    assert bitmap_to_cvat_rle(bitmap) == expected
    height, width = bitmap.shape
    assert (cvat_rle_to_bitmap(expected, image_wh=(width, height)) == bitmap).all()


def test_an_empty_bitmap_has_no_cvat_rle() -> None:
    assert bitmap_to_cvat_rle(np.zeros((3, 3))) is None


@pytest.mark.parametrize(("rle", "message"), [
    (CvatRle(counts=(0, 3), left=0, top=0, width=2, height=2), "sum to width x height = 4"),
    (CvatRle(counts=(0, 4), left=9, top=0, width=2, height=2), "not inside"),
    (CvatRle(counts=(-1, 5), left=0, top=0, width=2, height=2), "non-negative"),
    (CvatRle(counts=(), left=0, top=0, width=0, height=2), "must have a size"),
])
def test_bad_cvat_rle_is_refused(rle: CvatRle, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cvat_rle_to_bitmap(rle, image_wh=(10, 10))


@pytest.mark.parametrize(("definition", "spec"), [
    (AttributeDef(name="c", type=AttributeType.SELECT, options=("red", "blue"), default="blue"),
     ("select", "blue", "red\nblue")),
    (AttributeDef(name="o", type=AttributeType.BOOL, default=False),
     ("checkbox", "false", "false")),
    (AttributeDef(name="p", type=AttributeType.INT, min=0, max=9, default=0),
     ("number", "0", "0\n9\n1")),
    (AttributeDef(name="t", type=AttributeType.FLOAT, min=0.0, max=1.0, default=0.0),
     ("number", "0.0", "0.0\n1.0\n0.01")),
    (AttributeDef(name="s", type=AttributeType.STRING), ("text", "", "")),
])
def test_attribute_definitions_map_to_cvat_and_back(
        definition: AttributeDef, spec: tuple[str, str, str]) -> None:
    assert attribute_spec(definition) == spec
    assert attribute_def(definition.name, *spec) == definition


def test_unbounded_numbers_get_the_int32_range() -> None:
    spec = attribute_spec(AttributeDef(name="n", type=AttributeType.INT))
    assert spec == ("number", "0", "-2147483648\n2147483647\n1")


@pytest.mark.parametrize(("value", "definition", "text"), [
    (True, AttributeDef(name="b", type=AttributeType.BOOL), "true"),
    (2, AttributeDef(name="n", type=AttributeType.INT), "2"),
    (0.25, AttributeDef(name="f", type=AttributeType.FLOAT), "0.25"),
    ("true", AttributeDef(name="s", type=AttributeType.STRING), "true"),
    ("red", None, "red"),
    ("5", None, '"5"'),  # undeclared: keeps its type through JSON
    ([1, 2], None, "[1,2]"),
])
def test_attribute_values_round_trip(value: object, definition: AttributeDef | None,
                                     text: str) -> None:
    assert attribute_text(value, definition) == text
    assert attribute_value(text, definition) == value


# --- a strict reading of CVAT's XML format page ----------------------------------------------

_LABEL_TYPES = {"any", "rectangle", "polygon", "polyline", "points", "mask", "skeleton", "tag",
                "ellipse", "cuboid"}
_INPUT_TYPES = {"select", "checkbox", "radio", "number", "text"}
_TWO_DECIMALS = re.compile(r"-?\d+\.\d\d")
_POINTS = re.compile(r"-?\d+\.\d\d,-?\d+\.\d\d(;-?\d+\.\d\d,-?\d+\.\d\d)*")


def _strict_parse(xml_file: Path) -> ET.Element:
    """Check the file against CVAT's format page, and that every mask decodes the way
    Datumaro's CVAT importer decodes it; returns the root."""
    root = ET.parse(xml_file).getroot()
    assert root.tag == "annotations"
    assert root.findtext("version") == "1.1"
    labels = root.findall("meta/project/labels/label")
    assert labels
    names: dict[str, str] = {}
    parents: dict[str, list[str]] = {}
    for label in labels:
        name = label.findtext("name") or ""
        assert name and label.findtext("type") in _LABEL_TYPES
        parent = label.findtext("parent")
        if parent:
            parents.setdefault(parent, []).append(name)
            continue
        names[name] = label.findtext("type") or ""
        for attribute in label.iterfind("attributes/attribute"):
            assert attribute.findtext("input_type") in _INPUT_TYPES
            assert attribute.findtext("mutable") in ("False", "True")
            if attribute.findtext("input_type") == "number":
                low, high, step = (float(v) for v in (attribute.findtext("values") or "").split())
                assert low <= float(attribute.findtext("default_value") or "") <= high and step > 0
    subsets = {t.findtext("subset"): t.findtext("id") for t in root.iter("task")}
    for index, image in enumerate(root.iterfind("image")):
        assert image.get("id") == str(index)
        assert image.get("name")
        assert subsets[image.get("subset")] == image.get("task_id")
        width, height = int(image.get("width") or ""), int(image.get("height") or "")
        for shape in image:
            assert shape.get("label") in names, shape.get("label")
            assert shape.get("source") in ("manual", "auto")
            if shape.tag != "tag":
                assert int(shape.get("z_order") or "") >= 0
            if shape.tag not in ("tag", "skeleton"):
                assert shape.get("occluded") in ("0", "1")
            if shape.tag == "box":
                for key in ("xtl", "ytl", "xbr", "ybr"):
                    assert _TWO_DECIMALS.fullmatch(shape.get(key) or ""), key
            elif shape.tag in ("polygon", "polyline", "points"):
                assert _POINTS.fullmatch(shape.get("points") or "")
            elif shape.tag == "mask":
                _check_mask(shape, width, height)
            elif shape.tag == "skeleton":
                elements = [p.get("label") for p in shape.iterfind("points")]
                assert elements == parents[shape.get("label") or ""]
                for point in shape.iterfind("points"):
                    assert point.get("outside") in ("0", "1")
                    assert _POINTS.fullmatch(point.get("points") or "")
            else:
                assert shape.tag == "tag"
            for attribute in shape.iterfind("attribute"):
                assert attribute.get("name")
    return root


def _check_mask(shape: ET.Element, width: int, height: int) -> None:
    """Datumaro reads the counts as COCO's uncompressed RLE of a ``(width, height)`` array and
    transposes it: rows first, so the result must hold the set pixels at the box's edges."""
    left, top = int(shape.get("left") or ""), int(shape.get("top") or "")
    w, h = int(shape.get("width") or ""), int(shape.get("height") or "")
    counts = [int(c) for c in (shape.get("rle") or "").split(",")]
    assert left >= 0 and left + w <= width and top >= 0 and top + h <= height
    assert sum(counts) == w * h
    rle = coco_mask.frPyObjects({"counts": counts, "size": [w, h]}, w, h)
    crop = coco_mask.decode(rle).transpose()
    assert crop.shape == (h, w)
    assert crop[0].any() and crop[-1].any() and crop[:, 0].any() and crop[:, -1].any()


def _datumaro_bitmap(shape: ET.Element, width: int, height: int) -> np.ndarray:
    left, top = int(shape.get("left") or ""), int(shape.get("top") or "")
    w, h = int(shape.get("width") or ""), int(shape.get("height") or "")
    counts = [int(c) for c in (shape.get("rle") or "").split(",")]
    crop = coco_mask.decode(coco_mask.frPyObjects({"counts": counts, "size": [w, h]}, w, h))
    canvas = np.zeros((height, width), dtype=np.uint8)
    canvas[top:top + h, left:left + w] = crop.transpose()
    return canvas


# --- helpers ---------------------------------------------------------------------------------


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


def _source(*records: ItemRecord, classes: tuple[LabelClass, ...] = (
        LabelClass(id=1, name="car"),)) -> MemorySource:
    return MemorySource(project=ProjectInfo(name="p"), schema=LabelSchema(classes=classes),
                        items=records)


def _record(path: str, *annotations: Annotation, size: tuple[int, int] = (64, 48),
            split: str | None = None) -> ItemRecord:
    return ItemRecord(item=Item(dataset="d", path=path, width=size[0], height=size[1]),
                      annotations=annotations, split=split)


def _bitmap(geometry: Mask | Polygon, item: Item) -> np.ndarray:
    if isinstance(geometry, Polygon):
        geometry = polygon_to_rle(geometry, height=item.height, width=item.width)
    return rle_to_bitmap(geometry)


# --- golden ----------------------------------------------------------------------------------


def test_golden_sample(sample_source: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "cvat"
    ctx = WriteContext()
    write(_ground_truth(sample_source), out, {}, ctx)
    assert sorted(p.name for p in out.iterdir()) == ["annotations.xml"]  # no spool left
    written = (out / "annotations.xml").read_bytes()
    if REGEN:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        (GOLDEN / "annotations.xml").write_bytes(written)
    golden_file = GOLDEN / "annotations.xml"
    assert written == golden_file.read_bytes()
    assert str(tmp_path) not in golden_file.read_text(encoding="utf-8")

    root = _strict_parse(golden_file)
    labels = [label.findtext("name") for label in root.iterfind("meta/project/labels/label")
              if label.find("parent") is None]
    assert labels == list(sample_source.schema.class_names)  # schema order, unused truck kept
    images = root.findall("image")
    assert [i.get("name") for i in images] == [
        r.item.path for r in sample_source.records()]  # empty images kept, folders too
    by_name = {i.get("name"): i for i in images}
    street = by_name["street_001.png"]
    sign = street.findall("box")[1]
    assert (sign.get("xtl"), sign.get("ytl"), sign.get("xbr"), sign.get("ybr"),
            sign.get("rotation")) == ("450.00", "100.00", "510.00", "140.00", "30.00")
    car = street.find("box")
    assert car is not None and car.get("occluded") == "0" and car.get("group_id") == "1"
    assert {a.get("name"): a.text for a in car.iterfind("attribute")} == {
        "colour": "red", "passengers": "2", "truncation": "0.0", "plate": "LP-2024"}
    assert street.find("polyline").get("label") == 'lane "dashed"'  # type: ignore[union-attr]
    yard = by_name["yard_002.jpg"]
    # T1: the building's courtyard stays a hole: written as a mask, 160 x 120 less 60 x 40.
    building = yard.find("mask")
    assert building is not None and building.get("label") == "building"
    assert int(_datumaro_bitmap(building, 320, 240).sum()) == 160 * 120 - 60 * 40
    assert [b.get("occluded") for b in yard.iterfind("box")] == ["1", "0", "0"]
    assert [b.get("z_order") for b in yard.iterfind("box")] == ["0", "1", "0"]
    assert yard.findall("box")[2].get("source") == "auto"
    # T9: the tree's two parts are two polygons in one group.
    tree = by_name["straße_ü.png"].findall("polygon")
    assert len(tree) == 2 and tree[0].get("group_id") == tree[1].get("group_id") is not None
    skeleton = by_name["sub/dir/walker.png"].find("skeleton")
    assert skeleton is not None
    assert [(p.get("outside"), p.get("occluded")) for p in skeleton.iterfind("points")] == [
        ("0", "0"), ("0", "0"), ("0", "1"), ("1", "0"), ("0", "0")]  # T13
    road = by_name["crossing_005.png"].find("mask")
    assert road is not None
    crossing = next(r for r in sample_source.records() if r.item.file_name == "crossing_005.png")
    assert (_datumaro_bitmap(road, 320, 240) == rle_to_bitmap(
        crossing.annotations[0].geometry)).all()  # type: ignore[arg-type]  # T10
    assert by_name["field_001.jpg"].find("tag").get("label") == "blurry"  # type: ignore[union-attr]
    assert len(by_name["empty_006.png"]) == 0

    counts = ctx.report.counts
    assert counts["converted: polygon with holes to mask"] == 1
    assert counts["converted: multi-part polygon to grouped polygons"] == 1
    assert counts["not written: score"] == 1
    assert counts["not written: tags"] == 3
    assert counts["not written: crowd flag"] == 1
    assert counts["not written: image classification"] == 9


# --- round trips -----------------------------------------------------------------------------


def test_round_trip_keeps_geometry_attributes_and_masks(
        sample_source: MemorySource, tmp_path: Path) -> None:
    source = _ground_truth(sample_source)
    result = run_export(source, SPEC, tmp_path / "cvat", media=MediaMode.COPY)
    back = read(result.path, {})
    assert back.schema.class_names == sample_source.schema.class_names
    kinds = {c.name: c.geometry for c in back.schema.classes}
    assert kinds == {c.name: c.geometry for c in sample_source.schema.classes}
    person, original_person = back.schema.get("person"), SCHEMA.get("person")
    assert person is not None and original_person is not None
    assert (person.keypoint_names, person.skeleton) == (
        original_person.keypoint_names, original_person.skeleton)
    car = back.schema.get("car")
    assert car is not None and [a.name for a in car.attributes] == [
        "occluded", "colour", "passengers", "truncation", "plate"]
    assert len(back) == len(sample_source)
    originals = {r.item.path: r for r in source.records()}
    for got in back.records():
        want = originals.pop(got.item.path)
        item = want.item
        assert (got.item.width, got.item.height, got.split) == (item.width, item.height, "train")
        assert got.item.media_uri == str(result.path / "images" / "train" / item.path)
        wanted = sorted(want.annotations, key=lambda a: a.geometry.kind is GeometryKind.NONE)
        assert [a.label for a in got.annotations] == [a.label for a in wanted]
        for back_annotation, original in zip(got.annotations, wanted, strict=True):
            _assert_same(back_annotation, original, item)
    assert not originals


def _assert_same(got: Annotation, want: Annotation, item: Item) -> None:
    assert got.attributes == want.attributes
    assert got.z_order == want.z_order and got.source == want.source
    geometry = want.geometry
    if isinstance(geometry, Mask) or (
            isinstance(geometry, Polygon) and any(p.holes for p in geometry.parts)):
        assert isinstance(got.geometry, Mask)  # masks pixel-equal, holes stay holes
        assert (rle_to_bitmap(got.geometry) == _bitmap(geometry, item)).all()
        return
    if isinstance(geometry, Polygon) and len(geometry.parts) > 1:
        assert got.instance_id is not None  # the parts' group
    else:
        assert got.instance_id == want.instance_id
    assert got.geometry == geometry  # the sample's coordinates fit CVAT's two decimals


def test_splits_become_tasks_and_come_back(tmp_path: Path) -> None:
    car = Annotation(label="car", geometry=Box(x=1, y=2, w=3, h=4))
    source = _source(_record("a.jpg", car, split="train"), _record("b.jpg", split="val"),
                     _record("c.jpg"), _record("a.jpg", split="val"))
    write(source, tmp_path, {}, WriteContext())
    root = _strict_parse(tmp_path / "annotations.xml")
    assert [(t.findtext("id"), t.findtext("subset"), t.findtext("size"))
            for t in root.iter("task")] == [("0", "train", "2"), ("1", "val", "2")]
    assert [(i.get("name"), i.get("subset")) for i in root.iterfind("image")] == [
        ("a.jpg", "train"), ("b.jpg", "val"), ("c.jpg", "train"), ("a.jpg", "val")]
    assert [r.split for r in read(tmp_path, {}).records()] == ["train", "val", "train", "val"]


def test_grouped_polygons_merge_and_other_groups_are_instance_ids(tmp_path: Path) -> None:
    two_parts = Polygon(parts=(PolygonPart(outer=(0, 0, 4, 0, 4, 4)),
                               PolygonPart(outer=(10, 10, 14, 10, 14, 14))))
    annotations = (
        Annotation(label="car", geometry=two_parts, instance_id=5),
        Annotation(label="car", geometry=two_parts),
        Annotation(label="car", geometry=Box(x=1, y=1, w=2, h=2), instance_id=6),
    )
    write(_source(_record("a.jpg", *annotations)), tmp_path, {}, WriteContext())
    groups = [p.get("group_id") for p in ET.parse(tmp_path / "annotations.xml").iter("polygon")]
    assert groups == ["5", "5", "7", "7"]  # a part group without instance id gets a free id
    (record,) = read(tmp_path, {}).records()
    assert [(a.geometry, a.instance_id) for a in record.annotations] == [
        (two_parts, 5), (two_parts, 7), (Box(x=1, y=1, w=2, h=2), 6)]


def test_text_is_escaped_and_reads_back(tmp_path: Path) -> None:
    label = 'Café, "Grand" & <Co>\n行人'
    annotation = Annotation(label=label, geometry=Box(x=1, y=1, w=5, h=5),
                            attributes={"note": "a & b\tc", "occluded": 2})
    classes = (LabelClass(id=1, name=label),)
    write(_source(_record("Capture_décran (1).jpg", annotation), classes=classes), tmp_path,
          {}, WriteContext())
    back = read(tmp_path, {})
    assert back.schema.class_names == (label,)
    (record,) = back.records()
    assert record.item.path == "Capture_décran (1).jpg"
    (got,) = record.annotations
    assert got.label == label
    assert got.attributes == {"occluded": 2, "note": "a & b\tc"}


def test_sizes_come_from_the_image_when_missing(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    Image.new("RGB", (7, 5)).save(tmp_path / "images" / "a.png")
    (tmp_path / "annotations.xml").write_text(
        '<annotations><version>1.1</version><meta><task><labels><label><name>car</name>'
        '<type>rectangle</type></label></labels></task></meta>'
        '<image id="0" name="a.png"><box label="car" xtl="1" ytl="1" xbr="3" ybr="3" '
        'occluded="0"/></image></annotations>', encoding="utf-8")
    (record,) = read(tmp_path, {}).records()
    assert (record.item.width, record.item.height, record.split) == (7, 5, None)
    assert record.item.media_uri == str((tmp_path / "images" / "a.png").absolute())
    assert record.annotations[0].geometry == Box(x=1, y=1, w=2, h=2)


# --- bad input -------------------------------------------------------------------------------


_HEAD = ('<annotations><version>1.1</version><meta><task><labels><label><name>car</name>'
         '</label></labels></task></meta>')


@pytest.mark.parametrize(("body", "message"), [
    ('<image id="0" name="a.jpg" width="10" height="10"><box label="car" xtl="1" ytl="a" '
     'xbr="3" ybr="3"/></image>', r"<image> 0 \('a.jpg'\), <box> 1: 'ytl' should be a number"),
    ('<image id="0" name="a.jpg" width="10" height="10"><box label="car" xtl="3" ytl="1" '
     'xbr="1" ybr="3"/></image>', "expected xtl <= xbr"),
    ('<image id="0" name="a.jpg" width="10" height="10"><polygon label="car" '
     'points="1,1;2,2"/></image>', "at least 3 points"),
    ('<image id="0" name="a.jpg" width="10" height="10"><mask label="car" rle="0, 3" left="0" '
     'top="0" width="2" height="2"/></image>', "sum to width x height"),
    ('<image id="0" name="a.jpg" width="10" height="10"><polyline label="car" '
     'points="1;2"/></image>', "'points' should be"),
    ('<image id="0" name="a.jpg" width="10" height="10"><box xtl="1" ytl="1" xbr="3" '
     'ybr="3"/></image>', "expected the attribute 'label'"),
    ('<image id="0" name="a.jpg" width="10" height="10"><ellipse label="car" cx="1" cy="1" '
     'rx="1" ry="1"/></image>', "ellipses have no labelport geometry"),
    ('<track id="0" label="car"/>', "CVAT for video"),
    ('<image id="0" name="a.jpg"/>', "no image size"),
])
def test_bad_input_names_the_place(tmp_path: Path, body: str, message: str) -> None:
    xml_file = tmp_path / "annotations.xml"
    xml_file.write_text(_HEAD + body + "</annotations>", encoding="utf-8")
    with pytest.raises(InputError, match=message) as error:
        read(tmp_path, {})
    assert str(xml_file) in str(error.value)


@pytest.mark.parametrize(("text", "message"), [
    ("<annotations><image", "line 1, column"),
    ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><annotations>&x;</annotations>',
     "entities and DTDs"),
    ("<dataset/>", "expected <annotations>"),
])
def test_unreadable_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "annotations.xml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read(tmp_path, {})


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected a CVAT XML file"):
        read(tmp_path, {})
