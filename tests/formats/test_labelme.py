"""LabelMe JSON: shapes from a table, masks cropped as labelme crops them, goldens for the sample
project read back, a round trip that keeps every geometry (or its documented conversion), bad
input refused with the file and JSON path, and globox (which reads labelme) reading the export.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_labelme.py`` and read the diff
before committing it."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from labelport.domain.geometry import (
    Box,
    Geometry,
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
from labelport.domain.masks import polygon_to_rle, rle_to_bitmap
from labelport.domain.model import DEFAULT_LABELSET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats._shared.geometry import fit_to_image
from labelport.formats.base import WriteContext
from labelport.formats.labelme import (
    SPEC,
    circle_polygon,
    decode_mask,
    encode_mask,
    labelme_document,
    read,
)

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "labelme"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
DONUT = Polygon(parts=(PolygonPart(outer=(2, 2, 8, 2, 8, 8, 2, 8),
                                   holes=((4, 4, 6, 4, 6, 6, 4, 6),)),))


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


def _shapes(*annotations: Annotation, size: tuple[int, int] = (10, 10)) -> dict[str, Any]:
    record = ItemRecord(item=Item(dataset="d", path="a.jpg", width=size[0], height=size[1]),
                        annotations=annotations)
    return labelme_document(record, image_path="a.jpg", flag_classes=["night"],
                            names={"person": ("head", "hand")}, ctx=WriteContext())


# --- shapes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("geometry", "shape_type", "points"), [
    (Box(x=1, y=2, w=3, h=4), "rectangle", [[1, 2], [4, 6]]),
    (Polygon.simple((0, 0, 4, 0, 4, 3)), "polygon", [[0, 0], [4, 0], [4, 3]]),
    (Polyline(points=(0, 0, 5, 5, 9, 1)), "linestrip", [[0, 0], [5, 5], [9, 1]]),
    (RotatedBox(cx=5, cy=5, w=4, h=2, angle_deg=0), "polygon", [[3, 4], [7, 4], [7, 6], [3, 6]]),
])
def test_one_shape_per_geometry(geometry: Geometry, shape_type: str,
                                points: list[list[float]]) -> None:
    document = _shapes(Annotation(label="car", geometry=geometry))
    assert document["shapes"] == [{"label": "car", "points": points, "group_id": None,
                                   "description": "", "shape_type": shape_type, "flags": {},
                                   "mask": None}]


def test_parts_and_keypoints_share_a_group_and_attributes_go_to_flags() -> None:
    two_parts = Polygon(parts=(PolygonPart(outer=(0, 0, 2, 0, 2, 2)),
                               PolygonPart(outer=(5, 5, 7, 5, 7, 7))))
    person = Keypoints(points=(Keypoint(x=1, y=1), Keypoint(x=0, y=0, v=0)))
    document = _shapes(Annotation(label="car", geometry=Box(x=0, y=0, w=1, h=1), instance_id=4,
                                  attributes={"occluded": True, "colour": "red"}, score=0.5),
                       Annotation(label="tree", geometry=two_parts),
                       Annotation(label="person", geometry=person),
                       Annotation(label="night", geometry=NoGeometry()))
    car, part1, part2, head = document["shapes"]
    assert (car["group_id"], car["flags"], car["attributes"], car["score"]) == (
        4, {"occluded": True}, {"colour": "red"}, 0.5)
    assert part1["group_id"] == part2["group_id"] == 5
    assert (head["shape_type"], head["group_id"], head["description"]) == ("point", 6, "head")
    assert document["flags"] == {"night": True}
    assert document["imageData"] is None and document["version"] == "5.5.0"


def test_mask_is_cropped_to_its_inclusive_box_as_labelme_pastes_it() -> None:
    document = _shapes(Annotation(label="road", geometry=DONUT))
    (mask_shape,) = document["shapes"]
    assert mask_shape["shape_type"] == "mask"
    (x1, y1), (x2, y2) = mask_shape["points"]
    with Image.open(io.BytesIO(base64.b64decode(mask_shape["mask"]))) as png:
        crop = np.asarray(png).astype(bool)
    # labelme's shape_to_mask: mask[y1:y2 + 1, x1:x2 + 1] = shape["mask"]
    pasted = np.zeros((10, 10), dtype=bool)
    pasted[int(y1):int(y2) + 1, int(x1):int(x2) + 1] = crop
    expected = rle_to_bitmap(polygon_to_rle(DONUT, height=10, width=10))
    assert np.array_equal(pasted, expected) and not pasted[5, 5]
    back = decode_mask(mask_shape["points"], mask_shape["mask"], image_wh=(10, 10), origin="x")
    assert np.array_equal(rle_to_bitmap(back), expected)
    assert encode_mask(np.zeros((3, 3), dtype=bool)) is None


def test_circle_becomes_a_polygon_on_its_rim() -> None:
    ring = circle_polygon((10, 10), (13, 14)).parts[0].outer
    radii = np.hypot(np.asarray(ring[0::2]) - 10, np.asarray(ring[1::2]) - 10)
    assert len(ring) == 128 and np.allclose(radii, 5)


# --- goldens and round trips -------------------------------------------------------------------


def test_golden_sample(sample_source: MemorySource, tmp_path: Path) -> None:
    out = run_export(_ground_truth(sample_source), SPEC, tmp_path / "out").path
    written = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.json"))
               if p.name != "labelport-export.json"}
    if REGEN:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, data in written.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
    golden = {p.relative_to(GOLDEN).as_posix(): p.read_bytes() for p in GOLDEN.rglob("*.json")}
    assert sorted(written) == sorted(golden)
    for name, data in written.items():  # masks compared by pixels: zlib may differ
        assert _decoded(json.loads(data)) == _decoded(json.loads(golden[name])), name


def _decoded(document: dict[str, Any]) -> dict[str, Any]:
    for shape in document["shapes"]:
        if shape["mask"]:
            with Image.open(io.BytesIO(base64.b64decode(shape["mask"]))) as png:
                shape["mask"] = np.asarray(png).astype(bool).tolist()
    return document


def _expected(annotation: Annotation, image_wh: tuple[int, int]) -> Geometry | None:
    """What the reader gives back for a written annotation (the module docstring's table)."""
    geometry = fit_to_image(annotation.geometry, image_wh=image_wh, ctx=WriteContext())
    match geometry:
        case RotatedBox():
            return Polygon.simple(rotated_box_corners(geometry))
        case Polygon() if any(p.holes for p in geometry.parts):
            return polygon_to_rle(geometry, height=image_wh[1], width=image_wh[0])
        case Keypoints():  # the names read are those labelled somewhere: here v > 0 ones
            return Keypoints(points=tuple(Keypoint(x=p.x, y=p.y) for p in geometry.points
                                          if p.v > 0))
    return geometry


def _same(a: Geometry, b: Geometry) -> bool:
    if isinstance(a, Mask) and isinstance(b, Mask):
        return np.array_equal(rle_to_bitmap(a), rle_to_bitmap(b))
    return a == b


def _check_sample(read_back: ExportSource, sample: MemorySource) -> None:
    by_name = {r.item.file_name: r for r in read_back.records()}
    for record in _ground_truth(sample).records():
        got = by_name[record.item.file_name]
        assert (got.item.width, got.item.height) == (record.item.width, record.item.height)
        image_wh = (record.item.width, record.item.height)
        expected = [(a.label, _expected(a, image_wh), a.score) for a in record.annotations]
        expected = [e for e in expected if e[1] is not None]
        expected.sort(key=lambda e: not isinstance(e[1], NoGeometry))  # flags come first
        assert len(got.annotations) == len(expected), record.item.file_name
        for annotation, (label, geometry, score) in zip(got.annotations, expected, strict=True):
            assert (annotation.label, annotation.score) == (label, score)
            assert geometry is not None and _same(annotation.geometry, geometry), label


def test_goldens_read_back(sample_source: MemorySource) -> None:
    read_back = read(GOLDEN, {})
    assert len(read_back) == len(sample_source)
    _check_sample(read_back, sample_source)


def test_round_trip_keeps_every_geometry(sample_source: MemorySource, tmp_path: Path) -> None:
    result = run_export(_ground_truth(sample_source), SPEC, tmp_path / "out",
                        media=MediaMode.COPY)
    read_back = read(result.path, {})
    _check_sample(read_back, sample_source)
    street = next(r for r in read_back.records() if r.item.path == "street_001.png")
    car = street.annotations[0]
    assert car.attributes == {"occluded": False, "colour": "red", "passengers": 2,
                              "truncation": 0.0, "plate": "LP-2024"}
    assert all(Path(str(r.item.media_uri)).is_file() for r in read_back.records())
    assert {r.split for r in read_back.records()} == {"train"}
    again = run_export(MemorySource(project=ProjectInfo(name="again"), schema=read_back.schema,
                                    items=tuple(read_back.records())), SPEC, tmp_path / "again")
    for file in sorted((tmp_path / "again" / "train").glob("*.json")):
        first = json.loads((result.path / "train" / file.name).read_text(encoding="utf-8"))
        second = json.loads(file.read_text(encoding="utf-8"))
        assert _decoded(second)["shapes"] == _decoded(first)["shapes"], file.name
    assert again.counts.items == len(sample_source)


# --- bad input ---------------------------------------------------------------------------------


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "version": "5.5.0", "flags": {}, "imagePath": "a.png", "imageData": None,
        "imageHeight": 10, "imageWidth": 10,
        "shapes": [{"label": "car", "points": [[1, 1], [4, 4]], "group_id": None,
                    "shape_type": "rectangle", "flags": {}}]}
    document.update(changes)
    return document


