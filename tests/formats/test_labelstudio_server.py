"""Our Label Studio export against a real Label Studio server (see `labelstudio_server`): the
server takes our ``label_config.xml`` as a project, imports our ``result.json`` unchanged, shows
our images through its local-files URLs, and exports the tasks back region for region; its own
JSON and JSON_MIN exports (which never carry the config) read back into what the sample project
holds, under the conventions `labelport.formats.labelstudio.tasks` documents."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from tests.formats import labelstudio_server
from tests.formats.labelstudio_server import LabelStudio

from labelport.domain.geometry import GeometryKind, Keypoints, Visibility
from labelport.domain.model import DEFAULT_LABELSET, ItemRecord, TaskStatus
from labelport.domain.schema import AttributeType, Classification, ClassificationKind
from labelport.domain.source import MemorySource
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats.labelstudio.tasks import read, read_min
from labelport.formats.registry import get_format
from labelport.sample import build_sample

EXPORT = "exp"
"""Our export's folder under the server's document root."""


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    server = labelstudio_server.start(tmp_path_factory.mktemp("label-studio"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return build_sample(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def round_trip(label_studio: LabelStudio, sample: MemorySource) -> dict[str, Any]:
    """Our export imported into a new project, and the project's JSON and JSON_MIN exports."""
    out = label_studio.document_root / EXPORT
    run_export(sample, get_format("labelstudio"), out, media=MediaMode.COPY,
               options={"image_root": f"/data/local-files/?d={EXPORT}"})
    config = (out / "label_config.xml").read_text(encoding="utf-8")
    project = label_studio.call("POST", "/api/projects",
                                {"title": "labelport sample", "label_config": config})["id"]
    label_studio.call("POST", "/api/storages/localfiles", {
        "project": project, "title": "export", "path": str(out / "images"),
        "use_blob_urls": True})
    ours = json.loads((out / "result.json").read_text(encoding="utf-8"))
    imported = label_studio.call("POST", f"/api/projects/{project}/import", ours)
    snapshot = label_studio.call("POST", f"/api/projects/{project}/exports/", {
        "title": "all", "serialization_options": {
            "predictions": {"only_id": False}, "annotations__completed_by": {"only_id": False}},
        "annotation_filter_options": {"usual": True, "skipped": True, "ground_truth": True}})
    base = f"/api/projects/{project}/exports/{snapshot['id']}"
    _wait(label_studio, base)
    label_studio.call("POST", f"{base}/convert", {"export_type": "JSON_MIN"})
    _wait(label_studio, base, converted="JSON_MIN")
    return {"out": out, "ours": ours, "imported": imported,
            "json": json.loads(label_studio.fetch("GET", f"{base}/download?exportType=JSON")),
            "json_min": json.loads(label_studio.fetch(
                "GET", f"{base}/download?exportType=JSON_MIN"))}


def _wait(server: LabelStudio, export: str, converted: str | None = None) -> None:
    for _ in range(120):
        found = server.call("GET", export)
        formats = {f["export_type"]: f["status"] for f in found.get("converted_formats", [])}
        status = formats.get(converted) if converted else found["status"]
        if status == "completed":
            return
        assert status != "failed", found
        time.sleep(0.25)
    raise AssertionError(f"Label Studio's export {export} did not finish: {found}")


def test_label_studio_imports_our_export_unchanged_and_gives_it_back(
        round_trip: dict[str, Any]) -> None:
    ours, theirs = round_trip["ours"], round_trip["json"]
    assert round_trip["imported"]["task_count"] == len(ours) == len(theirs)
    assert round_trip["imported"]["annotation_count"] == sum(len(t["annotations"]) for t in ours)
    by_path = {t["data"]["path"]: t for t in theirs}
    for task in ours:
        back = by_path[task["data"]["path"]]
        assert back["data"] == task["data"]
        assert back.get("meta") == task.get("meta", {})
        for kind in ("annotations", "predictions"):
            assert len(back[kind]) == len(task[kind])
            for want, have in zip(task[kind], back[kind], strict=True):
                assert have["result"] == want["result"]  # region by region, ids and values
                for key in ("was_cancelled", "lead_time", "model_version", "score"):
                    assert have.get(key) == want.get(key), key


def test_label_studio_serves_our_images_from_its_local_files(
        label_studio: LabelStudio, round_trip: dict[str, Any]) -> None:
    for task in round_trip["json"]:
        reference = task["data"]["image"]
        assert reference.startswith(f"/data/local-files/?d={EXPORT}/images/")
        local = round_trip["out"] / unquote(reference.split("?d=", 1)[1]).removeprefix(
            f"{EXPORT}/")
        assert label_studio.fetch("GET", reference) == local.read_bytes()


