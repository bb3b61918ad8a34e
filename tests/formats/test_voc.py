"""Pascal VOC: corner conversions from tables, goldens for the sample project (parsed with the
standard library's XML parser and read by globox, not only compared as bytes), round trips, and
bad input refused with the file and place.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_voc.py`` and read the diff
before committing it."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from globox import AnnotationSet
from PIL import Image

from labelport.domain.geometry import Box, GeometryKind, NoGeometry, RotatedBox
from labelport.domain.geometry_ops import bounding_box
from labelport.domain.model import DEFAULT_LABELSET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, UnsupportedError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import OutsidePolicy, WriteContext
from labelport.formats.voc.detection import (
    SPEC,
    box_to_voc_xyxy,
    read,
    rgb_of,
    voc_xyxy_to_box,
    write,
)

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "voc"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"


# --- pure conversions ------------------------------------------------------------------------


@pytest.mark.parametrize(("box", "one_based", "expected"), [
    (Box(x=100, y=200, w=150, h=100), False, (100, 200, 250, 300)),  # the seed's example
    (Box(x=600, y=400, w=40, h=80), False, (600, 400, 640, 480)),  # T2: touches right/bottom
    (Box(x=600, y=400, w=40, h=80), True, (601, 401, 640, 480)),  # T2, devkit 1-based
    (Box(x=0, y=0, w=1, h=1), False, (0, 0, 1, 1)),
    (Box(x=0, y=0, w=1, h=1), True, (1, 1, 1, 1)),  # the devkit's first pixel is (1, 1)
    (Box(x=10.5, y=20.49, w=10, h=10.02), False, (11, 20, 21, 31)),  # halves round up
    (Box(x=2.5, y=3.5, w=1, h=1), False, (3, 4, 4, 5)),  # never banker's rounding
])
def test_box_to_voc_corners(box: Box, one_based: bool, expected: tuple[int, ...]) -> None:
    xyxy, widened = box_to_voc_xyxy(box, one_based=one_based)
    assert xyxy == expected
    assert not widened


@pytest.mark.parametrize(("box", "expected"), [
    (Box(x=10.2, y=5, w=0.2, h=3), (10, 5, 11, 8)),  # rounds to no width: its centre pixel
    (Box(x=319.7, y=0, w=0.3, h=1), (319, 0, 320, 1)),  # at the right edge, stays inside
])
def test_a_box_under_one_pixel_is_widened_to_the_pixel_holding_its_centre(
        box: Box, expected: tuple[int, ...]) -> None:
    assert box_to_voc_xyxy(box, one_based=False) == (expected, True)


@pytest.mark.parametrize("one_based", [False, True])
@pytest.mark.parametrize("box", [Box(x=0, y=0, w=1, h=1), Box(x=600, y=400, w=40, h=80)])
def test_corners_invert(box: Box, one_based: bool) -> None:
    xyxy, _ = box_to_voc_xyxy(box, one_based=one_based)
    assert voc_xyxy_to_box(xyxy, one_based=one_based) == box


def test_labelmap_colours() -> None:
    assert rgb_of("#e6194b") == "230,25,75"
    assert rgb_of(None) == ""
    assert rgb_of("red") == ""


# --- helpers ---------------------------------------------------------------------------------


def _source(*records: ItemRecord, classes: tuple[str, ...] = ("car",)) -> MemorySource:
    schema = LabelSchema(classes=tuple(LabelClass(id=i, name=n)
                                       for i, n in enumerate(classes, start=1)))
    return MemorySource(project=ProjectInfo(name="p"), schema=schema, items=records)


def _record(path: str, *annotations: Annotation, size: tuple[int, int] = (640, 480),
            split: str | None = None, dataset: str = "d") -> ItemRecord:
    item = Item(dataset=dataset, path=path, width=size[0], height=size[1])
    return ItemRecord(item=item, annotations=annotations, split=split)


def _write(source: ExportSource, out: Path, ctx: WriteContext | None = None,
           **options: object) -> WriteContext:
    ctx = ctx or WriteContext()
    write(source, out, options, ctx)
    return ctx


def _objects(xml_file: Path) -> list[tuple[str, tuple[int, int, int, int]]]:
    root = ET.parse(xml_file).getroot()
    return [(o.findtext("name") or "",
             tuple(int(o.findtext(f"bndbox/{k}") or "") for k in ("xmin", "ymin", "xmax", "ymax")))
            for o in root.iter("object")]  # type: ignore[misc]


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


# --- goldens ---------------------------------------------------------------------------------


def test_golden_sample(sample_source: MemorySource, tmp_path: Path) -> None:
    """The sample's ground truth: the files equal the goldens, and reading them says what the
    goldens are meant to say."""
    out = tmp_path / "voc"
    ctx = _write(_ground_truth(sample_source), out)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    if REGEN:
        for name in written:
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes((out / name).read_bytes())
    golden = sorted(p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file())
    assert written == golden
    for name in written:
        assert (out / name).read_bytes() == (GOLDEN / name).read_bytes(), f"{name} differs"
        assert str(tmp_path) not in (GOLDEN / name).read_text(encoding="utf-8")

    annotations = GOLDEN / "Annotations"
    assert len(list(annotations.rglob("*.xml"))) == len(sample_source)
    # T2: the car touching the right and bottom edges ends at the image's size.
    assert ("car", (250, 190, 320, 240)) in _objects(annotations / "yard_002.xml")
    # T5: an image without objects keeps its file, with its size.
    empty = ET.parse(annotations / "empty_006.xml").getroot()
    assert empty.find("object") is None
    assert (empty.findtext("size/width"), empty.findtext("size/height"),
            empty.findtext("size/depth")) == ("320", "240", "3")
    # Names with a comma and a quote, and a unicode file name, survive as text.
    street = _objects(annotations / "street_001.xml")
    assert [name for name, _ in street] == ["car", "traffic sign, temporary", 'lane "dashed"']
    park = ET.parse(annotations / "straße_ü.xml").getroot()
    assert park.findtext("filename") == "straße_ü.png"
    # The rotated sign is written as its envelope: corners of a 60 x 40 box turned by 30 deg.
    assert street[1][1] == (444, 88, 516, 152)
    # The occluded flag and the other attributes.
    back_car = ET.parse(annotations / "yard_002.xml").getroot().findall("object")[1]
    assert back_car.findtext("occluded") == "1"
    assert back_car.findtext("attributes/attribute/name") == "colour"
    labelmap = (GOLDEN / "labelmap.txt").read_text(encoding="utf-8").splitlines()
    assert labelmap[0] == "# label:color_rgb:parts:actions"
    assert [line.split(":")[0] for line in labelmap[1:]] == list(sample_source.schema.class_names)
    assert labelmap[1] == "car:230,25,75::"
    stems = (GOLDEN / "ImageSets" / "Main" / "train.txt").read_text(encoding="utf-8").split()
    assert stems == [Path(r.item.path).with_suffix("").as_posix()  # with its folders
                     for r in sample_source.records()]

    counts = ctx.report.counts
    assert counts["converted: rotated_box to its bounding box"] == 1
    assert counts["converted: polygon to its bounding box"] == 2
    assert counts["converted: mask to its bounding box"] == 1
    assert counts["converted: keypoints to its bounding box"] == 1
    assert counts["converted: polyline to its bounding box"] == 1
    assert counts["not written: none (image-level class)"] == 1
    assert counts["not written: score"] == 1  # the model's pre-label accepted into ground truth


def test_every_file_parses_and_globox_reads_the_same_boxes_and_sizes(
        sample_source: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "voc"
    _write(_ground_truth(sample_source), out)
    ours = {r.item.path: r for r in read(out, {}).records()}
    theirs = AnnotationSet.from_pascal_voc(out / "Annotations", recursive=True)
    assert sorted(a.image_id for a in theirs) == sorted(ours)
    for annotation in theirs:
        record = ours[annotation.image_id]
        assert annotation.image_size == (record.item.width, record.item.height)
        got = sorted((b.label, b.ltrb) for b in annotation.boxes)
        want = sorted((a.label, a.geometry.xyxy) for a in record.annotations)  # type: ignore[union-attr]
        assert got == want, annotation.image_id
        xml = ET.parse(out / "Annotations" / Path(annotation.image_id).with_suffix(".xml")
                       ).getroot()
        assert [(n, tuple(map(float, xyxy))) for n, xyxy in _objects_of(xml)] == [
            (b.label, b.ltrb) for b in annotation.boxes]


def _objects_of(root: ET.Element) -> list[tuple[str, tuple[str, ...]]]:
    return [(o.findtext("name") or "",
             tuple(o.findtext(f"bndbox/{k}") or "" for k in ("xmin", "ymin", "xmax", "ymax")))
            for o in root.iter("object")]


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("one_based", [False, True])
def test_round_trip_keeps_boxes_classes_sizes_splits_and_attributes(
        sample_source: MemorySource, tmp_path: Path, one_based: bool) -> None:
    source = _ground_truth(sample_source)
    result = run_export(source, SPEC, tmp_path / "voc", options={"one_based": one_based},
                        media=MediaMode.COPY)
    back = read(result.path, {"one_based": one_based})
    assert back.schema.class_names == sample_source.schema.class_names
    assert len(back) == len(sample_source)
    originals = {r.item.path: r for r in source.records()}
    for got in back.records():
        want = originals.pop(got.item.path)
        assert (got.item.width, got.item.height, got.item.channels) == (
            want.item.width, want.item.height, want.item.channels)
        assert got.split == "train"
        assert got.item.media_uri == str(result.path / "JPEGImages" / want.item.path)
        written = [a for a in want.annotations if a.geometry.kind is not GeometryKind.NONE]
        assert [a.label for a in got.annotations] == [a.label for a in written]
        for back_annotation, original in zip(got.annotations, written, strict=True):
            envelope = bounding_box(original.geometry)
            assert envelope is not None
            for a, b in zip(back_annotation.geometry.xyxy, envelope.xyxy, strict=True):  # type: ignore[union-attr]
                assert abs(a - b) <= 0.5
            kept = {k: v for k, v in original.attributes.items()}
            assert {k: v for k, v in back_annotation.attributes.items()
                    if k not in ("truncated", "difficult")} == kept


def test_splits_go_to_their_lists_and_come_back(tmp_path: Path) -> None:
    source = _source(_record("a.jpg", split="train"), _record("b.jpg", split="val"),
                     _record("c.jpg"))
    _write(source, tmp_path)
    lists = tmp_path / "ImageSets" / "Main"
    assert (lists / "train.txt").read_text() == "a\nc\n"
    assert (lists / "val.txt").read_text() == "b\n"
    assert [r.split for r in read(tmp_path, {}).records()] == ["train", "val", "train"]


def test_same_stem_in_two_datasets_gives_two_files(tmp_path: Path) -> None:
    car = Annotation(label="car", geometry=Box(x=1, y=2, w=3, h=4))
    source = _source(_record("a.jpg", car, dataset="one"), _record("a.png", dataset="two"))
    _write(source, tmp_path)
    assert sorted(p.name for p in (tmp_path / "Annotations").iterdir()) == [
        "a.xml", "a__two.xml"]
    assert ET.parse(tmp_path / "Annotations" / "a__two.xml").getroot().findtext(
        "filename") == "a__two.png"


# --- text, attributes and geometry -----------------------------------------------------------


def test_special_characters_are_escaped_and_parse_back(tmp_path: Path) -> None:
    """T6: a label with a comma, quotes, ``&`` and ``<``; a unicode file name; a control
    character XML cannot hold is replaced, and counted."""
    label = 'Café, "Grand" & <Co>'
    annotation = Annotation(label=label, geometry=Box(x=1, y=1, w=5, h=5),
                            attributes={"note": "a\x01b", "pose": "Left"})
    source = _source(_record("Capture_décran (1).jpg", annotation), classes=(label, "行人"))
    ctx = _write(source, tmp_path)
    xml_file = tmp_path / "Annotations" / "Capture_décran (1).xml"
    assert "<name>Café, \"Grand\" &amp; &lt;Co&gt;</name>" in xml_file.read_text("utf-8")
    root = ET.parse(xml_file).getroot()
    assert root.findtext("object/name") == label
    assert root.findtext("object/pose") == "Left"
    assert root.findtext("object/attributes/attribute/value") == "a\ufffdb"
    assert ctx.report.counts["converted: characters XML cannot hold replaced by U+FFFD"] == 1
    (record,) = read(tmp_path, {}).records()
    assert record.annotations[0].label == label
    assert record.annotations[0].attributes["pose"] == "Left"
    assert read(tmp_path, {}).schema.class_names == (label, "行人")


@pytest.mark.parametrize(("attributes", "expected"), [
    ({}, {"truncated": "0", "difficult": "0", "occluded": None, "pose": "Unspecified"}),
    ({"truncated": True, "difficult": 1, "occluded": "yes", "pose": "Rear"},
     {"truncated": "1", "difficult": "1", "occluded": "1", "pose": "Rear"}),
    ({"truncation": 0.25, "occluded": False},
     {"truncated": "1", "difficult": "0", "occluded": "0", "pose": "Unspecified"}),
])
def test_voc_flags_from_attributes(tmp_path: Path, attributes: dict[str, object],
                                   expected: dict[str, str | None]) -> None:
    annotation = Annotation(label="car", geometry=Box(x=1, y=1, w=5, h=5), attributes=attributes)
    _write(_source(_record("a.jpg", annotation)), tmp_path)
    obj = ET.parse(tmp_path / "Annotations" / "a.xml").getroot().find("object")
    assert obj is not None
    assert {k: obj.findtext(k) for k in expected} == expected


def test_truncated_is_computed_from_clipping_when_not_given(tmp_path: Path) -> None:
    """T3: a box reaching outside the image is clipped (counted) and marked truncated."""
    annotation = Annotation(label="car", geometry=Box(x=-10, y=50, w=60, h=200))
    ctx = _write(_source(_record("a.jpg", annotation, size=(200, 200))), tmp_path)
    obj = ET.parse(tmp_path / "Annotations" / "a.xml").getroot().find("object")
    assert obj is not None
    assert obj.findtext("truncated") == "1"
    assert _objects(tmp_path / "Annotations" / "a.xml") == [("car", (0, 50, 50, 200))]
    assert ctx.report.counts["clipped to the image: box"] == 1


def test_a_rotated_box_sticking_out_is_clipped_as_its_envelope(tmp_path: Path) -> None:
    sign = Annotation(label="car", geometry=RotatedBox(cx=95, cy=50, w=20, h=20, angle_deg=45))
    ctx = _write(_source(_record("a.jpg", sign, size=(100, 100))), tmp_path)
    ((_, (xmin, ymin, xmax, ymax)),) = _objects(tmp_path / "Annotations" / "a.xml")
    assert (xmin, xmax) == (81, 100)
    assert ctx.report.counts["converted: rotated_box to its bounding box"] == 1
    assert ctx.report.counts["clipped to the image: box"] == 1


def test_attribute_values_keep_their_types(tmp_path: Path) -> None:
    attributes = {"plate": "2", "seats": 2, "ratio": 0.25, "ok": True, "note": "LP-2024",
                  "empty": "", "size": [1.5, 2], "straße": "ü"}
    annotation = Annotation(label="car", geometry=Box(x=1, y=1, w=5, h=5), attributes=attributes)
    _write(_source(_record("a.jpg", annotation)), tmp_path)
    root = ET.parse(tmp_path / "Annotations" / "a.xml").getroot()
    values = {a.findtext("name"): a.findtext("value")
              for a in root.iterfind("object/attributes/attribute")}
    assert values == {"plate": '"2"', "seats": "2", "ratio": "0.25", "ok": "true",
                      "note": "LP-2024", "empty": '""', "size": "[1.5,2]", "straße": "ü"}
    (record,) = read(tmp_path, {}).records()
    assert record.annotations[0].attributes == attributes | {"truncated": False,
                                                             "difficult": False}


def test_attributes_option_off_drops_and_counts_them(tmp_path: Path) -> None:
    annotation = Annotation(label="car", geometry=Box(x=1, y=1, w=5, h=5),
                            attributes={"colour": "red", "difficult": True})
    ctx = _write(_source(_record("a.jpg", annotation)), tmp_path, attributes=False)
    text = (tmp_path / "Annotations" / "a.xml").read_text()
    assert "<attributes>" not in text and "<difficult>1</difficult>" in text
    assert ctx.report.counts["dropped: attributes"] == 1


def test_image_level_labels_are_counted_not_written(tmp_path: Path) -> None:
    annotation = Annotation(label="car", geometry=NoGeometry())
    ctx = _write(_source(_record("a.jpg", annotation)), tmp_path)
    assert _objects(tmp_path / "Annotations" / "a.xml") == []
    assert ctx.report.counts["not written: none (image-level class)"] == 1


def test_drop_policy_counts_what_it_drops(tmp_path: Path) -> None:
    annotation = Annotation(label="car", geometry=Box(x=-10, y=50, w=60, h=20))
    ctx = WriteContext(outside=OutsidePolicy.DROP)
    _write(_source(_record("a.jpg", annotation)), tmp_path, ctx)
    assert _objects(tmp_path / "Annotations" / "a.xml") == []
    assert ctx.report.counts["dropped: outside the image"] == 1


def test_a_class_name_the_labelmap_cannot_hold_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match="'person:child'.*rename the class"):
        _write(_source(classes=("person:child",)), tmp_path)


# --- reading other tools' files and bad input ------------------------------------------------


_DEVKIT = """<annotation>
  <folder>VOC2012</folder>
  <filename>2007_000027.jpg</filename>
  <size><width>486</width><height>500</height><depth>3</depth></size>
  <object><name>person</name><pose>Unspecified</pose><truncated>0</truncated>
    <difficult>1</difficult>
    <bndbox><xmin>174.0</xmin><ymin>101</ymin><xmax>349.5</xmax><ymax>351</ymax></bndbox>
  </object>
