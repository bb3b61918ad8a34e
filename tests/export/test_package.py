"""Packaging: each kind, byte-reproducible archives, AES zips, entries that cannot escape their
folder, export names, atomic publishing."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path, PurePosixPath

import orjson
import pytest
import pyzipper

from labelport.domain.source import MemorySource
from labelport.errors import InputError
from labelport.export.manifest import MANIFEST_NAME, content_hash, file_checksums
from labelport.export.media import MediaMode, PathMode
from labelport.export.package import (
    PackageKind,
    archive_entry_name,
    artifact_path,
    export_name,
    folder_entries,
    package,
    refuse_foreign_target,
    write_archive,
)
from labelport.export.run import ExportResult, run_export
from labelport.formats.registry import get_format
from labelport.sample import build_sample
from tests.required import unavailable

PASSWORD = "s3cret-Ü"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return build_sample(tmp_path_factory.mktemp("media"))


def _export(sample: MemorySource, out: Path, kind: PackageKind, *,
            password: str | None = None, fmt: str = "coco") -> ExportResult:
    return run_export(sample, get_format(fmt), out, media=MediaMode.COPY, package=kind,
                      password=password, name="sample export")


def _unpack(archive: Path, kind: PackageKind, dest: Path, password: str | None = None) -> Path:
    """Extract like a careful user would, checking every entry stays inside ``dest``."""
    dest.mkdir()
    if kind is PackageKind.TAR_GZ:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(dest, filter="data")
        return dest
    with pyzipper.AESZipFile(archive) as zf:
        if password is not None:
            zf.setpassword(password.encode())
        for name in zf.namelist():
            assert (dest / name).resolve().is_relative_to(dest.resolve())
        zf.extractall(dest)
    return dest


def _names(archive: Path, kind: PackageKind) -> list[str]:
    if kind is PackageKind.TAR_GZ:
        with tarfile.open(archive, "r:gz") as tar:
            return tar.getnames()
    with zipfile.ZipFile(archive) as zf:
        return zf.namelist()


@pytest.mark.parametrize("kind", [PackageKind.ZIP, PackageKind.TAR_GZ])
def test_archive_holds_the_export_with_the_manifest_first(
        sample: MemorySource, tmp_path: Path, kind: PackageKind) -> None:
    out = tmp_path / f"export{kind.suffix}"
    result = _export(sample, out, kind)

    assert result.path == out.resolve() and out.is_file()
    assert result.package.kind is kind and not result.package.encrypted
    assert result.package.size_bytes == out.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no staging, no partial file
    names = _names(out, kind)
    assert names[0] == MANIFEST_NAME
    assert "images/train/straße_ü.png" in names
    unpacked = _unpack(out, kind, tmp_path / "unpacked")
    manifest = orjson.loads((unpacked / MANIFEST_NAME).read_bytes())
    assert manifest["name"] == "sample export"
    assert manifest["options"]["package"] == kind.value
    assert file_checksums(unpacked) == manifest["files"]
    assert content_hash(file_checksums(unpacked)) == manifest["content_hash"]


def test_archive_entries_have_fixed_times_modes_and_owners(
        sample: MemorySource, tmp_path: Path) -> None:
    _export(sample, tmp_path / "e.zip", PackageKind.ZIP)
    _export(sample, tmp_path / "e.tar.gz", PackageKind.TAR_GZ)

    with zipfile.ZipFile(tmp_path / "e.zip") as zf:
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == (0o40755 if info.is_dir() else 0o100644)
    with tarfile.open(tmp_path / "e.tar.gz", "r:gz") as tar:
        for member in tar.getmembers():
            assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (
                0, 0, 0, "", "")
            assert member.mode == (0o755 if member.isdir() else 0o644)
    header = (tmp_path / "e.tar.gz").read_bytes()[:10]
    assert header[3] & 0x08 == 0  # no FNAME: the file name is not recorded
    assert header[4:8] == b"\0\0\0\0"  # gzip mtime 0


@pytest.mark.parametrize("kind", [PackageKind.ZIP, PackageKind.TAR_GZ])
def test_same_data_gives_byte_identical_archives(
        sample: MemorySource, tmp_path: Path, kind: PackageKind) -> None:
    first = _export(sample, tmp_path / "one" / f"a{kind.suffix}", kind)
    second = _export(sample, tmp_path / "two" / f"b{kind.suffix}", kind)

    assert first.package.sha256 == second.package.sha256
    assert first.path.read_bytes() == second.path.read_bytes()


def test_a_repeated_export_replaces_the_earlier_archive(
        sample: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "e.zip"
    first = _export(sample, out, PackageKind.ZIP)
    second = _export(sample, out, PackageKind.ZIP)
    assert second.package.sha256 == first.package.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.zip"]


def test_aes_zip_opens_with_the_password_only(sample: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "secret.zip"
    result = _export(sample, out, PackageKind.ZIP, password=PASSWORD)
    assert result.package.encrypted
    assert result.manifest["options"]["encrypted"] is True
    assert PASSWORD not in out.read_bytes().decode("latin-1")

    with pyzipper.AESZipFile(out) as zf:
        assert zf.namelist()[0] == MANIFEST_NAME
        with pytest.raises(RuntimeError, match="password"):
            zf.read(MANIFEST_NAME)
        zf.setpassword(b"wrong")
        with pytest.raises(RuntimeError, match="[Bb]ad password"):
            zf.read(MANIFEST_NAME)
    with zipfile.ZipFile(out) as plain, pytest.raises(RuntimeError):
        plain.read(MANIFEST_NAME, pwd=b"wrong")
    unpacked = _unpack(out, PackageKind.ZIP, tmp_path / "unpacked", PASSWORD)
    manifest = orjson.loads((unpacked / MANIFEST_NAME).read_bytes())
    assert content_hash(file_checksums(unpacked)) == manifest["content_hash"]


def test_seven_zip_opens_the_aes_zip_with_the_password_only(
        sample: MemorySource, tmp_path: Path) -> None:
    if shutil.which("7z") is None:
        unavailable("7-Zip (7z) is not installed (.ci/run installs p7zip-full)")
    out = tmp_path / "secret.zip"
    _export(sample, out, PackageKind.ZIP, password=PASSWORD)

    listing = subprocess.run(["7z", "l", "-slt", str(out)], capture_output=True, text=True,
                             check=True, stdin=subprocess.DEVNULL).stdout
    assert "Method = AES-256" in listing
    wrong = subprocess.run(["7z", "x", "-pwrong", f"-o{tmp_path / 'wrong'}", "-y", str(out)],
                           capture_output=True, stdin=subprocess.DEVNULL)
    assert wrong.returncode != 0
    subprocess.run(["7z", "x", f"-p{PASSWORD}", f"-o{tmp_path / 'right'}", "-y", str(out)],
                   capture_output=True, check=True, stdin=subprocess.DEVNULL)
    manifest = orjson.loads((tmp_path / "right" / MANIFEST_NAME).read_bytes())
    assert content_hash(file_checksums(tmp_path / "right")) == manifest["content_hash"]


def test_content_hash_is_the_same_for_every_kind(sample: MemorySource, tmp_path: Path) -> None:
    hashes = {"dir": _export(sample, tmp_path / "dir", PackageKind.DIR).manifest["content_hash"]}
    for label, kind, password in (("zip", PackageKind.ZIP, None),
                                  ("tar.gz", PackageKind.TAR_GZ, None),
                                  ("aes", PackageKind.ZIP, PASSWORD)):
        result = _export(sample, tmp_path / f"e-{label}", kind, password=password)
        unpacked = _unpack(result.path, kind, tmp_path / f"unpacked-{label}", password)
        hashes[label] = content_hash(file_checksums(unpacked))
        assert hashes[label] == result.manifest["content_hash"]
    assert len(set(hashes.values())) == 1


def test_empty_folders_survive_archiving(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    (folder / "obj_valid_data").mkdir(parents=True)
    (folder / MANIFEST_NAME).write_text("{}")
    (folder / "b.txt").write_text("b")
    result = package(folder, PackageKind.ZIP, tmp_path / "e.zip")
    assert _names(result.path, PackageKind.ZIP) == [MANIFEST_NAME, "b.txt", "obj_valid_data/"]
    result = package(folder, PackageKind.TAR_GZ, tmp_path / "e.tar.gz")
    assert _names(result.path, PackageKind.TAR_GZ) == [MANIFEST_NAME, "b.txt", "obj_valid_data"]


def test_a_folder_is_moved_into_place(sample: MemorySource, tmp_path: Path) -> None:
    result = _export(sample, tmp_path / "out", PackageKind.DIR)
    assert result.package.sha256 is None and result.package.size_bytes is None
    assert (tmp_path / "out" / MANIFEST_NAME).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("name", [
    "../evil", "/etc/passwd", "a/../../b", "..\\..\\evil", "a\\b", "C:/x", "c:evil", "a:b",
    "", ".", "a\0b",
])
def test_entry_names_that_could_escape_are_refused(name: str) -> None:
    for given in (PurePosixPath(name), name):
        with pytest.raises(InputError, match="cannot be an archive entry"):
            archive_entry_name(given)


@pytest.mark.parametrize("name", ["a//b", "./a", "a/./b", "a/"])
def test_an_entry_name_read_as_text_is_not_normalised(name: str) -> None:
    with pytest.raises(InputError, match="cannot be an archive entry"):
        archive_entry_name(name)


@pytest.mark.parametrize("name", ["a.jpg", "images/train/straße_ü.png", "a..b/c", "..a", "ab:c"])
def test_entry_names_inside_the_folder_pass(name: str) -> None:
    assert archive_entry_name(PurePosixPath(name)) == archive_entry_name(name) == name


def test_a_crafted_file_name_cannot_escape_the_archive(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "..\\..\\evil.txt").write_text("x")  # one name on Linux, a path on Windows
    with pytest.raises(InputError, match="cannot be an archive entry"):
        package(folder, PackageKind.ZIP, tmp_path / "e.zip")
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no partial archive left


@pytest.mark.parametrize("kind", [PackageKind.ZIP, PackageKind.TAR_GZ])
def test_symbolic_links_are_refused_in_archives(tmp_path: Path, kind: PackageKind) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(InputError, match="symbolic link"):
        package(folder, kind, tmp_path / f"e{kind.suffix}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


@pytest.mark.parametrize(("kind", "media", "paths", "password", "message"), [
    (PackageKind.ZIP, MediaMode.SYMLINK, PathMode.RELATIVE, None, "media symlink"),
    (PackageKind.TAR_GZ, MediaMode.COPY, PathMode.ABSOLUTE, None, "paths absolute"),
    (PackageKind.TAR_GZ, MediaMode.NONE, PathMode.RELATIVE, "pw", "password needs"),
    (PackageKind.DIR, MediaMode.NONE, PathMode.RELATIVE, "pw", "password needs"),
    (PackageKind.ZIP, MediaMode.NONE, PathMode.RELATIVE, "", "password is empty"),
])
def test_impossible_requests_are_refused_before_writing(
        sample: MemorySource, tmp_path: Path, kind: PackageKind, media: MediaMode,
        paths: PathMode, password: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        run_export(sample, get_format("coco"), tmp_path / "out", media=media, paths=paths,
                   package=kind, password=password)
    assert list(tmp_path.iterdir()) == []


def test_absolute_source_paths_are_fine_in_an_archive(
        sample: MemorySource, tmp_path: Path) -> None:
    result = run_export(sample, get_format("coco"), tmp_path / "e.zip", package=PackageKind.ZIP,
                        paths=PathMode.ABSOLUTE)
    assert result.manifest["options"]["paths"] == "absolute"


def test_a_foreign_file_is_never_replaced(sample: MemorySource, tmp_path: Path) -> None:
    mine = tmp_path / "notes.zip"
    with zipfile.ZipFile(mine, "w") as zf:
        zf.writestr("notes.txt", "mine")
    (tmp_path / "notes.tar.gz").write_bytes(b"not an archive")
    (tmp_path / "folder.zip").mkdir()
    for target, kind in ((mine, PackageKind.ZIP), (tmp_path / "notes.tar.gz", PackageKind.TAR_GZ),
                         (tmp_path / "folder.zip", PackageKind.ZIP)):
        with pytest.raises(InputError, match="not an earlier labelport"):
            _export(sample, target, kind)
    with zipfile.ZipFile(mine) as zf:
        assert zf.read("notes.txt") == b"mine"


def test_refuse_foreign_target_accepts_new_and_earlier_artifacts(tmp_path: Path) -> None:
    refuse_foreign_target(tmp_path / "new.zip", PackageKind.ZIP)
    refuse_foreign_target(tmp_path, PackageKind.DIR)  # empty folder
    (tmp_path / "x").write_text("x")
    with pytest.raises(InputError):
        refuse_foreign_target(tmp_path, PackageKind.DIR)


@pytest.mark.parametrize(("raw", "expected"), [
    ("my export", "my export"),
    ("  release v1.2  ", "release v1.2"),
    ("../../etc/passwd", "etc_passwd"),
    ("a/b\\c:d", "a_b_c_d"),
    ("..hidden", "hidden"),
    ("name...", "name"),
    ("a..b", "a.b"),
    ("tab\there\nnew", "tabherenew"),
    ("bidi\u202egnp.exe", "bidignp.exe"),
    ("straße ü", "straße ü"),
    ("x" * 300, "x" * 120),
])
def test_export_names_are_sanitised(raw: str, expected: str) -> None:
    assert export_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "..", "/", "../..", " . ", "\x00\x01", "\\/:"])
def test_export_names_with_nothing_left_are_refused(raw: str) -> None:
    with pytest.raises(InputError, match="nothing left"):
        export_name(raw)


def test_artifact_path_stays_in_its_folder(tmp_path: Path) -> None:
    assert artifact_path(tmp_path, "../../x", PackageKind.TAR_GZ) == tmp_path / "x.tar.gz"
    assert artifact_path(tmp_path, "v1", PackageKind.DIR) == tmp_path / "v1"


def test_a_run_export_name_is_sanitised_into_the_manifest(
        sample: MemorySource, tmp_path: Path) -> None:
    result = run_export(sample, get_format("coco"), tmp_path / "out", name="../v1/final")
    assert result.manifest["name"] == "v1_final"
    with pytest.raises(InputError, match="nothing left"):
        run_export(sample, get_format("coco"), tmp_path / "out2", name="..")


def test_zip_reader_sees_utf8_names(sample: MemorySource, tmp_path: Path) -> None:
    result = _export(sample, tmp_path / "e.zip", PackageKind.ZIP)
    with zipfile.ZipFile(io.BytesIO(result.path.read_bytes())) as zf:
        info = zf.getinfo("images/train/straße_ü.png")
        assert info.flag_bits & 0x800  # the UTF-8 name flag
        assert info.compress_type == zipfile.ZIP_STORED  # PNGs are not deflated again
        assert zf.getinfo(MANIFEST_NAME).compress_type == zipfile.ZIP_DEFLATED


def test_a_large_entry_deflated_on_every_core_opens_everywhere(tmp_path: Path) -> None:
    """A file past the parallel deflater's threshold: the same archive bytes every time, read
    back by Python's zipfile (CRC checked) and tested by 7-Zip."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / MANIFEST_NAME).write_bytes(b"{}")
    big = b"".join(b'{"id":%d,"image_id":%d,"bbox":[1,2,3,4]},\n' % (i, i // 20)
                   for i in range(200_000))
    assert len(big) > 6 * (1 << 20)
    (folder / "annotations.json").write_bytes(big)
    first = package(folder, PackageKind.ZIP, tmp_path / "a.zip")
    again = package(folder, PackageKind.ZIP, tmp_path / "b.zip")
    assert first.sha256 == again.sha256
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.testzip() is None
        assert archive.read("annotations.json") == big
        assert archive.getinfo("annotations.json").compress_size < len(big) // 5
    if shutil.which("7z") is None:
        unavailable("7-Zip (7z) is not installed (.ci/run installs p7zip-full)")
    subprocess.run(["7z", "t", str(tmp_path / "a.zip")], check=True, capture_output=True)


def test_files_named_stored_are_archived_without_compression(tmp_path: Path) -> None:
    """A shard's files its merge rewrites travel uncompressed (`stored`); the rest as ever."""
    folder = tmp_path / "export"
    (folder / "annotations").mkdir(parents=True)
    (folder / MANIFEST_NAME).write_bytes(b"{}")
    (folder / "annotations" / "instances_train.json").write_bytes(b'{"images": []}\n' * 100)
    (folder / "labels.txt").write_bytes(b"cat\n" * 100)
    package(folder, PackageKind.ZIP, tmp_path / "x.zip",
            stored=("annotations/instances_*.json",))
    with zipfile.ZipFile(tmp_path / "x.zip") as archive:
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
        assert archive.read("annotations/instances_train.json") == b'{"images": []}\n' * 100
    assert kinds["annotations/instances_train.json"] == zipfile.ZIP_STORED
    assert kinds["labels.txt"] == kinds[MANIFEST_NAME] == zipfile.ZIP_DEFLATED


@pytest.mark.parametrize("zip64", [False, True])
def test_members_copied_from_another_archive_give_the_bytes_written_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zip64: bool) -> None:
    """A merge appends a shard's members as they are (`Entry.member`) at other offsets: the
    archive is the one written from the files, also with non-ASCII names (flag 0x800), empty
    files, stored and deflated entries, and zip64 records (limits lowered to reach them)."""
    if zip64:
        monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 3000)
        monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 3)
    folder = tmp_path / "export"
    (folder / "sub" / "日本").mkdir(parents=True)
    (folder / MANIFEST_NAME).write_bytes(b"{}")
    (folder / "sub" / "日本" / "ä b.txt").write_text("grüße " * 2000, encoding="utf-8")
    (folder / "sub" / "empty.txt").write_bytes(b"")
    (folder / "sub" / "empty.png").write_bytes(b"")
    (folder / "sub" / "x.png").write_bytes(bytes(range(256)) * 40)
    entries = list(folder_entries(folder))
    whole = write_archive(entries, PackageKind.ZIP, tmp_path / "whole.zip")
    files = [e for e in entries if not e.is_dir and e.name != MANIFEST_NAME]
    write_archive(files, PackageKind.ZIP, tmp_path / "part.zip")  # other offsets
    names = {e.name for e in files}
    with zipfile.ZipFile(tmp_path / "part.zip") as part:
        merged = [replace(e, member=(part, part.getinfo(e.name))) if e.name in names else e
                  for e in entries]
        copied = write_archive(merged, PackageKind.ZIP, tmp_path / "merged.zip")
    assert copied.sha256 == whole.sha256


def test_a_member_copied_to_a_lower_offset_keeps_no_zip64_record_of_its_shard(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shard holds the files its merge rewrites uncompressed (`stored`), so a member after
    them can sit past 4 GiB there (a zip64 record of its offset, version 4.5) and below it in
    the merged archive: there it is written as the whole export writes it, without them."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 3000)
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "a.json").write_bytes(b"0" * 20_000)
    (folder / "b.png").write_bytes(bytes(range(256)) * 4)
    entries = list(folder_entries(folder))
    whole = write_archive(entries, PackageKind.ZIP, tmp_path / "whole.zip")
    write_archive(list(folder_entries(folder, stored=("a.json",))), PackageKind.ZIP,
                  tmp_path / "shard.zip")
    with zipfile.ZipFile(tmp_path / "shard.zip") as shard:
        assert shard.getinfo("b.png").extract_version == 45  # its offset needed zip64 there
        merged = [replace(e, member=(shard, shard.getinfo(e.name))) if e.name == "b.png"
                  else e for e in entries]
        copied = write_archive(merged, PackageKind.ZIP, tmp_path / "merged.zip")
    assert copied.sha256 == whole.sha256
