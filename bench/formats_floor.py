"""The floor of `formats_bench.py`: minimal hand-written loops that write the same files as
labelport, with nothing but the standard library (``json``, ``sqlite3``), one process, no
validation, no manifest. Also the deterministic COCO generator every tool reads.

    python bench/formats_floor.py generate OUT.json IMAGES
    python bench/formats_floor.py yolo IN.json OUT_DIR
    python bench/formats_floor.py voc IN.json OUT_DIR
    python bench/formats_floor.py store-coco DB.sqlite PROJECT OUT_DIR

Each conversion prints one JSON line with its in-process seconds (``work_s``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path

WIDTH, HEIGHT = 640, 480
BOXES_PER_IMAGE = 20
# Fixed, deliberately not alphabetical: class index k in YOLO is the k-th category here.
CLASSES = ("person", "car", "bicycle", "dog", "traffic light", "bus", "truck", "cat",
           "motorcycle", "stop sign")


def generate(out: Path, images: int) -> None:
    """A COCO instances file: ``images`` images of 640x480 with 20 bbox-only boxes each.

    Deterministic (a fixed arithmetic pattern, no RNG), every box inside its image, fractional
    corners so rounding conventions show. The image files do not exist: every tool here takes
    sizes from ``width``/``height``. Written as it is generated (the bytes of one
    ``json.dumps`` of the whole document, never held whole), so 500k images take no memory."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    categories = [{"id": k, "name": n, "supercategory": ""} for k, n in enumerate(CLASSES, 1)]
    with open(tmp, "w", encoding="utf-8") as f:
        f.write('{"info": {"description": "labelport formats bench"}, "licenses": [], '
                f'"categories": {json.dumps(categories)}, "images": [')
        f.writelines(("" if i == 0 else ", ") + json.dumps(
            {"id": i + 1, "file_name": f"{i:07d}.jpg", "width": WIDTH, "height": HEIGHT})
            for i in range(images))
        f.write('], "annotations": [')
        f.writelines(("" if i == j == 0 else ", ") + json.dumps(_box_annotation(i, j))
                     for i in range(images) for j in range(BOXES_PER_IMAGE))
        f.write("]}")
    tmp.replace(out)


