"""Malformed input never crashes a reader (issue 13): every registered reader gets a few
hundred seeded mutations of its own export of the sample project (`fuzzing.py` says which), and
each crashing input found so far is kept under ``tests/data/fuzz/`` as a regression case.

Both assert the same three things: only labelport's own errors (`LabelportError`), no input
over the time limit, and a store unchanged by an import that failed (SQLite, through
`Store.import_source`). A reader added to the registry is fuzzed without any change here."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from tests.formats.fuzzing import StoreProbe, fuzz_all, memory_limited, run_input, write_seeds

TOTAL_INPUTS = 6400
"""Inputs of the whole test, shared by the readers (about 45 s of the 2-core machine's CPU
with 32 readers); at least `MIN_INPUTS` each as readers are added. `bench/fuzz_bench.py` runs
thousands per reader."""

MIN_INPUTS = 100

LIMIT_S = 5.0
"""Per input: far above the slowest clean input (under 1.5 s on a busy 2-core machine)."""

CORPUS = Path(__file__).parent.parent / "data" / "fuzz"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("fuzz-seeds")
    return root, write_seeds(root)


def test_every_reader_survives_mutated_exports(seeds: tuple[Path, list[str]],
                                               tmp_path: Path) -> None:
    root, names = seeds
    inputs = int(os.environ.get("LABELPORT_FUZZ_INPUTS", 0)) or max(MIN_INPUTS,
                                                                    TOTAL_INPUTS // len(names))
    started = time.perf_counter()
    results = fuzz_all(root, names, tmp_path / "work", inputs=inputs, seed=0, limit_s=LIMIT_S)
    failures = [f"{r.format}: {o.kind}: {o.mutation}: {o.detail}"
                for r in results for o in r.failures]
    assert not failures, f"{len(failures)} inputs failed:\n" + "\n".join(failures)
    for result in results:
        assert result.inputs == inputs, result.format
        assert result.counts["clean"] > 0, f"{result.format}: no mutation was refused"
    print(f"fuzzed {len(results)} readers x {inputs} inputs in "
          f"{time.perf_counter() - started:.1f} s")


CASES = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.glob("*/*") if p.is_dir())


def test_the_corpus_covers_the_crashes_of_the_issue() -> None:
    kinds = {case.split("/")[1] for case in CASES}
    for expected in ("deep_nesting", "kpt_shape_99999999", "png_broken_chunk", "path_an_int",
                     "png_declares_100000x100000", "classes_txt_not_utf8", "list_with_nul"):
        assert expected in kinds


@pytest.mark.parametrize("case", CASES)
def test_a_crash_found_by_fuzzing_stays_fixed(case: str, seeds: tuple[Path, list[str]],
                                              tmp_path: Path) -> None:
    """The case folder holds files that replace those of the format's seed export."""
    root, _ = seeds
    format_name = case.split("/")[0]
    folder = tmp_path / format_name
    shutil.copytree(root / format_name, folder)
    for file in (CORPUS / case).rglob("*"):
        if file.is_file():
            shutil.copyfile(file, folder / file.relative_to(CORPUS / case))
    probe = StoreProbe(tmp_path / "store.db")
    with memory_limited():
        outcome = run_input(format_name, folder, probe, LIMIT_S)
    assert outcome.kind == "clean", outcome.detail
