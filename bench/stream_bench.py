"""Benchmark of the store's hot paths: importing generated boxes, then streaming them back.

Generates images with 20 boxes each (lazily: the generator never holds the project), imports
100k and 1M annotations into a fresh SQLite file (and into ``--db URL`` when given), then
streams every record through a consumer that does nothing. Each stream runs in a fresh
subprocess, so its peak RSS (``ru_maxrss``) is that run's alone.

Targets: 1M annotations streamed from SQLite in < 5 s, peak RSS < 500 MB, and RSS at 1M at
most 1.5x RSS at 100k (memory does not grow with the project).

    .venv/bin/python bench/stream_bench.py [--db postgresql+psycopg://...] [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from labelport.domain.geometry import Box
from labelport.domain.model import Annotation, Item, ItemRecord, ProjectInfo, Task, TaskStatus
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import StreamSource
from labelport.store import open_store

BOXES_PER_IMAGE = 20
CLASSES = ("car", "person", "bicycle", "dog", "traffic light")
SCHEMA = LabelSchema(classes=tuple(LabelClass(id=i, name=n) for i, n in enumerate(CLASSES, 1)))


def generated_records(images: int) -> Iterator[ItemRecord]:
    for i in range(images):
        yield ItemRecord(
            item=Item(dataset="bench", path=f"images/{i:08d}.jpg", width=1280, height=720,
                      metadata={"camera": i % 7}),
            tasks=(Task(status=TaskStatus.LABELED, assignee="annotator"),),
            annotations=tuple(
                Annotation(label=CLASSES[(i + j) % len(CLASSES)],
                           geometry=Box(x=float(j * 30 % 1200), y=float(i % 600) + 0.5,
                                        w=25.0 + j, h=40.25),
                           attributes={"occluded": j % 3 == 0}, score=None)
                for j in range(BOXES_PER_IMAGE)),
        )


def project_name(annotations: int) -> str:
    return f"bench-{annotations}"


def import_size(db: str, annotations: int) -> float:
    """Import ``annotations`` boxes as a new project; the seconds it took."""
    images = annotations // BOXES_PER_IMAGE
    store = open_store(db)
    try:
        name = project_name(annotations)
        if any(p.name == name for p in store.list_projects()):
            store.delete_project(name)
        store.create_project(name, SCHEMA)
        source = StreamSource(project=ProjectInfo(name=name), schema=SCHEMA, count=images,
                              open_records=lambda: generated_records(images))
        started = time.perf_counter()
        summary = store.import_source(name, source)
        elapsed = time.perf_counter() - started
        assert summary.annotations == annotations
        return elapsed
    finally:
        store.close()


def stream_once(db: str, project: str) -> dict[str, float]:
    """Stream every record of ``project`` (run in its own process by `main`)."""
    store = open_store(db)
    records = annotations = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for record in store.source(project).records():
        records += 1
        annotations += len(record.annotations)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    store.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"seconds": elapsed, "cpu_seconds": cpu, "records": records,
            "annotations": annotations, "rss_mb": rss_mb}


def stream_in_subprocess(db: str, project: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--stream-only", project, "--db", db],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def bench(db: str, label: str, sizes: list[int]) -> list[str]:
    lines = []
    results = {}
    for size in sizes:
        import_s = import_size(db, size)
        run = stream_in_subprocess(db, project_name(size))
        assert run["annotations"] == size, run
        results[size] = run
        lines.append(f"| {label} | {size:>9,} | {import_s:8.1f} | {run['seconds']:8.2f} | "
                     f"{size / run['seconds']:>11,.0f} | {run['rss_mb']:8.0f} |")
    if len(sizes) >= 2:
        ratio = results[max(sizes)]["rss_mb"] / results[min(sizes)]["rss_mb"]
        lines.append(f"| {label} | RSS {max(sizes):,} / {min(sizes):,} = {ratio:.2f} | | | | |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="also run on this database URL (e.g. PostgreSQL)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000],
                        help="annotation counts (multiples of 20)")
    parser.add_argument("--stream-only", metavar="PROJECT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_only:
        print(json.dumps(stream_once(args.db, args.stream_only)))
        return

    lines = ["| database | annotations | import s | stream s | annotations/s | peak RSS MB |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    with tempfile.TemporaryDirectory() as tmp:
        lines += bench(str(Path(tmp) / "bench.db"), "sqlite", args.sizes)
    if args.db:
        lines += bench(args.db, "url", args.sizes)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
