"""Files packed as they are written: the archive holds the bytes the packager writes from the
finished files, and only large files written within `prepacking` are packed."""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from pathlib import Path

import pytest

from labelport.export import package as packager
from labelport.export.manifest import MANIFEST_NAME
from labelport.export.prepack import archive_file, prepacking

BIG = b"".join(b'{"id":%d,"image_id":%d,"bbox":[1,2,3,4]},\n' % (i, i // 20)
               for i in range(200_000))


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    (folder / "annotations").mkdir(parents=True)
    (folder / MANIFEST_NAME).write_bytes(b"{}")
    return folder


def test_a_large_file_packed_while_written_gives_the_packagers_archive(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    target = folder / "annotations" / "instances_default.json"
    with prepacking(folder, tmp_path / "scratch") as state:
        with archive_file(target) as f:
            for start in range(0, len(BIG), 100_000):
                f.write(BIG[start:start + 100_000])
        with archive_file(folder / "small.txt") as f:
            f.write(b"small")
    assert target.read_bytes() == BIG and (folder / "small.txt").read_bytes() == b"small"
    assert list(state.files) == ["annotations/instances_default.json"]
    assert state.digests() == {(target.stat().st_dev, target.stat().st_ino):
                               hashlib.sha256(BIG).hexdigest()}
    plain = packager.package(folder, packager.PackageKind.ZIP, tmp_path / "plain.zip")
    with ExitStack() as stack:
        entries = [state.entry(entry, stack) for entry in packager.folder_entries(folder)]
        assert sum(entry.member is not None for entry in entries) == 1
        packed = packager.write_archive(entries, packager.PackageKind.ZIP,
                                        tmp_path / "packed.zip")
    assert packed.sha256 == plain.sha256


def test_a_file_whose_writer_fails_is_not_packed(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    with prepacking(folder, tmp_path / "scratch") as state, pytest.raises(RuntimeError), \
            archive_file(folder / "a.json") as f:
        f.write(BIG)
        raise RuntimeError("the merge failed")
    assert state.files == {}
    assert list((tmp_path / "scratch").iterdir()) == []


def test_outside_prepacking_or_the_folder_a_file_is_only_written(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    with archive_file(folder / "a.json") as f:
        f.write(BIG)
    with prepacking(folder, tmp_path / "scratch") as state, \
            archive_file(tmp_path / "elsewhere.json") as f:
        f.write(BIG)
    assert state.files == {}
    assert (folder / "a.json").read_bytes() == BIG == (tmp_path / "elsewhere.json").read_bytes()


def test_a_packed_file_written_again_or_removed_is_left_to_the_packager(tmp_path: Path) -> None:
    """What the folder holds at packaging time is what the archive holds: a file written
    again after it was packed (or removed, its inode free for another) is not taken packed."""
    folder = _folder(tmp_path)
    with prepacking(folder, tmp_path / "scratch") as state:
        for name in ("again.json", "gone.json"):
            with archive_file(folder / name) as f:
                f.write(BIG)
    assert sorted(state.files) == ["again.json", "gone.json"]
    (folder / "again.json").write_bytes(BIG[:-1] + b"!")
    (folder / "gone.json").unlink()
    assert state.digests() == {}
    with ExitStack() as stack:
        entries = [state.entry(entry, stack) for entry in packager.folder_entries(folder)]
        assert all(entry.member is None for entry in entries)
