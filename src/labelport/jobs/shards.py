"""Sharded exports: a very large export split into shards of items, written in parallel by
several workers, and merged.

Only formats whose output is one file per image plus lists and shared files are sharded:
``yolo``, ``voc`` and ``kitti``. Merging them is copying: per-image files never collide, a
shared file (``data.yaml``, ``labelmap.txt``, ``classes.tsv``) is the same in every shard, and
list files (``ImageSets/Main/*.txt``) are concatenated in shard order. The manifest is rebuilt
from the shards' (counts and report summed, checksums of the merged files).

Not sharded (run whole by one worker): single-file formats such as COCO, whose merge would
renumber image and annotation ids across shards and rewrite one JSON as large as the export
itself, so a merge costs what the export costs; and stratified splits, whose balance is
computed over the whole project. Shards are taken by position in the source's stable order
(the store streams by id), before selection, so each shard applies the same selection to its
own items.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from labelport.domain.model import ItemRecord
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError
from labelport.export import package as packager
from labelport.export.manifest import MANIFEST_NAME, content_hash, file_checksums, write_manifest
from labelport.export.package import PackageKind
from labelport.export.request import PlannedExport
from labelport.export.splits import SplitStrategy
from labelport.jobs.artifacts import ArtifactStorage
from labelport.jobs.config import JobSettings
from labelport.store.jobs import JobInfo

SHARDABLE = frozenset({"yolo", "voc", "kitti"})
RANGE_KEY = "shard_items"
"""The request key a shard job carries: ``[start, stop)`` positions in the source."""
SHARD_PACKAGE = PackageKind.ZIP
"""How a shard travels from its worker to the merging one."""
_LIST_SUFFIX = ".txt"


def should_split(planned: PlannedExport, settings: JobSettings) -> bool:
    split = planned.request.split
    return (settings.shard_items > 0 and planned.spec.name in SHARDABLE
            and (split is None or split.strategy is not SplitStrategy.STRATIFIED)
            and len(planned.source) > settings.shard_items)


def shard_requests(raw: dict[str, Any], planned: PlannedExport, size: int
                   ) -> list[dict[str, Any]]:
    """One request per shard: the parent's options on the release it exports (frozen once,
    by the parent), without the packaging the merge does."""
    total = len(planned.source)
    base = {k: v for k, v in raw.items()
            if k not in ("freeze_release", "package", "password", "name")}
    base["release"] = planned.extra_selection["release"]
    return [{**base, RANGE_KEY: [start, min(start + size, total)]}
            for start in range(0, total, size)]


def slice_source(source: ExportSource, bounds: list[int]) -> ExportSource:
    start, stop = bounds

    def records() -> Iterator[ItemRecord]:
        return islice(source.records(), start, stop)

    return StreamSource(project=source.project, schema=source.schema,
                        count=max(0, min(stop, len(source)) - start), open_records=records,
                        datasets=source.datasets, labelsets=source.labelsets)


def merge(storage: ArtifactStorage, parts: list[JobInfo], work: Path, out: Path, *,
          package: PackageKind, password: str | None, name: str | None) -> dict[str, Any]:
    """Merge the shards' artifacts into one export packaged at ``out``; its counts."""
    merged = work / "merged"
    merged.mkdir(parents=True)
    manifests = []
    for part in sorted(parts, key=lambda p: p.shard or 0):
        if part.artifact_uri is None:
            raise InputError(f"shard {part.shard} of the export has no artifact to merge")
        archive = work / f"shard-{part.shard}.zip"
        storage.download(part.artifact_uri, archive)
        with zipfile.ZipFile(archive) as zf:
            for entry in zf.infolist():
                if entry.is_dir():
                    continue
                relative = packager.archive_entry_name(PurePosixPath(entry.filename))
                data = zf.read(entry)
                if relative == MANIFEST_NAME:
                    manifests.append(orjson.loads(data))
                else:
                    _add(merged / relative, data, relative)
        archive.unlink()
    manifest = _merged_manifest(manifests, merged, package=package, password=password,
                                name=name)
    write_manifest(merged, manifest)
    packager.package(merged, package, out, password=password)
    shutil.rmtree(merged, ignore_errors=True)
    return {**manifest["counts"], "report": manifest["report"]["counts"],
            "content_hash": manifest["content_hash"], "shards": len(parts),
            "encrypted": password is not None}


def _add(target: Path, data: bytes, relative: str) -> None:
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    elif target.read_bytes() == data:
        return
    elif target.suffix == _LIST_SUFFIX:
        with target.open("ab") as f:
            f.write(data)
    else:
        raise InputError(f"shards disagree on {relative!r} (two images with one file "
                         "name?); export without sharding")


def _merged_manifest(manifests: list[dict[str, Any]], root: Path, *, package: PackageKind,
                     password: str | None, name: str | None) -> dict[str, Any]:
    first = manifests[0]
    counts: dict[str, Any] = {"items": 0, "items_without_objects": 0, "annotations": 0,
                              "per_split": {}}
    per_class: dict[str, int] = {}
    report: dict[str, int] = {}
    messages: list[str] = []
    renamed: list[Any] = []
    for shard in manifests:
        for key in ("items", "items_without_objects", "annotations"):
            counts[key] += shard["counts"][key]
        for split, n in shard["counts"]["per_split"].items():
            counts["per_split"][split] = counts["per_split"].get(split, 0) + n
        for entry in shard["counts"]["per_class"]:
            per_class[entry["label"]] = per_class.get(entry["label"], 0) + entry["objects"]
        for kind, n in shard["report"]["counts"].items():
            report[kind] = report.get(kind, 0) + n
        messages.extend(shard["report"]["messages"])
        renamed.extend(shard["report"].get("renamed", []))
    counts["per_class"] = [{"label": k, "objects": v} for k, v in per_class.items()]
    checksums = file_checksums(root)
    selection = {k: v for k, v in first["selection"].items() if k != RANGE_KEY}
    return {**first, "name": packager.export_name(name) if name else None,
            "options": {**first["options"], "package": package.value,
                        "encrypted": password is not None},
            "selection": selection, "counts": counts,
            "report": {"counts": dict(sorted(report.items())), "messages": messages,
                       "renamed": renamed},
            "files": checksums, "content_hash": content_hash(checksums), "shards": len(manifests)}
