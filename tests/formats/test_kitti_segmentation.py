"""KITTI segmentation: the three PNGs of an image (modes, values ``class * 256 + n``, colours),
goldens for the sample project (decoded pixels) read back, round trips, bad input refused with
the file, and Datumaro's ``kitti_segmentation`` importer reading the export.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_kitti_segmentation.py``."""

from __future__ import annotations

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
from labelport.formats._shared.label_colors import label_colors_text
from labelport.formats.base import WriteContext
from labelport.formats.kitti.segmentation import (
    SPEC,
    instance_values,
    read,
    write,
)

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "kitti_segmentation"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
DONUT = Polygon(parts=(PolygonPart(outer=(2, 2, 8, 2, 8, 8, 2, 8),
                                   holes=((4, 4, 6, 4, 6, 6, 4, 6),)),))


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


def _source(*records: ItemRecord, classes: tuple[str, ...] = ("car", "tree")) -> MemorySource:
    schema = LabelSchema(classes=tuple(LabelClass(id=i, name=n, color="#0a141e" if n == "car"
                                                  else None)
                                       for i, n in enumerate(classes, start=1)))
    return MemorySource(project=ProjectInfo(name="p"), schema=schema, items=records)


def _png(path: Path) -> tuple[str, np.ndarray]:
    with Image.open(path) as image:
        return image.mode, np.asarray(image)


def test_label_colors_put_the_background_first() -> None:
    assert label_colors_text(["car", "traffic_sign"], [(1, 2, 3), (4, 5, 6)]) == (
        "0 0 0 background\n1 2 3 car\n4 5 6 traffic_sign\n")


@pytest.mark.parametrize(("classes", "values"), [
    ([1, 1, 2, 1], [257, 258, 513, 259]),
    ([3] * 256, [3 * 256 + n for n in range(1, 256)] + [None]),
])
def test_instance_values_number_objects_per_class(classes: list[int],
                                                  values: list[int | None]) -> None:
    assert instance_values(classes) == values


def test_three_pngs_with_kitti_encoding_and_the_hole_kept(tmp_path: Path) -> None:
    record = ItemRecord(item=Item(dataset="d", path="a.jpg", width=10, height=10), split="val",
                        annotations=(Annotation(label="tree", geometry=DONUT),
                                     Annotation(label="car", geometry=Box(x=0, y=0, w=3, h=3),
                                                z_order=1),
                                     Annotation(label="car", geometry=Box(x=7, y=7, w=3, h=3))))
    write(_source(record), tmp_path, {}, WriteContext())
    mode, semantic = _png(tmp_path / "val" / "semantic" / "a.png")
    assert mode == "L" and semantic[5, 5] == 0 and semantic[3, 3] == 2 and semantic[0, 0] == 1
    mode, instance = _png(tmp_path / "val" / "instance" / "a.png")
    assert mode in ("I;16", "I")
    assert (instance[0, 0], instance[3, 3], instance[9, 9]) == (257, 513, 258)
    assert instance[5, 5] == 0
    mode, rgb = _png(tmp_path / "val" / "semantic_rgb" / "a.png")
    assert mode == "RGB" and tuple(rgb[0, 0]) == (10, 20, 30) and tuple(rgb[5, 5]) == (0, 0, 0)
    assert (tmp_path / "label_colors.txt").read_text(encoding="utf-8").splitlines()[1] == (
        "10 20 30 car")


def test_golden_sample(sample_source: MemorySource, tmp_path: Path,
                       png_goldens: Callable[..., list[str]]) -> None:
    out = run_export(_ground_truth(sample_source), SPEC, tmp_path / "out").path
    (out / "labelport-export.json").unlink()
    written = png_goldens(out, GOLDEN, regen=REGEN)
    assert "train/instance/straße_ü.png" in written and "classes.tsv" in written


def _masks(source: ExportSource) -> dict[str, list[tuple[str, int | None, int]]]:
    """Per image: (class, instance id, pixel count) of each mask read."""
    return {r.item.file_name.rsplit(".", 1)[0]: sorted(
        (a.label, a.instance_id, mask_area(a.geometry))  # type: ignore[arg-type]
        for a in r.annotations) for r in source.records()}


def test_goldens_read_back(sample_source: MemorySource, tmp_path: Path,
                           png_goldens: Callable[..., list[str]]) -> None:
    """The goldens read as the sample's classes and objects, and write back the same PNGs."""
    golden = read(GOLDEN, {})
    assert golden.schema.class_names == sample_source.schema.class_names
    masks = _masks(golden)
    assert masks["yard_002"] == [("building", 1, 16800), ("car", 1, 3200), ("car", 2, 2800),
                                 ("car", 3, 3500)]
    assert masks["empty_006"] == [] and len(masks) == len(sample_source)
    again = run_export(MemorySource(project=ProjectInfo(name="g"), schema=golden.schema,
                                    items=tuple(golden.records())), SPEC, tmp_path / "again")
    (again.path / "labelport-export.json").unlink()
    png_goldens(again.path, GOLDEN, regen=False)


