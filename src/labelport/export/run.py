"""Run one export: a writer consumes a source into a folder written aside, the manifest is
added, and the packager publishes it (a folder moved into place, or an archive renamed into
place) only when complete."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from labelport.domain.model import ItemRecord
from labelport.domain.source import ExportSource
from labelport.errors import InputError, UnsupportedError
from labelport.export import package as packager
from labelport.export.export_type import ExportType, verify_by_dataset, write_as
from labelport.export.frame_pool import FramePool
from labelport.export.manifest import Counts, build_manifest, file_checksums, write_manifest
from labelport.export.media import MediaMode, PathMode, media_placer, media_referencer
from labelport.export.media_access import MediaAccess
from labelport.export.package import PackageKind, PackageResult
from labelport.export.verify import refuse_unverifiable, verify_export
from labelport.formats._shared.file_sink import FileSink
from labelport.formats.base import (
    FormatSpec,
    OutsidePolicy,
    Progress,
    Report,
    WriteContext,
    no_progress,
)


@dataclass(slots=True)
class ExportResult:
    path: Path
    counts: Counts
    report: Report
    files: int
    seconds: float
    manifest: dict[str, Any]
    package: PackageResult

_label = attrgetter("label")


class CountingSource:
    """Wraps a source and counts what the writer reads; each pass starts the counts afresh, so
    a writer that reads twice is counted once."""

    def __init__(self, inner: ExportSource, class_names: tuple[str, ...]) -> None:
        self._inner = inner
        self._class_names = class_names
        self.project = inner.project
        self.schema = inner.schema
        self.datasets = inner.datasets
        self.labelsets = inner.labelsets
        self.counts = Counts()

    def __len__(self) -> int:
        return len(self._inner)

    def records(self) -> Iterator[ItemRecord]:
        counts = Counts(per_class=dict.fromkeys(self._class_names, 0))
        self.counts = counts
        labels: Counter[str] = Counter()  # counted in C; added to per_class as each pass ends
        try:
            for record in self._inner.records():
                counts.items += 1
                if not record.annotations:
                    counts.empty_items += 1
                if record.split is not None:
                    counts.per_split[record.split] = counts.per_split.get(record.split, 0) + 1
                counts.annotations += len(record.annotations)
                labels.update(map(_label, record.annotations))
                yield record
        finally:
            for label, n in labels.items():
                counts.per_class[label] = counts.per_class.get(label, 0) + n


def run_export(source: ExportSource, spec: FormatSpec, out: Path, *,
               options: Mapping[str, Any] | None = None,
               selection: Mapping[str, Any] | None = None,
               media: MediaMode = MediaMode.NONE,
               paths: PathMode = PathMode.RELATIVE,
               outside: OutsidePolicy = OutsidePolicy.CLIP,
               package: PackageKind = PackageKind.DIR,
               password: str | None = None,
               stored: tuple[str, ...] = (),
               name: str | None = None,
               report: Report | None = None,
               summaries: Mapping[str, Mapping[str, Any]] | None = None,
               progress: Progress = no_progress,
               media_access: MediaAccess | None = None,
               verify: bool = False,
               export_type: ExportType = ExportType.ANNOTATIONS) -> ExportResult:
    """Write ``source`` as ``spec`` into ``out``: a folder, or the archive file ``package`` names.

    Everything is written into a hidden sibling folder first; ``out`` is replaced only once the
    writer, the manifest and the packager have finished, so a failed export never leaves an
    artifact that looks complete. ``name`` is sanitised (`package.export_name`) and recorded.
    ``report`` collects what earlier stages changed; ``summaries`` are their manifest sections
    (``class_mapping``, ``splits``, ``checks``). ``media_access`` says which media may be read
    (default: the user's own machine; the service passes its `MediaAccess`). ``verify`` reads
    the staged artifact back with the format's reader and compares it with ``source`` before
    anything is published (`labelport.export.verify`). ``export_type`` says whether the export
    holds the annotations, the images, or both (`labelport.export.export_type`). ``stored``
    names files an archive holds uncompressed (`package.package`)."""
    if spec.writer is None:
        raise UnsupportedError(f"format {spec.name!r} can be read but not written")
    resolved = spec.resolve_options(options or {})
    if verify:
        refuse_unverifiable(spec)
        if export_type is ExportType.DATASETS:
            raise InputError("--verify reads annotations back, and an export of "
                             "--export-type datasets has none")
    if export_type is not ExportType.ANNOTATIONS and media is MediaMode.NONE:
        media = MediaMode.COPY  # the images are what such an export is for
    packager.refuse_impossible(package, media=media, paths=paths, password=password)
    export_name = packager.export_name(name) if name is not None else None
    out = out.resolve()
    packager.refuse_foreign_target(out, package)
    out.parent.mkdir(parents=True, exist_ok=True)
    packager.remove_leftovers(out.parent, out.name)  # of earlier exports here that were killed
    staging = packager.beside(out, "partial")
    staging.mkdir()
    started = time.perf_counter()
    try:
        counting = CountingSource(source, source.schema.class_names)
        report = report if report is not None else Report()
        with FileSink(background=True) as files, FramePool() as frames:
            ctx = WriteContext(report=report, progress=progress, outside=outside,
                               place_media=media_placer(media, report, media_access,
                                                        frames=frames),
                               media_reference=media_referencer(media, paths, staging=staging,
                                                                published=out, report=report),
                               files=files)
            sizes = write_as(export_type, spec, counting, source, staging, resolved, ctx)
            frames.close()  # every frame written (or the first failure raised)
            written = files.close()
        checked: dict[str, Any] = {"options": resolved, "report": ctx.report,
                                   "outside": outside, "media_access": media_access}
        verification = None if not verify else verify_by_dataset(
            source, spec, staging, sizes, **checked) if sizes else verify_export(
            source, spec, staging, media_in_export=media is not MediaMode.NONE, **checked)
        checksums = file_checksums(staging, known=written)
        del written  # a digest per file: not held through the manifest and the packaging
        pipeline_options = {"media": media.value, "paths": paths.value,
                            "outside": outside.value, "package": package.value,
                            "encrypted": password is not None,
                            "export_type": export_type.value}
        manifest = build_manifest(spec=spec, options=resolved | pipeline_options,
                                  selection=selection or {}, name=export_name,
                                  counts=counting.counts, report=ctx.report, checksums=checksums,
                                  verification=verification.to_json() if verification else None,
                                  **(summaries or {}))
        write_manifest(staging, manifest)
        packaged = packager.package(staging, package, out, password=password, stored=stored)
    finally:
        if staging.exists():  # an archive was written from it, or the export failed
            shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(path=out, counts=counting.counts, report=ctx.report,
                        files=len(checksums), seconds=time.perf_counter() - started,
                        manifest=manifest, package=packaged)
