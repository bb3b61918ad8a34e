"""The packager: seals a finished export folder as a folder, a zip, an AES-256 zip or a tar.gz
and publishes it atomically.

Archives are byte-reproducible: the same folder gives the same bytes. Entries come in a fixed
order (the manifest ``labelport-export.json`` first, so a reader finds it without scanning, then
every folder and file by path), with fixed times (1980-01-01 in a zip, 0 in a tar), modes
0o644/0o755, uid/gid 0 and no user names, and a gzip header without time or file name. Already
compressed images (JPEG, PNG, WebP...) are stored, not deflated again. An AES zip cannot be
reproducible (its salts are random), but what it holds is: the manifest's content hash is the
same for every kind.

Entry names are the folder's relative POSIX paths, each checked (`archive_entry_name`) so none
can escape the folder it is extracted into; a symbolic link is refused, because a link in an
archive points at the extracting machine (export media with ``copy`` to package it)."""

from __future__ import annotations

import enum
import os
import re
import shutil
import stat
import struct
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from labelport.errors import InputError
from labelport.export.deflate import PIECE, ParallelDeflate
from labelport.export.manifest import MANIFEST_NAME, sha256_file
from labelport.export.media import MediaMode, PathMode

if TYPE_CHECKING:
    import zipfile

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip can hold, for every entry."""
FILE_MODE = 0o644
DIR_MODE = 0o755
_CHUNK = 1 << 20
_STORED_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic", ".mp4",
                              ".zip", ".gz", ".npz"})
"""Files that deflate would only slow down: they are compressed already."""
PARALLEL_FROM = 4 * PIECE
"""Entries from this size deflate on several cores (`ParallelDeflate`)."""
_LOCAL_HEADER = 30
"""Bytes of a zip entry's local header before its name and extra field."""
_NAME_LIMIT = 120
_DRIVE = re.compile(r"^[A-Za-z]:")
_DOTS = re.compile(r"\.{2,}")


class PackageKind(enum.StrEnum):
    DIR = "dir"
    ZIP = "zip"
    TAR_GZ = "tar.gz"

    @property
    def suffix(self) -> str:
        """What an artifact of this kind is called after its export name."""
        return "" if self is PackageKind.DIR else f".{self.value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageResult:
    """The published artifact. ``sha256`` and ``size_bytes`` are the archive file's own (None
    for a folder, which the manifest's content hash describes)."""

    path: Path
    kind: PackageKind
    sha256: str | None
    size_bytes: int | None
    encrypted: bool


def export_name(raw: str) -> str:
    """A user's export name made safe as one file name: path separators join its parts with
    ``_``, ``.``/``..`` parts and control or invisible format characters are dropped, runs of
    dots become one, and leading/trailing dots and spaces go (no hidden or Windows-trailing
    names); at most 120 characters. Raises `InputError` when nothing is left."""
    text = "".join(c for c in unicodedata.normalize("NFC", raw)
                   if unicodedata.category(c) not in ("Cc", "Cf"))
    parts = (p.strip(" .") for p in re.split(r"[/\\:]", text))
    name = _DOTS.sub(".", "_".join(p for p in parts if p))[:_NAME_LIMIT].strip(" .")
    if not name:
        raise InputError(f"export name {raw!r} has nothing left once separators, '.'/'..' and "
                         "control characters are removed; give a name with letters or digits")
    return name


def artifact_path(folder: Path, name: str, kind: PackageKind) -> Path:
    """Where an export called ``name`` is published inside ``folder``: never outside it."""
    return folder / f"{export_name(name)}{kind.suffix}"


def archive_entry_name(relative: PurePosixPath | str) -> str:
    """``relative`` as an archive entry name, refused (`InputError`) unless it stays inside the
    folder it is extracted into on any system: no absolute path or drive, no ``.``/``..`` or
    empty part, no backslash (a separator on Windows) or NUL. A name given as text (an entry
    of an archive read back) is checked as it is, without a path object's cost or its
    normalising (``a//b`` is refused, not read as ``a/b``)."""
    name = relative if isinstance(relative, str) else relative.as_posix()
    parts = name.split("/")
    if (name.startswith("/") or _DRIVE.match(name) or "\\" in name or "\0" in name
            or any(p in ("", ".", "..") for p in parts)):
        raise InputError(f"{name!r} cannot be an archive entry: entries are relative paths "
                         "that stay inside their folder")
    return name


STALE_AFTER_S = 86_400
"""A leftover sibling (`beside`) older than this is removed whoever wrote it."""

_OWNED = r"(?:(?P<host>[A-Za-z0-9]*)-(?P<pid>\d+)-)?"
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?:partial|old)-" + _OWNED + r"[0-9a-f]{8}$")
_JOB_FOLDER = re.compile(r"^labelport-(?:job|merge)-\d+-" + _OWNED)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", os.uname().nodename)[:32]


