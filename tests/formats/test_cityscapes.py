"""Cityscapes: instance ids as cityscapesScripts makes them (a table), the four files of an
image, the instance PNG agreeing with the class PNG everywhere (cityscapesScripts' rule), goldens
for the sample project (decoded pixels) read back, round trips, refusals, bad input refused
with the file, and Datumaro's ``cityscapes`` importer reading the export.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_cityscapes.py``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.formats.conftest import write_inputs
from tests.side_python import DATUMARO, run_side

from labelport.domain.geometry import Box, Polygon, PolygonPart
from labelport.domain.masks import mask_area
from labelport.domain.model import DEFAULT_LABELSET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, UnsupportedError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import WriteContext
from labelport.formats.cityscapes import SPEC, instance_ids, read, write

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "cityscapes"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
DONUT = Polygon(parts=(PolygonPart(outer=(2, 2, 8, 2, 8, 8, 2, 8),
                                   holes=((4, 4, 6, 4, 6, 6, 4, 6),)),))


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


def _source(*records: ItemRecord, n_classes: int = 2) -> MemorySource:
    names = ("car", "tree", *(f"c{i}" for i in range(n_classes - 2)))
    schema = LabelSchema(classes=tuple(LabelClass(id=i, name=n)
                                       for i, n in enumerate(names[:n_classes], start=1)))
    return MemorySource(project=ProjectInfo(name="p"), schema=schema, items=records)


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


@pytest.mark.parametrize(("classes", "crowd", "ids"), [
    ([1, 1, 2, 1], [False] * 4, [1000, 1001, 2000, 1002]),
    ([1, 1, 2], [False, True, False], [1000, 1, 2000]),
    ([3] * 1001, [False] * 1001, [3000 + n for n in range(1000)] + [None]),
])
def test_instance_ids_as_cityscapes_scripts_make_them(classes: list[int], crowd: list[bool],
                                                      ids: list[int | None]) -> None:
    assert instance_ids(classes, crowd) == ids


def test_four_files_of_an_image(tmp_path: Path) -> None:
    record = ItemRecord(
        item=Item(dataset="aachen", path="sub/a.jpg", width=10, height=10), split="val",
        annotations=(Annotation(label="tree", geometry=DONUT),
                     Annotation(label="car", geometry=Box(x=0, y=0, w=3, h=3), z_order=1),
                     Annotation(label="car", geometry=Box(x=7, y=7, w=3, h=3), crowd=True)))
    ctx = WriteContext()
    write(_source(record), tmp_path, {}, ctx)
    folder = tmp_path / "gtFine" / "val" / "aachen"
    labels, ids = _png(folder / "a_gtFine_labelIds.png"), _png(folder / "a_gtFine_instanceIds.png")
    assert (labels[0, 0], labels[3, 3], labels[5, 5], labels[9, 9]) == (1, 2, 0, 1)
    assert (ids[0, 0], ids[3, 3], ids[5, 5], ids[9, 9]) == (1000, 2000, 0, 1)
    assert _png(folder / "a_gtFine_color.png").shape == (10, 10, 3)
    polygons = json.loads((folder / "a_gtFine_polygons.json").read_text(encoding="utf-8"))
    assert polygons == {"imgHeight": 10, "imgWidth": 10, "objects": [
        {"label": "tree", "polygon": [[2, 2], [8, 2], [8, 8], [2, 8]]},
        {"label": "cargroup", "polygon": [[7, 7], [10, 7], [10, 10], [7, 10]]},
        {"label": "car", "polygon": [[0, 0], [3, 0], [3, 3], [0, 3]]}]}
    assert ctx.report.counts["not in _gtFine_polygons.json: polygon holes (in the PNGs)"] == 1


def test_semantic_only_and_the_class_limits(tmp_path: Path) -> None:
    record = ItemRecord(item=Item(dataset="d", path="a.png", width=4, height=4),
                        annotations=(Annotation(label="car", geometry=Box(x=0, y=0, w=2, h=2)),))
    with pytest.raises(UnsupportedError, match="instances=false"):
        write(_source(record, n_classes=65), tmp_path / "a", {}, WriteContext())
    write(_source(record, n_classes=65), tmp_path / "b", {"instances": False}, WriteContext())
    assert _png(tmp_path / "b/gtFine/train/d/a_gtFine_instanceIds.png")[0, 0] == 1
    with pytest.raises(UnsupportedError, match="1..255"):
        write(_source(record, n_classes=256), tmp_path / "c", {"instances": False},
              WriteContext())


def test_golden_sample(sample_source: MemorySource, tmp_path: Path,
                       png_goldens: Callable[..., list[str]]) -> None:
    out = run_export(_ground_truth(sample_source), SPEC, tmp_path / "out").path
    (out / "labelport-export.json").unlink()
    written = png_goldens(out, GOLDEN, regen=REGEN)
    assert "gtFine/train/train-pool/straße_ü_gtFine_instanceIds.png" in written


def test_instance_ids_agree_with_label_ids_everywhere() -> None:
    """cityscapesScripts: an instance id >= 1000 is ``label * 1000 + n``, a smaller one is the
    label itself; so ``id // 1000`` (or ``id``) is the class PNG's value at every pixel."""
    for ids_png in sorted(GOLDEN.glob("gtFine/*/*/*_gtFine_instanceIds.png")):
        ids = _png(ids_png).astype(np.int64)
        labels = _png(ids_png.with_name(ids_png.name.replace("instanceIds", "labelIds")))
        assert np.array_equal(np.where(ids >= 1000, ids // 1000, ids), labels), ids_png.name


def _masks(source: ExportSource) -> dict[str, list[tuple[str, int | None, int]]]:
    """Per image stem: (class, instance id, pixel count) of each mask read."""
    return {r.item.file_name.rsplit(".", 1)[0]: sorted(
        (a.label, a.instance_id, mask_area(a.geometry))  # type: ignore[arg-type]
        for a in r.annotations) for r in source.records()}


def test_goldens_read_back(sample_source: MemorySource, tmp_path: Path,
                           png_goldens: Callable[..., list[str]]) -> None:
    golden = read(GOLDEN, {})
    assert golden.schema.class_names == sample_source.schema.class_names
    masks = _masks(golden)
    assert len(masks) == len(sample_source) and masks["empty_006"] == []
    assert masks["yard_002"] == [("building", 0, 16800), ("car", 0, 3200), ("car", 1, 2800),
                                     ("car", 2, 3500)]
    assert masks["crossing_005"] == [("car", None, 1800), ("road", 0, 29800)]
    assert {r.item.dataset for r in golden.records()} == {"train-pool", "field"}
    crossing = next(r for r in golden.records() if r.item.path == "crossing_005.png")
    assert [(a.label, a.crowd) for a in crossing.annotations] == [("car", True), ("road", False)]
    again = run_export(MemorySource(project=ProjectInfo(name="g"), schema=golden.schema,
                                    items=tuple(golden.records())), SPEC, tmp_path / "again")
    for png in sorted(again.path.rglob("*.png")):  # read masks write the same PNGs back
        theirs = GOLDEN / png.relative_to(again.path)
        assert np.array_equal(_png(png), _png(theirs)), png.name


def test_round_trip_with_media_and_splits(sample_source: MemorySource, tmp_path: Path) -> None:
    records = tuple(ItemRecord(item=r.item, tasks=r.tasks, annotations=r.annotations,
                               split="val" if r.item.dataset == "field" else "train")
                    for r in _ground_truth(sample_source).records())
    source = MemorySource(project=sample_source.project, schema=sample_source.schema,
                          items=records)
    result = run_export(source, SPEC, tmp_path / "out", media=MediaMode.COPY)
    assert (result.path / "leftImg8bit/val/field/field_001_leftImg8bit.jpg").is_file()
    back = read(result.path, {})
    assert {(r.split, r.item.dataset) for r in back.records()} == {("train", "train-pool"),
                                                                    ("val", "field")}
    assert sorted(r.item.file_name for r in back.records()) == sorted(
        r.item.file_name for r in records)
    assert all(Path(str(r.item.media_uri)).is_file() for r in back.records())
    assert _masks(back) == _masks(read(GOLDEN, {}))


@pytest.mark.parametrize(("files", "message"), [
    ({}, "expected a Cityscapes folder with gtFine"),
    ({"gtFine/train/c/a_gtFine_instanceIds.png": b"not a png"}, "a_gtFine_instanceIds.png: not "
                                                                "a readable"),
    ({"gtFine/train/c/a_gtFine_instanceIds.png": "RGB"}, "expected a PNG of mode"),
    ({"gtFine/train/c/a_gtFine_instanceIds.png": 3001}, "class value 3 has no line"),
    ({"label_colors.txt": "0 0 0 background\n1 2 car\n"}, "label_colors.txt: line 2"),
])
def test_bad_input_is_refused_with_the_file(files: dict[str, str | bytes | int], message: str,
                                            tmp_path: Path) -> None:
    if files:
        (tmp_path / "gtFine" / "train").mkdir(parents=True)
    if "label_colors.txt" not in files:
        (tmp_path / "label_colors.txt").write_text("0 0 0 background\n1 2 3 car\n",
                                                   encoding="utf-8")
    write_inputs(tmp_path, files)
    with pytest.raises(InputError, match=message):
        list(read(tmp_path, {}).records())


_DATUMARO_CITYSCAPES = """
import json, sys
import datumaro as dm
found = []
for path in sys.argv[1:]:
    dataset = dm.Dataset.import_from(path, "cityscapes")
    names = [c.name for c in dataset.categories()[dm.AnnotationType.label]]
    found.append({"classes": names, "media": sum(1 for item in dataset if item.media),
                  "items": {item.id: sorted([names[a.label], int(a.image.sum())]
                                            for a in item.annotations) for item in dataset}})
print(json.dumps(found))
"""


def test_datumaro_reads_the_export(sample_source: MemorySource, tmp_path: Path) -> None:
    """Datumaro reads ``_instanceIds.png`` and takes a pixel for class k only where it holds k
    (it writes no instances itself): with instances it finds the crowd of cars, written as
    its class value as cityscapesScripts does; with instances=false every class region."""
    tokens = [name.replace(" ", "_") for name in sample_source.schema.class_names]
    semantic = run_export(_ground_truth(sample_source), SPEC, tmp_path / "semantic",
                          options={"instances": False}, media=MediaMode.COPY).path
    default = run_export(_ground_truth(sample_source), SPEC, tmp_path / "default",
                         media=MediaMode.COPY).path
    found, crowd = run_side(DATUMARO, _DATUMARO_CITYSCAPES, str(semantic), str(default))
    assert found["classes"] == ["background", *tokens] and found["media"] == len(sample_source)
    ours = {f"{r.item.dataset}/{r.item.file_name.rsplit('.', 1)[0]}": sorted(
        [a.label.replace(" ", "_"), mask_area(a.geometry)]  # type: ignore[arg-type]
        for a in r.annotations) for r in read(semantic, {}).records()}
    assert found["items"] == ours
    assert {k: v for k, v in crowd["items"].items() if v} == {
        "train-pool/crossing_005": [["car", 1800]]}
