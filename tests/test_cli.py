"""The command line end to end on a SQLite store: the demo, the native round trip, and user
errors that print one line and exit with status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from labelport.cli import DEMO_PASSWORD, DEMO_USER, DEMO_VARIANTS
from labelport.export.manifest import MANIFEST_NAME
from labelport.formats.registry import writable_formats
from labelport.store import open_store


def labelport(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labelport", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    run = labelport("demo", "--out", "out", cwd=root)
    assert run.returncode == 0, run.stderr
    # how to open it in a browser: the serve command and the demo user
    assert "labelport serve --db out/demo.db" in run.stdout
    assert f"sign in as {DEMO_USER!r} with the password {DEMO_PASSWORD!r}" in run.stdout
    return root


def test_demo_user_owns_the_demo_project(demo: Path) -> None:
    store = open_store(str(demo / "out" / "demo.db"))
    try:
        user = store.users.check_password(DEMO_USER, DEMO_PASSWORD)
        assert user is not None
        assert store.users.memberships(user.id) == {1: "owner"}
    finally:
        store.close()


def test_demo_exports_every_registered_format(demo: Path) -> None:
    for spec in writable_formats():
        manifest = json.loads((demo / "out" / spec.name / MANIFEST_NAME).read_text())
        assert manifest["format"] == spec.name
        assert manifest["counts"]["items"] > 0
    for name, options, folder in DEMO_VARIANTS:
        manifest = json.loads((demo / "out" / folder / MANIFEST_NAME).read_text())
        assert (manifest["format"], manifest["options"] | options) == (name, manifest["options"])
    assert (demo / "out" / "yolo_classify" / "train" / "fog").is_dir()


def test_native_round_trip_through_the_store_gives_the_same_files(demo: Path) -> None:
    db = ["--db", str(demo / "fresh.db")]
    exported = demo / "out" / "labelport" / "project.labelport.json"
    assert labelport("init", *db, cwd=demo).returncode == 0
    create = labelport("project", "create", "demo", "--description",
                       "Every kind of label, small.", *db, cwd=demo)
    assert create.returncode == 0, create.stderr
    run = labelport("import", "demo", "labelport", str(exported), *db, cwd=demo)
    assert run.returncode == 0, run.stderr
    run = labelport("export", "demo", "labelport", "--export-path", "copy", *db, cwd=demo)
    assert run.returncode == 0, run.stderr
    again = demo / "copy" / "project.labelport.json"
    assert again.read_bytes() == exported.read_bytes()


def test_project_show_counts(demo: Path) -> None:
    run = labelport("project", "show", "demo", "--db", str(demo / "out" / "demo.db"), cwd=demo)
    assert run.returncode == 0, run.stderr
    assert "truck" in run.stdout  # a class without annotations is listed with 0
    assert "skipped" in run.stdout


@pytest.mark.parametrize(("args", "expected"), [
    (("export", "nope", "labelport", "--export-path", "x"), "unknown project 'nope'"),
    (("export", "demo", "nope", "--export-path", "x"), "unknown format 'nope'"),
    (("import", "demo", "labelport", "missing.json"), "missing.json"),
])
def test_user_errors_are_one_line_and_status_2(demo: Path, args: tuple[str, ...],
                                               expected: str) -> None:
    run = labelport(*args, "--db", str(demo / "out" / "demo.db"), cwd=demo)
    assert run.returncode == 2
    assert expected in run.stderr
    assert "Traceback" not in run.stderr


def test_a_malformed_file_is_refused_with_its_path_and_nothing_is_imported(demo: Path) -> None:
    db = ["--db", str(demo / "out" / "demo.db")]
    document = json.loads((demo / "out" / "labelport" / "project.labelport.json").read_text())
    document["items"][3]["width"] = "wide"
    broken = demo / "broken.json"
    broken.write_text(json.dumps(document))
    assert labelport("project", "create", "target", *db, cwd=demo).returncode == 0
    run = labelport("import", "target", "labelport", str(broken), *db, cwd=demo)
    assert run.returncode == 2
    assert "broken.json" in run.stderr and "$.items[3]" in run.stderr
    shown = labelport("project", "list", *db, cwd=demo)
    target_row = next(line for line in shown.stdout.splitlines() if "target" in line)
    assert " 0 " in target_row
