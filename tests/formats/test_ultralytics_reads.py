"""Ultralytics' own dataset code reads our ``yolo`` exports of the sample project, one per task
(detect, segment, obb, pose): ``check_det_dataset`` resolves ``data.yaml`` from another working
directory and ``YOLODataset`` loads each split's labels as training would. Every image it found
is compared with the store, object by object: class, box, polygon, corners, keypoints.

Ultralytics runs in its side venv (``LABELPORT_ULTRALYTICS_PYTHON``; see tests/side_python.py),
all four exports in one call. The rules copied from it in test_yolo.py stay as fast unit tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.formats.stored_sample import SPLITS, objects, stored_sample
from tests.side_python import ULTRALYTICS, run_side

from labelport.domain.geometry import (
    Box,
    GeometryKind,
    Keypoints,
    Polygon,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import bounding_box, rotated_box_corners
from labelport.domain.model import Annotation, ItemRecord
from labelport.domain.source import MemorySource
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats.registry import get_format

TASKS = ("detect", "segment", "obb", "pose")
# Labels are written with 6 decimals (0.0003 px on 640) and Ultralytics holds them as float32.
TOLERANCE_PX = 0.01

_SCRIPT = """
import json, os, sys
# Settings and fonts go to the temporary working folder; an empty Arial.ttf there stops
# check_det_dataset from downloading one (the fonts only serve plots).
os.environ["YOLO_CONFIG_DIR"] = os.getcwd()
os.environ["YOLO_OFFLINE"] = "1"
os.makedirs("Ultralytics", exist_ok=True)
open(os.path.join("Ultralytics", "Arial.ttf"), "w").close()
from ultralytics.data import YOLODataset
from ultralytics.data.utils import check_det_dataset

found = {}
for task, yaml_path in zip(sys.argv[1::2], sys.argv[2::2]):
    data = check_det_dataset(yaml_path)
    splits = {}
    for split in ("train", "val", "test"):
        if not data.get(split):
            continue
        dataset = YOLODataset(img_path=data[split], data=data, task=task, augment=False)
        splits[split] = [{
            "file": os.path.basename(label["im_file"]), "hw": list(label["shape"]),
            "cls": label["cls"].ravel().astype(int).tolist(), "xywhn": label["bboxes"].tolist(),
            "segments": [s.tolist() for s in label["segments"]],
            "keypoints": None if label.get("keypoints") is None else label["keypoints"].tolist(),
        } for label in dataset.labels]
    found[task] = {"names": data["names"], "nc": data["nc"],
                   "kpt_shape": data.get("kpt_shape"),
                   "folders": {s: str(data[s]) for s in ("train", "val", "test") if data.get(s)},
                   "splits": splits}
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return stored_sample(tmp_path_factory.mktemp("stored"))


@pytest.fixture(scope="module")
def read_by_ultralytics(stored: MemorySource, tmp_path_factory: pytest.TempPathFactory
                        ) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("yolo")
    for task in TASKS:
        run_export(stored, get_format("yolo"), root / task, options={"task": task},
                   media=MediaMode.COPY)
    args = [arg for task in TASKS for arg in (task, str(root / task / "data.yaml"))]
    return root, run_side(ULTRALYTICS, _SCRIPT, *args)


def _pixels(values: Iterable[float], hw: Sequence[int]) -> list[float]:
    """Normalised x, y, x, y, ... (or cx, cy, w, h) in pixels of an image ``hw`` high and wide."""
    return [v * hw[1 - i % 2] for i, v in enumerate(values)]


def _xywh_to_xyxy(cx: float, cy: float, w: float, h: float) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def _box_xyxy(geometry: Any) -> list[float]:
    box = bounding_box(geometry)
    assert box is not None
    return [box.x, box.y, box.x + box.w, box.y + box.h]


def _assert_same_objects(theirs: list[tuple[int, list[float]]],
                         ours: list[tuple[int, list[float]]], where: str) -> None:
    """The same multiset of (class index, values) within the tolerance."""
    def key(obj: tuple[int, list[float]]) -> tuple[Any, ...]:
        return (obj[0], len(obj[1]), *(round(v / 2) for v in obj[1]))
    theirs, ours = sorted(theirs, key=key), sorted(ours, key=key)
    assert [(c, len(v)) for c, v in theirs] == [(c, len(v)) for c, v in ours], where
    for (_, a), (_, b) in zip(theirs, ours, strict=True):
        assert np.allclose(a, b, atol=TOLERANCE_PX), f"{where}: {a} != {b}"


