"""StageSource: a stage re-run per read, whose changes reach the report once however many
passes (also interleaved ones) read it, and whose len() is computed once."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from labelport.domain.model import Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelSchema
from labelport.export.stage import PassCounter, Stage, StageReport, StageSource
from labelport.formats.base import Report

RECORDS = tuple(ItemRecord(item=Item(dataset="d", path=f"{i}.png", width=1, height=1))
                for i in range(5))


def odd_only(counter: PassCounter) -> Iterator[ItemRecord]:
    for i, record in enumerate(RECORDS):
        if i % 2 == 0:
            counter.count("filtered: even")
            counter.warn("evens were left out")
            continue
        yield record


def source(report: Report, stage: Stage = odd_only,
           count: Callable[[], int] | None = None) -> StageSource:
    return StageSource(project=ProjectInfo(name="p"), schema=LabelSchema(), datasets=(),
                       labelsets=(), stage=stage, report=StageReport(report), count=count)


def test_interleaved_and_repeated_passes_count_once() -> None:
    report = Report()
    stage = source(report)
    first, second = stage.records(), stage.records()
    pairs = [(a.item.path, b.item.path) for a, b in zip(first, second, strict=True)]
    assert pairs == [("1.png", "1.png"), ("3.png", "3.png")]
    assert list(stage.records())
    assert report.counts == {"filtered: even": 3}
    assert report.messages == ["evens were left out"]


def test_len_counts_a_pass_once_unless_given() -> None:
    passes = 0

    def counted(counter: PassCounter) -> Iterator[ItemRecord]:
        nonlocal passes
        passes += 1
        yield from odd_only(counter)

    stage = source(Report(), counted)
    assert (len(stage), len(stage), passes) == (2, 2, 1)
    assert (len(source(Report(), counted, count=lambda: 7)), passes) == (7, 1)
