"""Unpacking a zip archive someone else made, with bounds: the one place the service's imports
(and the CLI's) unpack archives.

An archive is checked before anything is written (entry count, declared total size, the ratio
of unpacked to packed bytes, names that would land outside the folder, encryption) and again
while it is unpacked (the bytes really written, which a forged header cannot hide), so a small
upload cannot fill the disk or take the server's time."""

from __future__ import annotations

import os
import stat
import zipfile
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

