"""CSV and TSV: pure cell conversions from tables, goldens for the sample project (read back
with the standard library's strict CSV reader, not only compared as bytes), round trips, and
errors that name the file, line and column.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_tabular.py`` and read the diff
before committing it."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from labelport.domain.geometry import (
    Box,
    GeometryKind,
    Keypoint,
    Keypoints,
    NoGeometry,
    Polygon,
    PolygonPart,
    RotatedBox,
)
from labelport.domain.geometry_ops import bounding_box
from labelport.domain.model import DEFAULT_LABELSET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import AttributeDef, AttributeType, LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats._shared.values import decode_value, encode_value
from labelport.formats.base import FormatSpec, OutsidePolicy
from labelport.formats.registry import get_format
from labelport.formats.tabular import (
    COLUMNS,
    CSV_SPEC,
    SATIN_COLUMNS,
    TSV_SPEC,
    box_cells,
    format_number,
    parse_columns,
    points_json,
    polygon_from_points,
)

GOLDEN = Path(__file__).parent.parent / "data" / "golden"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
FULL = {"attributes": True, "metadata": True, "polygon": True,
        "columns": ",".join(SATIN_COLUMNS + ("dataset", "image_path", "image_width",
                                             "image_height", "score"))}


# --- pure conversions ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "decimals", "text"), [
    (100.0, 3, "100"), (100.5, 3, "100.5"), (226.96152, 3, "226.962"), (-0.0001, 3, "0"),
    (0.0, 6, "0"), (0.968750, 6, "0.96875"), (1 / 3, 6, "0.333333"), (1000.0, 3, "1000"),
])
def test_format_number(value: float, decimals: int, text: str) -> None:
    assert format_number(value, decimals) == text


@pytest.mark.parametrize(("value", "cell"), [
    ("red", "red"), ("LP-2024", "LP-2024"), ("a, \"b\"", "a, \"b\""), (True, "true"),
    (False, "false"), (2, "2"), (0.0, "0.0"), (8.5, "8.5"), ("true", '"true"'), ("5", '"5"'),
    ("", '""'), ('"quoted"', '"\\"quoted\\""'), (None, "null"), ([1, "x"], '[1,"x"]'),
    ({"k": 1}, '{"k":1}'), ("行人", "行人"),
])
def test_attribute_and_metadata_cells_keep_their_type(value: object, cell: str) -> None:
    assert encode_value(value) == cell
    assert decode_value(cell) == value
    assert type(decode_value(cell)) is type(value)


@pytest.mark.parametrize(("box", "wh", "normalized", "cells"), [
    # T2: a box touching the right and bottom edges; SATIn order, width/height are the box's
    (Box(x=600, y=400, w=40, h=80), (640, 480), False, "600,400,640,480,40,80"),
    (Box(x=600, y=400, w=40, h=80), (640, 480), True, "0.9375,0.833333,1,1,0.0625,0.166667"),
    (Box(x=100, y=200, w=150, h=100), (1000, 1000), False, "100,200,250,300,150,100"),
    (Box(x=0.5, y=0.25, w=10.1236, h=1), (20, 20), False, "0.5,0.25,10.624,1.25,10.124,1"),
])
def test_box_cells(box: Box, wh: tuple[int, int], normalized: bool, cells: str) -> None:
    scale = (1 / wh[0], 1 / wh[1]) if normalized else (1.0, 1.0)
    got = box_cells(box, scale=scale, decimals=6 if normalized else 3)
    assert ",".join(got[c] for c in ("x_min", "y_min", "x_max", "y_max", "width", "height")) \
        == cells


def test_points_keep_parts_and_holes() -> None:
    donut = Polygon(parts=(PolygonPart(outer=(2, 2, 8, 2, 8, 8, 2, 8),
                                       holes=((4, 4, 6, 4, 6, 6, 4, 6),)),
                           PolygonPart(outer=(10.5, 0, 12, 0, 12, 1))))
    cell = points_json(donut, scale=(1.0, 1.0), decimals=3)
    assert cell == "[[[2,2,8,2,8,8,2,8],[4,4,6,4,6,6,4,6]],[[10.5,0,12,0,12,1]]]"
    assert polygon_from_points(cell) == donut
    assert points_json(donut, scale=(0.1, 0.5), decimals=6).startswith("[[[0.2,1,0.8,1,")


@pytest.mark.parametrize(("cell", "message"), [
    ("[[[1,2,3]]", "not JSON"), ("{}", "list of parts"), ("[]", "list of parts"),
    ("[[]]", "part 0: expected a non-empty list of rings"),
    ("[[[0,0,1,0]]]", "part 0 ring 0"), ("[[[0,0,1,0,1,true]]]", "part 0 ring 0"),
    ("[[[0,0,1,0,1,1,5]]]", "part 0 ring 0"),
])
def test_bad_points_say_what_is_wrong(cell: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        polygon_from_points(cell)


def test_columns_option_is_validated_with_the_valid_names() -> None:
    assert parse_columns("") is None
    assert parse_columns(" label , image_name ") == ("label", "image_name")
    with pytest.raises(InputError, match="unknown column.*colour.*valid columns: image_id"):
        parse_columns("label,colour")
    with pytest.raises(InputError, match="label given more than once"):
        parse_columns("label,label")


# --- goldens ------------------------------------------------------------------------------------


def _ground_truth(source: MemorySource) -> ExportSource:
    return restrict_labelsets(source, [DEFAULT_LABELSET])


def _export(source: ExportSource, spec: FormatSpec, out: Path, **options: object) -> Path:
    return run_export(source, spec, out, options=options).path / f"annotations.{spec.name}"


def _rows(path: Path, delimiter: str) -> list[list[str]]:
    """The file through the standard library's strict reader (the third-party check): every
    row has the header's number of fields."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter=delimiter, strict=True))
    assert all(len(row) == len(rows[0]) for row in rows)
    return rows


