"""Selection over the sample project: each filter alone and combined, the defaults (no skipped
tasks, no predictions), the ids file, the CLI parsers, counts by reason, and streaming."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from labelport.domain.geometry import Box
from labelport.domain.model import (
    Annotation,
    Item,
    ItemRecord,
    ProjectInfo,
    Source,
    Task,
    TaskStatus,
)
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource, StreamSource
from labelport.errors import InputError
from labelport.export.selection import (
    Selection,
    parse_date,
    parse_names,
    read_ids,
    select,
)
from labelport.formats.base import Report
from labelport.sample import PREDICTIONS, build_sample

ALL = frozenset(TaskStatus)
TRAIN_POOL = ["street_001.png", "yard_002.jpg", "straße_ü.png", "sub/dir/walker.png",
              "crossing_005.png", "empty_006.png"]
FIELD = ["field_001.jpg", "field_002.png"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return build_sample(tmp_path_factory.mktemp("media"))


def paths(source: ExportSource) -> list[str]:
    return [r.item.path for r in source.records()]


def labels(source: ExportSource) -> list[str]:
    return [a.label for r in source.records() for a in r.annotations]


def run(sample: ExportSource, **options: Any) -> tuple[list[str], Report, ExportSource]:
    report = Report()
    selected = select(sample, Selection(**options), report)
    return paths(selected), report, selected


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, 6, hour, minute, tzinfo=UTC)


def test_default_leaves_out_skipped_tasks_and_predictions(sample: MemorySource) -> None:
    kept, report, selected = run(sample)
    assert kept == TRAIN_POOL + FIELD
    assert len(selected) == 8
    assert report.counts == {"filtered: status skipped": 1,
                             "filtered: prediction (--source human)": 1}
    records = list(selected.records())
    assert all(a.source is Source.HUMAN and a.labelset == "ground-truth"
               for r in records for a in r.annotations)
    assert all(t.labelset == "ground-truth" for r in records for t in r.tasks)
    assert [ls.name for ls in selected.labelsets] == ["ground-truth"]
    assert kept.count("empty_006.png") == 1  # images without objects are kept by default


@pytest.mark.parametrize(("options", "expected"), [
    ({"datasets": ("field",)}, FIELD),
    ({"datasets": ("field", "train-pool")}, TRAIN_POOL + FIELD),
    ({"statuses": frozenset({TaskStatus.REVIEWED})},
     ["street_001.png", "sub/dir/walker.png", "crossing_005.png"]),
    ({"statuses": frozenset({TaskStatus.NEW})}, ["empty_006.png"]),
    ({"statuses": ALL}, TRAIN_POOL + FIELD + ["field_003.jpg"]),
    ({"min_width": 400}, ["street_001.png"]),
    ({"max_width": 400}, TRAIN_POOL[1:] + FIELD),
    ({"min_height": 300}, ["street_001.png"]),
    ({"max_height": 240}, TRAIN_POOL[1:] + FIELD),
    ({"file_types": frozenset({"jpg"})}, ["yard_002.jpg", "field_001.jpg"]),
    ({"file_types": frozenset({".JPEG"})}, ["yard_002.jpg", "field_001.jpg"]),
    ({"file_types": frozenset({"png"})},
     [p for p in TRAIN_POOL + FIELD if p.endswith(".png")]),
    ({"meta": (("camera", "cam-field"),)}, FIELD),
    ({"meta": (("camera", "cam-field"), ("camera", "cam-train-pool"))}, TRAIN_POOL + FIELD),
    ({"meta": (("camera", "cam-field"), ("exposure_ms", "8.5"))}, FIELD),
    ({"meta": (("exposure_ms", "9"),)}, []),
    ({"meta": (("skip_reason", "too dark"),), "statuses": ALL}, ["field_003.jpg"]),
    ({"annotator": "ben"}, ["yard_002.jpg", "crossing_005.png"]),
    ({"annotator": "dmitri"}, FIELD),
    ({"created_after": at(12)},  # inclusive: the walker's task starts at 12:00
     ["sub/dir/walker.png", "crossing_005.png", "empty_006.png"] + FIELD),
    ({"created_before": at(10)}, ["street_001.png"]),  # exclusive: the yard's starts at 10:00
    ({"created_after": at(10), "created_before": at(12)}, ["yard_002.jpg", "straße_ü.png"]),
    ({"updated_after": at(13)}, ["crossing_005.png", "empty_006.png"] + FIELD),
    ({"updated_before": at(10, 15)}, ["street_001.png"]),
    ({"only_annotated": True}, [p for p in TRAIN_POOL + FIELD if p != "empty_006.png"]),
])
def test_item_filters(sample: MemorySource, options: dict[str, Any], expected: list[str]) -> None:
    kept, report, selected = run(sample, **options)
    assert kept == expected
    assert len(selected) == len(expected)
    assert sum(v for k, v in report.counts.items() if not k.startswith("filtered: pred")) \
        == 9 - len(expected)


def test_counts_by_reason(sample: MemorySource) -> None:
    _, report, _ = run(sample, datasets=("train-pool",), min_width=300, only_annotated=True,
                       source="all")
    assert report.counts == {"filtered: dataset not selected": 3,
                             "filtered: image without objects": 1}
    _, report, _ = run(sample, created_after=at(23))
    assert report.counts["filtered: created before --created-after"] == 8


def test_item_without_a_task_counts_as_new(sample: MemorySource) -> None:
    record = replace(sample.items[0], tasks=())
    source = replace(sample, items=(record,))
    assert paths(select(source, Selection(statuses=frozenset({TaskStatus.NEW})), Report())) \
        == ["street_001.png"]
    assert paths(select(source, Selection(statuses=frozenset({TaskStatus.REVIEWED})),
                        Report())) == []


def test_date_filters_fall_back_to_object_times_and_leave_out_undated_items() -> None:
    box = Box(x=1, y=1, w=2, h=2)
    dated = ItemRecord(item=_item("dated.png"), annotations=(
        Annotation(label="car", geometry=box, created_at=datetime(2024, 1, 2)),  # naive: UTC
        Annotation(label="car", geometry=box, created_at=datetime(2024, 1, 1, tzinfo=UTC),
                   updated_at=datetime(2024, 3, 1, tzinfo=UTC))))
    undated = ItemRecord(item=_item("undated.png"),
                         annotations=(Annotation(label="car", geometry=box),))
    source = _memory(dated, undated)
    report = Report()
    selection = Selection(created_before=datetime(2024, 1, 2, tzinfo=UTC),
                          updated_after=datetime(2024, 2, 1, tzinfo=UTC))
    assert paths(select(source, selection, report)) == ["dated.png"]
    assert report.counts == {"filtered: no created time": 1}
    assert paths(select(source, Selection(updated_after=datetime(2024, 3, 2, tzinfo=UTC)),
                        Report())) == []


def test_source_and_min_score(sample: MemorySource) -> None:
    report = Report()
    predictions = select(sample, Selection(labelset=PREDICTIONS, source="model", min_score=0.5),
                         report)
    assert [(r.item.path, a.label, a.score) for r in predictions.records()
            for a in r.annotations] == [("street_001.png", "car", 0.91),
                                        ("crossing_005.png", "road", 0.78)]
    assert report.counts["filtered: prediction below min score"] == 1

    _, report, model_gt = run(sample, source="model")
    assert labels(model_gt) == ["car"]  # the model pre-label accepted into ground truth
    assert report.counts["filtered: human object (--source model)"] == 12

    _, _, everything = run(sample, source="all")
    yard = next(r for r in everything.records() if r.item.path == "yard_002.jpg")
    assert len(yard.annotations) == 4
    _, report, scored = run(sample, source="all", min_score=0.7)
    assert report.counts["filtered: prediction below min score"] == 1
    assert sum(len(r.annotations) for r in scored.records()) == 12


def test_labels_keep_only_objects_of_those_classes(sample: MemorySource) -> None:
    kept, report, selected = run(sample, labels=("car", "traffic sign, temporary"))
    assert kept == TRAIN_POOL + FIELD  # images stay, also those left without objects
    assert labels(selected) == ["car", "traffic sign, temporary", "car", "car", "car", "car"]
    assert report.counts["filtered: class not selected"] == 6


def test_filters_combined(sample: MemorySource) -> None:
    kept, report, selected = run(sample, datasets=("train-pool",), labels=("car",),
                                 only_annotated=True, source="all", max_width=400,
                                 statuses=frozenset({TaskStatus.LABELED, TaskStatus.REVIEWED}))
    assert kept == ["yard_002.jpg", "crossing_005.png"]
    assert labels(selected) == ["car"] * 4
    assert report.counts == {"filtered: dataset not selected": 3,
                             "filtered: image wider than --max-width": 1,
                             "filtered: status new": 1,
                             "filtered: class not selected": 4,
                             "filtered: image without objects": 2}


def test_ids_select_by_store_id_or_key(sample: MemorySource, tmp_path: Path) -> None:
    with_ids = replace(sample, items=tuple(
        replace(r, item=replace(r.item, id=i)) for i, r in enumerate(sample.items, start=1)))
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("# exported by hand\n2\n\n  field/field_002.png \n99\nfield/nope.png\n",
                        encoding="utf-8")
    report = Report()
    selection = Selection.from_cli(ids=ids_file)
    assert selection.ids == {2, "field/field_002.png", 99, "field/nope.png"}
    assert paths(select(with_ids, selection, report)) == ["yard_002.jpg", "field_002.png"]
    assert report.counts == {"filtered: item not in the ids list": 7,
                             "filtered: prediction (--source human)": 1}
    assert report.messages == [f"2 of 4 ids in {ids_file} selected no item"]


@pytest.mark.parametrize(("text", "line"), [
    ("1\nsome name\n", 2),
    ("# ok\n\n-3\n", 3),
    ("1.5\n", 1),
])
def test_ids_file_errors_name_the_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=rf"ids.txt:{line}: .*expected a store item id"):
        read_ids(ids_file)


def test_missing_ids_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the ids file"):
        read_ids(tmp_path / "absent.txt")


@pytest.mark.parametrize(("options", "message"), [
    ({"datasets": ("nowhere",)}, "--dataset 'nowhere': no such dataset; datasets: train-pool"),
    ({"labelset": "gt"}, "no such labelset; labelsets: ground-truth, predictions"),
    ({"labels": ("cars",)}, "--labels 'cars': no such class; classes: car, truck"),
])
def test_unknown_names_are_refused(sample: MemorySource, options: dict[str, Any],
                                   message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        select(sample, Selection(**options), Report())


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-06", datetime(2024, 5, 6, tzinfo=UTC)),
    ("2024-05-06T09:30", datetime(2024, 5, 6, 9, 30, tzinfo=UTC)),
    ("2024-05-06T09:30:00+02:00",
     datetime(2024, 5, 6, 9, 30, tzinfo=timezone(timedelta(hours=2)))),
    ("2024-05-06T07:30:00Z", datetime(2024, 5, 6, 7, 30, tzinfo=UTC)),
])
def test_parse_date(text: str, expected: datetime) -> None:
    parsed = parse_date(text)
    assert parsed == expected and parsed.tzinfo is not None


def test_parse_date_refuses_other_text() -> None:
    with pytest.raises(InputError, match="--created-after '06/05/2024': expected a date"):
        parse_date("06/05/2024", "--created-after")


def test_from_cli_parses_the_cli_strings(tmp_path: Path) -> None:
    selection = Selection.from_cli(
        datasets=["field"], labelset="predictions", statuses=["reviewed,labeled", "new"],
        labels=['car,"traffic sign, temporary"', "road"], annotator="ana",
        created_after="2024-05-06", updated_before="2024-05-07T00:00:00+00:00",
        source="all", min_score=0.5, min_width=10, max_height=2000,
        file_types=["jpg,PNG"], meta=["camera=cam=1"], only_annotated=True)
    assert selection == Selection(
        datasets=("field",), labelset="predictions",
        statuses=frozenset({TaskStatus.REVIEWED, TaskStatus.LABELED, TaskStatus.NEW}),
        labels=("car", "traffic sign, temporary", "road"), annotator="ana",
        created_after=at(0), updated_before=datetime(2024, 5, 7, tzinfo=UTC), source="all",
        min_score=0.5, min_width=10, max_height=2000, file_types=frozenset({"jpg", "png"}),
        meta=(("camera", "cam=1"),), only_annotated=True)
    assert Selection.from_cli() == Selection()
    assert TaskStatus.SKIPPED not in Selection().statuses


@pytest.mark.parametrize(("options", "message"), [
    ({"statuses": ["done"]}, "--status 'done': expected one of new, in_progress"),
    ({"source": "robot"}, "--source 'robot': expected one of human, model, all"),
    ({"meta": ["camera"]}, "--meta 'camera': expected KEY=VALUE"),
    ({"min_width": 500, "max_width": 100}, "--min-width 500 is above --max-width 100"),
    ({"updated_after": "yesterday"}, "--updated-after 'yesterday': expected a date"),
])
def test_from_cli_refuses_bad_values(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        Selection.from_cli(**options)


def test_parse_names_splits_quoted_comma_lists() -> None:
    assert parse_names(['a, b', '"c, d",a', "", "e"]) == ("a", "b", "c, d", "e")


def test_to_json_is_plain_json(tmp_path: Path) -> None:
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("1\ntrain-pool/a.png\n", encoding="utf-8")
    selection = Selection.from_cli(ids=ids_file, created_after="2024-05-06", labels=["car"],
                                   meta=["camera=cam-1"])
    data = json.loads(json.dumps(selection.to_json()))
    assert data["created_after"] == "2024-05-06T00:00:00+00:00"
    assert data["statuses"] == ["in_progress", "labeled", "new", "rejected", "reviewed"]
    assert data["meta"] == ["camera=cam-1"]
    assert data["ids"]["count"] == 2 and data["ids"]["file"] == str(ids_file)
    assert len(data["ids"]["sha256"]) == 64
    assert data["source"] == "human" and data["only_annotated"] is False


def test_reading_twice_counts_once(sample: MemorySource) -> None:
    report = Report()
    selected = select(sample, Selection(), report)
    assert len(selected) == 8  # a counting pass
    first, second = paths(selected), paths(selected)
    assert first == second
    assert report.counts == {"filtered: status skipped": 1,
                             "filtered: prediction (--source human)": 1}


def test_len_needs_no_pass_when_no_item_can_be_left_out(sample: MemorySource) -> None:
    reads = 0

    def records() -> Iterator[ItemRecord]:
        nonlocal reads
        reads += 1
        yield from sample.items

    source = StreamSource(project=sample.project, schema=sample.schema, count=9,
                          open_records=records, labelsets=sample.labelsets)
    assert len(select(source, Selection(statuses=ALL, labels=("car",)), Report())) == 9
    assert reads == 0
    assert len(select(source, Selection(), Report())) == 8
    assert reads == 1


def test_the_stage_streams_one_record_at_a_time() -> None:
    """10,000 records pass through one by one: the selection never reads ahead."""
    produced = consumed = 0

    def records() -> Iterator[ItemRecord]:
        nonlocal produced
        for i in range(10_000):
            produced += 1
            if produced - consumed > 2:  # one filtered record, then the one yielded
                raise AssertionError("the selection read ahead of its consumer")
            status = TaskStatus.SKIPPED if i % 10 == 0 else TaskStatus.LABELED
            yield ItemRecord(item=_item(f"{i}.png"), tasks=(Task(status=status),),
                             annotations=(Annotation(label="car", geometry=Box(x=0, y=0, w=1,
                                                                               h=1)),))

    source = StreamSource(project=ProjectInfo(name="big"), schema=_SCHEMA, count=10_000,
                          open_records=records)
    selected = select(source, Selection(only_annotated=True), Report())
    assert produced == 0  # nothing is read before records are asked for
    for _ in selected.records():
        consumed = produced
    assert produced == 10_000 and consumed == 10_000


_SCHEMA = LabelSchema(classes=(LabelClass(id=1, name="car"),))


def _item(path: str) -> Item:
    return Item(dataset="default", path=path, width=10, height=10)


def _memory(*records: ItemRecord) -> MemorySource:
    return MemorySource(project=ProjectInfo(name="p"), schema=_SCHEMA, items=records)