def _shape(**changes: Any) -> dict[str, Any]:
    shape = {"label": "car", "points": [[1, 1], [4, 4]], "shape_type": "rectangle"}
    shape.update(changes)
    return shape


@pytest.mark.parametrize(("content", "message"), [
    (b"{nope", "a.json: not valid JSON"),
    (_document(shapes=None), r"at \$.shapes"),
    (_document(imageWidth="ten"), r"at \$.imageWidth"),
    (_document(imageWidth=0), "expected a positive size"),
    (_document(imageWidth=10**6, imageHeight=10**6), "of at most 268,435,456 pixels"),
    (_document(shapes=[_shape(group_id=-1)]), r"\$.shapes\[0\].group_id"),
    (_document(shapes=[_shape(group_id=2**63)]), r"\$.shapes\[0\].group_id"),
    (_document(shapes=[_shape(shape_type="blob")]), r"\$.shapes\[0\].shape_type: 'blob'"),
    (_document(shapes=[_shape(points=[[1, 1]])]), "a rectangle needs exactly 2 points"),
    (_document(shapes=[_shape(points=[[1, "x"], [2, 2]])]), r"\$.shapes\[0\].points"),
    (_document(shapes=[_shape(shape_type="polygon")]), "a polygon needs 3 points, got 2"),
    (json.dumps(_document(shapes=[_shape(points=[[1, 12345], [2, 2]])])).replace(
        "12345", "1e999").encode(), "Number out of range"),
    (_document(shapes=[_shape(shape_type="mask")]), "a mask shape needs its base64 PNG"),
    (_document(shapes=[_shape(shape_type="mask", mask="%%%")]), r"\.mask: not base64"),
    (_document(shapes=[_shape(shape_type="mask", mask="aGVsbG8=")]),
     r"\$.shapes\[0\].mask: not a readable image"),
    (_document(shapes=[_shape(shape_type="mask", points=[[1, 1], [40, 4]], mask="aGVsbG8=")]),
     "is not inside the 10x10 image"),
    (_document(shapes=[_shape(group_id="g")]), r"\$.shapes\[0\].group_id"),
    (_document(flags={"night": "yes"}), r"\$.flags"),
])
def test_bad_input_is_refused_with_the_place(content: Any, message: str, tmp_path: Path) -> None:
    raw = content if isinstance(content, bytes) else json.dumps(content).encode()
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.json").write_bytes(raw)
    with pytest.raises(InputError, match=message):
        read(tmp_path, {})