def _check_golden(written: Path, golden: Path) -> None:
    if REGEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(written.read_bytes())
    assert written.read_bytes() == golden.read_bytes(), f"differs from {golden}"


def test_golden_csv_default(sample_source: MemorySource, tmp_path: Path) -> None:
    written = _export(_ground_truth(sample_source), CSV_SPEC, tmp_path / "out")
    _check_golden(written, GOLDEN / "csv" / "annotations.csv")
    raw = written.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") == raw.count(b"\n")
    assert b'"traffic sign, temporary"' in raw and b'"lane ""dashed"""' in raw
    rows = _rows(written, ",")
    assert tuple(rows[0]) == SATIN_COLUMNS
    by_image: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        by_image.setdefault(row[1], []).append(row)
    assert [r[0] for r in rows[1:]] == sorted((r[0] for r in rows[1:]), key=int)
    assert list(by_image) == ["street_001.png", "yard_002.jpg", "straße_ü.png",
                              "sub/dir/walker.png",
                              "crossing_005.png", "empty_006.png", "field_001.jpg",
                              "field_002.png", "field_003.jpg"]
    assert by_image["street_001.png"][0] == ["1", "street_001.png", "1", "car",
                                             "100", "200", "260", "290", "160", "90"]
    assert by_image["street_001.png"][1][3] == "traffic sign, temporary"
    assert by_image["street_001.png"][2][3] == 'lane "dashed"'
    # T2: the car touching the right and bottom edges of the 320 x 240 yard image
    assert by_image["yard_002.jpg"][3][4:] == ["250", "190", "320", "240", "70", "50"]
    assert by_image["empty_006.png"] == [["6", "empty_006.png"] + [""] * 8]
    assert by_image["field_001.jpg"] == [["7", "field_001.jpg", "1", "blurry"] + [""] * 6]


