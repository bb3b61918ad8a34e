"""Benchmark of the export pipeline: 1M annotations from SQLite, the default selection, a
3-way stratified split, written as COCO and packaged as a zip.

Targets (issue 4): under 30 s wall time and under 500 MB peak RSS. The project is imported
once into a SQLite file under ``bench/out/`` (kept between runs, ``--fresh`` to rebuild); the
export runs in a fresh subprocess so its peak RSS (``ru_maxrss``) is its own.

    .venv/bin/python bench/pipeline_bench.py [--annotations 1000000] [--format coco] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labelport.export.package import PackageKind
from labelport.export.pipeline import ExportRequest, prepare, run_pipeline
from labelport.export.splits import SplitSpec
from labelport.store import open_store

sys.path.insert(0, str(Path(__file__).parent))
from stream_bench import import_size, project_name  # noqa: E402

OUT = Path(__file__).parent / "out"


def export_once(db: str, project: str, fmt: str) -> dict[str, float]:
    """One export as `labelport export P FMT --split ... --split-strategy stratified
    --package zip` runs it."""
    store = open_store(db)
    request = ExportRequest(
        format=fmt, split=SplitSpec.parse("train=0.7,val=0.2,test=0.1", strategy="stratified"),
        package=PackageKind.ZIP)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        prepared = prepare(store.source(project, labelsets=["ground-truth"]), request)
        planned = time.perf_counter() - started
        result = run_pipeline(prepared.source, request, Path(tmp) / "export.zip",
                              prepared=prepared)
        elapsed = time.perf_counter() - started
        size = result.path.stat().st_size
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"seconds": elapsed, "split_plan_seconds": planned,
            "cpu_seconds": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
            "annotations": result.counts.annotations, "zip_mb": size / 2**20,
            "max_deviation": prepared.split.max_deviation if prepared.split else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--format", default="coco")
    parser.add_argument("--fresh", action="store_true", help="re-import the project")
    parser.add_argument("--child", nargs=2, metavar=("DB", "PROJECT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(export_once(args.child[0], args.child[1], args.format)))
        return
    OUT.mkdir(exist_ok=True)
    db = str(OUT / "pipeline-bench.db")
    project = project_name(args.annotations)
    store = open_store(db)
    present = any(p.name == project for p in store.list_projects())
    store.close()
    if args.fresh or not present:
        seconds = import_size(db, args.annotations)
        print(f"imported {args.annotations:,} annotations in {seconds:.1f} s")
    child = subprocess.run([sys.executable, __file__, "--format", args.format, "--child", db,
                            project], capture_output=True, text=True, check=True)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    print("| annotations | format | split | package | seconds | split plan s | CPU s "
          "| peak RSS MB | zip MB | max class-share deviation |")
    print("|---:|---|---|---|---:|---:|---:|---:|---:|---:|")
    print(f"| {figures['annotations']:,.0f} | {args.format} | stratified 0.7/0.2/0.1 | zip "
          f"| {figures['seconds']:.1f} | {figures['split_plan_seconds']:.1f} "
          f"| {figures['cpu_seconds']:.1f} | {figures['rss_mb']:.0f} | {figures['zip_mb']:.1f} "
          f"| {figures['max_deviation']:.5f} |")


if __name__ == "__main__":
    main()