def test_a_mask_png_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("1", (3, 3)).save(buffer, "PNG")
    mask = base64.b64encode(buffer.getvalue()).decode()
    (tmp_path / "a.json").write_text(json.dumps(_document(shapes=[_shape(
        shape_type="mask", mask=mask)])), encoding="utf-8")
    with pytest.raises(InputError, match=r"\.mask: a 3x3 PNG for a 4x4 box"):
        read(tmp_path, {})


def test_third_party_files_read_circles_groups_and_flags(tmp_path: Path) -> None:
    shapes = [_shape(shape_type="circle", points=[[5, 5], [5, 8]]),
              _shape(label="tree", shape_type="polygon", points=[[0, 0], [2, 0], [2, 2]],
                     group_id=3, description="old"),
              _shape(label="tree", shape_type="polygon", points=[[5, 5], [7, 5], [7, 7]],
                     group_id=3),
              _shape(label="lane", shape_type="line", points=[[0, 0], [9, 9]])]
    (tmp_path / "a.json").write_text(json.dumps(_document(
        shapes=shapes, flags={"night": True, "rain": False})), encoding="utf-8")
    source = read(tmp_path, {})
    assert source.schema.class_names == ("night", "rain", "car", "tree", "lane")
    (record,) = source.records()
    night, circle, tree, lane = record.annotations
    assert isinstance(night.geometry, NoGeometry) and record.split is None
    assert isinstance(circle.geometry, Polygon)
    assert isinstance(tree.geometry, Polygon) and len(tree.geometry.parts) == 2
    assert (tree.instance_id, tree.attributes) == (3, {"description": "old"})
    assert lane.geometry == Polyline(points=(0, 0, 9, 9))
    assert record.item.media_uri is None


