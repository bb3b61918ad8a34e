"""Label Studio without a server (the server tests are in `test_labelstudio_server`): where the
annotator goes, the ``image_root`` references, what a file without its config implies, and
JSON_MIN read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelport.domain.geometry import Box, GeometryKind, Keypoint, Keypoints, Visibility
from labelport.domain.model import Annotation, Item, ItemRecord, ProjectInfo, Task, TaskStatus
from labelport.domain.schema import AttributeType, ClassificationKind, LabelClass, LabelSchema
from labelport.domain.source import MemorySource
from labelport.errors import InputError
from labelport.formats.base import WriteContext
from labelport.formats.labelstudio._references import (
    check_image_root,
    image_reference,
    reference_file_name,
)
from labelport.formats.labelstudio.tasks import read, read_min, write, write_min


def _one_task(out: Path) -> dict[str, Any]:
    (task,) = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return dict(task)


def _source(*annotations: Annotation, assignee: str | None = "ana",
            schema: LabelSchema | None = None) -> MemorySource:
    return MemorySource(
        project=ProjectInfo(name="p"),
        schema=schema or LabelSchema(classes=(LabelClass(id=1, name="car"),)),
        items=(ItemRecord(item=Item(dataset="default", path="a/b c.png", width=100, height=50),
                          tasks=(Task(status=TaskStatus.LABELED, assignee=assignee),),
                          annotations=annotations),))


CAR = Annotation(label="car", geometry=Box(x=10, y=10, w=20, h=10))


def test_annotator_goes_to_the_task_meta_by_default(tmp_path: Path) -> None:
    write(_source(CAR), tmp_path, {}, WriteContext())
    task = _one_task(tmp_path)
    assert "completed_by" not in task["annotations"][0]
    assert task["meta"] == {"annotators": ["ana"]}
    (record,) = read(tmp_path, {}).records()
    assert record.tasks[0].assignee == "ana" and record.annotations[0].annotator == "ana"


def test_annotator_as_completed_by_email_on_request(tmp_path: Path) -> None:
    write(_source(CAR, assignee="ana@example.com"), tmp_path, {"annotators": "email"},
          WriteContext())
    task = _one_task(tmp_path)
    assert task["annotations"][0]["completed_by"] == {"email": "ana@example.com"}
    assert "meta" not in task


def test_json_min_takes_the_annotator_from_the_meta(tmp_path: Path) -> None:
    write_min(_source(CAR), tmp_path, {}, WriteContext())
    assert _one_task(tmp_path)["annotator"] == "ana"


@pytest.mark.parametrize(("root", "expected"), [  # the item's folder a/ is kept under images/
    ("/data/local-files/?d=exports/run 1",
     "/data/local-files/?d=exports/run%201/images/a/b%20c.png"),
    ("/data/local-files/?d=", "/data/local-files/?d=images/a/b%20c.png"),
    ("/data/upload/3/", "/data/upload/3/b%20c.png"),  # the name Label Studio stored
    ("s3://bucket/exports", "s3://bucket/exports/images/a/b%20c.png"),
    ("https://cdn.example.com/x", "https://cdn.example.com/x/images/a/b%20c.png"),
])
def test_image_root_references(tmp_path: Path, root: str, expected: str) -> None:
    assert image_reference(check_image_root(root), "images/a/b c.png",
                           file_name="b c.png") == expected
    write(_source(CAR), tmp_path, {"image_root": root}, WriteContext())
    assert _one_task(tmp_path)["data"]["image"] == expected
    assert reference_file_name(expected) == "b c.png"


@pytest.mark.parametrize("root", ["/data/local-files/?d=/abs", "/data/local-files/?d=a/../..",
                                  "images", "ftp://host/x", "/data/upload/", "file:///tmp"])
def test_image_root_label_studio_cannot_resolve_is_refused(root: str) -> None:
    with pytest.raises(InputError, match="image_root"):
        check_image_root(root)


def _ls_file(tmp_path: Path, tasks: list[dict[str, Any]]) -> Path:
    file = tmp_path / "export.json"
    file.write_text(json.dumps(tasks), encoding="utf-8")
    return file


def _person(task_id: int, points: list[tuple[str, float, dict[str, Any] | None]],
            extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    size = {"original_width": 100, "original_height": 100}
    results: list[dict[str, Any]] = [
        {"id": "p", "type": "rectanglelabels", "from_name": "box", "to_name": "img", **size,
         "value": {"x": 0, "y": 0, "width": 50, "height": 50, "rectanglelabels": ["person"]}}]
    for k, (name, x, meta) in enumerate(points):
        point: dict[str, Any] = {
            "id": f"k{k}", "parentID": "p", "type": "keypointlabels", "from_name": "kp",
            "to_name": "img", **size,
            "value": {"x": x, "y": x, "width": 1, "keypointlabels": [name]}}
        if meta:
            point["meta"] = meta
        results.append(point)
    return {"id": task_id, "data": {"image": f"{task_id}.png"},
            "annotations": [{"id": task_id, "result": results + (extra or [])}]}


def test_without_config_keypoint_names_are_first_seen_and_values_typed(tmp_path: Path) -> None:
    attributes = [
        {"id": "p", "type": "choices", "from_name": "person: occluded", "to_name": "img",
         "value": {"choices": ["true"]}},
        {"id": "p", "type": "number", "from_name": "person: age", "to_name": "img",
         "value": {"number": 31}},
        {"id": "q", "type": "choices", "from_name": "hazards", "to_name": "img",
         "value": {"choices": ["glare", "ice"]}},
        {"id": "n", "type": "textarea", "from_name": "notes", "to_name": "img",
         "value": {"text": ["ok"]}}]
    file = _ls_file(tmp_path, [
        _person(1, [("nose", 10, None), ("tail", 20, {"text": ["occluded"]})], attributes),
        _person(2, [("paw", 30, None), ("nose", 40, None)])])
    source = read(file, {})
    person = source.schema.get("person")
    assert person is not None and person.geometry is GeometryKind.KEYPOINTS
    assert person.keypoint_names == ("nose", "tail", "paw")
    assert {a.name: a.type for a in person.attributes} == {
        "occluded": AttributeType.BOOL, "age": AttributeType.INT}
    assert {d.name: (d.kind, d.options) for d in source.schema.classifications} == {
        "hazards": (ClassificationKind.CHECKBOX, ("glare", "ice")),
        "notes": (ClassificationKind.TEXT, ())}
    first, second = (r.annotations[0] for r in source.records())
    assert first.attributes == {"occluded": True, "age": 31}
    assert isinstance(first.geometry, Keypoints) and isinstance(second.geometry, Keypoints)
    assert first.geometry.points == (
        Keypoint(x=10, y=10), Keypoint(x=20, y=20, v=Visibility.OCCLUDED),
        Keypoint(x=0, y=0, v=Visibility.NOT_LABELED))
    assert second.geometry.points == (
        Keypoint(x=40, y=40), Keypoint(x=0, y=0, v=Visibility.NOT_LABELED),
        Keypoint(x=30, y=30))
    # The inferred schema carries everything into the next export.
    ctx = WriteContext()
    write(source, tmp_path / "again", {}, ctx)
    assert not [k for k in ctx.report.counts if "schema does not define" in k]


def test_json_min_round_trip_with_its_config(sample_source: MemorySource,
                                             tmp_path: Path) -> None:
    write_min(sample_source, tmp_path, {}, WriteContext())
    back = read_min(tmp_path, {})
    records = {r.item.path: r for r in back.records()}
    assert set(records) == {r.item.path for r in sample_source.records()}
    for want in sample_source.records():
        have = records[want.item.path]
        assert (have.item.width, have.item.height, have.item.dataset) == (
            want.item.width, want.item.height, want.item.dataset)
        labelled = [t for t in want.tasks if t.status is not TaskStatus.NEW
                    and t.labelset == "ground-truth"]
        assert [t.classifications for t in have.tasks if t.status is not TaskStatus.NEW] == [
            t.classifications for t in labelled]
        assert [t.assignee for t in have.tasks if t.status is TaskStatus.LABELED] == [
            t.assignee for t in labelled if t.status is not TaskStatus.SKIPPED]
    street = records["street_001.png"]
    boxes = [a for a in street.annotations if a.label == "car"]
    assert boxes and all(isinstance(a.geometry, Box) for a in boxes)
    assert boxes[0].attributes["occluded"] is False  # typed by the config


@pytest.mark.parametrize(("content", "where"), [
    ('{"id": 1}', "at $: expected a list of JSON_MIN rows"),
    ('[{"image": "a.png", "width": 4, "height": 4, "id": 1, "annotation_id": 1, '
     '"box": [{"x": 1, "rectanglelabels": ["a"]}]}]', "Object missing required field `y`"),
    ('[{"image": "a.png", "width": 4, "height": 4, "id": 1, "annotation_id": 1, '
     '"box": [{"x": 1, "y": 1, "width": 1, "height": 1, "rectanglelabels": "a"}]}]',
     "at $[0].box[0]: expected a region value with its labels"),
    ('[{"id": 1, "annotation_id": 1}]', "expected the image's path or URL"),
])
def test_bad_json_min_is_refused_with_the_place(tmp_path: Path, content: str,
                                                where: str) -> None:
    (tmp_path / "result.json").write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match="result.json") as error:
        read_min(tmp_path, {})
    assert where in str(error.value)


def test_per_task_files_round_trip(sample_source: MemorySource, tmp_path: Path) -> None:
    write(sample_source, tmp_path / "one", {}, WriteContext())
    write(sample_source, tmp_path / "many", {"files": "per_task"}, WriteContext())
    assert not (tmp_path / "many" / "result.json").exists()
    files = sorted((tmp_path / "many" / "tasks").iterdir(), key=lambda p: int(p.stem))
    tasks = json.loads((tmp_path / "one" / "result.json").read_text(encoding="utf-8"))
    assert [p.name for p in files] == [f"{t['id']}.json" for t in tasks]
    assert [json.loads(p.read_text(encoding="utf-8")) for p in files] == tasks
    one, many = read(tmp_path / "one", {}), read(tmp_path / "many", {})
    assert list(many.records()) == list(one.records()) and many.schema == one.schema
