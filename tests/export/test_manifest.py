"""The manifest: the other stages' summaries carried as given, and byte-identical for the same
data and options."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson
import pytest

from labelport.domain.source import MemorySource
from labelport.export.manifest import (
    MANIFEST_NAME,
    Counts,
    build_manifest,
    content_hash,
    write_manifest,
)
from labelport.export.media import MediaMode
from labelport.export.package import PackageKind
from labelport.export.run import run_export
from labelport.formats.base import Report
from labelport.formats.registry import get_format
from labelport.sample import build_sample

SUMMARIES: dict[str, Mapping[str, Any]] = {
    "selection": MappingProxyType({"datasets": ("field",), "statuses": frozenset({"reviewed",
                                                                                 "labeled"})}),
    "class_mapping": {"renamed": {"person": "pedestrian"}, "dropped": ["tree"]},
    "splits": {"train": {"items": 6, "per_class": {"car": 4}}, "val": {"items": 2}},
    "checks": {"degenerate boxes": {"policy": "fix", "count": 1}},
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return build_sample(tmp_path_factory.mktemp("media"))


def _manifest(summaries: Mapping[str, Any] = MappingProxyType({})) -> dict[str, Any]:
    report = Report()
    report.count("clipped: box", 2)
    return build_manifest(spec=get_format("coco"), options={"media": "copy"},
                          selection=summaries.get("selection", {}),
                          class_mapping=summaries.get("class_mapping"),
                          splits=summaries.get("splits"), checks=summaries.get("checks"),
                          counts=Counts(items=1, per_class={"car": 1}), report=report,
                          checksums={"b.json": "2" * 64, "a.json": "1" * 64}, name="v1")


def test_stage_summaries_are_carried_as_plain_json(tmp_path: Path) -> None:
    manifest = _manifest(SUMMARIES)
    write_manifest(tmp_path, manifest)
    read = orjson.loads((tmp_path / MANIFEST_NAME).read_bytes())
    assert read["selection"] == {"datasets": ["field"], "statuses": ["labeled", "reviewed"]}
    assert read["class_mapping"] == SUMMARIES["class_mapping"]
    assert read["splits"] == SUMMARIES["splits"]
    assert read["checks"] == SUMMARIES["checks"]
    assert read["name"] == "v1"
    assert read["content_hash"] == content_hash({"a.json": "1" * 64, "b.json": "2" * 64})


def test_stages_that_did_not_run_leave_empty_summaries() -> None:
    manifest = _manifest()
    assert [manifest[key] for key in ("selection", "class_mapping", "splits", "checks")] == [
        {}, {}, {}, {}]


def test_same_inputs_give_byte_identical_manifests(tmp_path: Path) -> None:
    write_manifest(tmp_path, _manifest(SUMMARIES))
    first = (tmp_path / MANIFEST_NAME).read_bytes()
    reordered = {key: SUMMARIES[key] for key in reversed(list(SUMMARIES))}
    write_manifest(tmp_path, _manifest(reordered))
    assert (tmp_path / MANIFEST_NAME).read_bytes() == first


def test_content_hash_ignores_order_and_names_every_file() -> None:
    one = {"a": "1" * 64, "b": "2" * 64}
    assert content_hash(one) == content_hash(dict(reversed(one.items())))
    assert content_hash(one) != content_hash({"a": "1" * 64, "c": "2" * 64})


@pytest.mark.parametrize("kind", [PackageKind.DIR, PackageKind.ZIP])
def test_repeated_exports_write_byte_identical_manifests(
        sample: MemorySource, tmp_path: Path, kind: PackageKind) -> None:
    results = [run_export(sample, get_format("yolo"), tmp_path / f"e{i}{kind.suffix}",
                          media=MediaMode.COPY, package=kind, name="same",
                          selection=SUMMARIES["selection"]) for i in (1, 2)]
    first, second = (orjson.dumps(r.manifest, option=orjson.OPT_SORT_KEYS) for r in results)
    assert first == second
    if kind is PackageKind.DIR:
        assert (tmp_path / "e1" / MANIFEST_NAME).read_bytes() == (
            tmp_path / "e2" / MANIFEST_NAME).read_bytes()
    text = first.decode()
    assert str(tmp_path) not in text  # no machine path of the export inside


@pytest.mark.parametrize("name", ["yolo", "voc", "kitti", "yolo_darknet", "coco", "csv"])
def test_manifest_checksums_are_those_of_the_files(sample: MemorySource, tmp_path: Path,
                                                   name: str) -> None:
    """Per-image writers hash their files as a background thread writes them; the manifest must
    still list exactly the files on disk with their real sha256."""
    result = run_export(sample, get_format(name), tmp_path / "out")
    on_disk = {p.relative_to(result.path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in sorted(result.path.rglob("*")) if p.is_file() and p.name != MANIFEST_NAME}
    assert result.manifest["files"] == on_disk


def test_exporting_loads_no_aes_zip_module() -> None:
    """pyzipper (and the cryptography under it) loads only when an archive is read or an AES
    zip written: most exports are folders, and the CLI starts on every command."""
    code = ("import sys, labelport.cli, labelport.export.run, labelport.export.manifest; "
            "print('pyzipper' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "False"
