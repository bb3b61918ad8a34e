"""A store's sources start at a position without reading the records before it
(`StreamSource.records_from`, what a shard of a large export reads): the same records as the
whole stream from there, across pages, with another project's items among the ids; the
release's source too. Their items alone (`StreamSource.items`, the pass that plans shards by
file name) are the records' items. A stretch up to a stop reads no page past it."""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import Any

import pytest

from labelport.domain.schema import LabelSchema
from labelport.domain.source import MemorySource, StreamSource
from labelport.store import Store, streaming
from labelport.store.streaming import page_sizes

BoxesFactory = Callable[..., MemorySource]
STARTS = (0, 1, 3, 4, 9, 10, 22, 23, 40)


def keys(records: object) -> list[tuple[str, str, tuple[float, ...]]]:
    return [(r.item.dataset, r.item.path, tuple(a.geometry.y for a in r.annotations))
            for r in records]  # type: ignore[attr-defined]


def test_records_from_a_position_are_the_stream_from_there(
        store: Store, make_boxes: BoxesFactory) -> None:
    for name in ("p", "q"):
        store.create_project(name, LabelSchema())
    store.import_source("p", make_boxes(10, dataset="first"))
    store.import_source("q", make_boxes(5, dataset="other"))  # ids between p's
    store.import_source("p", make_boxes(13, dataset="second"))
    store.create_release("p", "v1", store.source("p"))

    for source in (store.source("p", batch_size=4), store.release_source("p", "v1",
                                                                         batch_size=4)):
        assert isinstance(source, StreamSource) and source.open_from is not None
        whole = keys(source.records())
        assert len(whole) == 23 and whole[10][0] == "second"
        for start in STARTS:
            assert keys(source.records_from(start)) == whole[start:], start
        assert source.open_items is not None
        assert list(source.items()) == [r.item for r in source.records()]
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_source_without_seeking_reads_its_records(make_boxes: BoxesFactory) -> None:
    memory = make_boxes(7)
    source = StreamSource(project=memory.project, schema=memory.schema, count=7,
                          open_records=memory.records)
    assert keys(source.records_from(5)) == keys(memory.items[5:])
    assert list(source.items()) == [r.item for r in memory.items]
    assert keys(source.records_from(2, 4)) == keys(memory.items[2:4])


STRETCHES = ((0, 4), (0, 5), (3, 10), (9, 23), (22, 30), (5, 5), (23, 30))


def test_a_stretch_up_to_a_stop_reads_no_page_past_it(
        store: Store, make_boxes: BoxesFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    store.create_project("p", LabelSchema())
    store.import_source("p", make_boxes(23))
    store.create_release("p", "v1", store.source("p"))
    fetched: list[int] = []  # item rows of each page the project's source reads
    fetch = streaming._RawQuery.fetch

    def recording_fetch(query: Any, conn: Any, **params: Any) -> Any:
        rows = fetch(query, conn, **params)
        if "size" in params:
            fetched.append(len(rows))
        return rows

    monkeypatch.setattr(streaming._RawQuery, "fetch", recording_fetch)
    project = store.source("p", batch_size=4)
    release = store.release_source("p", "v1", batch_size=4)
    whole = keys(project.records())
    for start, stop in STRETCHES:
        fetched.clear()
        assert keys(project.records_from(start, stop)) == whole[start:stop], (start, stop)
        assert sum(fetched) == len(whole[start:stop]), (start, stop)
        assert keys(release.records_from(start, stop)) == whole[start:stop], (start, stop)
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_page_sizes_cut_the_last_page_at_the_count() -> None:
    assert list(islice(page_sizes(4, 10), 5)) == [4, 4, 2, 0, 0]
    assert list(islice(page_sizes(4, 8), 4)) == [4, 4, 0, 0]
    assert list(islice(page_sizes(4, 0), 2)) == [0, 0]
    assert list(islice(page_sizes(4, None), 3)) == [4, 4, 4]
