"""Innotescus JSON: conversions from tables, files shaped as the seed shows read back, the keys
the seed gives each file, goldens for the sample project (read, not only compared), a round
trip and bad input. No third-party reader of these files exists; the seed
(``/work/shared/seeds/001_*``) is the reference.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_innotescus.py``."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from labelport.domain.geometry import Box, GeometryKind, Polygon, Polyline, RotatedBox
from labelport.domain.model import DEFAULT_LABELSET
from labelport.domain.schema import AttributeType, LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import WriteContext
from labelport.formats.innotescus import (
    SPEC,
    box_json,
    class_entries,
    geometry_json,
    read,
    write,
)

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "innotescus"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
FILES = ("annotation_metadata_definitions.json", "annotations.json", "classes.json",
         "dataset_item_metadata_definitions.json", "dataset_items.json")

_KEYS = {
    "classes.json": ["id", "name", "parent_id"],
    "annotations.json": ["dataset_item_index", "frame_index", "type", "class_id", "instance_id",
                         "box", "poly", "is_open", "annotators", "meta_data"],
    "annotation_metadata_definitions.json": ["name", "display_name", "type", "required",
                                             "classes", "helpText", "default", "trueText",
                                             "min", "max", "options"],
    "dataset_items.json": ["index", "name", "num_frames", "width", "height", "url",
                           "num_channels", "bits_per_channel", "meta_data"],
}
"""Each object's keys, in the seed's order."""

_SEED = {
    "classes.json": [{"id": 1, "name": "Vehicle", "parent_id": None},
                     {"id": 2, "name": "Car", "parent_id": 1}],
    "annotations.json": [
        {"dataset_item_index": 0, "frame_index": 0, "type": "Box", "class_id": 2,
         "instance_id": 1, "box": {"x": 10, "y": 20, "w": 30, "h": 40, "orientation": None},
         "poly": None, "is_open": False, "annotators": "ann", "meta_data": {"occluded": True}},
        {"dataset_item_index": 0, "frame_index": 0, "type": "Poly", "class_id": 1,
         "instance_id": 2, "box": None,
         "poly": [[{"x": 1, "y": 1}, {"x": 9, "y": 1}, {"x": 9, "y": 9}],
                  [{"x": 20, "y": 20}, {"x": 30, "y": 20}, {"x": 30, "y": 30}]],
         "is_open": False, "annotators": "ann", "meta_data": {}},
    ],
    "annotation_metadata_definitions.json": [
        {"name": "occluded", "display_name": "Occluded", "type": "Bool", "required": False,
         "classes": ["2"], "helpText": "", "default": "false", "trueText": "yes", "min": None,
         "max": None, "options": []}],
    "dataset_items.json": [
        {"index": 0, "name": "image1.jpg", "num_frames": 1, "width": 640, "height": 480,
         "url": "https://example.com/image1.jpg", "num_channels": 3, "bits_per_channel": 8,
         "meta_data": {"site": "north"}}],
    "dataset_item_metadata_definitions.json": {"fields": [
        {"name": "site", "display_name": "Site", "type": "List", "required": False,
         "classes": [], "helpText": "", "default": "", "trueText": "", "min": None,
         "max": None, "options": [{"value": "north", "display_name": "North"}]}]},
}


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


# --- pure conversions ------------------------------------------------------------------------


@pytest.mark.parametrize(("xywh", "expected", "rounded"), [
    ((10, 20, 30, 40), (10, 20, 30, 40), False),
    ((10.5, 20.49, 2.5, 3.5), (11, 20, 3, 4), True),  # half up, never banker's rounding
])
def test_boxes_are_whole_pixels(xywh: tuple[float, ...], expected: tuple[int, ...],
                                rounded: bool) -> None:
    box, changed = box_json(*xywh, None)
    assert (box["x"], box["y"], box["w"], box["h"]) == expected
    assert changed is rounded


def test_geometry_shapes() -> None:
    ctx = WriteContext()
    rotated = geometry_json(RotatedBox(cx=50, cy=40, w=20, h=10, angle_deg=90), ctx)
    assert rotated is not None and rotated["box"] == {
        "x": 40, "y": 35, "w": 20, "h": 10, "orientation": math.pi / 2}
    line = geometry_json(Polyline(points=(0, 0, 5, 5)), ctx)
    assert line == {"type": "Poly", "box": None, "poly": [[{"x": 0, "y": 0}, {"x": 5, "y": 5}]],
                    "is_open": True}


def test_parents_that_are_no_class_get_their_own_class() -> None:
    schema = LabelSchema(classes=(LabelClass(id=4, name="car", parent="vehicle"),
                                  LabelClass(id=7, name="sedan", parent="car")))
    assert class_entries(schema) == [{"id": 4, "name": "car", "parent_id": 8},
                                     {"id": 7, "name": "sedan", "parent_id": 4},
                                     {"id": 8, "name": "vehicle", "parent_id": None}]


# --- the seed --------------------------------------------------------------------------------


def test_reads_files_shaped_as_the_seed_shows(tmp_path: Path) -> None:
    folder = tmp_path / "annotations" / "dataset1"
    folder.mkdir(parents=True)
    for name, content in _SEED.items():
        (folder / name).write_text(json.dumps(content))
    source = read(tmp_path, {})
    assert [(c.id, c.name, c.parent, c.geometry) for c in source.schema.classes] == [
        (1, "Vehicle", None, GeometryKind.POLYGON), (2, "Car", "Vehicle", GeometryKind.BOX)]
    (occluded,) = source.schema.classes[1].attributes
    assert (occluded.type, occluded.default) == (AttributeType.BOOL, False)
    (record,) = source.records()
    assert (record.item.dataset, record.item.path, record.item.width) == (
        "dataset1", "image1.jpg", 640)
    assert record.item.metadata == {"site": "north"}
    car, vehicle = record.annotations
    assert car.geometry == Box(x=10, y=20, w=30, h=40)
    assert (car.attributes, car.instance_id, car.annotator) == ({"occluded": True}, 1, "ann")
    assert isinstance(vehicle.geometry, Polygon) and len(vehicle.geometry.parts) == 2


def test_our_files_have_the_seeds_keys(sample_source: MemorySource, tmp_path: Path) -> None:
    write(_ground_truth(sample_source), tmp_path, {}, WriteContext())
    for folder in (tmp_path / "annotations").iterdir():
        assert sorted(p.name for p in folder.iterdir()) == list(FILES)
        for name, keys in _KEYS.items():
            for entry in json.loads((folder / name).read_text(encoding="utf-8")):
                assert list(entry) == keys, name
        fields = json.loads((folder / "dataset_item_metadata_definitions.json").read_text())
        assert list(fields) == ["fields"]
        assert all(list(f) == _KEYS["annotation_metadata_definitions.json"]
                   for f in fields["fields"])


# --- goldens ---------------------------------------------------------------------------------


def test_golden_sample(sample_source: MemorySource, tmp_path: Path) -> None:
    out = tmp_path / "innotescus"
    ctx = WriteContext()
    write(_ground_truth(sample_source), out, {}, ctx)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    if REGEN:
        for name in written:
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes((out / name).read_bytes())
    golden = sorted(p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file())
    assert written == golden
    for name in written:
        text = (GOLDEN / name).read_text(encoding="utf-8")
        assert (out / name).read_text(encoding="utf-8") == text, f"{name} differs"
        assert str(tmp_path) not in text
    pool = GOLDEN / "annotations" / "train-pool"
    classes = json.loads((pool / "classes.json").read_text())
    assert [c["name"] for c in classes] == [*sample_source.schema.class_names, "vehicle"]
    assert classes[0]["parent_id"] == classes[-1]["id"]
    items = json.loads((pool / "dataset_items.json").read_text(encoding="utf-8"))
    assert [i["name"] for i in items] == [r.item.file_name for r in sample_source.records()
                                          if r.item.dataset == "train-pool"]
    assert items[0]["url"] == "datasets/train-pool/street_001.png"
    annotations = json.loads((pool / "annotations.json").read_text(encoding="utf-8"))
    sign = annotations[1]
    assert sign["type"] == "Box" and sign["box"]["orientation"] == pytest.approx(math.pi / 6)
    assert annotations[2]["is_open"] is True  # the dashed lane
    assert not any(a["dataset_item_index"] == 5 for a in annotations)  # the empty image
    fields = json.loads((pool / "dataset_item_metadata_definitions.json").read_text())["fields"]
    assert [(f["name"], f["type"]) for f in fields] == [("camera", "String"),
                                                        ("exposure_ms", "Float")]
    counts = ctx.report.counts
    assert counts["dropped: polygon hole (Innotescus rings are parts)"] == 1
    assert counts["not written: mask"] == 1 and counts["not written: keypoints"] == 1
    assert counts["not written: task status"] == 8


# --- round trip and bad input ----------------------------------------------------------------


def test_round_trip(sample_source: MemorySource, tmp_path: Path) -> None:
    source = _ground_truth(sample_source)
    result = run_export(source, SPEC, tmp_path / "out", media=MediaMode.COPY)
    back = read(result.path, {})
    assert back.schema.class_names[:len(sample_source.schema.classes)] == \
        sample_source.schema.class_names
    assert back.schema.classes[0].attributes == sample_source.schema.classes[0].attributes
    got = {(r.item.dataset, r.item.path): r for r in back.records()}
    assert len(got) == len(sample_source)
    for want in source.records():
        record = got[want.item.dataset, want.item.file_name]  # sub-folders are not carried
        assert record.item.metadata == want.item.metadata
        assert record.item.media_uri is not None and Path(record.item.media_uri).is_file()
        kept = [a for a in want.annotations
                if isinstance(a.geometry, Box | RotatedBox | Polyline | Polygon)]
        assert [(a.label, dict(a.attributes), a.annotator, a.instance_id) for a in kept] == [
            (a.label, dict(a.attributes), a.annotator, a.instance_id)
            for a in record.annotations]
        for a, b in zip(kept, record.annotations, strict=True):
            if isinstance(a.geometry, RotatedBox):  # radians and back
                assert isinstance(b.geometry, RotatedBox)
                assert b.geometry.angle_deg == pytest.approx(a.geometry.angle_deg)
                assert (b.geometry.cx, b.geometry.w) == (a.geometry.cx, a.geometry.w)
            elif isinstance(a.geometry, Box | Polyline):
                assert b.geometry == a.geometry  # the sample's are whole pixels


@pytest.mark.parametrize(("file", "content", "message"), [
    ("classes.json", "{", r"classes\.json: not valid JSON"),
    ("annotations.json", '[{"type": "Box", "class_id": 1}]',
     r"annotations\.json: at \$\[0\]: Object missing required field `dataset_item_index`"),
    ("annotations.json", '[{"dataset_item_index": 3, "type": "Box", "class_id": 1}]',
     r"at \$\[0\]\.dataset_item_index: no item 3"),
    ("annotations.json", '[{"dataset_item_index": 0, "type": "Box", "class_id": 9}]',
     r"at \$\[0\]\.class_id: 9 is not in classes\.json"),
    ("annotations.json", '[{"dataset_item_index": 0, "type": "Circle", "class_id": 1}]',
     r"at \$\[0\]: expected type \"Box\" with a box"),
    ("annotation_metadata_definitions.json", '[{"name": "a", "type": "Date"}]',
     r"at \$\[0\]\.type: unknown type 'Date'"),
])
def test_bad_input_names_the_file_and_place(tmp_path: Path, file: str, content: str,
                                            message: str) -> None:
    folder = tmp_path / "annotations" / "d"
    folder.mkdir(parents=True)
    (folder / "classes.json").write_text('[{"id": 1, "name": "c", "parent_id": null}]')
    (folder / "annotations.json").write_text("[]")
    (folder / "dataset_items.json").write_text(
        '[{"index": 0, "name": "a.png", "width": 4, "height": 4}]')
    (folder / file).write_text(content)
    with pytest.raises(InputError, match=message):
        read(tmp_path, {})


def test_a_folder_without_annotations_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected an Innotescus export"):
        read(tmp_path, {})
