"""The import's bulk path (`labelport.store.bulk`): batches already written by executemany or
COPY are rolled back with the rest when a later batch fails, ids taken in blocks follow each
other across imports, the bulk-load settings do not outlive the import, text with a NUL byte
is refused as the engine refuses it, driver errors come as SQLAlchemy's, a plain annotation's
short row takes the table's defaults, and PostgreSQL's foreign keys checked a batch at a time
hold as its triggers would. Annotation batches are inserted on a thread on both databases
(`bulk.Overlapped`): an error there fails the import all the same."""

from __future__ import annotations

import gc
import secrets
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError, OperationalError

from labelport.domain.model import ItemRecord, Source
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import MemorySource, StreamSource
from labelport.errors import InputError
from labelport.store import Store, bulk, importer, open_store, rows, tables

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
        collecting: list[bool] = []
        store.import_source("p", make_boxes(30),
                            progress=lambda _: collecting.append(gc.isenabled()))
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == default
        assert collecting == [False] * 3 and gc.isenabled()
    finally:
        store.close()


def test_the_garbage_collector_is_back_when_the_last_pause_ends() -> None:
    """Imports in two threads overlap: the first to end must not turn it on for the other."""
    first, second = bulk.gc_paused(), bulk.gc_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


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


@pytest.mark.parametrize("position", [15, 29])
def test_an_annotation_batch_that_fails_fails_the_import(
        store: Store, make_boxes: BoxesFactory, position: int) -> None:
    """On PostgreSQL the annotations' COPY runs while the next batch is read: its error still
    ends the import, from a middle batch as from the last one."""
    store.create_project("p", LabelSchema())
    store.import_source("p", make_boxes(5))
    before = _state(store)
    good = make_boxes(30, prefix="new")
    record = good.items[position]
    broken = replace(record, annotations=(
        replace(record.annotations[0], annotator="a\0b"),))
    source = replace(good, items=good.items[:position] + (broken,) + good.items[position + 1:])

    with pytest.raises(InputError, match="text may not hold a NUL byte"):
        store.import_source("p", source)
    assert _state(store) == before


@pytest.mark.parametrize("position", [15, 29])
def test_a_database_error_in_an_overlapped_sqlite_insert_fails_the_import(
        sqlite_url: str, make_boxes: BoxesFactory, position: int) -> None:
    """SQLite's annotation inserts run on a thread too (one JSON statement per batch): a
    database error raised there, in a middle batch or the last, rolls the whole import back."""
    store = open_store(sqlite_url)
    try:
        store.create_project("p", LabelSchema())
        store.import_source("p", make_boxes(5))
        before = _state(store)
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON annotations WHEN (SELECT path FROM "
                f"items WHERE id = NEW.item_id) = 'new_{position:05d}.jpg' "
                "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END")

        with pytest.raises(IntegrityError, match="refused by a trigger"):
            store.import_source("p", make_boxes(30, prefix="new"))
        assert _state(store) == before
    finally:
        store.close()


def test_an_integer_past_64_bits_is_the_inputs_error_on_sqlite(
        sqlite_url: str, make_boxes: BoxesFactory) -> None:
    """SQLite's plain rows go to the database as one JSON text per batch: a number orjson
    cannot encode is refused as the input's, as sqlite3's binding refused it."""
    store = open_store(sqlite_url)
    try:
        store.create_project("p", LabelSchema())
        before = _state(store)
        good = make_boxes(30)
        huge = replace(good.items[15], item=replace(good.items[15].item, width=2**70))
        source = replace(good, items=good.items[:15] + (huge,) + good.items[16:])

        with pytest.raises(InputError, match="a value cannot be stored: Integer exceeds"):
            store.import_source("p", source)
        assert _state(store) == before
    finally:
        store.close()


def test_a_driver_error_is_raised_as_sqlalchemys(store: Store) -> None:
    """As a statement SQLAlchemy runs would raise it, so the CLI and the API handle it."""
    store.create_project("p", LabelSchema())
    project_id = store.list_projects()[0].id
    with store.engine.connect() as conn, conn.begin():
        insert = bulk.BulkInsert(conn, tables.items,
                                 ("project_id", "dataset_id", "path", "width", "height"))
        with pytest.raises(IntegrityError):  # no dataset 999: a foreign key, checked at once
            insert.insert([(project_id, 999, "p.png", 1, 1)])


