"""The manifest `labelport-export.json` that every export carries: what was exported, with which
options and conventions, what was counted and changed, and a checksum of every file.

The same data and options give a byte-identical manifest: no wall-clock time, no machine path,
keys sorted, sets sorted; the other stages' summaries arrive as JSON-able mappings."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from labelport import __version__
from labelport.formats.base import FormatSpec, Report

MANIFEST_NAME = "labelport-export.json"
_CHUNK = 1 << 18


@dataclass(slots=True)
class Counts:
    """Items and objects a writer consumed, objects per class in schema order."""

    items: int = 0
    empty_items: int = 0
    annotations: int = 0
    per_class: dict[str, int] = field(default_factory=dict)
    per_split: dict[str, int] = field(default_factory=dict)


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:  # unbuffered: most export files are one read
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(folder: str, below: str) -> Iterator[tuple[str, str]]:
    """Every file under ``folder`` as (POSIX path below the root, path), sorted part by part
    (as paths sort), as ``Path.rglob`` finds them: links to files count, links to folders are
    not followed. One folder's names are held at a time, not an entry per file of the export
    (500k label files: 400 MB less at the peak of a YOLO export)."""
    with os.scandir(folder) as entries:
        names = sorted((entry.name, entry.is_dir() and not entry.is_symlink(), entry.is_file())
                       for entry in entries)
    for name, is_folder, is_file in names:
        path = os.path.join(folder, name)
        if is_folder:
            yield from _files(path, f"{below}{name}/")
        elif name != MANIFEST_NAME and is_file:
            yield f"{below}{name}", path


def file_checksums(root: Path, *,
                   known: Mapping[tuple[int, int], str] | None = None) -> dict[str, str]:
    """sha256 of every file under ``root`` by POSIX relative path, sorted (part by part, as
    paths sort), manifest excluded; ``known`` gives the hashes of files hashed as they were
    written (`FileSink`), by ``(st_dev, st_ino)``. A plain `os.scandir` walk: an export can
    hold a file per image, and `pathlib` objects cost more than the hashing."""
    if not known:
        return {rel: sha256_file(path) for rel, path in _files(os.fspath(root), "")}
    checksums = {}
    for rel, path in _files(os.fspath(root), ""):
        stat = os.stat(path)
        checksums[rel] = known.get((stat.st_dev, stat.st_ino)) or sha256_file(path)
    return checksums


def content_hash(checksums: Mapping[str, str]) -> str:
    """One hash of the whole export: equal exports give equal hashes whatever their mtimes."""
    digest = hashlib.sha256()
    for rel, sha in sorted(checksums.items()):
        digest.update(f"{rel}\0{sha}\n".encode())
    return digest.hexdigest()


def build_manifest(*, spec: FormatSpec, options: Mapping[str, Any], selection: Mapping[str, Any],
                   counts: Counts, report: Report, checksums: Mapping[str, str],
                   name: str | None = None, class_mapping: Mapping[str, Any] | None = None,
                   splits: Mapping[str, Any] | None = None,
                   checks: Mapping[str, Any] | None = None,
                   verification: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The manifest as a JSON-able dict. ``selection``, ``class_mapping``, ``splits`` (sizes and
    class counts per split) and ``checks`` are the summaries of the stages that ran, as they
    give them (``{}`` when a stage did not run); ``verification`` is what the read-back
    compared (`labelport.export.verify`), ``{"verified": false}`` when the export was not
    verified; ``name`` is the sanitised export name."""
    conventions = spec.conventions
    return {
        "labelport_version": __version__,
        "name": name,
        "format": spec.name,
        "format_title": spec.title,
        "options": _plain(options),
        "selection": _plain(selection),
        "class_mapping": _plain(class_mapping or {}),
        "splits": _plain(splits or {}),
        "checks": _plain(checks or {}),
        "verification": _plain(verification or {"verified": False}),
        "conventions": {
            "origin": conventions.origin,
            "coordinates": conventions.coordinates,
            "index_base": conventions.index_base,
            "ids": conventions.ids,
            "notes": conventions.notes,
            "keypoint_box": conventions.keypoint_box,
        },
        "counts": {
            "items": counts.items,
            "items_without_objects": counts.empty_items,
            "annotations": counts.annotations,
            "per_class": [{"label": k, "objects": v} for k, v in counts.per_class.items()],
            "per_split": counts.per_split,
        },
        "report": {"counts": dict(sorted(report.counts.items())), "messages": report.messages,
                   "renamed": [{"dataset": dataset, "path": path, "name": written}
                               for dataset, path, written in report.renamed]},
        "files": dict(checksums),
        "content_hash": content_hash(checksums),
    }


def _plain(value: Any) -> Any:
    """``value`` with mappings as dicts and sets as sorted lists, so orjson writes any stage's
    summary and writes it the same way every time."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The manifest file's bytes."""
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_manifest(root: Path, manifest: Mapping[str, Any]) -> None:
    (root / MANIFEST_NAME).write_bytes(manifest_bytes(manifest))


def archive_manifest(archive: IO[bytes], name: str, *, password: str | None = None) -> bytes:
    """The manifest inside the packaged export ``archive`` named ``name`` (a ``.tar.gz``, else
    a zip, AES-encrypted ones opened with ``password``), byte for byte; a `KeyError` when it
    holds none."""
    import tarfile  # archive modules load only for archives (most exports are folders)

    import pyzipper

    if name.endswith(".tar.gz"):
        with tarfile.open(fileobj=archive, mode="r:gz") as tar:
            member = tar.extractfile(MANIFEST_NAME)  # None: not a file
            if member is None:
                raise KeyError(f"{name} holds no file {MANIFEST_NAME}")
            return member.read()
    with pyzipper.AESZipFile(archive) as zipped:
        if password:
            zipped.setpassword(password.encode())
        return zipped.read(MANIFEST_NAME)
