"""Class mapping over the sample project: rename, merge, drop, explicit ids, refused names, the
CLI parsers, and streaming."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelport.domain.geometry import Box
from labelport.domain.model import Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource, StreamSource
from labelport.errors import InputError
from labelport.export.mapping import ClassMapping, apply_mapping, parse_map, read_class_ids
from labelport.export.selection import Selection, select
from labelport.formats.base import Report
from labelport.sample import SCHEMA, build_sample

SAMPLE_CLASSES = ["car", "truck", "traffic sign, temporary", 'lane "dashed"', "building",
                  "tree", "person", "road", "blurry"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> ExportSource:
    """The sample's ground truth (every object, also the model pre-label)."""
    media = tmp_path_factory.mktemp("media")
    return select(build_sample(media), Selection(source="all"), Report())


def classes(source: ExportSource) -> list[tuple[int, str]]:
    return [(c.id, c.name) for c in source.schema.classes]


def labels(source: ExportSource) -> list[str]:
    return [a.label for r in source.records() for a in r.annotations]


def mapped(source: ExportSource, report: Report | None = None,
           **cli: Any) -> ExportSource:
    return apply_mapping(source, ClassMapping.from_cli(**cli), report or Report())


def test_rename_keeps_the_place_and_id(sample: ExportSource) -> None:
    report = Report()
    result = mapped(sample, report, maps=["car=vehicle"])
    assert [n for _, n in classes(result)] == ["vehicle"] + SAMPLE_CLASSES[1:]
    vehicle = result.schema.get("vehicle")
    assert vehicle is not None and vehicle.id == 1 and vehicle.color == "#e6194b"
    assert labels(result) == ["vehicle" if n == "car" else n
                              for n in labels(sample)]
    assert report.counts == {"class mapping: car -> vehicle": 6}
    assert len(result) == len(sample)


def test_merge_into_a_new_name_takes_the_first_class(sample: ExportSource) -> None:
    report = Report()
    result = mapped(sample, report, maps=["tree=green", "building=green"])
    assert classes(result) == [(1, "car"), (2, "truck"), (3, "traffic sign, temporary"),
                               (4, 'lane "dashed"'), (5, "green"), (7, "person"), (8, "road"),
                               (9, "blurry")]
    green = result.schema.get("green")
    assert green is not None and green.color == "#f58231"  # building's, first in the schema
    assert labels(result).count("green") == 2
    assert report.counts == {"class mapping: building -> green": 1,
                             "class mapping: tree -> green": 1}


def test_merge_into_a_kept_class_keeps_that_class(sample: ExportSource) -> None:
    result = mapped(sample, maps=["car=truck"])
    assert classes(result)[:2] == [(2, "truck"), (3, "traffic sign, temporary")]
    assert "car" not in labels(result) and labels(result).count("truck") == 6


def test_each_old_name_is_mapped_once_from_the_original_names(sample: ExportSource) -> None:
    result = mapped(sample, maps=["car=truck", "truck=lorry"])
    assert classes(result)[:2] == [(1, "truck"), (2, "lorry")]
    assert labels(result).count("truck") == 6


def test_drop_removes_the_class_and_counts_its_objects(sample: ExportSource) -> None:
    report = Report()
    result = mapped(sample, report, drops=["road", "car"])
    assert [n for _, n in classes(result)] == [n for n in SAMPLE_CLASSES
                                               if n not in ("road", "car")]
    assert "truck" in result.schema.class_names  # classes no object uses are kept
    assert "road" not in labels(result) and "car" not in labels(result)
    assert report.counts == {"class mapping: dropped car": 6, "class mapping: dropped road": 1}
    assert [r.item.path for r in result.records()] == [r.item.path for r in sample.records()]


