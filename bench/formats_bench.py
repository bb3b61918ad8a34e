"""Format conversion benchmark (issue 3): labelport against Datumaro, globox and a floor.

Tasks, each on the same generated input for every tool:

- ``coco->yolo`` and ``coco->voc``, file to file, at 40k and 400k annotations (2,000 and 20,000
  images of 640x480, 20 bbox-only boxes each, 10 categories in a fixed non-alphabetical order;
  the image files do not exist, every tool takes sizes from the JSON);
- ``store->coco`` at 1M annotations: a generated project of 50,000 images x 20 boxes imported
  into a fresh SQLite store, exported with ``run_export(store.source(project,
  labelsets=["ground-truth"]), get_format("coco"), out)``. Datumaro and globox have no store
  to read from, so this task is compared against the floor only.

Tools: ``floor`` (`formats_floor.py`, a minimal standard-library loop that writes the same
files, no manifest), ``labelport`` (`formats_labelport.py`: the public Python API, nothing
else), ``labelport-cli`` (``labelport convert``), ``datumaro`` and ``globox``
(`formats_peers.py`, each in its own virtualenv under ``bench/out/venvs``, created and
``pip install``-ed on first use, reused after).

How it measures:
- every run is a fresh subprocess writing into an empty folder; ``wall s`` covers the whole
  process (interpreter start, imports, reading, writing); ``CPU s`` is its user + system time
  (all threads), the steadier figure on a shared machine; ``work s`` is what the tool reported
  for the conversion alone, after its imports; peak RSS is GNU time's ``%M`` for the child;
- the median of ``--runs`` runs is reported; a tool whose first run takes over ``--slow``
  seconds runs once;
- outputs go to tmpfs (``/dev/shm``) unless ``--disk``: this machine's disk takes about
  0.6 ms to create a small file, which would dominate every tool's time alike;
- labelport runs from ``git archive`` of ``--labelport REF`` (default HEAD), extracted and
  compiled under ``bench/out/formats/``, because other engineers edit the working tree while the
  benchmark runs (``--labelport worktree`` runs the installed working tree instead);
- outputs are checked: every tool writes one label file per image, and one image's file is
  compared with the floor's (same objects, coordinates within 1e-4 for YOLO and 1 pixel for
  VOC: Datumaro and globox write other rounding); for store->coco labelport's JSON must equal
  the floor's value for value.

    .venv/bin/python bench/formats_bench.py                       # everything (~20 min)
    .venv/bin/python bench/formats_bench.py --tasks coco-yolo --sizes 40000 --runs 5
    .venv/bin/python bench/formats_bench.py --profile coco-voc --sizes 40000   # cProfile labelport

Targets: labelport faster than every peer on every task, at most 1.5x the floor, peak RSS under
500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import formats_floor as floor  # noqa: E402

OUT = BENCH / "out"
WORK = OUT / "formats"
RUNS = Path("/dev/shm/labelport-formats-bench") if Path("/dev/shm").is_dir() else WORK / "runs"
"""Where the tools write (tmpfs by default: see --disk)."""
LABELPORT_SRC: Path | None = None
"""The labelport source the labelport runs import (PYTHONPATH), None for the installed one."""
VENVS = OUT / "venvs"
PEERS = {"datumaro": "datumaro==1.13.12", "globox": "globox==2.9.0"}
FILE_TASKS = ("coco-yolo", "coco-voc")
STORE_TASK = "store-coco"
STORE_PROJECT = "formats-bench"
STORE_GENERATOR_VERSION = "1"


# --- inputs ----------------------------------------------------------------------------------


def coco_input(annotations: int) -> Path:
    """``bench/out/formats/coco-N/annotations/instances_train.json`` (generated once), with the
    empty ``images/train`` folder Datumaro's importer insists on."""
    images = annotations // floor.BOXES_PER_IMAGE
    root = WORK / f"coco-{annotations}"
    path = root / "annotations" / "instances_train.json"
    (root / "images" / "train").mkdir(parents=True, exist_ok=True)
    if not path.is_file():  # in a child, so this process stays small (see run_child)
        subprocess.run([sys.executable, BENCH / "formats_floor.py", "generate", path,
                        str(images)], check=True)
    return path