</annotation>
"""


def test_reads_a_devkit_file_with_float_corners_and_a_cvat_labelmap(tmp_path: Path) -> None:
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "2007_000027.xml").write_text(_DEVKIT)
    (tmp_path / "labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\nbackground:0,0,0::\ndog:10,20,30::\nperson:::\n")
    source = read(tmp_path, {"one_based": True})
    assert [(c.name, c.color) for c in source.schema.classes] == [("dog", "#0a141e"),
                                                                  ("person", None)]
    (record,) = source.records()
    assert record.split is None and record.item.dataset == "default"
    (person,) = record.annotations
    assert person.geometry == Box.from_xyxy(173, 100, 349.5, 351)
    assert person.attributes == {"truncated": False, "difficult": True}


def test_sizes_come_from_the_image_header_when_the_xml_has_none(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text("<annotation><filename>a.png</filename></annotation>")
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (33, 22)).save(images / "a.png")
    (record,) = read(tmp_path, {"images": images}).records()
    assert (record.item.width, record.item.height) == (33, 22)
    assert record.item.media_uri == str((images / "a.png").absolute())
    with pytest.raises(InputError, match=r"a\.xml: no image size"):
        read(tmp_path, {})


@pytest.mark.parametrize(("content", "message"), [
    ("<annotation><filename>a.jpg</filename>", r"a\.xml: line 1, column \d+: not well-formed"),
    ("<image/>", "expected <annotation> as the root element"),
    ("<annotation><size><width>1</width><height>1</height></size></annotation>",
     "expected the image's file name in <filename>"),
    ("<annotation><filename>a.jpg</filename><size><width>ten</width><height>1</height></size>"
     "</annotation>", r"<size>: <width> should be a number, got 'ten'"),
    ("<annotation><filename>a.jpg</filename><size><width>9</width><height>9</height></size>"
     "<object><name>car</name></object></annotation>", r"object 1 \('car'\): expected <bndbox>"),
    ("<annotation><filename>a.jpg</filename><size><width>9</width><height>9</height></size>"
     "<object><name>car</name><bndbox><xmin>5</xmin><ymin>1</ymin><xmax>2</xmax>"
     "<ymax>3</ymax></bndbox></object></annotation>", "expected xmin <= xmax"),
    ("<annotation><filename>a.jpg</filename><size><width>9</width><height>9</height></size>"
     "<object><bndbox/></object></annotation>", "object 1: expected a class in <name>"),
    ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><annotation>&x;</annotation>',
     "refused XML"),
])
def test_bad_files_are_refused_with_the_file_and_place(tmp_path: Path, content: str,
                                                       message: str) -> None:
    (tmp_path / "a.xml").write_text(content)
    with pytest.raises(InputError, match=message):
        read(tmp_path, {})


def test_a_bad_labelmap_line_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "labelmap.txt").write_text("# header\ncar:1,2::\n")
    with pytest.raises(InputError, match=r"labelmap\.txt: line 2: colour should be 'r,g,b'"):
        read(tmp_path, {})


def test_not_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected a VOC folder"):
        read(tmp_path / "missing", {})


def test_bad_files_fail_the_import_before_any_record(tmp_path: Path) -> None:
    _write(_source(_record("a.jpg"), _record("b.jpg")), tmp_path)
    (tmp_path / "Annotations" / "b.xml").write_text("<annotation>")
    with pytest.raises(InputError, match=r"b\.xml"):
        read(tmp_path, {})


def test_records_match_the_written_items(tmp_path: Path) -> None:
    source = _source(_record("a.jpg", Annotation(label="car", geometry=Box(x=1, y=2, w=3, h=4),
                                                 attributes={"difficult": False})))
    _write(source, tmp_path)
    (record,) = read(tmp_path, {}).records()
    want = source.items[0]
    assert record.item == replace(want.item, dataset="default", channels=3)
    assert record.annotations == (replace(want.annotations[0],
                                          attributes={"truncated": False, "difficult": False}),)


def test_devkit_split_lists_prefer_train_and_val_over_trainval(tmp_path: Path) -> None:
    for stem in ("a", "b", "c 1"):
        (tmp_path / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename><size><width>9</width>"
            "<height>9</height></size></annotation>")
    lists = tmp_path / "ImageSets" / "Main"
    lists.mkdir(parents=True)
    (lists / "trainval.txt").write_text("a\nb\nc 1\n")
    (lists / "train.txt").write_text("a\n")
    (lists / "val.txt").write_text("b\n")
    (lists / "car_train.txt").write_text("a  1\nb -1\n")
    splits = {r.item.path: r.split for r in read(tmp_path, {}).records()}
    assert splits == {"a.jpg": "train", "b.jpg": "val", "c 1.jpg": "trainval"}
