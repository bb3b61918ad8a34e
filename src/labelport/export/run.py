"""Run one export: a writer consumes a source into a folder written aside, the manifest is
added, and the folder is moved into place only when complete."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelport.domain.model import ItemRecord
from labelport.domain.source import ExportSource
from labelport.errors import InputError, UnsupportedError
from labelport.export.manifest import (
    MANIFEST_NAME,
    Counts,
    build_manifest,
    file_checksums,
    write_manifest,
)
from labelport.export.media import MediaMode, media_placer
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
        for record in self._inner.records():
            counts.items += 1
            if not record.annotations:
                counts.empty_items += 1
            if record.split is not None:
                counts.per_split[record.split] = counts.per_split.get(record.split, 0) + 1
            for annotation in record.annotations:
                counts.annotations += 1
                counts.per_class[annotation.label] = counts.per_class.get(annotation.label, 0) + 1
            yield record


def run_export(source: ExportSource, spec: FormatSpec, out: Path, *,
               options: Mapping[str, Any] | None = None,
               selection: Mapping[str, Any] | None = None,
               media: MediaMode = MediaMode.NONE,
               outside: OutsidePolicy = OutsidePolicy.CLIP,
               progress: Progress = no_progress) -> ExportResult:
    """Write ``source`` as ``spec`` into the folder ``out``.

    Everything is written into a hidden sibling folder first; ``out`` is replaced only once the
    writer and the manifest have finished, so a failed export never leaves a folder that looks
    complete."""
    if spec.writer is None:
        raise UnsupportedError(f"format {spec.name!r} can be read but not written")
    resolved = spec.resolve_options(options or {})
    out = out.resolve()
    _refuse_foreign_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    started = time.perf_counter()
    try:
        counting = CountingSource(source, source.schema.class_names)
        report = Report()
        ctx = WriteContext(report=report, progress=progress, outside=outside,
                           place_media=media_placer(media, report))
        spec.writer(counting, staging, resolved, ctx)
        checksums = file_checksums(staging)
        pipeline_options = {"media": media.value, "outside": outside.value}
        manifest = build_manifest(spec=spec, options=resolved | pipeline_options,
                                  selection=selection or {},
                                  counts=counting.counts, report=ctx.report, checksums=checksums)
        write_manifest(staging, manifest)
        _publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(path=out, counts=counting.counts, report=ctx.report,
                        files=len(checksums), seconds=time.perf_counter() - started,
                        manifest=manifest)


def _refuse_foreign_folder(out: Path) -> None:
    """Only an empty folder or an earlier export may be replaced: never a user's own files."""
    if out.is_file() or (out.is_dir() and any(out.iterdir())
                         and not (out / MANIFEST_NAME).is_file()):
        raise InputError(f"export path {out} exists and is not an earlier labelport export; "
                         "choose a new or empty folder")


def _publish(staging: Path, out: Path) -> None:
    """Move the finished folder into place, replacing an earlier export at the same path."""
    if out.exists():
        retired = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        out.rename(retired)
        staging.rename(out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out)