def test_class_ids_file(sample: ExportSource, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("# target ids\nvehicle=0\n\n  blurry = 40 \n", encoding="utf-8")
    result = mapped(sample, maps=["car=vehicle", "truck=vehicle"], class_ids=ids)
    assert classes(result) == [(0, "vehicle"), (3, "traffic sign, temporary"),
                               (4, 'lane "dashed"'), (5, "building"), (6, "tree"),
                               (7, "person"), (8, "road"), (40, "blurry")]


def test_class_ids_may_not_collide(sample: ExportSource, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("road=1\n", encoding="utf-8")
    with pytest.raises(InputError, match="classes 'car' and 'road' would share id 1"):
        mapped(sample, class_ids=ids)


def test_class_ids_name_classes_after_the_mapping(sample: ExportSource, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("car=1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"ids.txt: no class 'car' after the mapping; "
                                         r"classes: vehicle, truck"):
        mapped(sample, maps=["car=vehicle"], class_ids=ids)


@pytest.mark.parametrize(("text", "expected"), [
    ("car=1\ntruck=2\n", (("car", 1), ("truck", 2))),
    ("# c\n\n a=b = 3\n", (("a=b", 3),)),
    ("", ()),
])
def test_read_class_ids(tmp_path: Path, text: str, expected: tuple[tuple[str, int], ...]) -> None:
    path = tmp_path / "ids.txt"
    path.write_text(text, encoding="utf-8")
    assert read_class_ids(path) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("car=1\ntruck\n", r"ids.txt:2: 'truck': expected NAME=ID"),
    ("car=-1\n", r"ids.txt:1: 'car=-1': expected NAME=ID with a non-negative integer"),
    ("car=x\n", r"ids.txt:1: 'car=x': expected NAME=ID"),
    ("=3\n", r"ids.txt:1: '=3': expected NAME=ID"),
    ("car=1\n# c\ncar=2\n", r"ids.txt:3: class 'car' is given an id twice"),
])
def test_class_ids_file_errors_name_file_and_line(tmp_path: Path, text: str,
                                                  message: str) -> None:
    path = tmp_path / "ids.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_class_ids(path)


@pytest.mark.parametrize("cli", [{"maps": ["cars=vehicle"]}, {"drops": ["lorry"]}])
def test_unknown_class_names_are_refused_with_the_valid_ones(sample: ExportSource,
                                                             cli: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="no class '(cars|lorry)'; classes: car, truck, "
                                         "traffic sign, temporary"):
        mapped(sample, **cli)


@pytest.mark.parametrize(("cli", "message"), [
    ({"maps": ["car=a", "car=b"]}, "--map 'car' is given more than once"),
    ({"maps": ["car=a"], "drops": ["car"]}, "'car' is both mapped"),
    ({"maps": ["car"]}, "--map 'car': expected OLD=NEW"),
    ({"maps": ["=b"]}, "--map '=b': expected OLD=NEW"),
    ({"maps": ["car="]}, "--map 'car=': expected OLD=NEW"),
])
def test_bad_mappings_are_refused(cli: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        ClassMapping.from_cli(**cli)


def test_parse_map() -> None:
    assert parse_map(" car = vehicle ") == ("car", "vehicle")
    assert parse_map("a=b=c") == ("a", "b=c")


def test_no_mapping_returns_the_source(sample: ExportSource) -> None:
    assert apply_mapping(sample, ClassMapping(), Report()) is sample


def test_to_json(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("vehicle=3\n", encoding="utf-8")
    mapping = ClassMapping.from_cli(maps=["car=vehicle", "truck=vehicle"],
                                    drops=["road", "road"], class_ids=ids)
    assert json.loads(json.dumps(mapping.to_json())) == {
        "map": {"car": "vehicle", "truck": "vehicle"}, "drop": ["road"],
        "class_ids": {"vehicle": 3}, "class_ids_file": str(ids)}


def test_reading_twice_counts_once(sample: ExportSource) -> None:
    report = Report()
    result = mapped(sample, report, drops=["car"])
    assert labels(result) == labels(result)
    assert report.counts == {"class mapping: dropped car": 6}


def test_objects_outside_the_schema_pass_unchanged() -> None:
    record = ItemRecord(item=Item(dataset="d", path="a.png", width=4, height=4),
                        annotations=(Annotation(label="ghost", geometry=Box(x=0, y=0, w=1,
                                                                            h=1)),))
    source = MemorySource(project=ProjectInfo(name="p"), items=(record,),
                          schema=LabelSchema(classes=(LabelClass(id=1, name="car"),)))
    assert labels(mapped(source, maps=["car=vehicle"])) == ["ghost"]


def test_the_stage_streams_one_record_at_a_time() -> None:
    produced = consumed = 0

    def records() -> Iterator[ItemRecord]:
        nonlocal produced
        for i in range(10_000):
            produced += 1
            if produced - consumed > 1:
                raise AssertionError("the mapping read ahead of its consumer")
            yield ItemRecord(item=Item(dataset="d", path=f"{i}.png", width=4, height=4),
                             annotations=(Annotation(label="car", geometry=Box(x=0, y=0, w=1,
                                                                               h=1)),))

    source = StreamSource(project=ProjectInfo(name="big"), schema=SCHEMA, count=10_000,
                          open_records=records)
    result = mapped(source, maps=["car=vehicle"])
    assert len(result) == 10_000 and produced == 0  # the count needs no pass
    for record in result.records():
        consumed = produced
        assert record.annotations[0].label == "vehicle"
    assert consumed == 10_000
