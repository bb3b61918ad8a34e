"""The copy half of a shard merge, from hand-made shard archives: a file of one shard taken as
it is, a file in several kept once when the same and concatenated in shard order when a list
(``.txt``), refused when it differs otherwise; only the files the format's own merge reads
(`FormatSpec.merge_reads`) are unpacked for it."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from labelport.errors import InputError
from labelport.export.manifest import MANIFEST_NAME, file_checksums
from labelport.export.package import PackageKind, package
from labelport.formats.base import FormatSpec
from labelport.formats.registry import get_format
from labelport.jobs import shards
from labelport.jobs.artifacts import ArtifactStorage

MANIFEST: dict[str, Any] = {
    "counts": {"items": 1, "items_without_objects": 0, "annotations": 1, "per_split": {},
               "per_class": []},
    "report": {"counts": {}, "messages": []}, "options": {}, "selection": {}}


def _shards(tmp_path: Path, contents: Sequence[dict[str, bytes]]) -> list[Any]:
    """Each shard's files as an archive the packager wrote, with its manifest; the parts."""
    parts = []
    for i, files in enumerate(contents):
        folder = tmp_path / f"written-{i}"
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        (folder / MANIFEST_NAME).write_bytes(orjson.dumps(
            {**MANIFEST, "files": file_checksums(folder)}))
        archive = package(folder, PackageKind.ZIP, tmp_path / "artifacts" / f"{i}.zip").path
        parts.append(SimpleNamespace(shard=i, artifact_uri=str(archive)))
    return parts


def _merge(tmp_path: Path, parts: list[Any], spec: FormatSpec) -> dict[str, bytes]:
    out = tmp_path / "out.zip"
    shards.merge(ArtifactStorage(str(tmp_path / "artifacts")), parts, tmp_path / "work", out,
                 spec=spec, plan=None, schema_counts={}, package=PackageKind.ZIP,
                 password=None, name=None)
    with zipfile.ZipFile(out) as zf:
        return {n: zf.read(n) for n in zf.namelist()
                if not n.endswith("/") and n != MANIFEST_NAME}


def test_files_merge_by_copying_and_only_what_the_merge_reads_is_unpacked(
        tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def merge_cfg(folders: Sequence[Path], out: Path) -> list[str]:
        seen.extend(sorted(p.relative_to(f).as_posix() for p in f.rglob("*") if p.is_file())
                    for f in folders)
        (out / "all.cfg").write_bytes(b"".join((f / "all.cfg").read_bytes() for f in folders))
        return ["all.cfg"]

    spec = replace(get_format("voc"), merge_shards=merge_cfg, merge_reads=("*.cfg",))
    parts = _shards(tmp_path, [
        {"all.cfg": b"a\n", "labels/a.txt": b"1\n", "list/train.txt": b"a\n", "same.yaml": b"s"},
        {"all.cfg": b"b\n", "labels/b.txt": b"2\n", "list/train.txt": b"b\n", "same.yaml": b"s"},
    ])

    files = _merge(tmp_path, parts, spec)

    assert seen == [["all.cfg"], ["all.cfg"]]
    assert files == {"all.cfg": b"a\nb\n", "labels/a.txt": b"1\n", "labels/b.txt": b"2\n",
                     "list/train.txt": b"a\nb\n", "same.yaml": b"s"}


def test_shards_that_disagree_on_a_file_are_refused(tmp_path: Path) -> None:
    parts = _shards(tmp_path, [{"classes.yaml": b"a"}, {"classes.yaml": b"b"}])
    with pytest.raises(InputError, match="shards disagree on 'classes.yaml'"):
        _merge(tmp_path, parts, get_format("voc"))
