"""The labels Ultralytics' own dataset code reads from one ``yolo`` export's train split
(``check_det_dataset`` then ``YOLODataset``, as training does), run in its side venv
(`tests.side_python`): each image's path below the split's images folder, its classes, its
boxes in pixels (``x0, y0, x1, y1``) and its keypoints in pixels (``x, y, v``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.side_python import ULTRALYTICS, run_side

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

yaml_path, task = sys.argv[1:3]
data = check_det_dataset(yaml_path)
images = str(data["train"])
found = []
for label in YOLODataset(img_path=images, data=data, task=task, augment=False).labels:
    h, w = label["shape"]
    boxes = [[(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
             for cx, cy, bw, bh in label["bboxes"].tolist()]
    points = label.get("keypoints")
    found.append({
        "file": os.path.relpath(label["im_file"], images).replace(os.sep, "/"),
        "cls": label["cls"].ravel().astype(int).tolist(), "boxes": boxes,
        "keypoints": None if points is None else [
            [[x * w, y * h, v] for x, y, v in person] for person in points.tolist()],
    })
print(json.dumps(sorted(found, key=lambda f: f["file"])))
"""


def ultralytics_labels(export: Path, task: str) -> list[dict[str, Any]]:
    """What Ultralytics reads from ``export``'s train split, image by image (sorted by path)."""
    found: list[dict[str, Any]] = run_side(ULTRALYTICS, _SCRIPT, str(export / "data.yaml"), task)
    return found
