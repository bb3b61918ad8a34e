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

import io
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import partial
from hashlib import sha256
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from labelport.domain.model import Item, ItemRecord
from labelport.domain.source import ExportSource, MemorySource, StreamSource
from labelport.errors import InputError, LabelportError
from labelport.export import package as packager
from labelport.export.export_type import ExportType
from labelport.export.manifest import MANIFEST_NAME, content_hash, file_checksums, manifest_bytes
from labelport.export.package import PackageKind
from labelport.export.pipeline import prepare
from labelport.export.prepack import Prepacking, prepacking
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
_UNPACKING = 4
"""Shards opened (downloaded, unpacked) at once by a merge."""
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


def rewritten(spec: FormatSpec) -> tuple[str, ...]:
    """The files of a shard its format's merge reads and writes again (`FormatSpec.
    merge_unpacks`): the shard's archive holds them uncompressed, since deflating them
    would be wasted (a COCO shard's JSON: ~0.15 CPU-s per 200k annotations, on the cores the
    other shards need)."""
    return spec.merge_unpacks or ()


def slice_source(source: ExportSource, bounds: list[int]) -> ExportSource:
    """The shard's records: a store's source seeks to the first (`StreamSource.open_from`),
    so a shard reads its own items, not every item before or after them."""
    start, stop = bounds

    def records() -> Iterator[ItemRecord]:
        if isinstance(source, StreamSource):
            return source.records_from(start, stop)
        return islice(source.records(), start, stop)

    return StreamSource(project=source.project, schema=source.schema,
                        count=max(0, min(stop, len(source)) - start), open_records=records,
                        datasets=source.datasets, labelsets=source.labelsets,
                        videos=_videos(source))


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
                        labelsets=source.labelsets, videos=_videos(source))


def _videos(source: ExportSource) -> bool | None:
    return source.videos if isinstance(source, StreamSource) else None


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
    """Merge the shards' archives into the export's archive at ``out``; its counts.
    ``schema_counts`` (`schema_counts`) are counted once, not once per shard, and the
    format's `FormatSpec.merged_report` replaces the sums of its kinds. ``work`` is the
    caller's scratch folder, left for the caller to remove.

    Archive to archive: a file in one shard only (a per-image file) is read from its shard's
    zip into the export's archive, never written to disk, its checksum the shard manifest's
    (its CRC-32 travels with it: a zip reader checks it, inflated here or by the user); into a
    zip without a password, its deflated bytes as they are (`package.Entry.member`); a file in
    several shards is kept once when the same, concatenated in shard order when a list
    (``.txt``); only the files the format's own merge reads (`FormatSpec.merge_reads`) are
    unpacked, under ``work``. Entries come in the packager's order (`package.entry_order`),
    so the archive holds the bytes `package.package` writes from the merged folder."""
    if spec.merge_shards is None:
        raise InputError(f"format {spec.name!r} cannot merge shards: {spec.unshardable}")
    if package is PackageKind.DIR:
        raise InputError("a sharded export is packaged as an archive (zip or tar.gz)")
    for part in parts:  # before any shard is downloaded
        if part.artifact_uri is None:
            raise InputError(f"shard {part.shard} of the export has no artifact to merge")
    work.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        with ThreadPoolExecutor(_UNPACKING, thread_name_prefix="labelport-unpack") as pool:
            # downloads, inflating and writing release the GIL: the shards' at once
            opened = list(pool.map(partial(_open_shard, storage, work=work,
                                           reads=spec.merge_unpacks, stack=stack),
                                   sorted(parts, key=lambda p: p.shard or 0)))
        merged = work / "merged"
        merged.mkdir()
        with _prepacking(merged, work / "prepacked", package, password) as packed:
            handled = set(spec.merge_shards([shard.root for shard in opened], merged))
        entries = {entry.name: packed.entry(entry, stack)
                   for entry in packager.folder_entries(merged)}
        checksums = file_checksums(merged, known=packed.digests())
        holders: dict[str, list[_Shard]] = {}
        for shard in opened:
            for relative in shard.files:
                if relative not in handled:
                    holders.setdefault(relative, []).append(shard)
        for relative, held in holders.items():
            entries[relative], checksums[relative] = _copied(relative, held)
        for folder in {f for shard in opened for f in shard.folders} | _parents(entries):
            entries.setdefault(folder, packager.Entry(name=folder, is_dir=True))
        whole = dict(spec.merged_report(merged)) if spec.merged_report is not None else {}
        manifest = _merged_manifest([shard.manifest for shard in opened], checksums,
                                    plan=plan, whole=whole, schema_counts=schema_counts,
                                    package=package, password=password, name=name)
        document = manifest_bytes(manifest)
        entries[MANIFEST_NAME] = packager.Entry(name=MANIFEST_NAME, is_dir=False,
                                                size=len(document),
                                                open=partial(io.BytesIO, document))
        ordered = sorted(entries.values(), key=lambda entry: packager.entry_order(entry.name))
        packager.write_archive(ordered, package, out, password=password)
    return {**manifest["counts"], "report": manifest["report"]["counts"],
            "content_hash": manifest["content_hash"], "shards": len(parts),
            "encrypted": password is not None}


