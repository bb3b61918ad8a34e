"""DataGym JSON: conversions from tables, the seed's own snippets read back, the keys the seed
describes, goldens for the sample project (read, not only compared), a round trip and bad input.

No third-party reader of DataGym files exists; the seed (``/work/shared/seeds/002_*``) is the
reference: its snippets are typed into ``_SEED`` below.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_datagym.py`` and read the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from labelport.domain.geometry import Box, GeometryKind, Polygon, PolygonPart
from labelport.domain.model import DEFAULT_LABELSET, TaskStatus
from labelport.domain.schema import Classification, ClassificationKind
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import WriteContext
from labelport.formats.datagym import (
    SPEC,
    classifications_from_json,
    classifications_json,
    geometry_entries,
    option_type,
    read,
    write,
)

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "datagym"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"

_SEED = {
    "label_classes": [
        {"class_name": "bus", "geometry_type": "rectangle"},
        {"class_name": "car", "geometry_type": "polygon"},
        {"class_name": "car_type", "classification_type": "select"},
        {"class_name": "weather", "classification_type": "radio"},
        {"class_name": "daytime", "classification_type": "select"},
        {"class_name": "seqmentation", "geometry_type": "image_segmentation"},
    ],
    "tasks": [{
        "internal_image_ID": "datagym-image-id",
        "external_image_ID": "awesome-image.jpg",
        "labeler": "labeler-id",
        "status": "completed",
        "segmentations": [],
        "global_classifications": {"weather": ["sunny", {"daytime": ["day"]}]},
        "labels": {
            "bus": [],
            "car": [{"geometry": [{"x": 57, "y": 412}, {"x": 54, "y": 463},
                                  {"x": 130, "y": 524}, {"x": 1148, "y": 684}],
                     "classifications": {"car_type": [None]}}],
            "seqmentation": [{"geometry": [
                [{"x": 254, "y": 173}, {"x": 177, "y": 174}, {"x": 182, "y": 77},
                 {"x": 833, "y": 50}, {"x": 842, "y": 160}, {"x": 780, "y": 161},
                 {"x": 784, "y": 322}, {"x": 250, "y": 313}, {"x": 254, "y": 173}],
                [{"x": 579, "y": 165}, {"x": 685, "y": 163}, {"x": 688, "y": 278},
                 {"x": 579, "y": 279}, {"x": 579, "y": 165}],
                [{"x": 400, "y": 169}, {"x": 496, "y": 167}, {"x": 500, "y": 275},
                 {"x": 399, "y": 272}, {"x": 400, "y": 169}],
                [{"x": 285, "y": 172}, {"x": 332, "y": 171}, {"x": 331, "y": 250},
                 {"x": 286, "y": 249}, {"x": 285, "y": 172}]],
                "classifications": {}}],
        },
    }],
}
"""The seed's snippets as one file (label classes, the task, its global classifications, the
car polygon and the segmentation with three cut-outs)."""

_TASK_KEYS = ["internal_image_ID", "external_image_ID", "labeler", "status", "segmentations",
              "global_classifications", "labels"]


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


# --- pure conversions ------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "expected"), [
    (("a", "b"), "radio"), (("a", "b", "c"), "radio"), (("a", "b", "c", "d"), "select")])
def test_option_questions_follow_the_seeds_three_option_rule(options: tuple[str, ...],
                                                             expected: str) -> None:
    assert option_type(options) == expected


def test_nested_classifications_have_the_seeds_shape_and_read_back() -> None:
    answers = (Classification(name="weather", values=("sunny",), children=(
        Classification(name="daytime", values=("day",)),)),)
    encoded = classifications_json(answers)
    assert encoded == {"weather": ["sunny", {"daytime": ["day"]}]}
    assert classifications_from_json(encoded, "f", "$") == answers
    assert classifications_from_json({"car_type": [None]}, "f", "$") == ()


def test_segmentation_is_outer_ring_then_closed_cut_outs() -> None:
    polygon = Polygon(parts=(PolygonPart(outer=(0, 0, 10, 0, 10, 10),
                                         holes=((2, 2, 4, 2, 4, 4),)),))
    (entry,) = geometry_entries(polygon, "image_segmentation", WriteContext())
    assert entry == [[{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 10, "y": 10}, {"x": 0, "y": 0}],
                     [{"x": 2, "y": 2}, {"x": 4, "y": 2}, {"x": 4, "y": 4}, {"x": 2, "y": 2}]]
    ctx = WriteContext()
    assert geometry_entries(polygon, "polygon", ctx) == [
        [{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 10, "y": 10}]]
    assert ctx.report.counts["dropped: polygon hole (polygons=polygon)"] == 1
    assert geometry_entries(Box(x=1.5, y=2, w=3, h=4), "rectangle", WriteContext()) == [
        [{"x": 1.5, "y": 2, "w": 3, "h": 4}]]


# --- the seed ----------------------------------------------------------------------------------


def test_reads_the_seeds_example(tmp_path: Path) -> None:
    (tmp_path / "export.json").write_text(json.dumps(_SEED))
    (tmp_path / "images").mkdir()
    Image.new("RGB", (1280, 720)).save(tmp_path / "images" / "awesome-image.jpg")
    source = read(tmp_path / "export.json", {})
    assert [(c.name, c.geometry) for c in source.schema.classes] == [
        ("bus", GeometryKind.BOX), ("car", GeometryKind.POLYGON),
        ("seqmentation", GeometryKind.POLYGON)]
    (weather,) = source.schema.classifications
    assert (weather.name, weather.kind, weather.options) == (
        "weather", ClassificationKind.RADIO, ("sunny",))
    assert [(c.name, c.when) for c in weather.children] == [("daytime", "sunny")]
    (record,) = source.records()
    assert (record.item.dataset, record.item.path, record.item.width) == (
        "default", "awesome-image.jpg", 1280)
    assert record.task is not None
    assert (record.task.status, record.task.assignee) == (TaskStatus.LABELED, "labeler-id")
    assert record.task.classifications[0].children[0].values == ("day",)
    car, segmentation = record.annotations
    assert car.geometry == Polygon.simple((57, 412, 54, 463, 130, 524, 1148, 684))
    assert car.attributes == {}
    assert isinstance(segmentation.geometry, Polygon)
    (part,) = segmentation.geometry.parts
    assert len(part.outer) == 16 and len(part.holes) == 3  # closing points dropped


def test_our_export_has_the_seeds_keys(sample_source: MemorySource, tmp_path: Path) -> None:
    write(_ground_truth(sample_source), tmp_path, {}, WriteContext())
    data = json.loads((tmp_path / "datagym.json").read_text(encoding="utf-8"))
    assert list(data) == ["label_classes", "tasks"]
    for c in data["label_classes"]:
        assert set(c) in ({"class_name", "geometry_type"}, {"class_name", "classification_type"})
    for task in data["tasks"]:
        assert list(task) == _TASK_KEYS
        for entries in task["labels"].values():
            for entry in entries:
                assert list(entry) == ["geometry", "classifications"]


# --- goldens -----------------------------------------------------------------------------------


def test_golden_sample(sample_source: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "datagym"
    ctx = WriteContext()
    write(_ground_truth(sample_source), out, {}, ctx)
    if REGEN:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        (GOLDEN / "datagym.json").write_bytes((out / "datagym.json").read_bytes())
    assert sorted(p.name for p in out.iterdir()) == ["datagym.json"]
    golden = (GOLDEN / "datagym.json").read_text(encoding="utf-8")
    assert (out / "datagym.json").read_text(encoding="utf-8") == golden
    assert str(tmp_path) not in golden
    data = json.loads(golden)
    types = {c["class_name"]: c.get("geometry_type") or c["classification_type"]
             for c in data["label_classes"]}
    assert types["car"] == "rectangle" and types["building"] == "image_segmentation"
    assert types["weather"] == "radio" and types["hazards"] == "checklist"
    assert "road" not in types and "blurry" not in types  # mask and image-level: not carried
    tasks = {t["external_image_ID"]: t for t in data["tasks"]}
    assert len(tasks) == len(sample_source)
    street = tasks["street_001.png"]
    assert street["global_classifications"]["weather"] == ["sunny", {"daytime": ["noon"]}]
    assert street["labels"]["car"][0]["geometry"] == [{"x": 100, "y": 200, "w": 160, "h": 90}]
    assert street["labels"]["car"][0]["classifications"]["colour"] == ["red"]
    assert tasks["yard_002.jpg"]["labels"]["car"][1]["classifications"]["colour"] == [None]
    (building,) = tasks["yard_002.jpg"]["labels"]["building"]
    assert len(building["geometry"]) == 2  # outer ring, then the courtyard
    assert len(tasks["straße_ü.png"]["labels"]["tree"]) == 2  # one entry per part
    assert tasks["empty_006.png"]["labels"]["car"] == []
    assert [tasks[n]["status"] for n in ("field_002.png", "field_003.jpg", "empty_006.png")] == [
        "waiting_changed", "skipped", "waiting"]
    counts = ctx.report.counts
    assert counts["not written: mask (class without a DataGym geometry type)"] == 1
    assert counts["not written: none (class without a DataGym geometry type)"] == 1
    assert counts["converted: polygon of several parts to one entry per part"] == 1
    assert counts["not written: annotation score"] == 1


# --- round trip and bad input ----------------------------------------------------------------


def test_round_trip(sample_source: MemorySource, tmp_path: Path) -> None:
    source = _ground_truth(sample_source)
    result = run_export(source, SPEC, tmp_path / "out", media=MediaMode.COPY)
    back = {r.item.key: r for r in read(result.path, {}).records()}
    assert len(back) == len(sample_source)
    for want in source.records():
        got = back[want.item.key]
        assert (got.item.width, got.item.height) == (want.item.width, want.item.height)
        assert got.task is not None and want.task is not None
        assert (got.task.status, got.task.assignee) == (want.task.status, want.task.assignee)
        assert got.task.classifications == want.task.classifications
        boxes = [(a.label, a.geometry, dict(a.attributes)) for a in want.annotations
                 if isinstance(a.geometry, Box)]
        assert [(a.label, a.geometry, dict(a.attributes)) for a in got.annotations
                if isinstance(a.geometry, Box)] == boxes
    building = next(a for a in back["train-pool/yard_002.jpg"].annotations
                    if a.label == "building")
    assert building.geometry == next(a.geometry for a in sample_source.items[1].annotations
                                     if a.label == "building")


@pytest.mark.parametrize(("content", "message"), [
    ("{", r"datagym\.json: not valid JSON"),
    ('{"tasks": []}', r"at \$: Object missing required field `label_classes`"),
    ('{"label_classes": [{"class_name": "a", "geometry_type": "cube"}]}',
     r"at \$\.label_classes\[0\]\.geometry_type: unknown 'cube'"),
    ('{"label_classes": [{"class_name": "a", "geometry_type": "polygon"}], "tasks": [{'
     '"internal_image_ID": "i", "external_image_ID": "a.png", "status": "completed", '
     '"labels": {"a": [{"geometry": [{"x": 1}]}]}}]}',
     r"at \$\.tasks\[0\]\.labels\.a\[0\]\.geometry\[0\]: Object missing required field `y`"),
    ('{"label_classes": [], "tasks": [{"internal_image_ID": "i", "external_image_ID": "a.png",'
     ' "status": "lost"}]}', r"at \$\.tasks\[0\]\.status: unknown status 'lost'"),
    ('{"label_classes": [], "tasks": [{"internal_image_ID": "i", "external_image_ID": "b.png"}]}',
     r"at \$\.tasks\[0\]\.external_image_ID: no image 'b\.png'"),
])
def test_bad_input_names_the_file_and_place(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "datagym.json").write_text(content)
    (tmp_path / "images").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "images" / "a.png")
    with pytest.raises(InputError, match=message):
        read(tmp_path, {})
