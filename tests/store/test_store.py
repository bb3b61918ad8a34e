"""The store, on SQLite and PostgreSQL: what goes in comes back out equal, imports are all or
nothing, records stream by keyset, counts and errors are right."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from labelport.domain.geometry import GeometryKind
from labelport.domain.model import Dataset, Labelset, TaskStatus
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import MemorySource
from labelport.errors import InputError, NotFoundError
from labelport.store import Store, open_store, streaming
from labelport.store.db import MIGRATIONS
from labelport.store.tables import Base

BoxesFactory = Callable[..., MemorySource]


def _without_ids(source: MemorySource | object) -> list[object]:
    return [replace(r, item=replace(r.item, id=None)) for r in source.records()]  # type: ignore[attr-defined]


def test_import_then_stream_gives_back_every_value(store: Store,
                                                    every_value: MemorySource) -> None:
    store.create_project("sample", every_value.schema, description="all kinds")

    summary = store.import_source("sample", every_value)

    assert (summary.items, summary.tasks, summary.annotations) == (3, 3, 15)
    assert summary.classes_added == ()
    source = store.source("sample")
    assert source.project.name == "sample" and source.project.description == "all kinds"
    assert source.schema == every_value.schema
    assert len(source) == 3
    assert source.datasets == every_value.datasets
    assert source.labelsets == every_value.labelsets
    streamed = list(source.records())
    assert [r.item.id for r in streamed] == sorted(r.item.id for r in streamed)
    assert all(r.item.id is not None for r in streamed)
    assert _without_ids(source) == list(every_value.records())
    assert list(source.records()) == streamed  # a source may be read again


def test_labelsets_restrict_tasks_and_annotations(store: Store,
                                                  every_value: MemorySource) -> None:
    store.create_project("sample", every_value.schema)
    store.import_source("sample", every_value)

    source = store.source("sample", labelsets=["model-v1"])

    assert source.labelsets == (Labelset(name="model-v1", description="predictions"),)
    first = next(iter(source.records()))
    assert [t.labelset for t in first.tasks] == ["model-v1"]
    assert {a.labelset for a in first.annotations} == {"model-v1"}
    assert len(first.annotations) == 7
    with pytest.raises(NotFoundError, match="unknown labelset 'nope'.*ground-truth, model-v1"):
        store.source("sample", labelsets=["nope"])


def test_failed_import_leaves_the_store_as_it_was(store: Store,
                                                  make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema(classes=(LabelClass(id=1, name="car"),)))
    store.import_source("p", make_boxes(5))
    before = (store.project_stats("p"), store.project_schema("p"), store.source("p").datasets)
    good = make_boxes(2500, prefix="new", labels=("bus", "tram"), dataset="fresh")
    duplicate = replace(good.items[0], annotations=())
    broken = replace(good, items=good.items + (duplicate,),
                     datasets=(Dataset(name="other"),))

    with pytest.raises(InputError, match="item fresh/new_00000.jpg is already in project 'p'"):
        store.import_source("p", broken)

    after = (store.project_stats("p"), store.project_schema("p"), store.source("p").datasets)
    assert after == before
    assert store.project_stats("p").items == 5


def test_an_item_already_stored_is_refused(store: Store, make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema())
    store.import_source("p", make_boxes(3))

    with pytest.raises(InputError, match="item default/img_00000.jpg is already in project"):
        store.import_source("p", make_boxes(2, prefix="img"))
    assert store.project_stats("p").items == 3


def test_records_stream_by_keyset_across_batches(store: Store, make_boxes: BoxesFactory,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    store.create_project("p", LabelSchema())
    store.import_source("p", make_boxes(10, boxes_per_item=3))
    pages: list[tuple[str, dict[str, Any]]] = []
    fetch = streaming._RawQuery.fetch

    def recording_fetch(query: Any, conn: Any, **params: Any) -> Any:
        rows = fetch(query, conn, **params)
        if "FROM items" in str(query._compiled):
            pages.append((str(query._compiled), {**params, "rows": len(rows)}))
        return rows

    monkeypatch.setattr(streaming._RawQuery, "fetch", recording_fetch)

    records = list(store.source("p", batch_size=3).records())

    assert [r.item.path for r in records] == [f"img_{i:05d}.jpg" for i in range(10)]
    assert [len(r.annotations) for r in records] == [3] * 10
    assert all(r.annotations[0].geometry.y == i for i, r in enumerate(records))  # type: ignore[union-attr]
    ids = [r.item.id for r in records]
    assert [p for _, p in pages] == [
        {"last": 0, "size": 3, "rows": 3}, {"last": ids[2], "size": 3, "rows": 3},
        {"last": ids[5], "size": 3, "rows": 3}, {"last": ids[8], "size": 3, "rows": 1},
        {"last": ids[9], "size": 3, "rows": 0}]
    sql = pages[0][0]
    assert "items.id >" in sql and "LIMIT" in sql
    # SQLAlchemy's SQLite dialect always renders an OFFSET; its value is 0
    assert "OFFSET" not in sql or sql.rstrip().endswith("OFFSET ?")


def test_interleaved_item_ids_of_another_project_stay_out(store: Store,
                                                          make_boxes: BoxesFactory) -> None:
    for name in ("a", "b"):
        store.create_project(name, LabelSchema())
    store.import_source("a", make_boxes(4, prefix="a1"))
    store.import_source("b", make_boxes(4, prefix="b"))
    store.import_source("a", make_boxes(4, prefix="a2"))

    records = list(store.source("a", batch_size=3).records())

    assert [r.item.path[:2] for r in records] == ["a1"] * 4 + ["a2"] * 4
    assert [len(r.annotations) for r in records] == [2] * 8
    assert all(len(r.tasks) == 1 for r in records)


def test_stats_count_items_annotations_and_tasks_with_zeros(
        store: Store, every_value: MemorySource) -> None:
    store.create_project("sample", every_value.schema)
    store.import_source("sample", every_value)

    stats = store.project_stats("sample")

    assert stats.items_per_dataset == {"städte": 2, "default": 1, "leer": 0}
    assert list(stats.annotations_per_class) == list(every_value.schema.class_names)
    assert stats.annotations_per_class == {"car": 3, "boat": 2, "straße": 2, "lane": 2,
                                           "person": 2, "sky": 2, "night": 2, "unused": 0}
    assert stats.tasks_per_status == {s.value: 0 for s in TaskStatus} | {
        "reviewed": 1, "labeled": 1, "new": 1}
    assert (stats.items, stats.annotations) == (3, 15)


def test_unknown_project_lists_the_valid_names(store: Store, make_boxes: BoxesFactory) -> None:
    with pytest.raises(NotFoundError, match="valid projects: none yet"):
        store.project("nope")
    store.create_project("zebra", LabelSchema())
    store.create_project("alpha", LabelSchema())

    calls = [store.project, store.project_schema, store.project_stats, store.source,
             store.delete_project, lambda name: store.import_source(name, make_boxes(1))]
    for call in calls:
        with pytest.raises(NotFoundError, match="unknown project 'nope'; valid projects: "
                                                "alpha, zebra"):
            call("nope")


def test_class_ids_stay_stable_when_sources_add_classes(store: Store,
                                                        make_boxes: BoxesFactory) -> None:
    store.create_project("p", LabelSchema(classes=(
        LabelClass(id=1, name="cat"), LabelClass(id=2, name="dog"))))
    incoming = LabelSchema(classes=(
        LabelClass(id=1, name="bird", geometry=GeometryKind.POLYGON, color="#00ff00"),
        LabelClass(id=5, name="cat")))

    summary = store.import_source(
        "p", make_boxes(3, labels=("fish", "cat"), schema=incoming))
    store.import_source("p", make_boxes(1, prefix="more", labels=("ant",)))

    assert summary.classes_added == ("bird", "fish")
    assert store.project_schema("p").classes == (
        LabelClass(id=1, name="cat"), LabelClass(id=2, name="dog"),
        LabelClass(id=3, name="bird", geometry=GeometryKind.POLYGON, color="#00ff00"),
        LabelClass(id=4, name="fish"), LabelClass(id=5, name="ant"))


def test_dataset_override_and_new_classifications(store: Store,
                                                  every_value: MemorySource) -> None:
    store.create_project("p", LabelSchema())

    summary = store.import_source("p", every_value, dataset="all")

    assert summary.datasets_added == ("all",)
    assert summary.classifications_added == ("weather", "note")
    assert store.project_schema("p").classifications == every_value.schema.classifications
    assert {r.item.dataset for r in store.source("p").records()} == {"all"}
    assert store.project_stats("p").items_per_dataset == {"all": 3}


def test_list_and_delete_projects(store: Store, every_value: MemorySource) -> None:
    store.create_project("b", every_value.schema, description="second")
    store.create_project("a", LabelSchema())
    store.import_source("b", every_value)
    with pytest.raises(InputError, match="project 'a' already exists"):
        store.create_project("a", LabelSchema())

    listed = store.list_projects()

    assert [(p.name, p.description, p.items) for p in listed] == [("a", "", 0),
                                                                    ("b", "second", 3)]
    assert all(p.created_at is not None for p in listed)
    store.delete_project("b")
    assert [p.name for p in store.list_projects()] == ["a"]
    store.create_project("b", LabelSchema())
    assert store.project_stats("b").items == 0


def test_migrations_create_exactly_the_mapped_tables(db_url: str) -> None:
    opened = open_store(db_url)
    try:
        with opened.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        opened.close()
    assert diffs == []


def test_annotations_stored_before_0008_read_the_same_after_it(
        db_url: str, every_value: MemorySource) -> None:
    """0008 gives annotation columns server defaults (SQLite rebuilds the table): rows kept."""
    store = open_store(db_url)
    store.create_project("p", every_value.schema)
    store.import_source("p", every_value)
    before = list(store.source("p").records())
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007_delivery")
    store.close()
    again = open_store(db_url)
    try:
        assert list(again.source("p").records()) == before
    finally:
        again.close()


def test_opening_again_keeps_the_data(db_url: str, make_boxes: BoxesFactory) -> None:
    first = open_store(db_url)
    first.create_project("p", LabelSchema())
    first.import_source("p", make_boxes(2))
    first.close()

    again = open_store(db_url)
    try:
        assert again.project_stats("p").items == 2
    finally:
        again.close()