def _store_records(images: int) -> Iterator[object]:
    from labelport.domain.geometry import Box
    from labelport.domain.model import Annotation, Item, ItemRecord, Task, TaskStatus

    classes = floor.CLASSES
    for i in range(images):
        yield ItemRecord(
            item=Item(dataset="bench", path=f"images/{i:07d}.jpg", width=floor.WIDTH,
                      height=floor.HEIGHT, metadata={"camera": i % 7}),
            tasks=(Task(status=TaskStatus.LABELED, assignee="annotator"),),
            annotations=tuple(
                Annotation(label=classes[(i + j * 3) % len(classes)],
                           geometry=Box(x=float(j * 29 % 500) + 0.375,
                                        y=float(i * 7 % 300) + 0.125, w=20.25 + j, h=30.5),
                           attributes={"occluded": j % 3 == 0})
                for j in range(floor.BOXES_PER_IMAGE)))


def store_input(annotations: int) -> Path:
    """A SQLite store holding project ``formats-bench`` with ``annotations`` boxes, imported
    once (in a child, with the labelport under test) and reused while its marker matches."""
    db = WORK / f"store-{annotations}.db"
    marker = db.with_suffix(".ok")
    if not (db.is_file() and marker.is_file()
            and marker.read_text() == STORE_GENERATOR_VERSION):
        subprocess.run([sys.executable, Path(__file__).resolve(), "--make-store",
                        str(annotations)], check=True, env=labelport_env())
    return db


def make_store(annotations: int) -> None:
    from labelport.domain.model import ProjectInfo
    from labelport.domain.schema import LabelClass, LabelSchema
    from labelport.domain.source import StreamSource
    from labelport.store import open_store

    db = WORK / f"store-{annotations}.db"
    marker = db.with_suffix(".ok")
    db.unlink(missing_ok=True)
    marker.unlink(missing_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    images = annotations // floor.BOXES_PER_IMAGE
    schema = LabelSchema(classes=tuple(LabelClass(id=i, name=n)
                                       for i, n in enumerate(floor.CLASSES, 1)))
    store = open_store(str(db))
    try:
        store.create_project(STORE_PROJECT, schema)
        started = time.perf_counter()
        summary = store.import_source(STORE_PROJECT, StreamSource(
            project=ProjectInfo(name=STORE_PROJECT), schema=schema, count=images,
            open_records=lambda: _store_records(images)))  # type: ignore[arg-type,return-value]
        assert summary.annotations == annotations, summary
        print(f"(imported {annotations:,} annotations into {db} in "
              f"{time.perf_counter() - started:.1f} s)", file=sys.stderr)
    finally:
        store.close()
    marker.write_text(STORE_GENERATOR_VERSION)


def labelport_snapshot(ref: str) -> tuple[Path, str]:
    """``src/`` of labelport at git ``ref``, extracted once under bench/out (other engineers
    edit the working tree while this runs; a commit does not move)."""
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    target = WORK / f"labelport-{sha}"
    if not (target / "src" / "labelport" / "__init__.py").is_file():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha, "src/labelport"], cwd=ROOT,
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
        # compiled now, so no timed run pays for the .pyc files
        subprocess.run([sys.executable, "-m", "compileall", "-q", target / "src"], check=True)
    return target / "src", sha


def labelport_env() -> dict[str, str]:
    env = os.environ | {"PYTHONHASHSEED": "0"}
    if LABELPORT_SRC is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(LABELPORT_SRC),
                                                          env.get("PYTHONPATH")]))
    return env


# --- peers' virtualenvs ----------------------------------------------------------------------


