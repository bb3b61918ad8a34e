"""A sharded export's merge goes from the shards' archives into the export's archive: the
entries of the export written whole, in its order, and the bytes the packager writes from the
merged files (zip, tar.gz); an AES zip holds the same files. Per-image formats with a file of
their own merge (YOLO's ``data.yaml``, Darknet's ``obj.data``) and list files concatenated
(Darknet's ``train.txt``), with images carried."""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
import pyzipper

from labelport.export import package as package_module
from labelport.export import prepack
from labelport.export.manifest import MANIFEST_NAME, content_hash, file_checksums
from labelport.export.package import PackageKind, package
from labelport.jobs import shards
from labelport.jobs.artifacts import ArtifactStorage
from labelport.jobs.config import JobSettings
from labelport.store import Store
from labelport.store.jobs import JobInfo, JobStatus

from . import test_shards
from .test_shards import GENERATED, SHARD, SPLITS, run, sqlite_only

store = test_shards.store  # the sample project and the generated one

PASSWORD = "s3cret"
KINDS = [("zip", None), ("tar.gz", None), ("zip", PASSWORD)]


def _artifact(settings: JobSettings, job: JobInfo) -> Path:
    assert job.status is JobStatus.COMPLETED, job.error
    path = ArtifactStorage(settings.artifacts).local_path(job.artifact_uri or "")
    assert path is not None
    return path


def _unpacked(archive: Path, kind: PackageKind, dest: Path, password: str | None
              ) -> tuple[list[str], Path]:
    """The archive's entry names in order, and the folder it was extracted into."""
    dest.mkdir()
    if kind is PackageKind.TAR_GZ:
        with tarfile.open(archive, "r:gz") as tar:
            names = tar.getnames()
            tar.extractall(dest, filter="data")
        return names, dest
    with pyzipper.AESZipFile(archive) as zf:
        if password is not None:
            zf.setpassword(password.encode())
        zf.extractall(dest)
        return [n.rstrip("/") for n in zf.namelist()], dest


@sqlite_only
@pytest.mark.parametrize(("package_kind", "password"), KINDS)
def test_shards_merge_from_archive_to_archive_into_the_packagers_bytes(
        store: Store, settings: JobSettings, tmp_path: Path, package_kind: str,
        password: str | None) -> None:
    kind = PackageKind(package_kind)
    requests: list[tuple[str, dict[str, Any]]] = [
        (GENERATED, {"format": fmt, "name": "x", "package": package_kind, "media": "copy",
                     "split": SPLITS["stratified"],
                     **({"password": password} if password else {})})
        for fmt in ("yolo", "yolo_darknet")]
    whole = run(store, settings, requests, shard_items=0)
    sharded = run(store, settings, requests, shard_items=SHARD)
    for (_, request), one, merged in zip(requests, whole, sharded, strict=True):
        assert merged.shards > 1, merged
        label = f"{request['format']}-{kind.value}"
        one_names, one_root = _unpacked(_artifact(settings, one), kind,
                                        tmp_path / f"one-{label}", password)
        names, root = _unpacked(_artifact(settings, merged), kind,
                                tmp_path / f"merged-{label}", password)
        assert names == one_names, label  # the same entries, in the same order
        manifest = orjson.loads((root / MANIFEST_NAME).read_bytes())
        assert manifest["shards"] == merged.shards
        checksums = file_checksums(root)
        assert checksums == manifest["files"] == file_checksums(one_root)
        assert content_hash(checksums) == manifest["content_hash"]
        if password is None:  # reproducible: what the packager writes from those files
            again = package(root, kind, tmp_path / f"again-{label}{kind.suffix}")
            assert again.path.read_bytes() == _artifact(settings, merged).read_bytes(), label
        else:
            with zipfile.ZipFile(_artifact(settings, merged)) as zf:
                assert all(info.flag_bits & 0x1 for info in zf.infolist()
                           if not info.is_dir())


@sqlite_only
def test_merged_files_packed_as_they_are_written_give_the_packagers_bytes(
        store: Store, settings: JobSettings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One-file formats' merges deflate their files while writing them (`prepack`), here from
    64 bytes on so the small project's files take that path: the archive is still what the
    packager writes from the extracted files, and the files those of the export written
    whole."""
    monkeypatch.setattr(package_module, "PARALLEL_FROM", 64)
    packed: list[str] = []
    original = prepack.prepacking

    @contextmanager
    def watched(folder: Path, scratch: Path) -> Iterator[prepack.Prepacking]:
        with original(folder, scratch) as state:
            yield state
        packed.extend(state.files)

    monkeypatch.setattr(shards, "prepacking", watched)
    requests: list[tuple[str, dict[str, Any]]] = [
        (GENERATED, {"format": fmt, "name": "x", "package": "zip", "split": SPLITS["random"]})
        for fmt in ("coco", "labelstudio", "datagym")]
    whole = run(store, settings, requests, shard_items=0)
    sharded = run(store, settings, requests, shard_items=SHARD)
    assert "annotations/instances_train.json" in packed
    for (_, request), one, merged in zip(requests, whole, sharded, strict=True):
        assert merged.shards > 1, merged
        label = request["format"]
        _, one_root = _unpacked(_artifact(settings, one), PackageKind.ZIP,
                                tmp_path / f"one-{label}", None)
        _, root = _unpacked(_artifact(settings, merged), PackageKind.ZIP,
                            tmp_path / f"merged-{label}", None)
        assert file_checksums(root) == file_checksums(one_root), label
        again = package(root, PackageKind.ZIP, tmp_path / f"again-{label}.zip")
        assert again.path.read_bytes() == _artifact(settings, merged).read_bytes(), label
