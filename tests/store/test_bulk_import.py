"""The import's bulk path (`labelport.store.bulk`): batches already written by executemany or
COPY are rolled back with the rest when a later batch fails, ids taken in blocks follow each
other across imports, the bulk-load settings do not outlive the import, text with a NUL byte
is refused as the engine refuses it, and driver errors come as SQLAlchemy's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from labelport.domain.model import ItemRecord
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import MemorySource, StreamSource
from labelport.errors import InputError
from labelport.store import Store, bulk, importer, open_store, tables

BoxesFactory = Callable[..., MemorySource]


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 10 items, so a 50-item import writes several before it fails."""
    monkeypatch.setattr(importer, "ITEMS_PER_BATCH", 10)


def _failing_after(source: MemorySource, count: int) -> StreamSource:
    """``source``'s records, then a reader's error after ``count`` of them."""
    def records() -> Iterator[ItemRecord]:
        yield from source.items[:count]
        raise InputError("instances.json: annotations[7]: bbox is not a list")

    return StreamSource(project=source.project, schema=source.schema, count=len(source.items),
                        open_records=records)


def _state(store: Store) -> tuple[object, ...]:
    with store.engine.connect() as conn:
        counts = tuple(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                       for table in ("items", "tasks", "annotations", "label_classes"))
    return counts, store.project_stats("p"), store.project_schema("p")


def test_a_failure_after_written_batches_leaves_the_store_as_it_was(
        store: Store, make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema(classes=(LabelClass(id=1, name="car"),)))
    store.import_source("p", make_boxes(5))
    before = _state(store)
    good = make_boxes(50, prefix="new", labels=("bus", "tram"))

    with pytest.raises(InputError, match=r"annotations\[7\]: bbox"):
        store.import_source("p", _failing_after(good, 45))
    assert _state(store) == before

    duplicate = replace(good, items=good.items + (good.items[3],))
    with pytest.raises(InputError, match="item default/new_00003.jpg is already in project"):
        store.import_source("p", duplicate)
    assert _state(store) == before


def test_ids_taken_in_blocks_follow_each_other_across_imports_and_projects(
        store: Store, make_boxes: BoxesFactory) -> None:
    for name in ("p", "q"):
        store.create_project(name, LabelSchema())
    store.import_source("p", make_boxes(25))
    store.import_source("q", make_boxes(25))
    store.import_source("p", make_boxes(25, prefix="more"))

    keys = [(r.item.id, r.item.path, [a.geometry for a in r.annotations])
            for r in store.source("p").records()]
    ids = [k[0] or 0 for k in keys]
    assert len(set(ids)) == 50 and ids == sorted(ids) and min(ids) > 0
    assert [k[1] for k in keys] == ([f"img_{i:05d}.jpg" for i in range(25)]
                                    + [f"more_{i:05d}.jpg" for i in range(25)])
    expected = [[a.geometry for a in r.annotations] for r in make_boxes(25).records()] * 2
    assert [k[2] for k in keys] == expected


def test_the_bulk_load_settings_end_with_the_import(tmp_path: Path,
                                                    make_boxes: BoxesFactory) -> None:
    store = open_store(str(tmp_path / "one.db"))
    try:
        store.create_project("p", LabelSchema())
        with store.engine.connect() as conn:
            default = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        store.import_source("p", make_boxes(30))
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == default
    finally:
        store.close()


def test_text_with_a_nul_byte_is_refused_before_the_database(
        store: Store, make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema())
    store.import_source("p", make_boxes(5))
    before = _state(store)
    good = make_boxes(30, prefix="new")
    broken = replace(good.items[25], item=replace(good.items[25].item, path="a\0b.jpg"))
    source = replace(good, items=good.items[:25] + (broken,))

    with pytest.raises(InputError, match="text may not hold a NUL byte: 'a\\\\x00b.jpg'"):
        store.import_source("p", source)
    assert _state(store) == before


def test_a_driver_error_is_raised_as_sqlalchemys(store: Store) -> None:
    """As a statement SQLAlchemy runs would raise it, so the CLI and the API handle it."""
    store.create_project("p", LabelSchema())
    project_id = store.list_projects()[0].id
    with store.engine.connect() as conn, conn.begin():
        insert = bulk.BulkInsert(conn, tables.items,
                                 ("project_id", "dataset_id", "path", "width", "height"))
        with pytest.raises(IntegrityError):  # no dataset 999: a foreign key, checked at once
            insert.insert([(project_id, 999, "p.png", 1, 1)])
