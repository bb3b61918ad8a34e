"""Streaming a project page by page (`labelport.store.streaming`), with PostgreSQL's page
fetched ahead in a thread: records in item-id order across pages, and a reader that stops
early leaves no connection checked out (the page being fetched is waited for)."""

from __future__ import annotations

import gc
from collections.abc import Callable

from labelport.domain.schema import LabelSchema
from labelport.domain.source import MemorySource
from labelport.store import Store

BoxesFactory = Callable[..., MemorySource]


def test_pages_give_every_record_in_order_and_an_early_stop_releases_the_connection(
        store: Store, make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema())
    store.import_source("p", make_boxes(23, boxes_per_item=3))

    records = list(store.source("p", batch_size=4).records())
    assert [r.item.path for r in records] == [f"img_{i:05d}.jpg" for i in range(23)]
    assert [[a.geometry.y for a in r.annotations] for r in records] == (  # type: ignore[union-attr]
        [[float(i)] * 3 for i in range(23)])

    stream = store.source("p", batch_size=4).records()
    assert next(stream).item.path == "img_00000.jpg"
    del stream
    gc.collect()
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