def _expected(task: str, record: ItemRecord, index: dict[str, int], nkpt: int
              ) -> list[tuple[int, list[float]]]:
    """What the store holds for one image, as the task's rows mean it (docs/formats.md)."""
    found = []
    for a in objects(record):
        cls = index[a.label]
        g = a.geometry
        if task == "detect":
            found.append((cls, _box_xyxy(g)))
        elif task == "segment" and isinstance(g, Polygon):
            found.append((cls, _point_set(xy for p in g.parts for ring in (p.outer, *p.holes)
                                          for xy in zip(ring[0::2], ring[1::2], strict=True))))
        elif task == "segment" and isinstance(g, Box | RotatedBox):
            found.append((cls, _point_set(_corners(g))))
        elif task == "obb":
            found.append((cls, [v for xy in _corners(g) for v in xy]))
        elif task == "pose" and not _box_of_keypoints(a, record):
            found.append((cls, _box_xyxy(_pose_box(a, record)) + _keypoint_values(g, nkpt)))
    return found


def _point_set(points: Iterable[Sequence[float]]) -> list[float]:
    """A segment's distinct points, sorted and flattened: a polygon with holes or several parts
    is one Ultralytics segment whose rings are joined by bridges that repeat vertices."""
    return [v for xy in sorted({(round(x, 1), round(y, 1)) for x, y in points}) for v in xy]


def _corners(g: Any) -> list[tuple[float, float]]:
    """OBB corners: a rotated box's own, any other geometry's bounding box from top-left."""
    ring = rotated_box_corners(g) if isinstance(g, RotatedBox) else None
    if ring is None:
        x0, y0, x1, y1 = _box_xyxy(g)
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return list(zip(ring[0::2], ring[1::2], strict=True))


def _box_of_keypoints(a: Annotation, record: ItemRecord) -> bool:
    """A box that is written as the box of its instance's keypoints row, not a row of its own."""
    return isinstance(a.geometry, Box) and a.instance_id is not None and any(
        b.instance_id == a.instance_id for b in objects(record, GeometryKind.KEYPOINTS))


def _pose_box(a: Annotation, record: ItemRecord) -> Any:
    if isinstance(a.geometry, Keypoints):
        return next((b.geometry for b in objects(record, GeometryKind.BOX)
                     if a.instance_id is not None and b.instance_id == a.instance_id),
                    a.geometry)
    return a.geometry


def _keypoint_values(g: Any, nkpt: int) -> list[float]:
    points = g.points if isinstance(g, Keypoints) else ()
    values: list[float] = []
    for p in points:
        values += [0.0, 0.0, 0.0] if p.v == Visibility.NOT_LABELED else [p.x, p.y, float(p.v)]
    return values + [0.0] * (3 * nkpt - len(values))


def _theirs(task: str, label: dict[str, Any]) -> list[tuple[int, list[float]]]:
    hw = label["hw"]
    if task == "detect":
        return [(c, _xywh_to_xyxy(*_pixels(b, hw))) for c, b in zip(label["cls"], label["xywhn"],
                                                                    strict=True)]
    if task == "segment":
        return [(c, _point_set(_pixels(xy, hw) for xy in s))
                for c, s in zip(label["cls"], label["segments"], strict=True)]
    if task == "obb":
        return [(c, _pixels([v for xy in s for v in xy], hw))
                for c, s in zip(label["cls"], label["segments"], strict=True)]
    return [(c, _xywh_to_xyxy(*_pixels(b, hw))
             + [v for x, y, vis in k for v in (x * hw[1], y * hw[0], vis)])
            for c, b, k in zip(label["cls"], label["xywhn"], label["keypoints"], strict=True)]


@pytest.mark.parametrize("task", TASKS)
def test_ultralytics_loads_every_image_and_object(
        task: str, stored: MemorySource, read_by_ultralytics: tuple[Path, dict[str, Any]]) -> None:
    root, found = read_by_ultralytics
    theirs = found[task]
    names = list(stored.schema.class_names)
    assert theirs["names"] == {str(i): n for i, n in enumerate(names)}
    assert theirs["nc"] == len(names)
    assert theirs["folders"] == {s: str(root / task / "images" / s) for s in SPLITS}
    nkpt = theirs["kpt_shape"][0] if task == "pose" else 0
    index = {n: i for i, n in enumerate(names)}
    for split in SPLITS:
        labels = {label["file"]: label for label in theirs["splits"][split]}
        records = [r for r in stored.records() if r.split == split]
        assert sorted(labels) == sorted(r.item.file_name for r in records), split
        for record in records:
            label = labels[record.item.file_name]
            assert label["hw"] == [record.item.height, record.item.width]
            _assert_same_objects(_theirs(task, label), _expected(task, record, index, nkpt),
                                 f"{task} {record.item.path}")


def test_every_task_carries_objects(read_by_ultralytics: tuple[Path, dict[str, Any]]) -> None:
    """The comparison above is not vacuous: each task's export has objects, pose keypoints."""
    _, found = read_by_ultralytics
    for task in TASKS:
        labels = [label for split in found[task]["splits"].values() for label in split]
        assert sum(len(label["cls"]) for label in labels) >= 5, task
    pose = [label for split in found["pose"]["splits"].values() for label in split]
    assert any(v == 2 for label in pose for k in label["keypoints"] for *_, v in k)
