"""Sharded exports: a very large export split into shards of items, written in parallel by
several workers, and merged into the bytes one worker writes.

Every format says in its `FormatSpec` how its shards merge (``merge_shards``, or
``unshardable`` with the reason it is always written whole). Per-image formats merge by
copying: per-image files never collide, a shared file (``data.yaml``, ``labelmap.txt``) is the
same in every shard, and list files (``ImageSets/Main/*.txt``) are concatenated in shard order.
One-file formats (COCO and its panoptic layout, CVAT, Label Studio, DataGym, labelport's own)
stream their shards' files into one, shifting ids by offsets
(`labelport.formats._shared.shard_merge`). The manifest is rebuilt from the shards' (counts
and report summed, checksums of the merged files).

Shards are taken by position in the source's stable order (the store streams by id), before
selection, so each shard applies the same selection to its own items. The parent computes
once, over the whole source, what shards cannot see: the split (random with its rescue of
empty splits, stratified, named: `SplitPlan`, stored beside the artifacts for the shards and
the merge), and whether two items in different shards would get one file name (a layout
renames the second ``x.jpg``, which a shard cannot know): then the export is written whole,
with the reason in its manifest's messages, rather than failing at the merge.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from hashlib import sha256
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import orjson

from labelport.domain.model import Item, ItemRecord
from labelport.domain.source import ExportSource, MemorySource, StreamSource
from labelport.errors import InputError, LabelportError
from labelport.export import package as packager
from labelport.export.export_type import ExportType
from labelport.export.manifest import MANIFEST_NAME, content_hash, file_checksums, write_manifest
from labelport.export.package import PackageKind
from labelport.export.pipeline import prepare
from labelport.export.request import PlannedExport
from labelport.export.run import run_export
from labelport.export.splits import SplitPlan
from labelport.formats._shared.naming import file_stem, safe_file_name
from labelport.formats._shared.shard_merge import summary_file
from labelport.formats.base import FormatSpec, merge_by_copying
from labelport.jobs.artifacts import ArtifactStorage
from labelport.jobs.config import JobSettings
from labelport.store.jobs import JobInfo

RANGE_KEY = "shard_items"
"""The request key a shard job carries: ``[start, stop)`` positions in the source."""
PLAN_KEY = "shard_split_plan"
"""The request key of a shard of a split export: the URI of the parent's `SplitPlan`."""
SHARD_KEYS = (RANGE_KEY, PLAN_KEY)
SHARD_PACKAGE = PackageKind.ZIP
"""How a shard travels from its worker to the merging one."""
_LIST_SUFFIX = ".txt"
_PLAN_FILE = "split-plan.bin"


class Unshardable(LabelportError):
    """This export cannot be sharded into the bytes one worker writes; it runs whole."""


def should_split(planned: PlannedExport, settings: JobSettings) -> bool:
    merge = planned.spec.merge_shards
    return (settings.shard_items > 0 and merge is not None
            and (merge is merge_by_copying
                 or planned.request.export_type is ExportType.ANNOTATIONS)
            and len(planned.source) > settings.shard_items)


def shard_requests(raw: dict[str, Any], planned: PlannedExport, size: int, *,
                   storage: ArtifactStorage, key: str) -> list[dict[str, Any]]:
    """One request per shard: the parent's options on the release it exports (frozen once,
    by the parent), without the packaging the merge does, and the split computed here over
    the whole source (stored at ``key`` in ``storage``). One pass over the source; raises
    `Unshardable` when shards would name files otherwise than one writer."""
    total = len(planned.source)
    names = _NameWatch(size)
    watched = _watched(planned.source, names)
    plan = None
    if planned.request.split is not None:
        plan = prepare(watched, planned.request).split_plan
    else:  # file names only: a store's source reads its items without their annotations
        for item in _items(planned.source):
            names.see(item)
    if names.clash is not None:
        raise Unshardable(f"not sharded: {names.clash}, which the format may rename in one "
                          "shard but not in the other; written whole")
    base = {k: v for k, v in raw.items()
            if k not in ("freeze_release", "package", "password", "name")}
    base["release"] = planned.extra_selection["release"]
    if plan is not None:
        base[PLAN_KEY] = _upload_plan(storage, plan, key)
    return [{**base, RANGE_KEY: [start, min(start + size, total)]}
            for start in range(0, total, size)]


def slice_source(source: ExportSource, bounds: list[int]) -> ExportSource:
    """The shard's records: a store's source seeks to the first (`StreamSource.open_from`),
    so a shard reads its own items, not every item before them."""
    start, stop = bounds

    def records() -> Iterator[ItemRecord]:
        if isinstance(source, StreamSource):
            return islice(source.records_from(start), stop - start)
        return islice(source.records(), start, stop)

    return StreamSource(project=source.project, schema=source.schema,
                        count=max(0, min(stop, len(source)) - start), open_records=records,
                        datasets=source.datasets, labelsets=source.labelsets)