def _prepacking(merged: Path, scratch: Path, package: PackageKind, password: str | None
                ) -> AbstractContextManager[Prepacking]:
    """The merged files packed as the merge writes them (deflated while it computes them),
    into a zip without a password; for another archive, nothing packed."""
    if package is PackageKind.ZIP and password is None:
        return prepacking(merged, scratch)
    return nullcontext(Prepacking(folder=merged, scratch=scratch))


@dataclass(frozen=True, slots=True)
class _Shard:
    """A shard's archive, open: its manifest, its files' and folders' entries, and the folder
    ``root`` holding the files its format's merge reads (and its summary file beside)."""

    archive: zipfile.ZipFile
    manifest: dict[str, Any]
    files: dict[str, zipfile.ZipInfo]
    folders: set[str]
    root: Path


def _open_shard(storage: ArtifactStorage, part: JobInfo, *, work: Path,
                reads: tuple[str, ...] | None, stack: ExitStack) -> _Shard:
    """Open the shard's archive (where it is, when on this machine's disk: no copy) and unpack
    under ``work`` the files matching ``reads`` (None: every file)."""
    assert part.artifact_uri is not None  # checked by merge
    local = storage.local_path(part.artifact_uri)
    if local is None:
        local = work / f"shard-{part.shard}.zip"
        storage.download(part.artifact_uri, local)
    archive = stack.enter_context(zipfile.ZipFile(local))
    root = work / f"shard-{part.shard}"
    manifest: dict[str, Any] | None = None
    files: dict[str, zipfile.ZipInfo] = {}
    folders: set[str] = set()
    for info in archive.infolist():
        relative = packager.archive_entry_name(info.filename.rstrip("/"))
        if info.is_dir():
            folders.add(relative)
        elif relative == MANIFEST_NAME:
            manifest = orjson.loads(archive.read(info))
        else:
            files[relative] = info
            if reads is None or any(fnmatch(relative, pattern) for pattern in reads):
                target = root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    if manifest is None:
        raise InputError(f"shard {part.shard}'s archive has no {MANIFEST_NAME}")
    root.mkdir(parents=True, exist_ok=True)
    summary_file(root).write_bytes(orjson.dumps({"counts": manifest["counts"],
                                                 "report": manifest["report"]["counts"],
                                                 "options": manifest["options"]}))
    return _Shard(archive=archive, manifest=manifest, files=files, folders=folders, root=root)


def _copied(relative: str, held: list[_Shard]) -> tuple[packager.Entry, str]:
    """The export's entry of a file merged by copying, and its sha256: read from the shard's
    archive when one shard holds it; else in memory, the same bytes in every shard once, a
    list file's (``.txt``) concatenated in shard order."""
    if len(held) == 1:
        shard = held[0]
        info = shard.files[relative]
        return (packager.Entry(name=relative, is_dir=False, size=info.file_size,
                               open=partial(shard.archive.open, info),
                               member=(shard.archive, info)),
                shard.manifest["files"][relative])
    data = held[0].archive.read(held[0].files[relative])
    for shard in held[1:]:
        part = shard.archive.read(shard.files[relative])
        if part != data:
            if not relative.endswith(_LIST_SUFFIX):
                raise InputError(f"shards disagree on {relative!r}; export without sharding")
            data += part
    return (packager.Entry(name=relative, is_dir=False, size=len(data),
                           open=partial(io.BytesIO, data)),
            sha256(data).hexdigest())


def _parents(names: Iterable[str]) -> set[str]:
    """Every folder the entries ``names`` lie in."""
    folders: set[str] = set()
    for name in names:
        parent = name.rpartition("/")[0]
        while parent and parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    return folders


def _merged_manifest(manifests: list[dict[str, Any]], checksums: dict[str, str], *,
                     plan: SplitPlan | None, whole: dict[str, int],
                     schema_counts: dict[str, int], package: PackageKind,
                     password: str | None, name: str | None) -> dict[str, Any]:
    first = manifests[0]
    counts: dict[str, Any] = {"items": 0, "items_without_objects": 0, "annotations": 0,
                              "per_split": {}}
    per_class: dict[str, int] = {}
    report: dict[str, int] = dict(plan.reported.counts) if plan else {}
    messages = dict.fromkeys(plan.reported.messages if plan else ())  # in order, once
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
        messages.update(dict.fromkeys(shard["report"]["messages"]))
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
    selection = {k: v for k, v in first["selection"].items() if k not in SHARD_KEYS}
    return {**first, "name": packager.export_name(name) if name else None,
            "options": {**first["options"], "package": package.value,
                        "encrypted": password is not None},
            "selection": selection, "counts": counts,
            "report": {"counts": dict(sorted(report.items())), "messages": list(messages),
                       "renamed": renamed},
            "files": checksums, "content_hash": content_hash(checksums), "shards": len(manifests)}