def test_golden_csv_all_options(sample_source: MemorySource, tmp_path: Path) -> None:
    written = _export(_ground_truth(sample_source), CSV_SPEC, tmp_path / "out", **FULL)
    _check_golden(written, GOLDEN / "csv" / "full" / "annotations.csv")
    rows = _rows(written, ",")
    header = rows[0]
    assert header[len(FULL["columns"].split(",")):] == [
        "attr.occluded", "attr.colour", "attr.passengers", "attr.truncation", "attr.plate",
        "meta.camera", "meta.exposure_ms", "meta.skip_reason", "points"]
    cells = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    car = cells[0]
    assert (car["attr.occluded"], car["attr.colour"], car["attr.passengers"],
            car["attr.plate"], car["meta.exposure_ms"]) == ("false", "red", "2", "LP-2024", "8.5")
    building = next(c for c in cells if c["label"] == "building")
    assert building["points"] == "[[[20,20,180,20,180,140,20,140],[70,60,130,60,130,100,70,100]]]"
    walker = next(c for c in cells if c["image_name"] == "sub/dir/walker.png")
    assert (walker["image_path"], walker["image_width"], walker["points"]) == (
        "sub/dir/walker.png", "320", "")
    assert next(c for c in cells if c["image_name"] == "yard_002.jpg" and
                c["object_id"] == "4")["score"] == "0.66"


def test_golden_tsv_default(sample_source: MemorySource, tmp_path: Path) -> None:
    written = _export(_ground_truth(sample_source), TSV_SPEC, tmp_path / "out")
    _check_golden(written, GOLDEN / "tsv" / "annotations.tsv")
    rows = _rows(written, "\t")
    assert tuple(rows[0]) == SATIN_COLUMNS
    # a comma needs no quoting in TSV; a quote still does (same rules as CSV)
    assert b"\ttraffic sign, temporary\t" in written.read_bytes()
    assert b'\t"lane ""dashed"""\t' in written.read_bytes()
    assert rows[1:] == _rows(GOLDEN / "csv" / "annotations.csv", ",")[1:]


# --- the third-party check: a label with a comma, a quote, a tab and a line break ---------------

_AWKWARD = ['a, "b"', "tab\there", "two\nlines", "=SUM(A1)", "Café, \"Grand\" & <Co>", "行人"]


def _one_box_per_label(labels: list[str]) -> MemorySource:
    schema = LabelSchema(classes=tuple(LabelClass(id=i, name=n) for i, n in
                                       enumerate(labels, start=1)))
    item = Item(dataset="d", path="Capture_décran (1).jpg", width=100, height=50)
    annotations = tuple(Annotation(label=n, geometry=Box(x=i, y=1, w=2, h=3))
                        for i, n in enumerate(labels))
    return MemorySource(project=ProjectInfo(name="p"), schema=schema,
                        items=(ItemRecord(item=item, annotations=annotations),))


@pytest.mark.parametrize("spec", [CSV_SPEC, TSV_SPEC], ids=["csv", "tsv"])
def test_awkward_labels_survive_a_strict_reader_and_ours(spec: FormatSpec, tmp_path: Path) -> None:
    written = _export(_one_box_per_label(_AWKWARD), spec, tmp_path / "out",
                      columns="image_name,label,x_min,y_min,width,height,image_width,image_height")
    delimiter = "," if spec is CSV_SPEC else "\t"
    rows = _rows(written, delimiter)
    assert [row[1] for row in rows[1:]] == _AWKWARD
    assert {row[0] for row in rows[1:]} == {"Capture_décran (1).jpg"}
    dict_rows = list(csv.DictReader(io.StringIO(written.read_text(encoding="utf-8"), newline=""),
                                    delimiter=delimiter, strict=True))
    assert [r["label"] for r in dict_rows] == _AWKWARD
    assert spec.reader is not None
    read = spec.reader(written, {})
    assert read.schema.class_names == tuple(_AWKWARD)
    (record,) = read.records()
    assert [a.label for a in record.annotations] == _AWKWARD
    assert record.annotations[1].geometry == Box(x=1, y=1, w=2, h=3)