def load_plan(storage: ArtifactStorage, request: dict[str, Any]) -> SplitPlan | None:
    """The parent's split of the export a shard's ``request`` belongs to, if it has one."""
    uri = request.get(PLAN_KEY)
    if uri is None:
        return None
    with storage.open(uri) as f:
        return SplitPlan.from_bytes(f.read())


class _NameWatch:
    """Watches a pass over the source for two items in different shards with one file name:
    the case-folded stem of the file name, the strictest key any layout renames by."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.first: dict[int, int] = {}  # name's hash -> the shard it first came in
        self.clash: str | None = None

    def see(self, item: Item) -> None:
        shard = self.position // self.size
        self.position += 1
        first = self.first.setdefault(hash(file_stem(safe_file_name(item.file_name)).casefold()),
                                      shard)
        if first != shard and self.clash is None:
            self.clash = (f"item {item.key!r} (shard {shard}) has the file name of an item of "
                          f"shard {first}")


def _watched(source: ExportSource, names: _NameWatch) -> ExportSource:
    def records() -> Iterator[ItemRecord]:
        names.position = 0
        for record in source.records():
            names.see(record.item)
            yield record

    return StreamSource(project=source.project, schema=source.schema, count=len(source),
                        open_records=records, datasets=source.datasets,
                        labelsets=source.labelsets)


def _items(source: ExportSource) -> Iterator[Item]:
    if isinstance(source, StreamSource):
        return source.items()
    return (record.item for record in source.records())


def _upload_plan(storage: ArtifactStorage, plan: SplitPlan, key: str) -> str:
    with tempfile.TemporaryDirectory(prefix="labelport-plan-") as tmp:
        local = Path(tmp) / _PLAN_FILE
        local.write_bytes(plan.to_bytes())
        return storage.upload(local, f"{key}/{_PLAN_FILE}").uri


def schema_counts(planned: PlannedExport) -> dict[str, int]:
    """What the format reports from the schema and its options alone (a class it cannot
    offer, an attribute it converts), as an export without items does: every shard reports
    it, the merged export once."""
    source = planned.source
    empty = MemorySource(project=source.project, schema=source.schema,
                         datasets=source.datasets, labelsets=source.labelsets)
    with tempfile.TemporaryDirectory(prefix="labelport-schema-counts-") as tmp:
        result = run_export(empty, planned.spec, Path(tmp) / "out",
                            options=planned.request.options, outside=planned.request.outside,
                            media=planned.request.media)  # a layout may need it (no item)
    return dict(result.report.counts)


def merge(storage: ArtifactStorage, parts: list[JobInfo], work: Path, out: Path, *,
          spec: FormatSpec, plan: SplitPlan | None, schema_counts: dict[str, int],
          package: PackageKind, password: str | None, name: str | None) -> dict[str, Any]:
    """Merge the shards' artifacts into one export packaged at ``out``; its counts.
    ``schema_counts`` (`schema_counts`) are counted once, not once per shard, and the
    format's `FormatSpec.merged_report` replaces the sums of its kinds. ``work`` is
    the caller's scratch folder, left for the caller to remove (after publishing: removing
    a file per image is not the merge's time)."""
    if spec.merge_shards is None:
        raise InputError(f"format {spec.name!r} cannot merge shards: {spec.unshardable}")
    manifests = []
    roots: list[tuple[Path, dict[str, _Unpacked]]] = []
    for part in sorted(parts, key=lambda p: p.shard or 0):
        if part.artifact_uri is None:
            raise InputError(f"shard {part.shard} of the export has no artifact to merge")
        archive = work / f"shard-{part.shard}.zip"
        work.mkdir(parents=True, exist_ok=True)
        storage.download(part.artifact_uri, archive)
        root = work / f"shard-{part.shard}"
        manifest, unpacked = _unpack(archive, root)
        summary_file(root).write_bytes(orjson.dumps({"counts": manifest["counts"],
                                                     "report": manifest["report"]["counts"],
                                                     "options": manifest["options"]}))
        manifests.append(manifest)
        archive.unlink()
        roots.append((root, unpacked))
    merged = work / "merged"
    merged.mkdir(parents=True)
    handled = set(spec.merge_shards([root for root, _ in roots], merged))
    known: dict[_Inode, str] = {}  # checksums of the files moved as they are into ``merged``
    placed: dict[str, _Inode] = {}
    folders: set[str] = set()
    for root, unpacked in roots:
        for relative in _files(root):
            if relative in handled:
                continue
            outcome = _add(root / relative, merged / relative, relative, folders)
            if outcome == "moved" and relative in unpacked:
                inode, sha256 = unpacked[relative]
                placed[relative] = inode
                known[inode] = sha256
            elif outcome == "appended" and relative in placed:
                known.pop(placed[relative], None)
        shutil.rmtree(root, ignore_errors=True)
    whole = dict(spec.merged_report(merged)) if spec.merged_report is not None else {}
    manifest = _merged_manifest(manifests, merged, known, plan=plan, whole=whole,
                                schema_counts=schema_counts, package=package,
                                password=password, name=name)
    write_manifest(merged, manifest)
    packager.package(merged, package, out, password=password)
    return {**manifest["counts"], "report": manifest["report"]["counts"],
            "content_hash": manifest["content_hash"], "shards": len(parts),
            "encrypted": password is not None}


