"""Pascal VOC segmentation: palette PNGs Pillow reads as mode P with the VOC palette, the hole of
a polygon kept in both PNGs, goldens for the sample project (decoded pixels), a round trip that
compares pixels, the detection option through the VOC writer, and refusals.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_voc_segmentation.py``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelport.domain.geometry import Box, Polygon, PolygonPart
from labelport.domain.model import DEFAULT_LABELSET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, UnsupportedError
from labelport.export.selection import restrict_labelsets
from labelport.formats._shared.raster import voc_color
from labelport.formats.base import WriteContext
from labelport.formats.voc.segmentation import read, write

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "voc_segmentation"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
DONUT = Polygon(parts=(PolygonPart(outer=(2, 2, 8, 2, 8, 8, 2, 8),
                                   holes=((4, 4, 6, 4, 6, 6, 4, 6),)),))


def _source(*records: ItemRecord, classes: tuple[str, ...] = ("car", "tree")) -> MemorySource:
    schema = LabelSchema(classes=tuple(LabelClass(id=i, name=n)
                                       for i, n in enumerate(classes, start=1)))
    return MemorySource(project=ProjectInfo(name="p"), schema=schema, items=records)


def _record(*annotations: Annotation, path: str = "a.jpg", split: str | None = None) -> ItemRecord:
    return ItemRecord(item=Item(dataset="d", path=path, width=10, height=10),
                      annotations=annotations, split=split)


def _png(path: Path) -> tuple[str, np.ndarray, list[int] | None]:
    with Image.open(path) as image:
        return image.mode, np.asarray(image), image.getpalette()


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


def test_palette_pngs_keep_the_hole_and_number_objects(tmp_path: Path) -> None:
    record = _record(Annotation(label="tree", geometry=DONUT),
                     Annotation(label="car", geometry=Box(x=0, y=0, w=3, h=3), z_order=1),
                     split="val")
    write(_source(record), tmp_path, {}, WriteContext())
    mode, classes, palette = _png(tmp_path / "SegmentationClass" / "a.png")
    assert mode == "P" and palette is not None
    assert [tuple(palette[3 * i:3 * i + 3]) for i in range(256)] == [voc_color(i)
                                                                      for i in range(256)]
    assert classes[6, 6] == 2 and (classes[4:6, 4:6] == 0).all()  # the hole
    assert classes[2, 2] == 1  # the car (z 1) over the tree
    assert (classes == 2).sum() == 32 - 1 and VOID_NEVER(classes)
    mode, objects, _ = _png(tmp_path / "SegmentationObject" / "a.png")
    assert mode == "P" and objects[6, 6] == 1 and objects[2, 2] == 2 and objects[4, 4] == 0
    assert (tmp_path / "ImageSets/Segmentation/val.txt").read_text(encoding="utf-8") == "a\n"
    assert (tmp_path / "labelmap.txt").read_text(encoding="utf-8").splitlines()[1:] == [
        "background:0,0,0::", "car:128,0,0::", "tree:0,128,0::"]


def VOID_NEVER(values: np.ndarray) -> bool:  # noqa: N802 - reads as the rule it checks
    return bool((values != 255).all())


def test_golden_sample(sample_source: MemorySource, tmp_path: Path,
                       png_goldens: Callable[..., list[str]]) -> None:
    out = tmp_path / "voc_segmentation"
    write(_ground_truth(sample_source), out, {}, WriteContext())
    written = png_goldens(out, GOLDEN, regen=REGEN)
    assert sum(n.startswith("SegmentationClass/") for n in written) == len(sample_source)
    assert sum(n.startswith("SegmentationObject/") for n in written) == len(sample_source)
    _, yard, _ = _png(out / "SegmentationClass" / "yard_002.png")
    assert yard[80, 100] == 0 and yard[30, 30] == 5  # the courtyard stays background
    _, objects, _ = _png(out / "SegmentationObject" / "yard_002.png")
    assert sorted(np.unique(objects).tolist()) == [0, 1, 2, 3, 4]


def test_round_trip_keeps_every_pixel(sample_source: MemorySource, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write(_ground_truth(sample_source), first, {}, WriteContext())
    source = read(first, {"images": None})
    assert len(source) == len(sample_source)
    assert source.schema.class_names == sample_source.schema.class_names
    yard = next(r for r in source.records() if r.item.path.startswith("yard_002"))
    assert [(a.label, a.instance_id) for a in yard.annotations] == [
        ("building", 1), ("car", 2), ("car", 3), ("car", 4)]
    write(source, second, {}, WriteContext())
    for file in sorted(first.rglob("*.png")):
        name = file.relative_to(first)
        assert np.array_equal(_png(file)[1], _png(second / name)[1]), name


def test_detection_option_writes_voc_xml_beside_the_masks(sample_source: MemorySource,
                                                          tmp_path: Path) -> None:
    ctx = WriteContext()
    write(_ground_truth(sample_source), tmp_path, {"detection": True}, ctx)
    assert len(list((tmp_path / "Annotations").rglob("*.xml"))) == len(sample_source)
    assert (tmp_path / "ImageSets/Main/train.txt").is_file()
    assert ctx.report.counts["converted: polygon to its bounding box"] == 2
    assert (tmp_path / "labelmap.txt").read_text(encoding="utf-8").splitlines()[1] == (
        "background:0,0,0::")
    names = {r.item.path for r in read(tmp_path, {}).records()}
    assert "straße_ü.png" in names and "yard_002.jpg" in names  # from the XML's <filename>


def test_refusals_and_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match="1..254"):
        write(_source(classes=tuple(f"c{i}" for i in range(255))), tmp_path, {}, WriteContext())
    with pytest.raises(InputError, match="expected a VOC segmentation folder"):
        read(tmp_path, {})
    write(_source(_record(Annotation(label="car", geometry=Box(x=0, y=0, w=2, h=2)))),
          tmp_path / "v", {}, WriteContext())
    sevens = Image.fromarray(np.full((10, 10), 7, dtype=np.uint8)).convert("P")
    sevens.putpalette([v for i in range(256) for v in voc_color(i)])
    sevens.save(tmp_path / "v" / "SegmentationClass" / "a.png")
    with pytest.raises(InputError, match="class value 7 has no line in labelmap.txt"):
        list(read(tmp_path / "v", {}).records())
    Image.new("RGB", (10, 10)).save(tmp_path / "v" / "SegmentationClass" / "a.png")
    with pytest.raises(InputError, match="expected a PNG of mode P or L, got RGB"):
        list(read(tmp_path / "v", {}).records())