def peer_python(tool: str) -> Path:
    """The peer's own python, creating its virtualenv and installing it on first use."""
    venv = VENVS / tool
    python = venv / "bin" / "python"
    module = {"datumaro": "datumaro.components.dataset", "globox": "globox"}[tool]
    if python.is_file() and subprocess.run([python, "-c", f"import {module}"],
                                           capture_output=True).returncode == 0:
        return python
    print(f"(creating {venv} and installing {PEERS[tool]})", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", PEERS[tool]], check=True)
    return python


def peer_version(tool: str) -> str:
    dist = {"datumaro": "datumaro", "globox": "globox"}[tool]
    return subprocess.run(
        [peer_python(tool), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
        capture_output=True, text=True, check=True).stdout.strip()


# --- running ---------------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    rss_mb: float
    work_s: float | None
    load: float


@dataclass
class Result:
    task: str
    size: int
    tool: str
    runs: list[Run] = field(default_factory=list)
    check: str = ""

    @property
    def median_s(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def cpu_s(self) -> float:
        return statistics.median(r.cpu_s for r in self.runs)

    @property
    def rss_mb(self) -> float:
        return max(r.rss_mb for r in self.runs)

    @property
    def work_s(self) -> float | None:
        works = [r.work_s for r in self.runs if r.work_s is not None]
        return statistics.median(works) if works else None


TIME = Path("/usr/bin/time")


def run_child(argv: list[str | Path], log: Path) -> Run:
    """Run ``argv`` as a fresh process; its wall seconds, its own peak RSS, and the ``work_s``
    it printed (the last JSON line of its stdout), if any.

    Peak RSS comes from GNU time (``%M``) when installed: Linux carries a parent's high-water
    RSS into a child started with vfork, so ``os.wait4`` here would report at least this
    process's own RSS; this process also keeps itself small (inputs are made in children)."""
    load = os.getloadavg()[0]
    rss_file = log.with_suffix(".rss")
    timed = [TIME, "-f", "%M", "-o", rss_file, *argv] if TIME.is_file() else argv
    with open(log, "w") as out:
        started = time.perf_counter()
        process = subprocess.Popen([str(a) for a in timed], stdout=out, stderr=subprocess.STDOUT,
                                   cwd=ROOT, env=labelport_env())
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{argv} failed ({process.returncode}); see {log}:\n"
                           + log.read_text()[-3000:])
    rss_mb = (int(rss_file.read_text().split()[-1]) if TIME.is_file()
              else usage.ru_maxrss) / 1024
    work = None
    for line in reversed(log.read_text().splitlines()):
        if line.startswith("{") and "work_s" in line:
            work = json.loads(line)["work_s"]
            break
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall_s=wall, cpu_s=cpu, rss_mb=rss_mb, work_s=work, load=load)


def command(tool: str, task: str, src: Path, out: Path, project: str = STORE_PROJECT
            ) -> list[str | Path]:
    if tool == "floor":
        if task == STORE_TASK:
            return [sys.executable, BENCH / "formats_floor.py", "store-coco", src, project, out]
        return [sys.executable, BENCH / "formats_floor.py", task.split("-")[1], src, out]
    if tool == "labelport":
        return [sys.executable, BENCH / "formats_labelport.py", task, src, out]
    if tool == "labelport-cli":
        cli = Path(sys.executable).parent / "labelport"
        return [cli, "convert", "coco", src, task.split("-")[1], out]
    return [peer_python(tool), BENCH / "formats_peers.py", tool, task.split("-")[1], src, out]


def measure(task: str, size: int, tool: str, src: Path, runs: int, slow: float) -> Result:
    result = Result(task, size, tool)
    out = RUNS / f"{task}-{size}-{tool}"
    log = WORK / "logs" / f"{task}-{size}-{tool}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(runs):
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        result.runs.append(run_child(command(tool, task, src, out), log))
        if result.runs[0].wall_s > slow:
            break
    return result


# --- checking outputs ------------------------------------------------------------------------


def label_files(tool: str, task: str, out: Path) -> list[Path]:
    """The per-image label files ``tool`` wrote for ``task`` in ``out``."""
    if task == "coco-yolo":
        folder = {"datumaro": out / "obj_train_data", "globox": out}.get(tool,
                                                                          out / "labels" / "train")
        return sorted(folder.glob("*.txt"))
    folder = out if tool == "globox" else out / "Annotations"
    return sorted(folder.glob("*.xml"))


def _yolo_rows(path: Path) -> list[tuple[float, ...]]:
    rows = [tuple(float(v) for v in line.split()[:5]) for line in path.read_text().splitlines()
            if line.strip()]
    return sorted(rows)


def _voc_objects(path: Path) -> list[tuple[str, float, float, float, float]]:
    objects = []
    for element in ET.parse(path).getroot().iter("object"):
        box = element.find("bndbox")
        assert box is not None
        objects.append((element.findtext("name") or "",
                        *(float(box.findtext(t) or "nan")
                          for t in ("xmin", "ymin", "xmax", "ymax"))))
    return sorted(objects)


def same_objects(task: str, mine: Path, reference: Path) -> bool:
    if task == "coco-yolo":
        a, b = _yolo_rows(mine), _yolo_rows(reference)
        tolerance = 1e-4
    else:
        a, b = _voc_objects(mine), _voc_objects(reference)  # type: ignore[assignment]
        tolerance = 1.0
        if [o[0] for o in a] != [o[0] for o in b]:
            return False
        a = [o[1:] for o in a]  # type: ignore[misc]
        b = [o[1:] for o in b]  # type: ignore[misc]
    return len(a) == len(b) and all(abs(x - y) <= tolerance
                                    for ra, rb in zip(a, b, strict=True)
                                    for x, y in zip(ra, rb, strict=True))


def check_file_task(task: str, size: int, tool: str) -> str:
    images = size // floor.BOXES_PER_IMAGE
    out = RUNS / f"{task}-{size}-{tool}"
    files = label_files(tool, task, out)
    if len(files) != images:
        return f"FAIL: {len(files)} label files for {images} images"
    reference = label_files("floor", task, RUNS / f"{task}-{size}-floor")
    spot = images // 2
    if not same_objects(task, files[spot], reference[spot]):
        return f"FAIL: {files[spot].name} differs from the floor's"
    return f"ok: {len(files):,} files, {files[spot].name} matches the floor"


def check_store_task(size: int) -> str:
    """Run in a child (``--check-store``): loading two 1M-annotation JSONs here would raise this
    process's RSS, which children started later would inherit."""
    return subprocess.run([sys.executable, Path(__file__).resolve(), "--check-store", str(size)],
                          check=True, capture_output=True, text=True).stdout.strip()


def _check_store_task(size: int) -> str:
    def load(tool: str) -> dict[str, object]:
        path = RUNS / f"{STORE_TASK}-{size}-{tool}" / "annotations" / "instances_train.json"
        with open(path, encoding="utf-8") as f:
            return json.load(f)  # type: ignore[no-any-return]

    mine, reference = load("labelport"), load("floor")
    for key in ("categories", "images", "annotations"):
        if mine[key] != reference[key]:
            return f"FAIL: {key} differ from the floor's"
    return f"ok: {len(mine['annotations']):,} annotations equal the floor's"  # type: ignore[arg-type]


def profile(task: str, size: int, top: int) -> None:
    """cProfile the labelport child in this process and print the functions by own time and by
    cumulative time."""
    import cProfile
    import pstats

    src = store_input(size) if task == STORE_TASK else coco_input(size)
    out = RUNS / f"profile-{task}-{size}"
    shutil.rmtree(out, ignore_errors=True)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    import formats_labelport

    profiler.runcall(formats_labelport.main, task, str(src), str(out))
    print(f"wall {time.perf_counter() - started:.2f} s under cProfile")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    stats.dump_stats(str(WORK / f"profile-{task}-{size}.pstats"))


# --- the table -------------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    lines = ["| task | annotations | tool | median wall s | x floor | CPU s | x floor CPU "
             "| work s | peak RSS MB | runs | load | output |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    floors = {(r.task, r.size): r for r in results if r.tool == "floor"}
    for r in results:
        base = floors.get((r.task, r.size))
        ratio = f"{r.median_s / base.median_s:.2f}" if base else ""
        cpu_ratio = f"{r.cpu_s / base.cpu_s:.2f}" if base else ""
        work = f"{r.work_s:.2f}" if r.work_s is not None else ""
        load = statistics.mean(run.load for run in r.runs)
        lines.append(f"| {r.task} | {r.size:,} | {r.tool} | {r.median_s:.2f} | {ratio} | "
                     f"{r.cpu_s:.2f} | {cpu_ratio} | {work} | {r.rss_mb:.0f} | {len(r.runs)} | "
                     f"{load:.1f} | {r.check} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=[*FILE_TASKS, STORE_TASK],
                        choices=[*FILE_TASKS, STORE_TASK])
    parser.add_argument("--sizes", nargs="+", type=int, default=[40_000, 400_000],
                        help="annotation counts for the file tasks (multiples of 20)")
    parser.add_argument("--store-size", type=int, default=1_000_000)
    parser.add_argument("--tools", nargs="+",
                        default=["floor", "labelport", "labelport-cli", "datumaro", "globox"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slow", type=float, default=20.0,
                        help="a tool whose first run takes longer runs once")
    parser.add_argument("--profile", metavar="TASK", choices=[*FILE_TASKS, STORE_TASK],
                        help="cProfile labelport on TASK (at the first size) instead")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--labelport", default="HEAD", metavar="REF",
                        help="git ref of labelport to run (extracted under bench/out), or "
                             "'worktree' for the working tree as installed in .venv")
    parser.add_argument("--disk", action="store_true",
                        help="write outputs under bench/out/formats/runs instead of tmpfs")
    parser.add_argument("--make-store", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--check-store", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_store:
        make_store(args.make_store)
        return
    if args.check_store:
        print(_check_store_task(args.check_store))
        return
    global LABELPORT_SRC, RUNS
    if args.disk:
        RUNS = WORK / "runs"
    labelport_ref = "working tree"
    if args.labelport == "worktree":  # compiled as a snapshot is (and as pip installs do)
        subprocess.run([sys.executable, "-m", "compileall", "-q", ROOT / "src"], check=True)
    else:
        LABELPORT_SRC, sha = labelport_snapshot(args.labelport)
        labelport_ref = f"commit {sha}"
    if LABELPORT_SRC is not None and args.profile:
        sys.path.insert(0, str(LABELPORT_SRC))
    if args.profile:
        profile(args.profile, args.store_size if args.profile == STORE_TASK else args.sizes[0],
                args.top)
        return

    results: list[Result] = []
    versions = {t: peer_version(t) for t in PEERS if t in args.tools}
    for task in args.tasks:
        if task == STORE_TASK:
            size = args.store_size
            db = store_input(size)
            for tool in ("floor", "labelport"):
                if tool in args.tools:
                    results.append(measure(task, size, tool, db, args.runs, args.slow))
                    print(table(results[-1:]).splitlines()[-1], file=sys.stderr)
            if {"floor", "labelport"} <= set(args.tools):
                results[-1].check = check_store_task(size)
            continue
        for size in args.sizes:
            src = coco_input(size)
            for tool in args.tools:
                result = measure(task, size, tool, src, args.runs, args.slow)
                if "floor" in args.tools:
                    result.check = check_file_task(task, size, tool)
                results.append(result)
                print(table(results[-1:]).splitlines()[-1], file=sys.stderr)

    print(f"\nlabelport {labelport_ref}; outputs on {RUNS}; "
          f"{os.cpu_count()} cores; python {sys.version.split()[0]}; "
          + ", ".join(f"{t} {v}" for t, v in versions.items())
          + f"; load average at the end {os.getloadavg()[0]:.1f}\n")
    print(table(results))
    if not args.disk:  # the outputs (1.7 GB for everything) would hold that much RAM on tmpfs
        shutil.rmtree(RUNS, ignore_errors=True)


if __name__ == "__main__":
    main()