def test_utf8_sig_writes_a_bom_that_the_reader_ignores(tmp_path: Path) -> None:
    written = _export(_one_box_per_label(["行人"]), CSV_SPEC, tmp_path / "out",
                      encoding="utf-8-sig", columns="image_name,label,x_min,y_min,x_max,y_max,"
                                                    "image_width,image_height")
    assert written.read_bytes().startswith(b"\xef\xbb\xbfimage_name,")
    (record,) = CSV_SPEC.reader(written, {}).records()  # type: ignore[misc]
    assert record.annotations[0].label == "行人"


# --- round trips --------------------------------------------------------------------------------


def _expected_geometry(annotation: Annotation, polygon: bool) -> object:
    """What CSV can carry of a geometry: polygons (with the option), image-level labels, and
    the axis-aligned envelope of everything else."""
    if annotation.geometry.kind is GeometryKind.NONE:
        return NoGeometry()
    if polygon and annotation.geometry.kind is GeometryKind.POLYGON:
        return annotation.geometry
    return bounding_box(annotation.geometry)


def _assert_same_geometry(got: object, expected: object, tolerance: float) -> None:
    if isinstance(expected, Box):
        assert isinstance(got, Box)
        for a, b in zip(got.xyxy, expected.xyxy, strict=True):
            assert a == pytest.approx(b, abs=tolerance)
    elif isinstance(expected, Polygon):
        assert isinstance(got, Polygon) and len(got.parts) == len(expected.parts)
        for gp, ep in zip(got.parts, expected.parts, strict=True):
            assert gp.outer == pytest.approx(ep.outer, abs=tolerance)
            assert [tuple(h) for h in gp.holes] == [pytest.approx(h, abs=tolerance)
                                                     for h in ep.holes]
    else:
        assert got == expected


@pytest.mark.parametrize(("spec", "normalized"),
                         [(CSV_SPEC, False), (CSV_SPEC, True), (TSV_SPEC, False)],
                         ids=["csv", "csv-norm", "tsv"])
def test_round_trip_with_every_option(spec: FormatSpec, normalized: bool,
                                      sample_source: MemorySource, tmp_path: Path) -> None:
    splits = ("train", "val", "test")
    source = MemorySource(
        project=sample_source.project, schema=sample_source.schema,
        items=tuple(replace(r, split=splits[i % 3]) for i, r in enumerate(sample_source.items)))
    options = FULL | {"normalized": normalized, "columns": FULL["columns"] + ",split"}
    result = run_export(source, spec, tmp_path / "out", options=options, media=MediaMode.COPY)
    assert spec.reader is not None
    read = spec.reader(result.path, {"images": None, "normalized": normalized})
    tolerance = 1e-3 * 640 if normalized else 1e-3
    pairs = list(zip(read.records(), source.records(), strict=True))
    for got, original in pairs:
        assert (got.item.dataset, got.item.path) == (original.item.dataset, original.item.path)
        assert (got.item.width, got.item.height) == (original.item.width, original.item.height)
        assert got.item.metadata == original.item.metadata
        assert got.split == original.split
        assert Path(got.item.media_uri or "").is_file()
        assert len(got.annotations) == len(original.annotations)
        for a, b in zip(got.annotations, original.annotations, strict=True):
            assert a.label == b.label
            assert a.attributes == b.attributes
            assert a.score == b.score
            _assert_same_geometry(a.geometry, _expected_geometry(b, polygon=True), tolerance)
    car = read.schema.get("car")
    assert car is not None and [(d.name, d.type) for d in car.attributes] == [
        ("occluded", AttributeType.BOOL), ("colour", AttributeType.STRING),
        ("passengers", AttributeType.INT), ("truncation", AttributeType.FLOAT),
        ("plate", AttributeType.STRING)]
    assert read.schema.get("blurry").geometry is GeometryKind.NONE  # type: ignore[union-attr]
    assert read.schema.get("building").geometry is GeometryKind.POLYGON  # type: ignore[union-attr]


