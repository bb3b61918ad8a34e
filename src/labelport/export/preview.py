"""What an export would hold and lose, before it runs: the web app's export dialog shows it so
nobody discovers a loss after the download.

The pipeline's stages (selection, delta, class mapping, split, checks) run over the whole
selection with no writer: the counts per split and class are exact, and so is what the stages
change. What the format converts or drops (rotated boxes written as their envelopes, holes,
keypoints a format cannot carry...) is what its own writer reports, run for real into a
temporary folder, without media, over the first `SAMPLE_ITEMS` records; the preview says when
that was a part of the selection."""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from labelport.domain.model import ItemRecord
from labelport.domain.source import MemorySource
from labelport.export.media import MediaMode
from labelport.export.media_access import MediaAccess
from labelport.export.package import PackageKind
from labelport.export.pipeline import prepare
from labelport.export.request import ExportOptions, plan_export
from labelport.export.run import run_export

if TYPE_CHECKING:
    from labelport.store.repository import Store

SAMPLE_ITEMS = 500
NO_SPLIT = "(no split)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    format: str
    title: str
    items: int
    """Items the export would hold."""
    splits: dict[str, int]
    """Items per split (`NO_SPLIT` when no split is asked)."""
    classes: dict[str, dict[str, int]]
    """Objects per class and split, every class of the schema (zeros included)."""
    stage_changes: dict[str, int]
    """What selection, mapping, split and checks change or drop, over the whole selection."""
    format_changes: dict[str, int]
    """What the format's writer converts or does not carry, over ``written`` items."""
    messages: tuple[str, ...]
    written: int
    """The first items the writer ran over (all of them when equal to ``items``)."""


def preview(store: Store, project: str, chosen: ExportOptions, *, media_access: MediaAccess,
            sample_items: int = SAMPLE_ITEMS) -> Preview:
    """The preview of exporting ``project`` as ``chosen``; nothing is created (a release the
    options would freeze is not), no media is copied and nothing is kept. ``media_access`` is
    what the export's checks may read (as for the export itself)."""
    light = replace(chosen, freeze_release=None, media=MediaMode.NONE, package=PackageKind.DIR,
                    password=None)
    planned = plan_export(store, project, light, media_access=media_access)
    ready = prepare(planned.source, planned.request)
    schema_classes = [c.name for c in ready.source.schema.classes]
    splits: Counter[str] = Counter()
    per_class: dict[str, Counter[str]] = {name: Counter() for name in schema_classes}
    head: list[ItemRecord] = []
    for record in ready.source.records():
        split = record.split or NO_SPLIT
        splits[split] += 1
        for annotation in record.annotations:
            per_class.setdefault(annotation.label, Counter())[split] += 1
        if len(head) < sample_items:
            head.append(record)
    stage_changes = dict(ready.report.counts)
    sample = MemorySource(project=ready.source.project, schema=ready.source.schema,
                          items=tuple(head), datasets=ready.source.datasets,
                          labelsets=ready.source.labelsets)
    request = planned.request
    with tempfile.TemporaryDirectory(prefix="labelport-preview-") as folder:
        result = run_export(sample, planned.spec, Path(folder) / "preview",
                            options=request.options, outside=request.outside,
                            paths=request.paths)
    return Preview(
        format=planned.spec.name, title=planned.spec.title, items=sum(splits.values()),
        splits=dict(splits), classes={name: dict(c) for name, c in per_class.items()},
        stage_changes=stage_changes, format_changes=dict(result.report.counts),
        messages=tuple(ready.report.messages[:20] + result.report.messages[:20]),
        written=len(head))
