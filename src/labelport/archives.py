"""Unpacking a zip or tar(.gz) archive someone else made, with bounds: the one place the
service's imports (and the CLI's) unpack archives.

An archive is checked before anything is written (entry count, declared total size, the ratio
of unpacked to packed bytes, names that would land outside the folder, encryption) and again
while it is unpacked (the bytes really written, which a forged header cannot hide), so a small
upload cannot fill the disk or take the server's time."""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from labelport.errors import InputError

_MIB = 1 << 20
_CHUNK = _MIB
_AES = 99
"""The compression method WinZip's AES encryption declares (pyzipper, 7-Zip)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveLimits:
    """What one archive may unpack to. Defaults suit a labelled dataset of a few hundred
    thousand images; the service reads them from the environment (`from_env`)."""

    max_files: int = 200_000
    """Entries ($LABELPORT_MAX_ARCHIVE_FILES)."""
    max_bytes: int = 8 << 30
    """Total unpacked size ($LABELPORT_MAX_UNPACKED_MB, in MiB)."""
    max_ratio: float = 200.0
    """Unpacked / packed size, over the whole archive once it unpacks to more than 1 MiB
    ($LABELPORT_MAX_ARCHIVE_RATIO): label files compress 10-50 times, images barely."""

    @classmethod
    def from_env(cls) -> ArchiveLimits:
        env = os.environ
        defaults = cls()
        try:
            return cls(
                max_files=int(env.get("LABELPORT_MAX_ARCHIVE_FILES", defaults.max_files)),
                max_bytes=int(float(env.get("LABELPORT_MAX_UNPACKED_MB",
                                            defaults.max_bytes / _MIB)) * _MIB),
                max_ratio=float(env.get("LABELPORT_MAX_ARCHIVE_RATIO", defaults.max_ratio)))
        except ValueError as error:
            raise InputError(f"archive limits in the environment: {error}") from None


def unpack_zip(archive: Path, folder: Path, limits: ArchiveLimits | None = None) -> None:
    """Extract the zip ``archive`` into ``folder`` within ``limits``; an `InputError` naming the
    archive (and the entry) when it is not a readable zip, is encrypted, or breaks a limit.
    What was written before a limit was found stays in ``folder`` for the caller to remove
    (it is a temporary folder of the caller's)."""
    limits = limits or ArchiveLimits()
    try:
        with zipfile.ZipFile(archive) as zipped:
            entries = zipped.infolist()
            _check_before(archive, entries, folder, limits)
            written, packed = 0, archive.stat().st_size
            for entry in entries:
                written = _extract(archive, zipped, entry, folder, (written, packed), limits)
    except zipfile.BadZipFile as error:
        raise InputError(f"{archive.name}: not a readable zip archive ({error})") from None


TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def is_archive(path: Path) -> bool:
    """A file named and made as a zip (``.zip``) or a tar archive (``.tar.gz``, ``.tgz``,
    ``.tar``), which `unpack_archive` takes."""
    name = path.name.lower()
    if not path.is_file():
        return False
    if name.endswith(".zip"):
        return zipfile.is_zipfile(path)
    return name.endswith(TAR_SUFFIXES) and tarfile.is_tarfile(path)


def unpack_archive(archive: Path, folder: Path, limits: ArchiveLimits | None = None) -> None:
    """`unpack_zip` or `unpack_tar`, by the archive's name (`is_archive`)."""
    if archive.name.lower().endswith(".zip"):
        unpack_zip(archive, folder, limits)
    else:
        unpack_tar(archive, folder, limits)


def unpack_tar(archive: Path, folder: Path, limits: ArchiveLimits | None = None) -> None:
    """Extract the tar (or gzip-compressed tar) ``archive`` into ``folder`` under the rules of
    `unpack_zip`: entries, declared and written sizes, the ratio to the archive's size, names
    inside ``folder``; members other than files and folders (links, devices) are refused."""
    limits = limits or ArchiveLimits()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            if len(members) > limits.max_files:
                raise InputError(f"{archive.name}: {len(members)} entries, over the "
                                 f"{limits.max_files} an archive may hold here")
            root = folder.resolve()
            packed = archive.stat().st_size
            for member in members:
                if not (member.isfile() or member.isdir()):
                    raise InputError(f"{archive.name}: entry {member.name!r} is not a file or "
                                     "a folder (a link or a device); archives may hold files "
                                     "and folders only")
                if Path(member.name).is_absolute() or \
                        not (root / member.name).resolve().is_relative_to(root):
                    raise InputError(f"archive entry {member.name!r} points outside the archive")
            _check_sizes(archive, sum(m.size for m in members if m.isfile()), packed, limits)
            written = 0
            for member in members:
                target = folder / member.name
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None  # a regular file, checked above
                with source, target.open("wb") as out:
                    while chunk := source.read(_CHUNK):
                        written += len(chunk)
                        _check_sizes(archive, written, packed, limits)
                        out.write(chunk)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise InputError(f"{archive.name}: not a readable tar archive ({error})") from None


def _check_before(archive: Path, entries: list[zipfile.ZipInfo], folder: Path,
                  limits: ArchiveLimits) -> None:
    if len(entries) > limits.max_files:
        raise InputError(f"{archive.name}: {len(entries)} entries, over the {limits.max_files} "
                         "an archive may hold here")
    root = folder.resolve()
    declared = packed = 0
    for entry in entries:
        if entry.flag_bits & 0x1 or entry.compress_type == _AES:
            raise InputError(f"{archive.name}: entry {entry.filename!r} is encrypted; a password "
                             "is needed, and this import takes none: upload an unencrypted zip")
        if Path(entry.filename).is_absolute() or \
                not (root / entry.filename).resolve().is_relative_to(root):
            raise InputError(f"archive entry {entry.filename!r} points outside the archive")
        declared += entry.file_size
        packed += entry.compress_size
    _check_sizes(archive, declared, packed, limits)


def _check_sizes(archive: Path, unpacked: int, packed: int, limits: ArchiveLimits) -> None:
    if unpacked > limits.max_bytes:
        raise InputError(f"{archive.name}: unpacks to more than the {limits.max_bytes // _MIB} "
                         "MiB an archive may hold here")
    if unpacked > _MIB and unpacked > limits.max_ratio * max(packed, 1):
        raise InputError(f"{archive.name}: unpacks to {unpacked / max(packed, 1):.0f} times its "
                         f"packed size, over the {limits.max_ratio:g} allowed here (a zip bomb?)")


def _extract(archive: Path, zipped: zipfile.ZipFile, entry: zipfile.ZipInfo, folder: Path,
             sizes: tuple[int, int], limits: ArchiveLimits) -> int:
    """Write one entry, counting the bytes really unpacked; ``sizes`` are the bytes unpacked
    so far and the archive's size. The new running total."""
    written, packed = sizes
    target = folder / entry.filename
    if entry.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return written
    if stat.S_ISLNK(entry.external_attr >> 16):
        raise InputError(f"{archive.name}: entry {entry.filename!r} is a symbolic link; "
                         "archives may hold files and folders only")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zipped.open(entry) as source, target.open("wb") as out:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                _check_sizes(archive, written, packed, limits)
                out.write(chunk)
    except NotImplementedError as error:  # a compression method zipfile lacks
        raise InputError(f"{archive.name}: entry {entry.filename!r} cannot be unpacked "
                         f"({error})") from None
    return written