def test_default_export_reads_back_with_sizes_from_the_images_folder(
        sample_source: MemorySource, tmp_path: Path) -> None:
    """No size columns: sizes come from the image headers of ``--images``; items are found by
    name and land in the ``default`` dataset."""
    written = _export(sample_source, CSV_SPEC, tmp_path / "out")
    flat = tmp_path / "flat"
    flat.mkdir()
    for record in sample_source.records():
        (flat / record.item.file_name).write_bytes(Path(record.item.media_uri or "").read_bytes())
    read = CSV_SPEC.reader(written, {"images": flat})  # type: ignore[misc]
    for got, original in zip(read.records(), sample_source.records(), strict=True):
        assert got.item.dataset == "default"
        assert (got.item.width, got.item.height) == (original.item.width, original.item.height)
        for a, b in zip(got.annotations, original.annotations, strict=True):
            _assert_same_geometry(a.geometry, _expected_geometry(b, polygon=False), 1e-3)


# --- what is converted, reported, or left out ---------------------------------------------------


def test_conversions_and_losses_are_counted(sample_source: MemorySource, tmp_path: Path) -> None:
    result = run_export(_ground_truth(sample_source), CSV_SPEC, tmp_path / "out")
    counts = result.report.counts
    assert counts["converted: rotated_box to its bounding box"] == 1
    assert counts["converted: polygon to its bounding box"] == 2
    assert counts["converted: keypoints to its bounding box"] == 1
    assert counts["converted: mask to its bounding box"] == 1
    assert counts["converted: polyline to its bounding box"] == 1
    assert counts["not written: attributes (option attributes is off)"] == 6
    assert counts["not written: tags"] == 3
    full = run_export(_ground_truth(sample_source), CSV_SPEC, tmp_path / "full", options=FULL)
    assert "converted: polygon to its bounding box" not in full.report.counts
    assert not any("attributes" in k for k in full.report.counts)


def test_split_column_appears_only_when_records_have_splits(sample_source: MemorySource,
                                                            tmp_path: Path) -> None:
    first, *rest = sample_source.items
    one_split = replace(sample_source, items=(replace(first, split="val"), *rest))
    rows = _rows(_export(one_split, CSV_SPEC, tmp_path / "a"), ",")
    assert rows[0][-1] == "split"
    assert {r[-1] for r in rows[1:]} == {"val", "train"}
    assert "split" not in _rows(_export(sample_source, CSV_SPEC, tmp_path / "b"), ",")[0]
    dropped = run_export(one_split, CSV_SPEC, tmp_path / "c", options={"columns": "label"})
    assert dropped.report.counts["not written: split (not among the chosen columns)"] == 1


def test_empty_rows_off_leaves_images_without_objects_out(sample_source: MemorySource,
                                                          tmp_path: Path) -> None:
    result = run_export(sample_source, CSV_SPEC, tmp_path / "out",
                        options={"empty_rows": False})
    rows = _rows(result.path / "annotations.csv", ",")
    assert all(row[3] for row in rows[1:])
    assert {"empty_006.png", "field_003.jpg"}.isdisjoint(row[1] for row in rows[1:])
    assert result.report.counts["not written: image without objects (empty_rows is off)"] == 2


