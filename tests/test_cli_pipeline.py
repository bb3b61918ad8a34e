"""The export pipeline through the command line: selection, splits, packaging, checks,
releases and delta exports on the demo project."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import pyzipper

from tests.test_cli import labelport


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    run = labelport("demo", "--out", "out", cwd=root)
    assert run.returncode == 0, run.stderr
    return root


def lp(root: Path, *args: str) -> tuple[int, str, str]:
    run = labelport(*args, "--db", str(root / "out" / "demo.db"), cwd=root)
    return run.returncode, run.stdout, run.stderr


def test_a_split_zip_export_is_byte_identical_when_repeated(project: Path) -> None:
    args = ("export", "demo", "yolo", "--split", "train=0.5,val=0.5", "--split-strategy",
            "stratified", "--package", "zip")
    assert lp(project, *args, "--export-path", "a.zip")[0] == 0
    assert lp(project, *args, "--export-path", "b.zip")[0] == 0
    assert (project / "a.zip").read_bytes() == (project / "b.zip").read_bytes()
    with zipfile.ZipFile(project / "a.zip") as archive:
        manifest = json.loads(archive.read("labelport-export.json"))
    assert manifest["splits"]["strategy"] == "stratified"
    assert set(manifest["counts"]["per_split"]) == {"train", "val"}
    assert manifest["selection"]["statuses"]  # the default selection is recorded


def test_a_password_zip_opens_only_with_its_password(project: Path) -> None:
    code, _, err = lp(project, "export", "demo", "coco", "--package", "zip", "--password",
                      "s3cret", "--export-path", "secret.zip")
    assert code == 0, err
    with pyzipper.AESZipFile(project / "secret.zip") as archive:
        archive.setpassword(b"s3cret")
        assert json.loads(archive.read("labelport-export.json"))["format"] == "coco"
    with pyzipper.AESZipFile(project / "secret.zip") as archive, pytest.raises(RuntimeError):
        archive.read("labelport-export.json")


def test_selection_and_mapping_reach_the_manifest(project: Path) -> None:
    code, _, err = lp(project, "export", "demo", "csv", "--dataset", "field", "--map",
                      "car=vehicle", "--export-path", "sel")
    assert code == 0, err
    manifest = json.loads((project / "sel" / "labelport-export.json").read_text())
    assert manifest["selection"]["datasets"] == ["field"]
    assert manifest["class_mapping"]["map"] == {"car": "vehicle"}
    rows = (project / "sel" / "annotations.csv").read_text()
    assert "vehicle" in rows and "street_001" not in rows


def test_check_exits_1_when_a_check_would_fail(project: Path) -> None:
    code, out, _ = lp(project, "check", "demo", "--labelset", "predictions", "--source", "all",
                      "--check", "required_attribute=fail")
    assert code == 1
    assert "required_attribute" in out


def test_release_and_delta_export(project: Path) -> None:
    assert lp(project, "release", "create", "demo", "r1")[0] == 0
    code, _, err = lp(project, "export", "demo", "coco", "--since-release", "r1",
                      "--export-path", "delta")
    assert code == 0, err
    manifest = json.loads((project / "delta" / "labelport-export.json").read_text())
    assert manifest["selection"]["delta"] == {"since_release": "r1", "added": 0, "changed": 0,
                                              "removed": []}
    assert manifest["counts"]["items"] == 0
    code, _, err = lp(project, "export", "demo", "voc", "--release", "r1", "--export-path", "rel")
    assert code == 0, err
    code, _, err = lp(project, "export", "demo", "voc", "--release", "nope", "--export-path", "x")
    assert code == 2 and "unknown release 'nope'" in err and "r1" in err


@pytest.mark.parametrize(("args", "expected"), [
    (("--split", "train=0.7,val=0.7"), "add up to"),
    (("--check", "nope=fail"), "nope"),
    (("--status", "done"), "done"),
    (("--map", "unicorn=horse"), "unicorn"),
    (("--package", "tar.gz", "--password", "x"), "password"),
])
def test_bad_pipeline_options_are_one_line_errors(project: Path, args: tuple[str, ...],
                                                  expected: str) -> None:
    code, _, err = lp(project, "export", "demo", "coco", "--export-path", "bad", *args)
    assert code == 2
    assert expected in err and "Traceback" not in err


def test_min_box_px_sets_the_degenerate_checks_smallest_box(project: Path) -> None:
    code, out, _ = lp(project, "check", "demo", "--check", "degenerate=fail")
    assert code == 0, out
    code, out, _ = lp(project, "check", "demo", "--check", "degenerate=fail",
                      "--min-box-px", "1000")
    assert code == 1 and "degenerate" in out
    code, _, err = lp(project, "export", "demo", "coco", "--min-box-px", "1000",
                      "--export-path", "tiny")
    assert code == 0, err  # degenerate=fix by default: the small boxes are dropped, counted
    manifest = json.loads((project / "tiny" / "labelport-export.json").read_text())
    assert manifest["checks"]["min_box_px"] == 1000.0
    assert manifest["report"]["counts"]["check degenerate: dropped"] > 0


def test_group_by_dataset_and_an_unknown_key(project: Path) -> None:
    code, _, err = lp(project, "export", "demo", "csv", "--split", "train=0.5,val=0.5",
                      "--group-by", "dataset", "--export-path", "grouped")
    assert code == 0, err
    manifest = json.loads((project / "grouped" / "labelport-export.json").read_text())
    assert manifest["splits"]["spec"]["group_by"] == "dataset"
    assert manifest["splits"]["groups"] == {"train": 1, "val": 1}  # the demo's two datasets
    code, _, err = lp(project, "export", "demo", "csv", "--split", "train=0.5,val=0.5",
                      "--group-by", "sequence", "--export-path", "nokey")
    assert code == 2 and "no item has the metadata key 'sequence'" in err
    assert "Traceback" not in err
