"""The 10M-annotation run (issue 14, point 6): generate, import, export to COCO and YOLO, each
step in its own process, with its wall time, CPU time (user + system) and peak RSS.

Steps, each a child process measured by ``os.wait4`` (its own ``ru_maxrss``, so one step's
memory never hides another's):

- ``generate``: `formats_floor.generate`, streamed (``--images`` images of 640x480, 20 boxes
  each: 500k images are 10M annotations, ~1.5 GB of COCO);
- ``init``, ``import``: ``labelport init``, ``project create``, ``import`` into a fresh SQLite
  file (and a fresh PostgreSQL database with ``--pg URL``);
- ``export coco``, ``export yolo``: ``labelport export ... --media none`` (no image exists).

Targets (issue 14): 10M annotations, export peak RSS < 500 MB, import peak RSS < 1.5 GB.

    .venv/bin/python bench/scale_bench.py [--images 500000] [--work DIR]
        [--pg postgresql://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import formats_floor  # noqa: E402
from import_bench import _pg_database  # noqa: E402

PROJECT = "scale"
LABELPORT = str(Path(sys.executable).with_name("labelport"))


def _measured(label: str, command: list[str]) -> None:
    """Run ``command``, print one table row: wall s, CPU s (and its system part: file
    creation, which some disks make costly), peak RSS MB of that process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    error = child.stderr.read().decode() if child.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label} failed:\n{error}")
    print(f"| {label} | {wall:.1f} | {usage.ru_utime + usage.ru_stime:.1f} | "
          f"{usage.ru_stime:.1f} | {usage.ru_maxrss / 1024:.0f} | {os.getloadavg()[0]:.1f} |",
          flush=True)


def _run_store(label: str, db: str, coco: Path, work: Path) -> None:
    _measured(f"{label} init", [LABELPORT, "init", "--db", db])
    _measured(f"{label} project create", [LABELPORT, "project", "create", PROJECT, "--db", db])
    _measured(f"{label} import", [LABELPORT, "import", PROJECT, "coco", str(coco), "--db", db])
    for format in ("coco", "yolo"):
        out = work / f"{label}-{format}"
        shutil.rmtree(out, ignore_errors=True)
        _measured(f"{label} export {format}", [
            LABELPORT, "export", PROJECT, format, "--export-path", str(out), "--media", "none",
            "--db", db])
        shutil.rmtree(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=500_000)
    parser.add_argument("--pg", help="PostgreSQL server URL, without a database")
    parser.add_argument("--work", type=Path, help="Scratch folder (default: a temporary one); "
                        "needs ~3 GB for 500k images")
    args = parser.parse_args()
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        coco = work / "instances.json"
        annotations = args.images * formats_floor.BOXES_PER_IMAGE
        print(f"{args.images:,} images, {annotations:,} annotations; load average at start "
              f"{os.getloadavg()[0]:.1f}\n")
        print("| step | wall s | CPU s | of which system s | peak RSS MB | load (1 min) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |", flush=True)
        _measured("generate", [sys.executable, str(Path(__file__).with_name("formats_floor.py")),
                               "generate", str(coco), str(args.images)])
        print(f"<!-- {coco.stat().st_size / 1e6:,.0f} MB of COCO -->", flush=True)
        _run_store("SQLite", str(work / "scale.db"), coco, work)
        if args.pg:
            name = "scale_bench"
            _run_store("PostgreSQL", _pg_database(args.pg, name, True), coco, work)
            _pg_database(args.pg, name, False)


if __name__ == "__main__":
    main()
