"""Exports leave no litter (issue 13, point 4): a failed export removes its staging folder; what
a killed one left (``.NAME.partial-HOST-PID-RANDOM`` beside the target) is removed at the next
export to the same place, and by ``labelport artifacts cleanup --exports DIR``, once it is older
than a day or its process is gone; a running export's folder is kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelport.cli import app
from labelport.domain.model import ItemRecord
from labelport.domain.source import MemorySource, StreamSource
from labelport.errors import InputError
from labelport.export.package import STALE_AFTER_S, beside, owner, remove_leftovers
from labelport.export.run import run_export
from labelport.formats.registry import get_format
from labelport.sample import build_sample


@pytest.fixture
def sample(tmp_path: Path) -> MemorySource:
    return build_sample(tmp_path / "media")


def _dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


def _leftover(target: Path, owner: str, *, age_s: float = 0, random: str = "0123abcd") -> Path:
    """A staging folder as a killed export to ``target`` would leave it."""
    folder = target.parent / f".{target.name}.partial-{owner}-{random}"
    (folder / "labels").mkdir(parents=True)
    (folder / "labels" / "a.txt").write_text("half written")
    if age_s:
        then = time.time() - age_s
        os.utime(folder, (then, then))
    return folder


def _host_of(path: Path) -> str:
    return path.name.split("-")[-3]


def test_a_failed_export_removes_its_staging_folder(sample: MemorySource,
                                                    tmp_path: Path) -> None:
    def records() -> Iterator[ItemRecord]:
        yield from list(sample.records())[:3]
        raise InputError("the source broke half-way")

    broken = StreamSource(project=sample.project, schema=sample.schema, count=len(sample),
                          open_records=records)
    out = tmp_path / "exports" / "coco"
    with pytest.raises(InputError, match="half-way"):
        run_export(broken, get_format("coco"), out)
    assert list((tmp_path / "exports").iterdir()) == []


def test_leftovers_of_killed_exports_go_at_the_next_export_there(sample: MemorySource,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "exports" / "yolo"
    out.parent.mkdir()
    host = _host_of(beside(out, "partial"))
    dead = _leftover(out, f"{host}-{_dead_pid()}")
    old = _leftover(out, "elsewhere-1", age_s=STALE_AFTER_S + 60, random="00000001")
    running = _leftover(out, f"{host}-{os.getpid()}", random="00000002")
    recent_elsewhere = _leftover(out, "elsewhere-1", random="00000003")
    other_target = _leftover(tmp_path / "exports" / "voc", f"{host}-{_dead_pid()}")

    run_export(sample, get_format("yolo"), out)

    assert not dead.exists() and not old.exists()
    assert running.exists() and recent_elsewhere.exists()  # a live export; not known to be dead
    assert other_target.exists()  # another target's: its own next export or cleanup takes it
    assert remove_leftovers(out.parent) == [other_target]


def test_artifacts_cleanup_removes_leftovers_in_export_folders(tmp_path: Path) -> None:
    out = tmp_path / "exports" / "coco"
    out.parent.mkdir()
    stale = _leftover(out, "elsewhere-1", age_s=STALE_AFTER_S + 60)
    db = str(tmp_path / "s.db")
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0
    result = runner.invoke(app, ["artifacts", "cleanup", "--db", db, "--artifacts",
                                 str(tmp_path / "artifacts"), "--exports", str(out.parent)])
    assert result.exit_code == 0, result.output
    assert "leftovers of killed exports" in result.output
    assert not stale.exists()


def test_temporary_folders_of_killed_jobs_go(tmp_path: Path) -> None:
    host = _host_of(beside(tmp_path / "x", "partial"))
    dead = tmp_path / f"labelport-job-7-{host}-{_dead_pid()}-abc"
    running = tmp_path / f"labelport-job-8-{owner()}-abc"
    old = tmp_path / "labelport-merge-9-elsewhere-1-abc"
    unrelated = tmp_path / "labelport-job-notes"
    for folder in (dead, running, old, unrelated):
        folder.mkdir()
    then = time.time() - STALE_AFTER_S - 60
    os.utime(old, (then, then))
    os.utime(unrelated, (then, then))
    assert sorted(remove_leftovers(tmp_path, jobs=True)) == sorted([dead, old])
    assert running.exists() and unrelated.exists()