def test_named_points_of_a_group_take_their_names_places(tmp_path: Path) -> None:
    points = [_shape(label="person", shape_type="point", points=[[x, x]], group_id=1,
                     description=name) for x, name in ((1, "head"), (2, "hand"))]
    points.insert(0, _shape(label="person", shape_type="point", points=[[3, 3]], group_id=2,
                            description="hand"))
    (tmp_path / "a.json").write_text(json.dumps(_document(shapes=points)), encoding="utf-8")
    source = read(tmp_path, {})
    assert source.schema.get("person").keypoint_names == ("hand", "head")  # type: ignore[union-attr]
    (record,) = source.records()
    second, first = (a.geometry for a in record.annotations)
    assert first == Keypoints(points=(Keypoint(x=2, y=2), Keypoint(x=1, y=1)))
    assert second == Keypoints(points=(Keypoint(x=3, y=3), Keypoint(x=0, y=0, v=Visibility(0))))


# --- globox ------------------------------------------------------------------------------------


def test_globox_reads_the_export(sample_source: MemorySource, tmp_path: Path) -> None:
    from globox import AnnotationSet

    result = run_export(_ground_truth(sample_source), SPEC, tmp_path / "out")
    boxes = AnnotationSet.from_labelme(result.path / "train")
    assert len(boxes) == len(sample_source)
    for record in _ground_truth(sample_source).records():
        image_wh = (record.item.width, record.item.height)
        expected = sorted((a.label, fit_to_image(a.geometry, image_wh=image_wh,
                                                 ctx=WriteContext()).xyxy)  # type: ignore[union-attr]
                          for a in record.annotations if isinstance(a.geometry, Box))
        found = boxes[record.item.file_name]
        assert found.image_size == image_wh
        assert sorted((b.label, b.ltrb) for b in found.boxes) == expected
    with_polygons = AnnotationSet.from_labelme(result.path / "train", include_poly=True)
    park = with_polygons["straße_ü.png"]
    assert sorted(b.label for b in park.boxes) == ["tree", "tree"]  # one box per polygon part


def test_an_image_level_class_outside_the_flag_classes_is_still_a_flag() -> None:
    document = _shapes(Annotation(label="fog", geometry=NoGeometry()))
    assert document["flags"] == {"night": False, "fog": True}