def test_round_trip_with_media_and_splits(sample_source: MemorySource, tmp_path: Path) -> None:
    records = tuple(ItemRecord(item=r.item, tasks=r.tasks, annotations=r.annotations,
                               split="val" if r.item.path.startswith("field") else "train")
                    for r in _ground_truth(sample_source).records())
    source = MemorySource(project=sample_source.project, schema=sample_source.schema,
                          items=records)
    result = run_export(source, SPEC, tmp_path / "out", media=MediaMode.COPY)
    assert result.report.counts["not written: polyline (no area to paint)"] == 1
    back = read(result.path, {})
    assert {r.split for r in back.records()} == {"train", "val"}
    assert all(Path(str(r.item.media_uri)).is_file() for r in back.records())
    assert sorted(r.item.file_name for r in back.records()) == sorted(
        r.item.file_name for r in records)
    assert _masks(back) == _masks(read(GOLDEN, {}))


def test_more_than_255_classes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match="1..255"):
        write(_source(classes=tuple(f"c{i}" for i in range(256))), tmp_path, {}, WriteContext())


def test_semantic_pngs_alone_read_one_mask_per_class(tmp_path: Path) -> None:
    (tmp_path / "train" / "semantic").mkdir(parents=True)
    pixels = np.zeros((4, 5), dtype=np.uint8)
    pixels[0, :2], pixels[3, 4] = 2, 1
    Image.fromarray(pixels, "L").save(tmp_path / "train" / "semantic" / "x.png")
    (record,) = read(tmp_path, {}).records()
    assert (record.item.path, record.item.width, record.item.media_uri) == ("x.png", 5, None)
    assert [(a.label, a.instance_id, mask_area(a.geometry))  # type: ignore[arg-type]
            for a in record.annotations] == [("class_1", None, 1), ("class_2", None, 2)]


@pytest.mark.parametrize(("files", "message"), [
    ({}, "no {split}/instance/ or {split}/semantic/ folder"),
    ({"train/instance/a.png": b"not a png"}, "a.png: not a readable"),
    ({"train/instance/a.png": "RGB"}, "expected a PNG of mode"),
    ({"train/instance/a.png": 3 * 256 + 1}, "class value 3 has no line in label_colors.txt"),
    ({"label_colors.txt": "0 0 0 background\n1 2 car\n"}, "label_colors.txt: line 2"),
    ({"label_colors.txt": "0 0 0 bg\n1 2 3 car\n4 5 6 car\n"}, "'car' is listed twice"),
    ({"label_colors.txt": b"\xff\n"}, "label_colors.txt: line 1 .*not valid utf-8"),
    ({"classes.tsv": "type\tname\ncar\n"}, "classes.tsv: line 2"),
])
def test_bad_input_is_refused_with_the_file(files: dict[str, str | bytes | int], message: str,
                                            tmp_path: Path) -> None:
    (tmp_path / "train" / "semantic").mkdir(parents=True)
    if "label_colors.txt" not in files:
        (tmp_path / "label_colors.txt").write_text("0 0 0 background\n1 2 3 car\n",
                                                   encoding="utf-8")
    if not files:
        (tmp_path / "train" / "semantic").rmdir()
    write_inputs(tmp_path, files)
    with pytest.raises(InputError, match=message):
        list(read(tmp_path, {}).records())


_DATUMARO_KITTI = """
import json, sys
import datumaro as dm
dataset = dm.Dataset.import_from(sys.argv[1], "kitti_segmentation")
names = [c.name for c in dataset.categories()[dm.AnnotationType.label]]
print(json.dumps({"classes": names, "items": {item.id: sorted(
    [names[a.label], a.id, int(a.image.sum())] for a in item.annotations if a.label != 0)
    for item in dataset}}))
"""


def test_datumaro_reads_the_export(sample_source: MemorySource, tmp_path: Path) -> None:
    out = run_export(_ground_truth(sample_source), SPEC, tmp_path / "out",
                     media=MediaMode.COPY).path
    found = run_side(DATUMARO, _DATUMARO_KITTI, str(out))
    types = [name.replace(" ", "_") for name in sample_source.schema.class_names]
    assert found["classes"] == ["background", *types]
    ours = {stem: sorted([label.replace(" ", "_"), n, area] for label, n, area in masks)
            for stem, masks in _masks(read(out, {})).items()}
    assert found["items"] == ours
    assert found["items"]["yard_002"] == [["building", 1, 16800], ["car", 1, 3200],
                                          ["car", 2, 2800], ["car", 3, 3500]]