def _flat(answers: tuple[Classification, ...]) -> dict[str, tuple[str, ...]]:
    """Answers by name, nested ones too: without the config Label Studio's export has no
    nesting (documented)."""
    out: dict[str, tuple[str, ...]] = {}
    for a in answers:
        out[a.name] = a.values
        out.update(_flat(a.children))
    return out


def _labelled(points: Keypoints, names: tuple[str, ...]) -> dict[str, tuple[float, float, int]]:
    return {n: (round(p.x, 6), round(p.y, 6), int(p.v))
            for n, p in zip(names, points.points, strict=True) if p.v is not Visibility.NOT_LABELED}


def _who(record: ItemRecord, labelset: str) -> str | None:
    """Who the writer says labelled a labelset (the annotation's annotator in the task's meta,
    a prediction's model_version): its task's assignee, else its first object's annotator."""
    task = next((t for t in record.tasks if t.labelset == labelset), None)
    objects = [a for a in record.annotations if a.labelset == labelset]
    return (task.assignee if task else None) or next(
        (a.annotator for a in objects if a.annotator), None)


def _compare(source: MemorySource, back: MemorySource) -> None:
    """What Label Studio's own export keeps of the sample, read without a config."""
    written = {a.label for r in source.records() for a in r.annotations
               if a.geometry.kind is not GeometryKind.POLYLINE}
    assert set(back.schema.class_names) == written
    person = back.schema.get("person")
    assert person is not None and person.geometry is GeometryKind.KEYPOINTS
    # Names as first seen: left_foot is never labelled in the sample, so it is not known.
    assert person.keypoint_names == ("head", "left_hand", "right_hand", "right_foot")
    car = back.schema.get("car")
    assert car is not None
    types = {d.name: d.type for d in car.attributes}
    assert types["occluded"] is AttributeType.BOOL and types["passengers"] is AttributeType.INT
    questions = {d.name: d.kind for d in back.schema.classifications}
    assert questions["notes"] is ClassificationKind.TEXT
    assert questions["hazards"] is ClassificationKind.CHECKBOX
    records = {r.item.path: r for r in back.records()}
    for want in source.records():
        have: ItemRecord = records[want.item.path]
        assert (have.item.dataset, have.item.width, have.item.height) == (
            want.item.dataset, want.item.width, want.item.height)
        want_answers = {k: v for t in want.tasks for k, v in _flat(t.classifications).items()}
        have_answers = {k: v for t in have.tasks for k, v in _flat(t.classifications).items()}
        assert have_answers == want_answers
        kept = [a for a in want.annotations if a.geometry.kind is not GeometryKind.POLYLINE]
        assert [(a.label, a.labelset, a.source, a.score) for a in have.annotations] == [
            (a.label, a.labelset, a.source, a.score) for a in kept]
        for w, h in zip(kept, have.annotations, strict=True):
            assert h.attributes == w.attributes
            assert h.annotator == _who(want, w.labelset)
            if isinstance(w.geometry, Keypoints):
                assert isinstance(h.geometry, Keypoints)
                schema_class = source.schema.get(w.label)
                assert schema_class is not None
                assert _labelled(h.geometry, person.keypoint_names) == _labelled(
                    w.geometry, schema_class.keypoint_names)


def test_label_studio_json_reads_back_as_the_sample(round_trip: dict[str, Any],
                                                     sample: MemorySource,
                                                     tmp_path: Path) -> None:
    (tmp_path / "export.json").write_text(json.dumps(round_trip["json"]), encoding="utf-8")
    back = read(tmp_path / "export.json", {"images": str(round_trip["out"])})
    assert isinstance(back, MemorySource)
    _compare(sample, back)


