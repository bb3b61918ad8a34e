"""What every pipeline stage shares: a source that re-runs the stage over its input each time
its records are read, and a report that counts a change once however often it is read.

A stage is a function from an input's record stream to an output stream; it holds no records,
so memory stays bounded whatever the project's size. A writer (or a split stage's first light
pass, or ``len()``) may read a source more than once: `StageReport` forwards to the export's
report only what goes beyond the counts of an earlier pass, so each change is counted once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from labelport.domain.model import Dataset, ItemRecord, Labelset, ProjectInfo
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource
from labelport.formats.base import Report


class StageReport:
    """One stage's counts across passes over its records: a kind reaches the export's report
    only when a pass has counted it more often than any pass before."""

    def __init__(self, report: Report) -> None:
        self._report = report
        self._reported: Counter[str] = Counter()
        self._warned: set[str] = set()

    def open_pass(self) -> PassCounter:
        return PassCounter(self)

    def _count(self, kind: str, seen: int) -> None:
        if seen > self._reported[kind]:
            self._reported[kind] += 1
            self._report.count(kind)

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self._report.warn(message)


class PassCounter:
    """What one pass counts; passes may interleave without counting anything twice."""

    def __init__(self, owner: StageReport) -> None:
        self._owner = owner
        self._seen: Counter[str] = Counter()

    def count(self, kind: str) -> None:
        self._seen[kind] += 1
        self._owner._count(kind, self._seen[kind])

    def warn(self, message: str) -> None:
        """Warn once, however many passes find the same thing."""
        self._owner._warn(message)


Stage = Callable[[PassCounter], Iterator[ItemRecord]]
"""One pass of a stage over its input, counting what it changes."""


@dataclass(slots=True, kw_only=True)
class StageSource:
    """An `ExportSource` whose records are one pass of ``stage`` over its input.

    ``len()`` is computed on its first call and kept: ``count`` gives it when the stage cannot
    change the number of records (its input's ``len``); with ``count=None`` the source counts a
    pass of its own (bounded memory, one more read of the input, only when ``len()`` is asked).
    ``within``, the input of a stage that adds no record, bounds ``len()`` without that pass
    (`size_bound`)."""

    project: ProjectInfo
    schema: LabelSchema
    datasets: tuple[Dataset, ...]
    labelsets: tuple[Labelset, ...]
    stage: Stage
    report: StageReport
    count: Callable[[], int] | None = None
    within: ExportSource | None = None
    _len: int | None = field(default=None, init=False, repr=False)

    def __len__(self) -> int:
        if self._len is None:
            self._len = self.count() if self.count else sum(1 for _ in self.records())
        return self._len

    def records(self) -> Iterator[ItemRecord]:
        return self.stage(self.report.open_pass())


def size_bound(source: ExportSource) -> int:
    """``len(source)`` when it costs no pass over the records; else, when one is known without
    a pass (`StageSource.within`), an upper bound: a progress total, which counting exactly
    would make an export read every record twice (a default selection leaves out items by
    task status)."""
    if isinstance(source, StageSource) and source._len is None and source.within is not None:
        return size_bound(source.within)
    return len(source)
