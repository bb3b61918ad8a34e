"""Selections applied to any source, before a writer sees it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from labelport.domain.model import ItemRecord
from labelport.domain.source import ExportSource, StreamSource


def restrict_labelsets(source: ExportSource, labelsets: Sequence[str]) -> ExportSource:
    """The same items with only the tasks and annotations of ``labelsets`` (in that order)."""
    wanted = tuple(labelsets)
    order = {name: i for i, name in enumerate(wanted)}

    def records() -> Iterator[ItemRecord]:
        for record in source.records():
            tasks = sorted((t for t in record.tasks if t.labelset in order),
                           key=lambda t: order[t.labelset])
            annotations = tuple(a for a in record.annotations if a.labelset in order)
            yield replace(record, tasks=tuple(tasks), annotations=annotations)

    return StreamSource(project=source.project, schema=source.schema, count=len(source),
                        open_records=records, datasets=source.datasets,
                        labelsets=tuple(ls for ls in source.labelsets if ls.name in order))