def test_plain_and_other_annotations_keep_their_order_and_values(
        store: Store, make_boxes: BoxesFactory) -> None:
    """A plain annotation's row is inserted without its default columns, the others with all
    of them: mixed on one item, they come back in the source's order, every value kept."""
    boxes = make_boxes(12, boxes_per_item=5)
    records = tuple(replace(r, annotations=tuple(
        replace(a, score=0.5, source=Source.MODEL) if i % 2 else a
        for i, a in enumerate(r.annotations))) for r in boxes.items)
    source = replace(boxes, items=records)
    store.create_project("p", LabelSchema())
    store.import_source("p", source)

    assert [r.annotations for r in store.source("p").records()] == [
        r.annotations for r in records]


def test_a_short_row_takes_the_defaults_of_a_plain_annotation(
        store: Store, make_boxes: BoxesFactory) -> None:
    """`rows.ANNOTATION_DEFAULTS` are the table's server defaults, which fill a short row."""
    store.create_project("p", LabelSchema())
    store.import_source("p", make_boxes(1))
    with store.engine.begin() as conn:
        _, (item_id, labelset_id, class_id) = _annotation_insert(conn)
        insert = bulk.BulkInsert(conn, tables.annotations, rows.ANNOTATION_FIELDS,
                                 defaults=rows.ANNOTATION_DEFAULTS)
        insert.insert([(item_id, labelset_id, class_id, "none", '{"kind":"none"}', None)])
        stored = conn.execute(text(
            f"SELECT {', '.join(rows.ANNOTATION_FIELDS[6:])} FROM annotations "
            "WHERE kind = 'none'")).one()
    assert tuple(stored) == rows.ANNOTATION_DEFAULTS


def _annotation_insert(conn: Connection) -> tuple[bulk.BulkInsert, tuple[int, int, int]]:
    """A bulk insert of annotations, and the item, labelset and class ids of a stored one."""
    ids = conn.execute(text("SELECT item_id, labelset_id, class_id FROM annotations")).first()
    assert ids is not None
    return bulk.BulkInsert(conn, tables.annotations, rows.ANNOTATION_PLAIN_FIELDS), tuple(ids)


@pytest.mark.postgres
def test_postgres_checks_the_foreign_keys_of_a_copy_a_batch_at_a_time(
        postgres_url: str, make_boxes: BoxesFactory) -> None:
    """The referenced rows must exist and stay locked until the transaction ends: another
    transaction cannot delete a labelset nothing else references yet (its own check would not
    see the uncommitted rows). The triggers are back on after the COPY."""
    store = open_store(postgres_url)
    try:
        store.create_project("p", LabelSchema())
        store.import_source("p", make_boxes(1))
        with store.engine.begin() as conn:
            unused = conn.execute(text(
                "INSERT INTO labelsets (project_id, name, description) "
                "SELECT project_id, 'unused', '' FROM labelsets RETURNING id")).scalar_one()
        with store.engine.begin() as conn:
            insert, (item_id, _, class_id) = _annotation_insert(conn)
            none = ("none", '{"kind":"none"}', None)
            with pytest.raises(IntegrityError, match="no label_classes.id = 999"), \
                    conn.begin_nested():
                insert.insert([(item_id, unused, 999, *none)])
            insert.insert([(item_id, unused, class_id, *none)])
            assert conn.exec_driver_sql("SHOW session_replication_role").scalar() == "origin"
            with store.engine.connect() as other, pytest.raises(OperationalError,
                                                                match="lock timeout"):
                other.exec_driver_sql("SET lock_timeout = '200ms'")
                other.execute(text("DELETE FROM labelsets WHERE id = :id"), {"id": unused})
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_keeps_the_triggers_for_a_role_that_may_not_skip_them(
        postgres_url: str, make_boxes: BoxesFactory) -> None:
    role = f"lp_plain_{secrets.token_hex(4)}"
    owner = open_store(postgres_url)
    with owner.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        conn.exec_driver_sql(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    store = open_store(postgres_url.replace("postgres@", f"{role}@"))
    try:
        store.create_project("p", LabelSchema())
        store.import_source("p", make_boxes(3))
        assert store.project_stats("p").annotations == 3 * 2
        with store.engine.begin() as conn:
            insert, (item_id, labelset_id, _) = _annotation_insert(conn)
            with pytest.raises(IntegrityError, match="violates foreign key constraint"):
                insert.insert([(item_id, labelset_id, 999, "none", '{"kind":"none"}', None)])
    finally:
        store.close()
        with owner.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        owner.close()