def test_chosen_columns_and_normalized_values(tmp_path: Path) -> None:
    item = Item(dataset="d", path="a.png", width=200, height=200)
    source = MemorySource(
        project=ProjectInfo(name="p"), schema=LabelSchema(classes=(
            LabelClass(id=1, name="c", attributes=(AttributeDef(name="k",
                                                                type=AttributeType.STRING),)),)),
        items=(ItemRecord(item=item, annotations=(
            # T3: reaches outside the image; clipped by the default policy
            Annotation(label="c", geometry=Box(x=-10, y=50, w=60, h=200),
                       attributes={"other": 1}),
            Annotation(label="c", geometry=RotatedBox(cx=100, cy=100, w=20, h=20, angle_deg=90)),
            Annotation(label="c", geometry=Keypoints(points=(Keypoint(x=500, y=500),))),
        )),))
    result = run_export(source, CSV_SPEC, tmp_path / "out", outside=OutsidePolicy.CLIP,
                        options={"columns": "label,x_min,y_max,object_id", "normalized": True,
                                 "attributes": True})
    rows = _rows(result.path / "annotations.csv", ",")
    assert rows == [["label", "x_min", "y_max", "object_id", "attr.k"],
                    ["c", "0", "1", "1", ""], ["c", "0.45", "0.55", "2", ""]]
    counts = result.report.counts
    assert counts["clipped to the image: box"] == 1
    assert counts["dropped: entirely outside the image"] == 1
    assert counts["not written: attribute not defined in the schema"] == 1


def test_clip_policy_clips_the_envelope_of_a_rotated_box_reaching_outside(
        tmp_path: Path) -> None:
    """The clip policy keeps a rotated box whole; its box columns are its envelope clipped to
    the image, not corners outside it."""
    item = Item(dataset="d", path="a.png", width=100, height=100)
    sticking_out = RotatedBox(cx=95, cy=50, w=20, h=10, angle_deg=45)  # x up to ~105.6
    source = MemorySource(
        project=ProjectInfo(name="p"), schema=LabelSchema(classes=(LabelClass(id=1, name="c"),)),
        items=(ItemRecord(item=item, annotations=(Annotation(label="c",
                                                             geometry=sticking_out),)),))
    result = run_export(source, CSV_SPEC, tmp_path / "out", outside=OutsidePolicy.CLIP)
    header, row = _rows(result.path / "annotations.csv", ",")
    cells = dict(zip(header, row, strict=True))
    x_min, y_min, x_max, y_max = (float(cells[c]) for c in ("x_min", "y_min", "x_max", "y_max"))
    assert 0 <= x_min < x_max <= 100 and 0 <= y_min < y_max <= 100
    assert x_max == 100
    assert float(cells["width"]) == pytest.approx(x_max - x_min, abs=1e-3)
    assert result.report.counts["clipped to the image: box"] == 1


def test_registered_by_name() -> None:
    assert get_format("csv") is CSV_SPEC and get_format("tsv") is TSV_SPEC
    assert set(COLUMNS) >= set(SATIN_COLUMNS)


# --- bad input ----------------------------------------------------------------------------------

_HEADER = "image_id,image_name,object_id,label,x_min,y_min,x_max,y_max,width,height," \
          "image_width,image_height\n"


