"""User errors on the command line are one line and exit status 2, never a traceback
(issue 13, point 5): a store that does not exist (only ``labelport init`` creates one), a file
that is not a database, an export folder that cannot be written, ``--images`` that is not a
folder, a port out of range; media that an export with ``--media copy`` cannot find are
counted and warned about."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from labelport.cli import main
from labelport.sample import build_sample
from labelport.store.db import open_store


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def labelport(monkeypatch: pytest.MonkeyPatch,
              capfd: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """``labelport ARGS`` in ``cwd`` through `labelport.cli.main`, in this process (a
    subprocess takes seconds to start on a busy machine; one test runs the real command)."""
    def run(*args: str, cwd: Path) -> Run:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["labelport", *args])
        capfd.readouterr()
        with pytest.raises(SystemExit) as exited:
            main()
        out, err = capfd.readouterr()
        return Run(int(exited.value.code or 0), out, err)
    return run


def _one_line_error(run: Run | subprocess.CompletedProcess[str], expected: str) -> None:
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert expected in run.stderr, run.stderr


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``s.db``, a store holding the sample as project ``p``; its media are
    deleted, so ``--media copy`` finds none of them."""
    root = tmp_path_factory.mktemp("cli-errors")
    store = open_store(str(root / "s.db"))
    sample = build_sample(root / "media")
    store.create_project("p", sample.schema)
    store.import_source("p", sample)
    store.close()
    for image in sorted((root / "media").rglob("*"), reverse=True):
        image.unlink() if image.is_file() else image.rmdir()
    return root


def test_only_init_creates_a_store(tmp_path: Path, labelport: Callable[..., Run]) -> None:
    run = subprocess.run([sys.executable, "-m", "labelport", "project", "list", "--db",
                          "typo.db"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    _one_line_error(run, f"no store at {tmp_path / 'typo.db'}; run labelport init")
    assert not (tmp_path / "typo.db").exists()
    assert labelport("init", "--db", "typo.db", cwd=tmp_path).returncode == 0
    assert labelport("project", "list", "--db", "typo.db", cwd=tmp_path).returncode == 0


def test_a_file_that_is_not_a_database(tmp_path: Path, labelport: Callable[..., Run]) -> None:
    (tmp_path / "notes.db").write_text("not a database\n")
    run = labelport("project", "list", "--db", "notes.db", cwd=tmp_path)
    _one_line_error(run, "cannot open the database")
    assert "file is not a database" in run.stderr


@pytest.mark.parametrize("target", ["/proc/x", "/proc/self/x/y"])
def test_an_export_folder_that_cannot_be_written(filled: Path, target: str,
                                                 labelport: Callable[..., Run]) -> None:
    run = labelport("export", "p", "coco", "--export-path", target, "--db", "s.db", cwd=filled)
    _one_line_error(run, "error: /proc/")


def test_images_must_be_a_folder(filled: Path, labelport: Callable[..., Run]) -> None:
    run = labelport("import", "p", "coco", str(filled), "--images", "no-such-dir",
                    "--db", "s.db", cwd=filled)
    _one_line_error(run, "--images no-such-dir: no such folder")
    run = labelport("convert", "coco", str(filled), "yolo", "o", "--images", "no-such-dir",
                    cwd=filled)
    _one_line_error(run, "--images no-such-dir: no such folder")


def test_a_port_out_of_range_is_a_usage_error(filled: Path, labelport: Callable[..., Run]) -> None:
    run = labelport("serve", "--port", "99999", "--db", "s.db", cwd=filled)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "--port" in run.stderr and "65535" in run.stderr


def test_media_copy_that_finds_no_media_says_so_with_the_count(
        filled: Path, labelport: Callable[..., Run]) -> None:
    run = labelport("export", "p", "coco", "--export-path", "out", "--media", "copy",
                    "--db", "s.db", cwd=filled)
    text = run.stdout + run.stderr
    assert "media missing" in text and "check missing_media" in text
    assert "warning" in text
