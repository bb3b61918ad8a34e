"""Mask PNG benchmark (issue 6): 2,000 images x 20 polygons to semantic and instance masks, with
labelport, Datumaro and a minimal Pillow loop (the floor).

    .venv/bin/python bench/masks_bench.py                      # all tasks and tools, 3 runs
    .venv/bin/python bench/masks_bench.py --tasks semantic --runs 5 --tools floor,labelport
    .venv/bin/python bench/masks_bench.py --images 200         # a quick look

Input (`generate`, deterministic): a COCO instances file of 640x480 images with 20 polygons
each (8-16 vertices around a random centre, radius 15-90 px, inside the image; 10 categories;
no image files: every tool takes sizes from the JSON), under ``bench/out/masks/input``.

Tasks and tools, each reading that COCO file and writing PNGs:
- ``semantic``: one 8-bit PNG per image, pixel = category index + 1 (0 background).
  ``floor``: `json` + Pillow (``ImageDraw.polygon`` fills each polygon with its value on an
  ``L`` image, in annotation order, then ``save``), one process; ``labelport``: the public API,
  ``run_export(coco reader, masks_semantic)`` (manifest included); ``datumaro``: its own
  virtualenv (`formats_bench.peer_python`), ``Dataset.import_from(IN, "coco_instances")``,
  ``transform("polygons_to_masks")`` (its VOC exporters paint masks only) and
  ``export(OUT, "voc_segmentation", label_map="source", apply_colormap=False)`` (index PNGs,
  not its default RGB colour map, so the pixels compare): Datumaro has no single
  semantic-mask exporter, its VOC one writes the class PNG and the object PNG, so it does twice
  the PNG work of this task.
- ``instance``: one 16-bit PNG per image, pixel = instance number 1..20. ``floor``: Pillow draws
  on an ``I`` image and saves it as ``I;16``; ``labelport``: ``masks_instance``; ``datumaro``:
  ``voc_instance_segmentation`` (8-bit palette object PNGs plus class PNGs).
- ``voc``: like for like with Datumaro: class and object palette PNGs (``SegmentationClass``,
  ``SegmentationObject``). ``floor``: both from Pillow; ``labelport``: ``voc_segmentation``;
  ``datumaro``: ``voc_segmentation``.

Pixels differ a little between tools: Pillow's polygon fill is not pycocotools' rasteriser
(which labelport and Datumaro use), so the check compares each tool's first image with the
floor's by the share of equal pixels (>= 97 %), and counts the PNGs.

Every run is a fresh process writing to an empty folder on tmpfs; the table gives the median
wall seconds and its ratio to the floor, ``work s`` (the tool's own seconds after the
interpreter started), the child's CPU seconds (all threads), peak RSS, and the load average when the
runs started (this machine has 2 cores; other work on it slows a parallel tool most).
labelport runs from the working tree (the installed package); ``--workers`` sets its
``workers`` option (0: the CPUs it may use, here both cores: threads).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
WIDTH, HEIGHT = 640, 480
POLYGONS_PER_IMAGE = 20
CLASSES = ("person", "car", "bicycle", "dog", "traffic light", "bus", "truck", "cat",
           "motorcycle", "stop sign")
TASKS = ("semantic", "instance", "voc")
TOOLS = ("floor", "labelport", "datumaro")
LABELPORT_FORMAT = {"semantic": "masks_semantic", "instance": "masks_instance",
                    "voc": "voc_segmentation"}
DATUMARO_FORMAT = {"semantic": "voc_segmentation", "instance": "voc_instance_segmentation",
                   "voc": "voc_segmentation"}


# --- input -----------------------------------------------------------------------------------


def _polygon(rnd: random.Random) -> list[float]:
    cx, cy = rnd.uniform(90, WIDTH - 90), rnd.uniform(90, HEIGHT - 90)
    radius = rnd.uniform(15, 90)
    n = rnd.randint(8, 16)
    angles = sorted(rnd.uniform(0, 2 * math.pi) for _ in range(n))
    ring: list[float] = []
    for a in angles:
        r = radius * rnd.uniform(0.5, 1.0)
        ring += [round(cx + r * math.cos(a), 2), round(cy + r * math.sin(a), 2)]
    return ring


def generate(out: Path, images: int) -> None:
    """The COCO file every tool reads (and an empty ``images/`` Datumaro wants beside it)."""
    rnd = random.Random(6)
    data: dict[str, list[dict[str, object]]] = {
        "images": [], "annotations": [],
        "categories": [{"id": i, "name": n, "supercategory": ""}
                       for i, n in enumerate(CLASSES, start=1)]}
    for image_id in range(1, images + 1):
        data["images"].append({"id": image_id, "file_name": f"img_{image_id:06d}.jpg",
                               "width": WIDTH, "height": HEIGHT})
        for _ in range(POLYGONS_PER_IMAGE):
            ring = _polygon(rnd)
            xs, ys = ring[0::2], ring[1::2]
            data["annotations"].append({
                "id": len(data["annotations"]) + 1, "image_id": image_id,
                "category_id": rnd.randint(1, len(CLASSES)), "segmentation": [ring],
                "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                "area": 0.0, "iscrowd": 0})
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)
    (out / "annotations" / "instances_default.json").write_text(json.dumps(data))


# --- the children (run as fresh processes) ---------------------------------------------------


def floor(task: str, src: Path, out: Path) -> None:
    """The minimal loop: json + Pillow, one process, annotation order, default PNG settings."""
    from PIL import Image, ImageDraw

    data = json.loads(src.read_text())
    by_image: dict[int, list[dict[str, object]]] = {}
    for a in data["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    palette = [0] * 768
    for i in range(256):  # the VOC palette
        c, r, g, b = i, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette[3 * i:3 * i + 3] = [r, g, b]
    dirs = {"semantic": ["masks"], "instance": ["masks"],
            "voc": ["SegmentationClass", "SegmentationObject"]}[task]
    for d in dirs:
        (out / d).mkdir(parents=True, exist_ok=True)
    for image in data["images"]:
        stem = image["file_name"].rsplit(".", 1)[0]
        size = (image["width"], image["height"])
        objects = by_image.get(image["id"], [])
        if task == "instance":
            canvas = Image.new("I", size, 0)
            draw = ImageDraw.Draw(canvas)
            for k, a in enumerate(objects, start=1):
                draw.polygon(a["segmentation"][0], fill=k)
            canvas.convert("I;16").save(out / "masks" / f"{stem}.png")
            continue
        classes = Image.new("L", size, 0)
        draw = ImageDraw.Draw(classes)
        for a in objects:
            draw.polygon(a["segmentation"][0], fill=a["category_id"])
        if task == "semantic":
            classes.save(out / "masks" / f"{stem}.png")
            continue
        instances = Image.new("L", size, 0)
        draw = ImageDraw.Draw(instances)
        for k, a in enumerate(objects, start=1):
            draw.polygon(a["segmentation"][0], fill=k)
        for folder, canvas in (("SegmentationClass", classes), ("SegmentationObject", instances)):
            canvas = canvas.convert("P")
            canvas.putpalette(palette)
            canvas.save(out / folder / f"{stem}.png")


def labelport(task: str, src: Path, out: Path, workers: str) -> None:
    from labelport.export.run import run_export
    from labelport.formats.registry import get_format

    reader = get_format("coco").reader
    assert reader is not None
    run_export(reader(src, {"images": None}), get_format(LABELPORT_FORMAT[task]), out,
               options={"workers": int(workers)})


def datumaro(task: str, src: Path, out: Path) -> None:
    from datumaro.components.dataset import Dataset

    dataset = Dataset.import_from(str(src), "coco_instances")
    dataset.transform("polygons_to_masks")  # its VOC exporters paint masks only
    dataset.export(str(out), DATUMARO_FORMAT[task], save_media=False, label_map="source",
                   apply_colormap=False)  # index PNGs, as the floor and labelport write


def child(tool: str, task: str, src: str, out: str, workers: str = "0") -> None:
    started = time.perf_counter()
    if tool == "floor":
        floor(task, Path(src), Path(out))
    elif tool == "labelport":
        labelport(task, Path(src), Path(out), workers)
    else:
        datumaro(task, Path(src), Path(out))
    print(json.dumps({"work_s": time.perf_counter() - started}))


# --- measuring -------------------------------------------------------------------------------


def pngs(task: str, tool: str, out: Path) -> list[Path]:
    folder = {"semantic": "masks", "instance": "masks", "voc": "SegmentationClass"}[task]
    if tool == "datumaro":
        folder = "SegmentationObject" if task == "instance" else "SegmentationClass"
    return sorted((out / folder).rglob("*.png"))


def agreement(task: str, mine: Path, floor_png: Path) -> float:
    import numpy as np
    from PIL import Image

    a, b = np.asarray(Image.open(mine)), np.asarray(Image.open(floor_png))
    return float((a == b).mean()) if a.shape == b.shape else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    import formats_bench as fb  # run_child, peer_python: one copy of the harness

    work = fb.OUT / "masks"
    src_dir = work / f"input-{args.images}"
    src = src_dir / "annotations" / "instances_default.json"
    if not src.is_file():
        generate(src_dir, args.images)
    runs_dir = Path("/dev/shm/labelport-masks-bench") if Path("/dev/shm").is_dir() else work
    fb.LABELPORT_SRC = None
    rows: list[tuple[str, str, list[fb.Run], str]] = []
    for task in args.tasks.split(","):
        for tool in args.tools.split(","):
            python = fb.peer_python("datumaro") if tool == "datumaro" else Path(sys.executable)
            argv: list[str | Path] = [python, Path(__file__), "child", tool, task, src,
                                      runs_dir / f"{task}-{tool}", str(args.workers)]
            log = work / "logs" / f"{task}-{tool}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            runs = []
            for _ in range(args.runs):
                shutil.rmtree(runs_dir / f"{task}-{tool}", ignore_errors=True)
                (runs_dir / f"{task}-{tool}").mkdir(parents=True)
                runs.append(fb.run_child(argv, log))
            out = runs_dir / f"{task}-{tool}"
            files = pngs(task, tool, out)
            check = f"{len(files)} PNGs"
            if tool != "floor" and files:
                floor_files = pngs(task, "floor", runs_dir / f"{task}-floor")
                if floor_files:
                    check += f", {agreement(task, files[0], floor_files[0]):.1%} = floor"
            rows.append((task, tool, runs, check))
            print(f"{task:9} {tool:10} {statistics.median(r.wall_s for r in runs):7.2f} s  "
                  f"{check}", file=sys.stderr)
    print(f"\n{args.images} images x {POLYGONS_PER_IMAGE} polygons, median of {args.runs} runs\n")
    print("| task | tool | wall s | x floor | work s | CPU s | peak RSS MB | load | check |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    floors = {task: statistics.median(r.wall_s for r in runs)
              for task, tool, runs, _ in rows if tool == "floor"}
    for task, tool, runs, check in rows:
        wall = statistics.median(r.wall_s for r in runs)
        ratio = f"{wall / floors[task]:.2f}" if task in floors else "-"
        works = [r.work_s for r in runs if r.work_s is not None]
        work_s = f"{statistics.median(works):.2f}" if works else "-"
        print(f"| {task} | {tool} | {wall:.2f} | {ratio} | {work_s} | "
              f"{statistics.median(r.cpu_s for r in runs):.2f} | "
              f"{max(r.rss_mb for r in runs):.0f} | "
              f"{statistics.median(r.load for r in runs):.1f} | {check} |")
    shutil.rmtree(runs_dir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(*sys.argv[2:])
    else:
        main()
