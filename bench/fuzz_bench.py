"""Long fuzz run (issue 13): thousands of mutated inputs per registered reader, the same
mutations and checks as the suite's `tests/formats/test_fuzz.py` (see
`tests/formats/fuzzing.py`), with the figures per reader: inputs, harmless (read and imported),
clean errors (labelport's own), crashes, hangs, store changed after a failed import, and the
slowest input.

    .venv/bin/python bench/fuzz_bench.py --inputs 2000 [--seed 1] [--formats coco,yolo]

Every failure is listed after the table with its mutation, so it can be made again: input ``i``
of format ``f`` is drawn from ``random.Random(f"{seed}:{f}:{i}")``."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.formats.fuzzing import FormatResult, fuzz_all, write_seeds  # noqa: E402


def _progress(result: FormatResult) -> None:
    print(f"{result.format}: {dict(result.counts)}", flush=True)
    for outcome in result.failures:
        print(f"  {outcome.kind}: {outcome.mutation}: {outcome.detail}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=2000, help="inputs per reader")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=float, default=5.0, help="seconds per input")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--formats", default="", help="comma-separated names (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labelport-fuzz-", dir="/dev/shm") as tmp:
        started = time.perf_counter()
        names = write_seeds(Path(tmp) / "seeds")
        if args.formats:
            names = [n for n in names if n in args.formats.split(",")]
        results = fuzz_all(Path(tmp) / "seeds", names, Path(tmp) / "work", inputs=args.inputs,
                           seed=args.seed, limit_s=args.limit, workers=args.workers,
                           done=_progress)
        wall = time.perf_counter() - started
    columns = ("ok", "clean", "crash", "hang", "store changed")
    print(f"| reader | inputs | {' | '.join(columns)} | slowest s |")
    print("|---|" + "---:|" * (len(columns) + 2))
    for r in results:
        counts = " | ".join(str(r.counts[c]) for c in columns)
        print(f"| {r.format} | {r.inputs} | {counts} | {r.slowest:.2f} |")
    total = {c: sum(r.counts[c] for r in results) for c in columns}
    print(f"| all {len(results)} | {sum(r.inputs for r in results)} | "
          f"{' | '.join(str(total[c]) for c in columns)} | "
          f"{max(r.slowest for r in results):.2f} |")
    print(f"\nseed {args.seed}, {args.inputs} inputs per reader, limit {args.limit} s, "
          f"wall {wall:.0f} s")
    for r in results:
        for outcome in r.failures:
            print(f"{r.format}: {outcome.kind}: {outcome.mutation}: {outcome.detail}")
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