def owner() -> str:
    """``HOST-PID`` of this process, in the names of what it writes aside, so that what it
    leaves when killed is known for litter (`remove_leftovers`)."""
    return f"{_host()}-{os.getpid()}"


def beside(path: Path, tag: str) -> Path:
    """A hidden, unique sibling of ``path`` to write in before a rename publishes it, named
    ``.NAME.TAG-HOST-PID-RANDOM`` (`owner`). Random bytes, not ``uuid``, whose import costs
    every export ~3 ms."""
    return path.parent / f".{path.name}.{tag}-{owner()}-{os.urandom(4).hex()}"


def _owner_gone(host: str | None, pid: str | None) -> bool:
    if host != _host() or pid is None:
        return False  # another machine's, or an old name: only its age tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def remove_leftovers(folder: Path, name: str | None = None, *, jobs: bool = False
                     ) -> list[Path]:
    """Remove what killed exports left in ``folder``: staging folders, archive parts and
    retired exports (`beside`) of the export ``name`` (an export about to write there) or of
    any; with ``jobs``, the temporary folders of export jobs (``labelport-job-ID-HOST-PID-*``
    in the temporary directory). One is a leftover when it is older than `STALE_AFTER_S` or
    its process, on this machine, is gone; a running export's are kept. Returns what was
    removed."""
    removed: list[Path] = []
    pattern = _JOB_FOLDER if jobs else _LEFTOVER
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith("." if not jobs else "l")]
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if age > STALE_AFTER_S or _owner_gone(match["host"], match["pid"]):
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def refuse_impossible(kind: PackageKind, *, media: MediaMode, paths: PathMode,
                      password: str | None) -> None:
    """Refuse, before anything is written, a request this packaging cannot honour."""
    if password is not None and kind is not PackageKind.ZIP:
        raise InputError(f"a password needs --package zip, not {kind.value}")
    if password == "":
        raise InputError("the password is empty; give one, or leave --password out")
    if kind is PackageKind.DIR:
        return
    if media is MediaMode.SYMLINK:
        raise InputError(f"--media symlink links to files on this machine, which a {kind.value} "
                         "cannot carry; use --media copy, or --package dir")
    if paths is PathMode.ABSOLUTE and media is not MediaMode.NONE:
        raise InputError(f"--paths absolute names images inside the export folder, which a "
                         f"{kind.value} does not have; use --paths relative, --package dir, or "
                         "--media none (absolute paths then name the sources)")


def refuse_foreign_target(target: Path, kind: PackageKind) -> None:
    """Only an empty folder or an earlier export may be replaced: never a user's own files.
    Called before the export starts, so a refused target costs nothing."""
    if kind is PackageKind.DIR:
        if target.is_file() or (target.is_dir() and any(target.iterdir())
                                and not (target / MANIFEST_NAME).is_file()):
            raise InputError(f"export path {target} exists and is not an earlier labelport "
                             "export; choose a new or empty folder")
    elif target.is_dir() or (target.exists() and not _is_labelport_archive(target, kind)):
        raise InputError(f"export path {target} exists and is not an earlier labelport "
                         f"{kind.value} export; choose a new file name")


def package(folder: Path, kind: PackageKind, archive_path: Path, *,
            password: str | None = None, stored: tuple[str, ...] = ()) -> PackageResult:
    """Publish the finished export ``folder`` at ``archive_path`` as ``kind``.

    A folder is moved into place (replacing an earlier export there); an archive is written to
    a temporary file beside ``archive_path`` and renamed over it only once complete, and
    ``folder`` is left for the caller to remove. ``password`` (zip only) encrypts every entry
    with AES-256 (WinZip AE-2, which 7-Zip and pyzipper open). Files matching ``stored``
    (`fnmatch` patterns of relative POSIX paths) are not compressed: a shard's files that its
    merge reads and writes again, whose deflating would be wasted."""
    refuse_impossible(kind, media=MediaMode.NONE, paths=PathMode.RELATIVE, password=password)
    if kind is PackageKind.DIR:
        _publish_folder(folder, archive_path)
        return PackageResult(path=archive_path, kind=kind, sha256=None, size_bytes=None,
                             encrypted=False)
    return write_archive(list(folder_entries(folder, stored=stored)), kind, archive_path,
                         password=password)


