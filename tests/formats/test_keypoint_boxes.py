"""A keypoints object keeps its own box (issue 12, point 1): a COCO person's ``bbox`` covers the
whole person, more than the extent of its labelled points. Imported into the store and exported
to COCO, YOLO pose, CVAT and Label Studio, every format writes that box (not the points' extent)
and the same keypoints, within 1e-6 px; pycocotools, Ultralytics and Datumaro read them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from tests.formats.ultralytics_labels import ultralytics_labels
from tests.side_python import DATUMARO, run_side

from labelport.domain.geometry import Box, Keypoint, Keypoints, Polygon, Visibility
from labelport.domain.geometry_ops import area, bounding_box, clip_keypoints
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats.registry import get_format
from labelport.store import open_store

_TOLERANCE_PX = 1e-6
_NAMES = ["nose", "left_eye", "right_eye"]
# Coordinates that YOLO's 6 decimals of a 200 x 100 image and CVAT's 2 decimals carry exactly.
_PERSONS = [
    {"bbox": [20.0, 10.0, 100.0, 80.0],
     "keypoints": [50.5, 30.25, 2, 60.0, 20.0, 1, 0, 0, 0],
     "segmentation": [[20.0, 10.0, 120.0, 10.0, 120.0, 90.0, 70.0, 90.0, 20.0, 50.0]]},
    {"bbox": [130.0, 5.0, 60.0, 90.0],
     "keypoints": [150.0, 40.5, 2, 160.25, 41.0, 2, 170.0, 50.0, 2],
     "segmentation": []},
]


def _coco_file(folder: Path) -> Path:
    """A COCO person keypoints file (as COCO's own ``person_keypoints_*.json``) and its image."""
    (folder / "images").mkdir(parents=True)
    Image.new("RGB", (200, 100)).save(folder / "images" / "street.png")
    doc = {
        "images": [{"id": 1, "file_name": "street.png", "width": 200, "height": 100}],
        "annotations": [{"id": i, "image_id": 1, "category_id": 1, "iscrowd": 0,
                         "area": p["bbox"][2] * p["bbox"][3],  # type: ignore[index]
                         "num_keypoints": 2, **p} for i, p in enumerate(_PERSONS, start=1)],
        "categories": [{"id": 1, "name": "person", "supercategory": "person",
                        "keypoints": _NAMES, "skeleton": [[1, 2], [1, 3]]}],
    }
    file = folder / "person_keypoints_val.json"
    file.write_text(json.dumps(doc), encoding="utf-8")
    return file


def _expected() -> list[tuple[Box, list[tuple[float, float, int]]]]:
    out = []
    for p in _PERSONS:
        x, y, w, h = p["bbox"]  # type: ignore[misc]
        flat = p["keypoints"]
        points = [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]
        out.append((Box(x=x, y=y, w=w, h=h), points))
    return out


def _as_found(geometry: object) -> tuple[Box, list[tuple[float, float, int]]]:
    assert isinstance(geometry, Keypoints)
    box = bounding_box(geometry)
    assert box is not None
    return box, [(p.x, p.y, int(p.v)) if p.v else (0.0, 0.0, 0) for p in geometry.points]


def _assert_close(found: list[tuple[Box, list[tuple[float, float, int]]]]) -> None:
    expected = _expected()
    assert len(found) == len(expected)
    for (box, points), (want_box, want_points) in zip(found, expected, strict=True):
        assert box.xyxy == pytest.approx(want_box.xyxy, abs=_TOLERANCE_PX)
        assert len(points) == len(want_points)
        for (x, y, v), (wx, wy, wv) in zip(points, want_points, strict=True):
            assert (x, y) == pytest.approx((wx, wy), abs=_TOLERANCE_PX) and v == wv


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The COCO file read by labelport, imported into a store and exported to COCO, YOLO pose
    and CVAT: the folder of each export by format name."""
    root = tmp_path_factory.mktemp("keypoint-boxes")
    coco = get_format("coco")
    assert coco.reader is not None
    source = coco.reader(_coco_file(root / "in"), {"images": root / "in" / "images"})
    (record,) = source.records()
    person = record.annotations[0].geometry
    assert isinstance(person, Keypoints) and person.box == Box(x=20, y=10, w=100, h=80)
    assert isinstance(person.shape, Polygon)
    store = open_store(str(root / "store.db"))
    try:
        store.create_project("people", source.schema)
        store.import_source("people", source)
        for name, options in (("coco", {}), ("yolo", {"task": "pose"}), ("cvat", {}),
                              ("labelstudio", {})):
            run_export(store.source("people"), get_format(name), root / name, options=options,
                       media=MediaMode.COPY)
    finally:
        store.close()
    return root, root / "in"


def test_coco_export_keeps_each_persons_box_and_keypoints(imported: tuple[Path, Path]) -> None:
    from pycocotools.coco import COCO

    root, _ = imported
    (file,) = (root / "coco" / "annotations").glob("instances_*.json")
    api = COCO(str(file))
    anns = api.loadAnns(api.getAnnIds())
    found = []
    for ann in anns:
        x, y, w, h = ann["bbox"]
        flat = ann["keypoints"]
        found.append((Box(x=x, y=y, w=w, h=h),
                      [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]))
    _assert_close(found)
    assert anns[0]["segmentation"] == _PERSONS[0]["segmentation"]  # the outline is kept
    outline = Polygon.simple(tuple(_PERSONS[0]["segmentation"][0]))  # type: ignore[index]
    assert anns[0]["area"] == area(outline) and anns[1]["area"] == 60 * 90
    assert api.annToMask(anns[0]).sum() == pytest.approx(area(outline), rel=0.05)
    manifest = json.loads((root / "coco" / "labelport-export.json").read_text(encoding="utf-8"))
    assert "extent of its labelled points" in manifest["conventions"]["keypoint_box"]


def test_yolo_pose_rows_carry_each_persons_box(imported: tuple[Path, Path]) -> None:
    root, _ = imported
    (labels,) = (root / "yolo" / "labels").rglob("street.txt")
    found = []
    for line in labels.read_text(encoding="utf-8").splitlines():
        values = [float(v) for v in line.split()[1:]]
        cx, cy, w, h = values[0] * 200, values[1] * 100, values[2] * 200, values[3] * 100
        points = [(values[i] * 200, values[i + 1] * 100, int(values[i + 2]))
                  for i in range(4, len(values), 3)]
        found.append((Box(x=cx - w / 2, y=cy - h / 2, w=w, h=h), points))
    _assert_close(found)
    yolo = get_format("yolo")
    assert yolo.reader is not None
    (record,) = yolo.reader(root / "yolo", {}).records()  # labelport's reader keeps the box
    _assert_close([_as_found(a.geometry) for a in record.annotations])


def test_cvat_groups_each_persons_box_with_its_skeleton(imported: tuple[Path, Path]) -> None:
    from xml.etree import ElementTree

    root, _ = imported
    image = ElementTree.parse(root / "cvat" / "annotations.xml").getroot().find("image")
    assert image is not None
    boxes, skeletons = image.findall("box"), image.findall("skeleton")
    assert len(boxes) == len(skeletons) == 2
    assert [b.get("group_id") for b in boxes] == [s.get("group_id") for s in skeletons]
    cvat = get_format("cvat")
    assert cvat.reader is not None
    (record,) = cvat.reader(root / "cvat", {}).records()
    _assert_close([_as_found(a.geometry) for a in record.annotations])


def test_label_studio_hangs_the_keypoints_from_each_persons_rectangle(
        imported: tuple[Path, Path]) -> None:
    root, _ = imported
    (task,) = json.loads((root / "labelstudio" / "result.json").read_text(encoding="utf-8"))
    owners = [r for r in task["annotations"][0]["result"] if r["type"] == "rectanglelabels"]
    assert [r["value"]["width"] * 2 for r in owners] == pytest.approx([100.0, 60.0])  # 200 px
    labelstudio = get_format("labelstudio")
    assert labelstudio.reader is not None
    (record,) = labelstudio.reader(root / "labelstudio", {}).records()
    _assert_close([_as_found(a.geometry) for a in record.annotations])


def test_a_format_without_the_outline_counts_it(imported: tuple[Path, Path]) -> None:
    """The first person's outline reaches COCO; YOLO pose, CVAT and Label Studio count it."""
    root, _ = imported
    for name in ("yolo", "cvat", "labelstudio"):
        manifest = json.loads((root / name / "labelport-export.json").read_text(encoding="utf-8"))
        assert manifest["report"]["counts"]["not written: shape of a keypoints object"] == 1


def test_without_a_box_the_extent_of_the_labelled_points_is_the_fallback() -> None:
    points = (Keypoint(x=10, y=20), Keypoint(x=0, y=0, v=Visibility.NOT_LABELED),
              Keypoint(x=30, y=60, v=Visibility.OCCLUDED))
    assert bounding_box(Keypoints(points=points)) == Box(x=10, y=20, w=20, h=40)
    own = Keypoints(points=points, box=Box(x=0, y=0, w=50, h=70))
    assert bounding_box(own) == Box(x=0, y=0, w=50, h=70)


def test_clipping_cuts_the_own_box_and_keeps_a_box_without_placed_points() -> None:
    unlabelled = (Keypoint(x=0, y=0, v=Visibility.NOT_LABELED),)
    kept = clip_keypoints(Keypoints(points=unlabelled, box=Box(x=-10, y=5, w=40, h=10)),
                          image_wh=(20, 20))
    assert kept == Keypoints(points=unlabelled, box=Box(x=0, y=5, w=20, h=10))


def test_ultralytics_reads_each_persons_box_and_keypoints(imported: tuple[Path, Path]) -> None:
    """Ultralytics' own dataset code (its side venv) reads the pose export's boxes and points;
    its labels are float32, so within 1e-3 px here (the rows themselves: 1e-6 above)."""
    root, _ = imported
    (image,) = ultralytics_labels(root / "yolo", "pose")
    found = [(Box.from_xyxy(*box), [(x, y, int(v)) if v else (0.0, 0.0, 0) for x, y, v in points])
             for box, points in zip(image["boxes"], image["keypoints"], strict=True)]
    for (box, points), (want_box, want_points) in zip(found, _expected(), strict=True):
        assert box.xyxy == pytest.approx(want_box.xyxy, abs=1e-3)
        assert [p[2] for p in points] == [p[2] for p in want_points]
        assert [c for p in points for c in p[:2]] == pytest.approx(
            [c for p in want_points for c in p[:2]], abs=1e-3)


_DATUMARO_KEYPOINTS = """
import json, sys
from datumaro.components.dataset import Dataset

found = []
for item in Dataset.import_from(sys.argv[1], "coco_person_keypoints"):
    for a in item.annotations:
        if a.type.name in ("bbox", "points"):
            found.append({"type": a.type.name, "group": a.group,
                          "values": [float(v) for v in a.points] if a.type.name == "points"
                          else [a.x, a.y, a.x + a.w, a.y + a.h],
                          "visibility": [int(v) for v in getattr(a, "visibility", [])]})
print(json.dumps(found))
"""


def test_datumaro_reads_each_persons_box_and_keypoints(imported: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    """Datumaro's COCO person keypoints importer (its side venv) pairs each person's box with
    its points by group: the box is the person's own, not the points' extent."""
    root, _ = imported
    (written,) = (root / "coco" / "annotations").glob("instances_*.json")
    keypoints = tmp_path / "annotations" / written.name.replace("instances_",
                                                                "person_keypoints_")
    keypoints.parent.mkdir()
    keypoints.write_bytes(written.read_bytes())  # the file Datumaro's importer looks for
    (tmp_path / "images").symlink_to(root / "coco" / "images", target_is_directory=True)
    found = run_side(DATUMARO, _DATUMARO_KEYPOINTS, str(tmp_path))
    boxes = {a["group"]: a["values"] for a in found if a["type"] == "bbox"}
    points = {a["group"]: a for a in found if a["type"] == "points"}
    pairs = []
    for group, xyxy in sorted(boxes.items()):
        flat, visibility = points[group]["values"], points[group]["visibility"]
        pairs.append((Box.from_xyxy(*xyxy), [
            (flat[2 * i], flat[2 * i + 1], v) if v else (0.0, 0.0, 0)
            for i, v in enumerate(visibility)]))
    _assert_close(pairs)


_DATUMARO_CVAT = """
import json, sys
from datumaro.components.dataset import Dataset

found = []
for item in Dataset.import_from(sys.argv[1], "cvat"):
    for a in item.annotations:
        if a.type.name == "bbox":
            found.append({"group": a.group, "xyxy": [a.x, a.y, a.x + a.w, a.y + a.h]})
        elif a.type.name == "points":
            found.append({"point": [float(v) for v in a.points] + [int(a.visibility[0])]})
print(json.dumps(found))
"""


def test_datumaro_reads_cvats_box_before_each_skeleton(imported: tuple[Path, Path]) -> None:
    """Datumaro's CVAT importer (its side venv) reads each person's own box, grouped, then its
    skeleton's points (Datumaro 1.13 gives a skeleton's points one by one, ungrouped, and reads
    neither ``occluded`` nor ``outside`` on them: only the coordinates are compared)."""
    root, _ = imported
    pairs: list[tuple[Box, list[float]]] = []
    for a in run_side(DATUMARO, _DATUMARO_CVAT, str(root / "cvat")):
        if "xyxy" in a:
            assert a["group"] > 0  # the box and its skeleton share a group_id in the file
            pairs.append((Box.from_xyxy(*a["xyxy"]), []))
        else:
            pairs[-1][1].extend(a["point"][:2])
    assert len(pairs) == len(_PERSONS)
    for (box, points), (want_box, want_points) in zip(pairs, _expected(), strict=True):
        assert box.xyxy == pytest.approx(want_box.xyxy, abs=_TOLERANCE_PX)
        assert points == pytest.approx([c for x, y, _ in want_points for c in (x, y)],
                                       abs=_TOLERANCE_PX)