_Inode = tuple[int, int]
"""``(st_dev, st_ino)``: a file whatever its name (`file_checksums`' ``known``)."""
_Unpacked = tuple[_Inode, str]
"""An unpacked file's inode and sha256."""
_IN_MEMORY = 1 << 20
"""Entries up to this size are extracted in one read; larger ones are streamed."""


def _unpack(archive: Path, root: Path) -> tuple[dict[str, Any], dict[str, _Unpacked]]:
    """Extract a shard's archive under ``root``: its manifest, and the inode and sha256 of
    each file read whole (a shard of a per-image format holds thousands of small files: one
    read, one write and one hash each, while the bytes are in memory)."""
    manifest: dict[str, Any] = {}
    unpacked: dict[str, _Unpacked] = {}
    folders: set[str] = set()
    with zipfile.ZipFile(archive) as zf:
        for entry in zf.infolist():
            if entry.is_dir():
                continue
            relative = packager.archive_entry_name(PurePosixPath(entry.filename))
            if relative == MANIFEST_NAME:
                manifest = orjson.loads(zf.read(entry))
                continue
            target = os.path.join(root, relative)
            _folder_of(target, folders)
            if entry.file_size > _IN_MEMORY:
                with zf.open(entry) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, _IN_MEMORY)
                continue
            data = zf.read(entry)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                stat = os.fstat(fd)
            finally:
                os.close(fd)
            unpacked[relative] = ((stat.st_dev, stat.st_ino), sha256(data).hexdigest())
    return manifest, unpacked


def _folder_of(path: str, made: set[str]) -> None:
    """Make the folder of ``path`` unless this merge made it already."""
    folder = os.path.dirname(path)
    if folder not in made:
        os.makedirs(folder, exist_ok=True)
        made.add(folder)


def _files(root: Path) -> list[str]:
    """Every file under ``root``, relative, in a stable order."""
    found: list[str] = []
    top = os.fspath(root)
    for folder, _, names in os.walk(top):
        prefix = os.path.relpath(folder, top).replace(os.sep, "/")
        found.extend(names if prefix == "." else (f"{prefix}/{n}" for n in names))
    return sorted(found)


def _add(source: Path, target: Path, relative: str, folders: set[str]
         ) -> Literal["moved", "same", "appended"]:
    """Put a shard's file into the merged export: ``moved`` (the first with this path),
    ``same`` (as the one there), ``appended`` (a list file)."""
    if not target.exists():
        _folder_of(os.fspath(target), folders)
        os.replace(source, target)
        return "moved"
    if filecmp.cmp(source, target, shallow=False):
        return "same"
    if target.suffix == _LIST_SUFFIX:
        with target.open("ab") as dst, source.open("rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
        return "appended"
    raise InputError(f"shards disagree on {relative!r}; export without sharding")


def _merged_manifest(manifests: list[dict[str, Any]], root: Path, known: dict[_Inode, str], *,
                     plan: SplitPlan | None, whole: dict[str, int],
                     schema_counts: dict[str, int], package: PackageKind,
                     password: str | None, name: str | None) -> dict[str, Any]:
    first = manifests[0]
    counts: dict[str, Any] = {"items": 0, "items_without_objects": 0, "annotations": 0,
                              "per_split": {}}
    per_class: dict[str, int] = {}
    report: dict[str, int] = dict(plan.reported.counts) if plan else {}
    messages: list[str] = list(plan.reported.messages) if plan else []
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
        messages.extend(m for m in shard["report"]["messages"] if m not in messages)
        renamed.extend(shard["report"].get("renamed", []))
    for kind, n in schema_counts.items():
        report[kind] = max(0, report.get(kind, 0) - n * (len(manifests) - 1))
        if not report[kind]:
            del report[kind]
    for kind, n in whole.items():  # the format's counts of the merged files, not of shards
        report[kind] = n
        if not n:
            del report[kind]
    counts["per_class"] = [{"label": k, "objects": v} for k, v in per_class.items()]
    checksums = file_checksums(root, known=known)
    selection = {k: v for k, v in first["selection"].items() if k not in SHARD_KEYS}
    return {**first, "name": packager.export_name(name) if name else None,
            "options": {**first["options"], "package": package.value,
                        "encrypted": password is not None},
            "selection": selection, "counts": counts,
            "report": {"counts": dict(sorted(report.items())), "messages": messages,
                       "renamed": renamed},
            "files": checksums, "content_hash": content_hash(checksums), "shards": len(manifests)}