def write_archive(entries: Sequence[Entry], kind: PackageKind, archive_path: Path, *,
                  password: str | None = None) -> PackageResult:
    """Write ``entries`` (in `entry_order`, the manifest first) as an archive of ``kind`` at
    ``archive_path``, published atomically as `package` does: for callers whose entries are
    not files in one folder (a sharded export's, read from the shards' archives)."""
    refuse_impossible(kind, media=MediaMode.NONE, paths=PathMode.RELATIVE, password=password)
    archive_path.parent.mkdir(parents=True, exist_ok=True)
    partial = beside(archive_path, "partial")
    try:
        if kind is PackageKind.ZIP:
            _write_zip(partial, entries, password)
        else:
            _write_tar_gz(partial, entries)
        sha256 = sha256_file(partial)
        os.replace(partial, archive_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return PackageResult(path=archive_path, kind=kind, sha256=sha256,
                         size_bytes=archive_path.stat().st_size, encrypted=password is not None)


@dataclass(frozen=True, slots=True)
class Entry:
    """One archive entry: a folder, or a file of ``size`` bytes that ``open`` reads."""

    name: str
    is_dir: bool
    size: int = 0
    open: Callable[[], IO[bytes]] | None = None
    member: tuple[zipfile.ZipFile, zipfile.ZipInfo] | None = None
    """The same file in a zip this packager wrote (a shard's): a zip without a password takes
    its bytes as they are there (`_copy_member`)."""
    stored: bool = False
    """Not compressed, whatever its kind (`package`'s ``stored``)."""

    @property
    def compress_type(self) -> int:
        """Stored when asked or compressed already (`_STORED_SUFFIXES`), else deflated."""
        import zipfile

        suffix = os.path.splitext(self.name)[1].lower()
        return (zipfile.ZIP_STORED if self.stored or suffix in _STORED_SUFFIXES
                else zipfile.ZIP_DEFLATED)

    def source(self) -> IO[bytes]:
        if self.open is None:
            raise ValueError(f"{self.name} is a folder entry: it has no bytes")
        return self.open()


def entry_order(name: str) -> tuple[str, ...]:
    """Where the entry ``name`` (no trailing ``/``) comes in an archive: the manifest first,
    then by path parts, a folder right before what it holds."""
    return ("",) if name == MANIFEST_NAME else ("/", *name.split("/"))


def folder_entries(folder: Path, *, stored: tuple[str, ...] = ()) -> Iterator[Entry]:
    """The folder's contents in archive order: the manifest, then by path parts (a folder right
    before what it holds); files matching ``stored`` are not to be compressed."""
    found: list[tuple[tuple[str, ...], Entry]] = []
    for path in folder.rglob("*"):
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        name = archive_entry_name(relative)
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            raise InputError(f"{name} is a symbolic link, which an archive cannot carry safely "
                             "(it would point at the extracting machine); export media with "
                             "copy to package it, or use --package dir")
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            raise InputError(f"{name} is neither a file nor a folder and cannot be archived")
        if stat.S_ISDIR(mode):
            found.append((entry_order(name), Entry(name=name, is_dir=True)))
        else:
            found.append((entry_order(name), Entry(
                name=name, is_dir=False, size=path.stat().st_size, open=_opener(path),
                stored=any(fnmatch(name, pattern) for pattern in stored))))
    found.sort(key=lambda pair: pair[0])
    for _, entry in found:
        yield entry


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")


def _write_zip(target: Path, entries: Sequence[Entry], password: str | None) -> None:
    import zipfile  # archive modules load only for archives (most exports are folders)

    archive: Any
    if password is None:
        archive = zipfile.ZipFile(target, "w", allowZip64=True)
        info_cls: Any = zipfile.ZipInfo
    else:
        import pyzipper

        archive = pyzipper.AESZipFile(target, "w", allowZip64=True,
                                      encryption=pyzipper.WZ_AES)
        archive.setpassword(password.encode())
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
        info_cls = archive.zipinfo_cls
    with archive:
        for entry in entries:
            info = _entry_info(info_cls, entry)
            if entry.is_dir:
                archive.writestr(info, b"")
            elif not (password is None and entry.member is not None
                      and _copy_member(archive, *entry.member, like=info)):
                with entry.source() as source, \
                        _entry_writer(archive, info, entry, password) as sink:
                    shutil.copyfileobj(source, sink, _CHUNK)


@contextmanager
def zip_entry_writer(archive: zipfile.ZipFile, entry: Entry) -> Iterator[IO[bytes]]:
    """A writer of the file ``entry`` (its ``size`` known, or 0) into ``archive``, a zip
    without a password, giving the bytes `write_archive` writes for it: for a file packed as it
    is written, then copied into the export's archive as it is (`Entry.member`)."""
    import zipfile

    with _entry_writer(archive, _entry_info(zipfile.ZipInfo, entry), entry, None) as sink:
        yield sink


def _entry_info(info_cls: Any, entry: Entry) -> zipfile.ZipInfo:
    info = info_cls(entry.name + "/" if entry.is_dir else entry.name, date_time=ZIP_DATE_TIME)
    info.create_system = 3  # Unix, so the modes below are read, on every platform
    if entry.is_dir:
        info.external_attr = ((stat.S_IFDIR | DIR_MODE) << 16) | 0x10
    else:
        info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
        info.compress_type = entry.compress_type
        info.file_size = entry.size  # lets zipfile choose zip64 up front
    return info


@contextmanager
def _entry_writer(archive: Any, info: zipfile.ZipInfo, entry: Entry, password: str | None
                  ) -> Iterator[IO[bytes]]:
    with _deflater(entry, password) as deflater, archive.open(info, "w") as sink:
        if deflater is not None:
            sink._compressor = deflater  # zipfile's writer calls compress and flush
        yield sink


def _deflater(entry: Entry, password: str | None
              ) -> AbstractContextManager[ParallelDeflate | None]:
    """A deflater on several cores for a large deflated entry of a zip without a password (an AES
    zip's encrypter wraps zipfile's own compressor); its bytes do not depend on the cores."""
    import zipfile

    if (password is None and entry.size >= PARALLEL_FROM
            and entry.compress_type == zipfile.ZIP_DEFLATED):
        return ParallelDeflate()
    return nullcontext(None)


_WRITTEN_FIELDS = ("CRC", "compress_size", "file_size", "flag_bits", "reserved", "volume",
                   "internal_attr", "comment")
"""What zipfile sets on an entry's `zipfile.ZipInfo` as it writes the entry, beyond what
`_entry_info` gives it (which `_copy_member` checks is the member's). Not the versions or the
extra field the source's central directory gives: they also record the member's offset there
(zip64 past 4 GiB), not the one it gets; writing sets the versions in the local header."""


def _copy_member(archive: zipfile.ZipFile, source: zipfile.ZipFile, member: zipfile.ZipInfo, *,
                 like: zipfile.ZipInfo) -> bool:
    """Append ``member`` of ``source`` to ``archive`` as its bytes (local header, compressed
    data), without inflating and deflating them again: the bytes writing its contents as
    ``like`` gives, when ``source`` was written by this packager (same name, compression,
    time and mode; no data descriptor, which `_write_zip`'s seekable file never needs). False,
    with nothing written, otherwise. The standard zipfile has no public way to copy an entry:
    this appends to its list of entries as its own writer does."""
    if (member.filename != like.filename or member.compress_type != like.compress_type
            or member.date_time != like.date_time or member.create_system != like.create_system
            or member.external_attr != like.external_attr or member.flag_bits & 0x08):
        return False
    writer: Any = archive  # its file, offset and entries are internal to zipfile
    src: Any = source.fp
    src.seek(member.header_offset)
    header = src.read(_LOCAL_HEADER)
    if header[:4] != b"PK\x03\x04":
        return False
    name_size, extra_size = struct.unpack("<HH", header[26:30])
    copied = like  # what writing it gives, with what writing it found: cheaper than a copy
    for field in _WRITTEN_FIELDS:
        setattr(copied, field, getattr(member, field))
    copied.extract_version = copied.create_version = struct.unpack("<H", header[4:6])[0]
    copied.header_offset = writer.start_dir
    writer.fp.write(header)
    remaining = name_size + extra_size + member.compress_size
    while remaining:
        chunk = src.read(min(remaining, _CHUNK))
        if not chunk:
            raise InputError(f"{member.filename}: its archive ends inside it")
        writer.fp.write(chunk)
        remaining -= len(chunk)
    writer.start_dir = writer.fp.tell()
    writer.filelist.append(copied)
    writer.NameToInfo[copied.filename] = copied
    writer._didModify = True
    return True


def _write_tar_gz(target: Path, entries: Sequence[Entry]) -> None:
    import gzip
    import tarfile

    with target.open("wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                          compresslevel=6) as compressed, \
            tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT,
                         encoding="utf-8") as archive:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if entry.is_dir:
                info.type = tarfile.DIRTYPE
                info.mode = DIR_MODE
                archive.addfile(info)
                continue
            info.mode = FILE_MODE
            info.size = entry.size
            with entry.source() as source:
                archive.addfile(info, source)


def _is_labelport_archive(path: Path, kind: PackageKind) -> bool:
    """Whether ``path`` is an archive this packager wrote (its first entry is the manifest)."""
    import tarfile
    import zipfile

    try:
        if kind is PackageKind.ZIP:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                return bool(names) and names[0] == MANIFEST_NAME
        with tarfile.open(path, "r:gz") as archive:
            first = archive.next()
            return first is not None and first.name == MANIFEST_NAME
    except (OSError, zipfile.BadZipFile, tarfile.TarError):
        return False


def _publish_folder(staging: Path, out: Path) -> None:
    """Move the finished folder into place, replacing an earlier export at the same path."""
    if out.exists():
        retired = beside(out, "old")
        out.rename(retired)
        staging.rename(out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out)