def _box_annotation(i: int, j: int) -> dict:
    """Box ``j`` of image ``i`` (0-based), with its COCO ids."""
    w = 10.0 + (i * 7 + j * 13) % 150 + 0.25
    h = 12.0 + (i * 11 + j * 5) % 120 + 0.5
    x = float((i * 31 + j * 29) % int(WIDTH - w)) + 0.375
    y = float((i * 17 + j * 23) % int(HEIGHT - h)) + 0.125
    return {"id": i * BOXES_PER_IMAGE + j + 1, "image_id": i + 1,
            "category_id": 1 + (i + j * 3) % len(CLASSES),
            "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0, "segmentation": []}


def _load(path: Path) -> tuple[dict, list, dict[int, list]]:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    by_image: dict[int, list] = {}
    for ann in doc["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    return doc, doc["images"], by_image


def coco_to_yolo(src: Path, out: Path) -> None:
    """labels/train/<stem>.txt (``cls cx cy w h``, 6 decimals, class index = category order)
    and data.yaml, as labelport's ``yolo`` writes them."""
    doc, images, by_image = _load(src)
    index = {c["id"]: k for k, c in enumerate(doc["categories"])}
    labels = out / "labels" / "train"
    labels.mkdir(parents=True)
    (out / "images" / "train").mkdir(parents=True)
    for image in images:
        w, h = image["width"], image["height"]
        rows = []
        for ann in by_image.get(image["id"], ()):
            x, y, bw, bh = ann["bbox"]
            rows.append(f"{index[ann['category_id']]} {(x + bw / 2) / w:.6f} "
                        f"{(y + bh / 2) / h:.6f} {bw / w:.6f} {bh / h:.6f}\n")
        stem = os.path.splitext(image["file_name"])[0]
        with open(labels / f"{stem}.txt", "w", encoding="utf-8") as f:
            f.write("".join(rows))
    names = "".join(f"  {k}: {c['name']}\n" for k, c in enumerate(doc["categories"]))
    (out / "data.yaml").write_text(
        f"train: images/train\nval: images/train\nnc: {len(doc['categories'])}\nnames:\n{names}",
        encoding="utf-8")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def coco_to_voc(src: Path, out: Path) -> None:
    """Annotations/<stem>.xml (integer corners, ``xmin = round(x)``, ``xmax = round(x + w)``),
    ImageSets/Main/train.txt and labelmap.txt, as labelport's ``voc`` writes them."""
    doc, images, by_image = _load(src)
    database = _esc(doc.get("info", {}).get("description", ""))
    names = {c["id"]: _esc(c["name"]) for c in doc["categories"]}
    annotations = out / "Annotations"
    annotations.mkdir(parents=True)
    (out / "ImageSets" / "Main").mkdir(parents=True)
    (out / "labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\n"
        + "".join(f"{c['name']}:::\n" for c in doc["categories"]), encoding="utf-8")
    stems = []
    for image in images:
        stem = os.path.splitext(image["file_name"])[0]
        stems.append(stem)
        parts = [f"<annotation>\n  <folder>JPEGImages</folder>\n"
                 f"  <filename>{_esc(image['file_name'])}</filename>\n"
                 f"  <source><database>{database}</database>"
                 f"<annotation>labelport</annotation></source>\n"
                 f"  <size><width>{image['width']}</width><height>{image['height']}</height>"
                 f"<depth>3</depth></size>\n  <segmented>0</segmented>\n"]
        for ann in by_image.get(image["id"], ()):
            x, y, bw, bh = ann["bbox"]
            parts.append(
                f"  <object>\n    <name>{names[ann['category_id']]}</name>\n"
                f"    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n"
                f"    <difficult>0</difficult>\n    <bndbox>\n"
                f"      <xmin>{int(x + 0.5)}</xmin>\n      <ymin>{int(y + 0.5)}</ymin>\n"
                f"      <xmax>{int(x + bw + 0.5)}</xmax>\n      <ymax>{int(y + bh + 0.5)}</ymax>\n"
                f"    </bndbox>\n  </object>\n")
        parts.append("</annotation>\n")
        with open(annotations / f"{stem}.xml", "w", encoding="utf-8") as f:
            f.write("".join(parts))
    (out / "ImageSets" / "Main" / "train.txt").write_text(
        "".join(f"{s}\n" for s in stems), encoding="utf-8")


def store_to_coco(db: Path, project: str, out: Path) -> None:
    """annotations/instances_train.json from labelport's SQLite tables, streamed: one query
    over items, their ``ground-truth`` task and annotations, ordered by item and annotation id;
    each image and annotation written as a JSON line to two spools that are then concatenated.
    It writes the same JSON values as labelport's ``coco`` (with its default metadata: image
    attributes, dataset, path, tasks; annotation attributes; category geometry), compact."""
    con = sqlite3.connect(db)
    (project_id,) = con.execute("SELECT id FROM projects WHERE name = ?", (project,)).fetchone()
    classes = con.execute("SELECT id, name, geometry FROM label_classes WHERE project_id = ? "
                          "ORDER BY position", (project_id,)).fetchall()
    category = {row_id: k for k, (row_id, _, _) in enumerate(classes, 1)}
    datasets = dict(con.execute("SELECT id, name FROM datasets WHERE project_id = ?",
                                (project_id,)).fetchall())
    labelset = "ground-truth"
    (labelset_id,) = con.execute("SELECT id FROM labelsets WHERE project_id = ? AND name = ?",
                                 (project_id, labelset)).fetchone()
    (out / "annotations").mkdir(parents=True)
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    loads = json.loads
    rows = con.execute(
        "SELECT i.id, i.dataset_id, i.path, i.width, i.height, i.metadata, "
        "t.status, t.assignee, a.class_id, a.geometry, a.attributes, a.crowd "
        "FROM items i LEFT JOIN tasks t ON t.item_id = i.id AND t.labelset_id = :ls "
        "LEFT JOIN annotations a ON a.item_id = i.id AND a.labelset_id = :ls "
        "WHERE i.project_id = :p ORDER BY i.id, a.id", {"ls": labelset_id, "p": project_id})
    images_spool, annotations_spool = out / "images.spool", out / "annotations.spool"
    with open(images_spool, "w", encoding="utf-8") as images, \
            open(annotations_spool, "w", encoding="utf-8") as annotations:
        image_id = ann_id = 0
        last_item = None
        for (item_id, dataset_id, path, width, height, metadata, status, assignee, class_id,
             geometry, attributes, crowd) in rows:
            if item_id != last_item:
                last_item = item_id
                image_id += 1
                image = {"id": image_id, "file_name": path.rsplit("/", 1)[-1], "width": width,
                         "height": height, "attributes": loads(metadata) if metadata else {},
                         "dataset": datasets[dataset_id], "path": path}
                if status is not None:
                    task = {"labelset": labelset, "status": status}
                    if assignee is not None:
                        task["assignee"] = assignee
                    image["tasks"] = [task]
                images.write(dumps(image) + "\n")
            if class_id is None:
                continue
            g = loads(geometry)
            ann_id += 1
            annotations.write(dumps({
                "id": ann_id, "image_id": image_id, "category_id": category[class_id],
                "segmentation": [], "area": g["w"] * g["h"],
                "bbox": [g["x"], g["y"], g["w"], g["h"]], "iscrowd": int(crowd),
                "attributes": loads(attributes) if attributes else {}}) + "\n")
    con.close()
    with open(out / "annotations" / "instances_train.json", "w", encoding="utf-8") as f:
        f.write('{"info":' + dumps({"description": project}) + ',"licenses":[],\n'
                '"categories":[\n')
        f.write(",\n".join(dumps({"id": k, "name": n, "supercategory": "", "geometry": g})
                           for k, (_, n, g) in enumerate(classes, 1)))
        for key, spool in (("images", images_spool), ("annotations", annotations_spool)):
            f.write(f'\n],\n"{key}":[\n')
            with open(spool, encoding="utf-8") as lines:
                first = True
                for line in lines:
                    f.write(line[:-1] if first else ",\n" + line[:-1])
                    first = False
            spool.unlink()
        f.write("\n]}\n")


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "generate":
        generate(Path(args[0]), int(args[1]))
        return
    started = time.perf_counter()
    if command == "yolo":
        coco_to_yolo(Path(args[0]), Path(args[1]))
    elif command == "voc":
        coco_to_voc(Path(args[0]), Path(args[1]))
    elif command == "store-coco":
        store_to_coco(Path(args[0]), args[1], Path(args[2]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps({"work_s": time.perf_counter() - started}))


if __name__ == "__main__":
    main(sys.argv[1:])