@pytest.mark.parametrize(("text", "message"), [
    ("", r"annotations\.csv: the file is empty; expected a header row"),
    ("image_name,label,colour\n", r"line 1: unknown column 'colour' \(column 3\); valid columns"),
    ("image_name,label,label\n", "line 1: column 'label' appears more than once"),
    ("image_id,label\n", "line 1: the header needs the columns label and image_name"),
    ("image_name,label,x_min,y_min,x_max\n", "line 1: incomplete box columns"),
    (_HEADER + "1,a.png,1,car,1,2,3,4,2,2,10,10\n1,a.png,2,car,1,2,3\n",
     "line 3: 7 fields, but the header has 12"),
    (_HEADER + "1,a.png,1,car,1,2,3,4,2,2,10,10\n1,a.png,2,car,1,two,3,4,2,2,10,10\n",
     "line 3, column 'y_min': expected a number, got 'two'"),
    (_HEADER + '1,a.png,1,"car\nwith a break",1,2,3,4,2,2,10,10\n1,a.png,2,car,nan,2,3,4,,,10,10\n',
     "line 4, column 'x_min': expected a number, got 'nan'"),
    (_HEADER + '1,a.png,1,"car,1,2,3,4,2,2,10,10\n', r"line 2: malformed CSV \(unexpected end"),
    (_HEADER + "1,a.png,1,car,5,2,3,4,,,10,10\n", "line 2: the box has a negative size"),
    (_HEADER + "1,a.png,1,,1,2,3,4,2,2,10,10\n",
     "line 2, column 'label': a row with coordinates needs a label"),
    (_HEADER + "1,a.png,1,car,1,2,,4,2,2,10,10\n", "line 2, column 'x_max': expected a number"),
    (_HEADER + "1,a.png,1,car,1,2,3,4,2,2,10,10\n1,b.png,2,car,1,2,3,4,2,2,10,10\n",
     "line 3, column 'image_id': image_id 1 is default/a.png on line 2 but default/b.png"),
    (_HEADER + "1,a.png,1,car,1,2,3,4,2,2,10.5,10\n",
     "line 2, column 'image_width': expected a positive whole image size"),
    ("image_name,label,x_min,y_min,width,height\na.png,car,1,2,3,4\n",
     r"line 2: no size for image 'a.png'; add the image_width and image_height columns"),
    ("image_name,label,points,image_width,image_height\na.png,car,\"[[[1,2]]]\",9,9\n",
     "line 2, column 'points': part 0 ring 0"),
])
def test_bad_files_name_the_file_line_and_column(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "annotations.csv"
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(InputError, match=message):
        CSV_SPEC.reader(tmp_path, {})  # type: ignore[misc]


def test_missing_file_and_non_utf8_text(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file; expected a annotations.tsv"):
        TSV_SPEC.reader(tmp_path, {})  # type: ignore[misc]
    path = tmp_path / "annotations.csv"
    path.write_bytes(b"image_name,label\n\xe9t\xe9.png,car\n")
    with pytest.raises(InputError, match="annotations.csv: not UTF-8 text"):
        CSV_SPEC.reader(path, {})  # type: ignore[misc]


def test_image_level_and_empty_rows_read_back(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("image_name,label,x_min,y_min,width,height,image_width,image_height,split\n"
                    "a.png,blurry,,,,,10,10,val\n\nb.png,,,,,,10,10,\n", encoding="utf-8")
    a, b = CSV_SPEC.reader(path, {}).records()  # type: ignore[misc]
    assert a.annotations[0].geometry == NoGeometry() and a.split == "val"
    assert b.annotations == () and b.split is None


def test_same_file_name_in_two_datasets_both_survive(tmp_path: Path) -> None:
    """T7: names stay unique per export; image_id keeps the two images apart on reading."""
    media = tmp_path / "media"
    items = []
    for dataset, colour in (("a", "red"), ("b", "blue")):
        path = media / dataset / "001.jpg"
        path.parent.mkdir(parents=True)
        Image.new("RGB", (40, 30), colour).save(path)
        items.append(ItemRecord(
            item=Item(dataset=dataset, path="001.jpg", width=40, height=30,
                      media_uri=str(path)),
            annotations=(Annotation(label="c", geometry=Box(x=1, y=2, w=3, h=4)),)))
    source = MemorySource(project=ProjectInfo(name="p"),
                          schema=LabelSchema(classes=(LabelClass(id=1, name="c"),)),
                          items=tuple(items))
    result = run_export(source, CSV_SPEC, tmp_path / "out", media=MediaMode.COPY)
    rows = _rows(result.path / "annotations.csv", ",")
    assert [(r[0], r[1]) for r in rows[1:]] == [("1", "001.jpg"), ("2", "001__b.jpg")]
    assert sorted(p.name for p in (result.path / "images").iterdir()) == ["001.jpg", "001__b.jpg"]
    read = CSV_SPEC.reader(result.path, {"images": None})  # type: ignore[misc]
    assert [r.item.path for r in read.records()] == ["001.jpg", "001__b.jpg"]
