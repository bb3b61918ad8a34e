"""Benchmark of importing a COCO file into the store, against the database's own floor.

Generates a COCO instances file (`formats_floor.generate`: 640x480 images, 20 boxes each), then
for SQLite (a fresh file) and PostgreSQL (``--pg URL``, a server database; the bench creates
and drops its own database there) runs, each in a fresh subprocess:

- ``labelport``: the COCO reader and `Store.import_source` into a new project, timed from
  opening the file to the commit, with the process's peak RSS (``ru_maxrss``);
- ``reader`` (once, shown above the table): the COCO reader alone, its records iterated and
  nothing stored, so labelport's time less this one is the store's share;
- ``floor``: the same item, task and annotation rows (built by `labelport.store.rows` from
  the same records, before the clock starts) written into the same tables with the driver and
  nothing else: one transaction of ``executemany`` per table on SQLite (a plain annotation's
  row with `rows.ANNOTATION_PLAIN_FIELDS` only, as labelport inserts it), ``COPY ... FROM
  STDIN`` per table on PostgreSQL with the foreign-key triggers off (as labelport's COPY runs
  once it has checked the keys itself; the floor checks nothing), ids given by the rows
  (items) or the database.

Targets (issue 14): 1M annotations, SQLite < 8 s, PostgreSQL < 10 s, peak RSS < 1 GB, each
within 3x of its floor.

    .venv/bin/python bench/import_bench.py [--annotations 1000000] [--pg postgresql://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import formats_floor  # noqa: E402

PROJECT = "import-bench"


def _import(db: str, coco: Path) -> dict[str, Any]:
    from labelport.formats.registry import get_format
    from labelport.store import open_store

    store = open_store(db)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        reader = get_format("coco").reader
        assert reader is not None
        source = reader(coco, {"images": None})
        store.create_project(PROJECT, source.schema)
        summary = store.import_source(PROJECT, source)
        return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                "annotations": summary.annotations}
    finally:
        store.close()


def _reader(_db: str, coco: Path) -> dict[str, Any]:
    from labelport.formats.registry import get_format

    started, cpu = time.perf_counter(), time.process_time()
    reader = get_format("coco").reader
    assert reader is not None
    annotations = sum(len(r.annotations) for r in reader(coco, {"images": None}).records())
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
            "annotations": annotations}


def _floor(db: str, coco: Path) -> dict[str, Any]:
    from sqlalchemy import select

    from labelport.formats.registry import get_format
    from labelport.store import open_store, projects, rows
    from labelport.store import tables as t

    store = open_store(db)
    reader = get_format("coco").reader
    assert reader is not None
    source = reader(coco, {"images": None})
    store.create_project(PROJECT, source.schema)
    with store.engine.begin() as conn:
        project_id = conn.execute(select(t.projects.c.id)).scalar_one()
        classes = projects.class_row_ids(conn, project_id)
        dataset_id = conn.execute(t.datasets.insert().values(
            project_id=project_id, name="default").returning(t.datasets.c.id)).scalar_one()
        labelset_id = conn.execute(t.labelsets.insert().values(
            project_id=project_id, name="ground-truth").returning(t.labelsets.c.id)
        ).scalar_one()
    item_rows, task_rows, annotation_rows = [], [], []
    for item_id, record in enumerate(source.records(), 1):
        item_rows.append((item_id, *rows.item_values(record.item, project_id, dataset_id)))
        task_rows += [rows.task_values(task, item_id, labelset_id) for task in record.tasks]
        annotation_rows += rows.annotations_values(
            [(item_id, record.annotations)], lambda _: labelset_id, lambda name, _: classes[name])
    postgres = db.startswith("postgres")
    if postgres:  # COPY takes every column: a plain row padded with its defaults
        full = len(rows.ANNOTATION_FIELDS)
        annotation_rows = [r if len(r) == full else r + rows.ANNOTATION_DEFAULTS
                           for r in annotation_rows]
    tables = [(t.items, ("id", *rows.ITEM_FIELDS), item_rows),
              (t.tasks, rows.TASK_FIELDS, task_rows)]
    tables += [(t.annotations, rows.ANNOTATION_FIELDS[:length], list(run))
               for length, run in itertools.groupby(annotation_rows, key=len)]
    raw = store.engine.raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    started, cpu = time.perf_counter(), time.process_time()
    if postgres:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for table, columns, values in tables:
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
    else:
        cursor.execute("BEGIN")
        for table, columns, values in tables:
            cursor.executemany(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
                               f"({', '.join('?' * len(columns))})", values)
    driver.commit()
    result = {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
              "annotations": len(annotation_rows)}
    raw.close()
    store.close()
    return result


def _child(mode: str, db: str, coco: str) -> None:
    result = {"labelport": _import, "reader": _reader, "floor": _floor}[mode](db, Path(coco))
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _run(mode: str, db: str, coco: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, db, str(coco)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _pg_database(server: str, name: str, create: bool) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(server.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--pg", help="PostgreSQL server URL, without a database")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        coco = Path(tmp) / "instances.json"
        formats_floor.generate(coco, args.annotations // formats_floor.BOXES_PER_IMAGE)
        reader = _run("reader", "", coco)
        print(f"{args.annotations:,} annotations, {coco.stat().st_size / 1e6:.0f} MB of COCO, "
              f"load average {os.getloadavg()[0]:.1f}; the COCO reader alone: "
              f"{reader['seconds']:.2f} s wall, {reader['cpu']:.2f} s CPU, "
              f"{reader['rss_mb']:.0f} MB peak RSS\n")
        print("| database | run | wall s | CPU s | x floor (wall) | x floor (CPU) | "
              "annotations/s | peak RSS MB |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        databases: list[tuple[str, Callable[[str], str], Callable[[str], object]]] = [
            ("SQLite", lambda n: str(Path(tmp) / f"{n}.db"), lambda n: None)]
        if args.pg:
            databases.append(("PostgreSQL", lambda n: _pg_database(args.pg, n, True),
                              lambda n: _pg_database(args.pg, n, False)))
        for label, fresh, drop in databases:
            results = {}
            for mode in ("floor", "labelport"):
                name = f"import_bench_{mode}"
                results[mode] = _run(mode, fresh(name), coco)
                drop(name)
                assert results[mode]["annotations"] == args.annotations, results[mode]
            floor = results["floor"]
            for mode, r in results.items():
                print(f"| {label} | {mode} | {r['seconds']:.2f} | {r['cpu']:.2f} | "
                      f"{r['seconds'] / floor['seconds']:.2f} | {r['cpu'] / floor['cpu']:.2f} | "
                      f"{args.annotations / r['seconds']:,.0f} | {r['rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
