"""The native format: lossless round trips in both variants, and bad input refused with the
file, the place in it and what was expected."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from labelport.domain.model import ItemRecord
from labelport.domain.source import ExportSource, MemorySource, StreamSource
from labelport.errors import InputError
from labelport.formats.base import WriteContext
from labelport.formats.labelport_native import JSON_FILE, JSONL_FILE, read, write

Edit = Callable[[dict[str, Any]], None]


def _write(source: ExportSource, out: Path, *, jsonl: bool) -> Path:
    write(source, out, {"jsonl": jsonl}, WriteContext())
    return out / (JSONL_FILE if jsonl else JSON_FILE)


def _assert_same_project(read_back: ExportSource, original: MemorySource) -> None:
    assert read_back.project == original.project
    assert read_back.schema == original.schema
    assert read_back.datasets == original.datasets
    assert read_back.labelsets == original.labelsets
    assert len(read_back) == len(original)
    for got, want in zip(read_back.records(), original.records(), strict=True):
        assert got == want, want.item.key


@pytest.mark.parametrize("jsonl", [False, True], ids=["json", "jsonl"])
def test_round_trip_keeps_every_field_and_every_byte(sample_source: MemorySource,
                                                     tmp_path: Path, jsonl: bool) -> None:
    first = _write(sample_source, tmp_path / "first", jsonl=jsonl)
    read_back = read(first, {})
    _assert_same_project(read_back, sample_source)

    second = _write(read_back, tmp_path / "second", jsonl=jsonl)
    assert second.read_bytes() == first.read_bytes()


def test_records_with_a_split_and_a_store_id(sample_source: MemorySource, tmp_path: Path) -> None:
    """The split survives; the store's id is never written (identity is dataset + path)."""
    first = next(sample_source.records())
    stored = replace(first, item=replace(first.item, id=42), split="val")
    source = replace(sample_source, items=(stored,))
    (record,) = read(_write(source, tmp_path, jsonl=False), {}).records()
    assert record.split == "val"
    assert record.item.id is None
    assert record == replace(stored, item=replace(stored.item, id=None))


def test_reader_accepts_the_export_folder_and_jsonl_is_lazy(sample_source: MemorySource,
                                                            tmp_path: Path) -> None:
    _write(sample_source, tmp_path, jsonl=True)
    source = read(tmp_path, {"images": None})
    assert isinstance(source, StreamSource)
    assert len(source) == len(sample_source)
    assert list(source.records()) == list(source.records())  # re-readable


def test_empty_project(sample_source: MemorySource, tmp_path: Path) -> None:
    empty = replace(sample_source, items=())
    for jsonl in (False, True):
        path = _write(empty, tmp_path / str(jsonl), jsonl=jsonl)
        json.loads(path.read_text("utf-8").splitlines()[0] if jsonl else path.read_text("utf-8"))
        _assert_same_project(read(path, {}), empty)


def test_writer_reports_progress_and_loses_nothing(sample_source: MemorySource,
                                                    tmp_path: Path) -> None:
    done: list[int] = []
    ctx = WriteContext(progress=done.append)
    write(sample_source, tmp_path, {}, ctx)
    assert done == list(range(1, len(sample_source) + 1))
    assert not ctx.report.counts  # lossless: nothing converted, nothing dropped


def test_writer_refuses_a_label_the_schema_lacks(sample_source: MemorySource,
                                                 tmp_path: Path) -> None:
    first = next(sample_source.records())
    wrong = replace(first, annotations=(replace(first.annotations[0], label="unicorn"),))
    with pytest.raises(InputError, match=r"train-pool/street_001.png.*\$\.annotations\[0\]\.label"
                                         r".*'unicorn'"):
        write(replace(sample_source, items=(wrong,)), tmp_path, {}, WriteContext())


# --- bad input --------------------------------------------------------------------------------