def test_label_studio_json_min_reads_back(round_trip: dict[str, Any], sample: MemorySource,
                                          tmp_path: Path) -> None:
    """JSON_MIN has no region ids: each region is an object, each keypoint an object of its
    own named by its label; with our config beside it, answers and attributes come back (an
    object's attributes at least where the row has one object of its class)."""
    (tmp_path / "export.json").write_text(json.dumps(round_trip["json_min"]), encoding="utf-8")
    shutil.copy(round_trip["out"] / "label_config.xml", tmp_path)
    back = read_min(tmp_path / "export.json", {})
    records = {r.item.path: r for r in back.records()}
    # Label Studio's converter leaves out a task whose only annotation was skipped.
    kept = [r for r in sample.records()
            if not any(t.status is TaskStatus.SKIPPED for t in r.tasks)]
    assert set(records) == {r.item.path for r in kept} and len(kept) < len(sample)
    for want in kept:
        have = records[want.item.path]
        assert (have.item.dataset, have.item.width, have.item.height) == (
            want.item.dataset, want.item.width, want.item.height)
        assert [(t.labelset, t.classifications) for t in have.tasks
                if t.status is not TaskStatus.NEW] == [
            (t.labelset, t.classifications) for t in want.tasks
            if t.labelset == DEFAULT_LABELSET and t.status is not TaskStatus.NEW]
        objects = [a for a in want.annotations if a.labelset == DEFAULT_LABELSET and
                   a.geometry.kind is not GeometryKind.POLYLINE]
        named = {a.label for a in objects}  # a keypoints object's rectangle is a region too
        for a in objects:
            if isinstance(a.geometry, Keypoints):
                found = sample.schema.get(a.label)
                assert found is not None
                named |= {n for n, p in zip(found.keypoint_names, a.geometry.points, strict=True)
                          if p.v is not Visibility.NOT_LABELED}
        assert {a.label for a in have.annotations} == named
        single = [a for a in objects if sum(b.label == a.label for b in objects) == 1 and
                  a.attributes]
        for a in single:
            assert next(b for b in have.annotations if b.label == a.label).attributes == \
                a.attributes


def test_label_studio_syncs_our_per_task_files_from_a_storage(
        label_studio: LabelStudio, sample: MemorySource) -> None:
    """``files=per_task`` writes tasks as Label Studio keeps them in a cloud storage: a local
    storage of a new project over ``tasks/`` imports each file as one task, with its results."""
    out = label_studio.document_root / "per-task"
    run_export(sample, get_format("labelstudio"), out, options={"files": "per_task"})
    config = (out / "label_config.xml").read_text(encoding="utf-8")
    project = label_studio.call("POST", "/api/projects",
                                {"title": "per-task files", "label_config": config})["id"]
    storage = label_studio.call("POST", "/api/storages/localfiles", {
        "project": project, "title": "tasks", "path": str(out / "tasks"),
        "use_blob_urls": False, "regex_filter": r".*\.json"})
    label_studio.call("POST", f"/api/storages/localfiles/{storage['id']}/sync")
    for _ in range(120):
        tasks = label_studio.call("GET", f"/api/tasks?project={project}&page_size=100")["tasks"]
        if len(tasks) == len(sample):
            break
        time.sleep(0.25)
    assert sorted(t["data"]["path"] for t in tasks) == sorted(r.item.path for r in sample.records())
    assert sum(t["total_annotations"] + t["cancelled_annotations"] for t in tasks) == sum(
        len(json.loads(p.read_text(encoding="utf-8"))["annotations"])
        for p in (out / "tasks").iterdir())


def test_upload_paths_of_images_uploaded_to_label_studio_resolve(
        label_studio: LabelStudio, sample: MemorySource, tmp_path: Path) -> None:
    """An image uploaded through Label Studio is served from the name it stored; a task read
    back from its export keeps that name, and ``image_root=/data/upload/<project>`` writes it
    back so Label Studio shows it."""
    record = next(r for r in sample.records() if r.item.media_uri)
    assert record.item.media_uri is not None
    image = Path(record.item.media_uri)
    project = label_studio.call("POST", "/api/projects", {
        "title": "uploads", "label_config": '<View><Image name="image" value="$image"/>'
                                            '<RectangleLabels name="rectangle" toName="image">'
                                            '<Label value="car"/></RectangleLabels></View>'})["id"]
    label_studio.upload(project, image)
    (task,) = label_studio.call("GET", f"/api/tasks?project={project}")["tasks"]
    stored = task["data"]["image"]
    assert stored.startswith(f"/data/upload/{project}/")
    (tmp_path / "export.json").write_text(json.dumps([{
        "id": task["id"], "data": {**task["data"], "width": record.item.width,
                                   "height": record.item.height}}]), encoding="utf-8")
    back = read(tmp_path / "export.json", {})
    run_export(back, get_format("labelstudio"), tmp_path / "out",
               options={"image_root": f"/data/upload/{project}"})
    (written,) = json.loads((tmp_path / "out" / "result.json").read_text(encoding="utf-8"))
    assert written["data"]["image"] == stored
    assert label_studio.fetch("GET", stored) == image.read_bytes()
    label_studio.call("POST", f"/api/projects/{project}/import", [written])
