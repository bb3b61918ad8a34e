"""Releases in the store, on SQLite and PostgreSQL: created once and never changed, read back
exactly as frozen, numbered, compared, and added by a migration to an existing database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import insert, select

from labelport.domain.geometry import Box
from labelport.domain.model import ItemRecord
from labelport.domain.schema import LabelSchema
from labelport.domain.source import MemorySource
from labelport.errors import InputError, NotFoundError
from labelport.export.releases import delta_source
from labelport.store import Store, open_store
from labelport.store import tables as t
from labelport.store.db import MIGRATIONS, create_store_engine, database_url
from labelport.store.releases import content_hash

BoxesFactory = Callable[..., MemorySource]


def _moved(record: ItemRecord, dx: float) -> ItemRecord:
    """``record`` with its first box shifted: the same item, changed content."""
    first = record.annotations[0]
    box = first.geometry
    assert isinstance(box, Box)
    moved = replace(first, geometry=replace(box, x=box.x + dx))
    return replace(record, annotations=(moved, *record.annotations[1:]))


def test_create_list_and_show(store: Store, every_value: MemorySource) -> None:
    store.create_project("sample", every_value.schema)
    store.import_source("sample", every_value)

    created = store.create_release("sample", "v1.0", store.source("sample"),
                                   description="first", selection={"status": ["labeled"]})

    assert (created.project, created.name, created.version) == ("sample", "v1.0", 1)
    assert (created.items, created.annotations) == (3, 15)
    assert created.description == "first"
    assert created.selection == {"status": ["labeled"]}
    assert created.created_at is not None and created.created_at.tzinfo is not None
    assert store.release("sample", "v1.0") == created
    assert store.list_releases("sample") == [created]
    assert created.to_json()["selection"] == {"status": ["labeled"]}


def test_versions_count_up_per_project(store: Store, make_boxes: BoxesFactory) -> None:
    for project in ("a", "b"):
        store.create_project(project, LabelSchema())
        store.import_source(project, make_boxes(2))
    for name in ("first", "second", "third"):
        store.create_release("a", name, store.source("a"))
    store.create_release("b", "first", store.source("b"))

    assert [(r.name, r.version) for r in store.list_releases("a")] == [
        ("first", 1), ("second", 2), ("third", 3)]
    assert [(r.name, r.version) for r in store.list_releases("b")] == [("first", 1)]


def test_release_source_is_exactly_what_it_froze(store: Store,
                                                  every_value: MemorySource) -> None:
    store.create_project("sample", every_value.schema, description="all kinds")
    store.import_source("sample", every_value)
    frozen = store.source("sample")
    store.create_release("sample", "v1", frozen)

    released = store.release_source("sample", "v1")

    assert released.project == frozen.project
    assert released.schema == frozen.schema
    assert released.datasets == frozen.datasets
    assert released.labelsets == frozen.labelsets
    assert len(released) == len(frozen) == 3
    assert list(released.records()) == list(frozen.records())  # store ids included
    assert list(released.records()) == list(released.records())


def test_splits_and_memory_sources_come_back_equal(store: Store,
                                                   every_value: MemorySource) -> None:
    store.create_project("sample", every_value.schema)
    split = replace(every_value, items=tuple(
        replace(r, split=s) for r, s in zip(every_value.items, ("train", "val", None),
                                            strict=True)))

    store.create_release("sample", "split", split, batch_size=2)

    assert list(store.release_source("sample", "split", batch_size=2).records()) == list(
        split.records())
    assert store.release_hashes("sample", "split") == {
        r.item.key: content_hash(replace(r, split=None)) for r in every_value.records()}


def test_later_imports_never_change_a_release(store: Store, make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema())
    store.import_source("p", make_boxes(3))
    store.create_release("p", "v1", store.source("p"))
    before = list(store.release_source("p", "v1").records())

    store.import_source("p", make_boxes(4, prefix="later"))
    store.create_release("p", "v2", store.source("p"))

    assert len(store.source("p")) == 7
    after = store.release_source("p", "v1")
    assert len(after) == 3 and list(after.records()) == before
    assert store.release("p", "v1").items == 3 and store.release("p", "v2").items == 7


def test_records_stream_in_frozen_order_across_batches(store: Store,
                                                       make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema())
    source = make_boxes(7)
    store.create_release("p", "v1", source, batch_size=3)

    released = list(store.release_source("p", "v1", batch_size=2).records())

    assert released == list(source.records())


def test_diff_lists_added_removed_and_changed(store: Store, make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema())
    old = make_boxes(4)
    kept, moved, gone, _ = old.items
    new_items = (kept, _moved(moved, 1.0), *make_boxes(2, prefix="new").items)
    store.create_release("p", "a", old)
    store.create_release("p", "b", replace(old, items=new_items))

    diff = store.release_diff("p", "a", "b")

    assert diff.added == ("default/new_00000.jpg", "default/new_00001.jpg")
    assert diff.removed == ("default/img_00002.jpg", "default/img_00003.jpg")
    assert diff.changed == ("default/img_00001.jpg",)
    assert diff.unchanged == 1
    reverse = store.release_diff("p", "b", "a")
    assert (reverse.added, reverse.removed, reverse.changed) == (
        diff.removed, diff.added, diff.changed)
    assert store.release_diff("p", "a", "a").to_json() == {
        "from": "a", "to": "a", "added": [], "removed": [], "changed": [], "unchanged": 4}


def test_delta_since_a_release_keeps_added_and_changed(store: Store,
                                                       make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema())
    store.import_source("p", make_boxes(3))
    store.create_release("p", "v1", store.source("p"))
    current = store.source("p")
    records = list(current.records())
    edited = replace(current, count=3, open_records=lambda: [
        records[0], _moved(records[1], 2.0), *make_boxes(1, prefix="new").items])

    delta = delta_source(edited, "v1", store.release_hashes("p", "v1"))

    assert [r.item.key for r in delta.source.records()] == [
        "default/img_00001.jpg", "default/new_00000.jpg"]
    assert len(delta.source) == 2
    assert delta.to_json() == {"since_release": "v1", "added": 1, "changed": 1,
                               "removed": ["default/img_00002.jpg"]}


def test_a_name_is_released_once(store: Store, make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema())
    store.create_release("p", "v1", make_boxes(1))

    with pytest.raises(InputError, match="release 'v1' already exists in project 'p'"):
        store.create_release("p", "v1", make_boxes(2))
    with pytest.raises(InputError, match="needs a name"):
        store.create_release("p", " ", make_boxes(2))
    assert [(r.name, r.items) for r in store.list_releases("p")] == [("v1", 1)]
    assert store.create_release("p", "v2", make_boxes(2)).version == 2


def test_an_item_twice_in_the_selection_is_refused(store: Store,
                                                   make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema())
    twice = make_boxes(1)
    twice = replace(twice, items=twice.items * 2)

    with pytest.raises(InputError, match="appears more than once"):
        store.create_release("p", "v1", twice)
    assert store.list_releases("p") == []


def test_unknown_release_lists_the_valid_ones(store: Store, make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema())
    for name in ("v2", "v1"):
        store.create_release("p", name, make_boxes(1))

    for call in (lambda: store.release("p", "v3"),
                 lambda: store.release_source("p", "v3"),
                 lambda: store.release_diff("p", "v1", "v3"),
                 lambda: store.release_hashes("p", "v3")):
        with pytest.raises(NotFoundError, match="unknown release 'v3'; valid releases: v2, v1"):
            call()
    store.create_project("q", LabelSchema())
    with pytest.raises(NotFoundError, match="valid releases: none yet"):
        store.release("q", "v1")


def test_deleting_a_project_deletes_its_releases(store: Store,
                                                 make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema())
    store.create_release("p", "v1", make_boxes(2))

    store.delete_project("p")

    with store.engine.connect() as conn:
        assert conn.execute(select(t.releases.c.id)).all() == []
        assert conn.execute(select(t.release_items.c.id)).all() == []


def test_migration_adds_releases_to_an_existing_database(db_url: str,
                                                         make_boxes: BoxesFactory) -> None:
    engine = create_store_engine(database_url(db_url))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(insert(t.projects).values(name="old", description="from 0001"))
    engine.dispose()

    store = open_store(db_url)
    try:
        assert store.project("old").description == "from 0001"
        assert store.list_releases("old") == []
        store.import_source("old", make_boxes(2))
        assert store.create_release("old", "v1", store.source("old")).items == 2
    finally:
        store.close()