def _edited_json(source: MemorySource, tmp_path: Path, edit: Edit) -> Path:
    """The sample as JSON with ``edit`` applied to the parsed document."""
    path = _write(source, tmp_path, jsonl=False)
    doc = json.loads(path.read_text("utf-8"))
    edit(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return path


def _read_error(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        list(read(path, {}).records())
    message = str(caught.value)
    assert str(path) in message
    return message


def test_truncated_json(sample_source: MemorySource, tmp_path: Path) -> None:
    path = _write(sample_source, tmp_path, jsonl=False)
    path.write_bytes(path.read_bytes()[:5000])
    assert "not valid JSON" in _read_error(path)


def _set(path: str, value: Any) -> Edit:
    """An edit that sets the value at a JSON path given as keys and indices."""
    *parents, last = path

    def edit(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


BAD_ITEMS = [
    pytest.param(("items", 1, "annotations", 1, "geometry", "x"), "ten",
                 "$.items[1].annotations[1].geometry.x", "Expected `float`, got `str`",
                 id="wrong type"),
    pytest.param(("items", 1, "annotations", 0, "geometry"), {"kind": "circle", "r": 3},
                 "$.items[1].annotations[0].geometry", "circle", id="unknown geometry"),
    pytest.param(("items", 1, "annotations", 0, "label"), "unicorn",
                 "$.items[1].annotations[0].label", "label 'unicorn' is not declared",
                 id="unknown label"),
    pytest.param(("items", 1, "annotations", 0, "labelset"), "review-2",
                 "$.items[1].annotations[0].labelset", "'predictions'", id="unknown labelset"),
    pytest.param(("items", 6, "dataset"), "archive", "$.items[6].dataset",
                 "dataset 'archive' is not declared", id="unknown dataset"),
    pytest.param(("items", 0, "tasks", 0, "status"), "done", "$.items[0].tasks[0].status",
                 "Invalid enum value 'done'", id="unknown status"),
    pytest.param(("items", 3, "annotations", 0, "geometry", "points", 2), 7,
                 "$.items[3].annotations[0]", "7 is not a valid Visibility",
                 id="bad keypoint visibility"),
    pytest.param(("items", 2, "atributes"), {}, "$.items[2]", "unknown field `atributes`",
                 id="misspelt key"),
    pytest.param(("items", 0, "tasks", 0, "created_at"), "yesterday",
                 "$.items[0].tasks[0].created_at", "datetime", id="bad timestamp"),
    pytest.param(("version",), 2, "$.version", "version 2 cannot be read", id="newer version"),
    pytest.param(("format",), "coco", "$.format", "not a labelport file", id="not ours"),
]


@pytest.mark.parametrize(("where", "value", "json_path", "expected"), BAD_ITEMS)
def test_bad_json_names_file_path_and_expectation(sample_source: MemorySource, tmp_path: Path,
                                                  where: tuple[Any, ...], value: Any,
                                                  json_path: str, expected: str) -> None:
    message = _read_error(_edited_json(sample_source, tmp_path, _set(where, value)))
    assert f"at {json_path}" in message
    assert expected in message


def test_duplicate_class_names_are_refused(sample_source: MemorySource, tmp_path: Path) -> None:
    def duplicate(doc: dict[str, Any]) -> None:
        doc["schema"]["classes"][1]["name"] = "car"

    assert "class declared more than once: car" in _read_error(
        _edited_json(sample_source, tmp_path, duplicate))


def test_jsonl_bad_line_names_the_line(sample_source: MemorySource, tmp_path: Path) -> None:
    path = _write(sample_source, tmp_path, jsonl=True)
    lines = path.read_text("utf-8").splitlines()
    item = json.loads(lines[3])
    item["width"] = "wide"
    lines[3] = json.dumps(item)
    path.write_text("\n".join(lines) + "\n", "utf-8")

    source = read(path, {})  # items are read lazily: the header is fine
    message = _read_error(path)
    assert "line 4" in message and "at $.width" in message and "Expected `int`" in message
    assert len(source) == len(sample_source)


def test_jsonl_malformed_line_and_unknown_label(sample_source: MemorySource,
                                                tmp_path: Path) -> None:
    path = _write(sample_source, tmp_path, jsonl=True)
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join([*lines[:5], lines[5][:40], *lines[6:]]) + b"\n")
    assert "line 6: not valid JSON" in _read_error(path)

    item = json.loads(lines[1])
    item["annotations"][0]["label"] = "Car"
    path.write_bytes(b"\n".join([lines[0], json.dumps(item).encode(), *lines[2:]]) + b"\n")
    message = _read_error(path)
    assert "line 2: at $.annotations[0].label: label 'Car' is not declared" in message


def test_jsonl_bad_header(sample_source: MemorySource, tmp_path: Path) -> None:
    path = _write(sample_source, tmp_path, jsonl=True)
    lines = path.read_bytes().splitlines()
    header = json.loads(lines[0])
    header["schema"]["classes"][0]["id"] = "one"
    path.write_bytes(b"\n".join([json.dumps(header).encode(), *lines[1:]]) + b"\n")
    expected = r"line 1: at \$\.schema\.classes\[0\]\.id: Expected `int`"
    with pytest.raises(InputError, match=expected):
        read(path, {})


def test_missing_file_and_folder_without_a_project(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "nope.json", {})
    with pytest.raises(InputError, match=JSON_FILE):
        read(tmp_path, {})


def test_jsonl_streams_in_bounded_memory(sample_source: MemorySource, tmp_path: Path) -> None:
    """Write and read 3,000 items lazily: peak memory stays far below the file's size."""
    import tracemalloc

    template = sample_source.items[1]

    def many() -> Iterator[ItemRecord]:
        for i in range(3000):
            yield replace(template, item=replace(template.item, path=f"many/{i:05}.jpg"))

    big = StreamSource(project=sample_source.project, schema=sample_source.schema, count=3000,
                       open_records=many, datasets=sample_source.datasets,
                       labelsets=sample_source.labelsets)
    tracemalloc.start()
    try:
        path = _write(big, tmp_path, jsonl=True)
        source = read(path, {})
        tracemalloc.reset_peak()
        assert sum(1 for _ in source.records()) == 3000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < path.stat().st_size / 10
