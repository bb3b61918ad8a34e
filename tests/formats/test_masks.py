"""The shared rasteriser (`_shared/raster.py`) and the mask PNG formats: the rasteriser equals
pycocotools' full-image raster pixel for pixel, z-order paints as documented, Pillow reads every
PNG with the expected mode and values, a polygon with a hole stays a hole in every variant,
goldens for the sample project (compared by decoded pixels), round trips that compare pixels,
and bad input refused with the file and place.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_masks.py``
and look at the PNGs before committing them."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from labelport.domain.codec import schema_to_json
from labelport.domain.geometry import (
    Box,
    GeometryKind,
    Mask,
    Polygon,
    PolygonPart,
    Polyline,
    RotatedBox,
)
from labelport.domain.geometry_ops import rotated_box_corners
from labelport.domain.masks import (
    bitmap_to_rle,
    box_to_rle,
    polygon_to_rle,
    rle_to_bitmap,
    rle_to_uncompressed,
)
from labelport.domain.model import DEFAULT_LABELSET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, UnsupportedError
from labelport.export.selection import restrict_labelsets
from labelport.formats import masks
from labelport.formats._shared.raster import (
    PngOut,
    RasterJob,
    Visible,
    _rle_runs,
    full_bitmap,
    id_to_rgb,
    object_pixels,
    paint,
    rasterise,
    render,
    render_all,
    rgb_to_id,
    voc_color,
)
from labelport.formats.base import FormatSpec, WriteContext

GOLDEN = Path(__file__).parent.parent / "data" / "golden"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
SPECS = [masks.SEMANTIC_SPEC, masks.SEMANTIC_COLOR_SPEC, masks.INSTANCE_SPEC,
         masks.INSTANCE_COLOR_SPEC, masks.PER_CLASS_SPEC]
MODES = {"masks_semantic": "L", "masks_semantic_color": "P", "masks_instance": "I;16",
         "masks_instance_color": "P", "masks_per_class": "L"}
DONUT = Polygon(parts=(PolygonPart(outer=(2, 2, 8, 2, 8, 8, 2, 8),
                                   holes=((4, 4, 6, 4, 6, 6, 4, 6),)),))
"""T1 of the research notes: a 10 x 10 image, pixels 2..7 set except 4..5 (32 pixels)."""


# --- the rasteriser --------------------------------------------------------------------------


def _coco_bitmap(geometry: Box | RotatedBox | Polygon, h: int, w: int) -> np.ndarray:
    if isinstance(geometry, Box):
        return rle_to_bitmap(box_to_rle(geometry, height=h, width=w)).astype(bool)
    if isinstance(geometry, RotatedBox):
        geometry = Polygon.simple(rotated_box_corners(geometry))
    return rle_to_bitmap(polygon_to_rle(geometry, height=h, width=w)).astype(bool)


def _random_geometries(n: int) -> list[tuple[Box | RotatedBox | Polygon, int, int]]:
    rnd = random.Random(6)
    out: list[tuple[Box | RotatedBox | Polygon, int, int]] = []
    for k in range(n):
        h, w = rnd.randint(3, 70), rnd.randint(3, 70)
        ring = tuple(v for _ in range(rnd.randint(3, 9))
                     for v in (rnd.uniform(-8, w + 8), rnd.uniform(-8, h + 8)))
        if k % 3 == 0:
            ring = tuple(round(v * 10) / 10 for v in ring)  # the ties of .x5 upsampling
        hole = tuple(v for _ in range(4) for v in (rnd.uniform(0, w), rnd.uniform(0, h)))
        out.append((Polygon(parts=(PolygonPart(outer=ring, holes=(hole,)),
                                   PolygonPart(outer=tuple(v / 2 for v in ring)))), h, w))
        out.append((Box(x=rnd.uniform(-5, w), y=rnd.uniform(-5, h), w=rnd.uniform(0, 30),
                        h=rnd.uniform(0, 30)), h, w))
        out.append((RotatedBox(cx=rnd.uniform(0, w), cy=rnd.uniform(0, h), w=rnd.uniform(1, 30),
                               h=rnd.uniform(1, 30), angle_deg=rnd.uniform(-180, 180)), h, w))
    return out


def test_the_windowed_raster_equals_pycocotools_on_the_whole_image() -> None:
    """Polygons (holes, parts, vertices outside the image, tenths that hit pycocotools'
    rounding ties), boxes and rotated boxes: the same pixels as `labelport.domain.masks`."""
    for geometry, h, w in _random_geometries(150):
        expected = _coco_bitmap(geometry, h, w)
        got = full_bitmap(rasterise(geometry, height=h, width=w), height=h, width=w)
        assert np.array_equal(got, expected), (geometry, h, w)
        (pixels,) = object_pixels([geometry], height=h, width=w)
        painted = paint([pixels], [1], height=h, width=w)
        assert np.array_equal(painted == 1, expected), (geometry, h, w)


def test_pixels_of_many_objects_decoded_together_equal_each_alone() -> None:
    """The batched decode of one image's RLEs (polygons without holes, boxes, masks)."""
    rng = np.random.default_rng(1)
    shapes = [g for g, _, _ in _random_geometries(60)]
    shapes.append(bitmap_to_rle(rng.random((50, 60)) < 0.3))
    shapes.append(bitmap_to_rle(np.zeros((50, 60), dtype=bool)))
    together = object_pixels(shapes, height=50, width=60)
    for shape, pixels in zip(shapes, together, strict=True):
        alone = full_bitmap(rasterise(shape, height=50, width=60), height=50, width=60)
        assert np.array_equal(paint([pixels], [1], height=50, width=60) == 1, alone), shape


def test_masks_are_decoded_in_their_window_and_cut_to_the_image() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        bitmap = rng.random((h, w)) < rng.random()
        mask = bitmap_to_rle(bitmap)
        starts, ends, _ = _rle_runs([mask.counts.encode()])
        runs = rle_to_uncompressed(mask)
        bounds = np.cumsum(runs)
        assert starts.tolist() == bounds[0:len(runs) - 1:2].tolist()
        assert ends.tolist() == bounds[1::2].tolist()
        got = full_bitmap(rasterise(mask, height=h, width=w), height=h, width=w)
        assert np.array_equal(got, bitmap)
        small = full_bitmap(rasterise(mask, height=max(1, h - 3), width=max(1, w - 2)),
                            height=max(1, h - 3), width=max(1, w - 2))
        assert np.array_equal(small, bitmap[:max(1, h - 3), :max(1, w - 2)])


def test_a_hole_stays_a_hole() -> None:
    bitmap = full_bitmap(rasterise(DONUT, height=10, width=10), height=10, width=10)
    assert bitmap.sum() == 32
    assert not bitmap[4:6, 4:6].any()
    assert bitmap[2:8, 2:8].sum() == 32


@pytest.mark.parametrize(("index", "rgb"), [
    (0, (0, 0, 0)), (1, (128, 0, 0)), (2, (0, 128, 0)), (3, (128, 128, 0)),
    (15, (192, 128, 128)),  # person
    (20, (0, 64, 128)), (255, (224, 224, 192)),  # the devkit's labelcolormap, 255 = void
])
def test_voc_palette(index: int, rgb: tuple[int, int, int]) -> None:
    assert voc_color(index) == rgb


@pytest.mark.parametrize(("segment_id", "rgb"), [
    (0, (0, 0, 0)), (1, (1, 0, 0)), (255, (255, 0, 0)), (256, (0, 1, 0)), (65536, (0, 0, 1)),
    (0xFFFFFF, (255, 255, 255)), (1 + 2 * 256 + 3 * 65536, (1, 2, 3)),
])
def test_panoptic_ids_and_colours(segment_id: int, rgb: tuple[int, int, int]) -> None:
    """panopticapi's ``id2rgb`` and ``rgb2id``: id = R + 256 G + 256^2 B."""
    assert tuple(id_to_rgb(np.array([segment_id]))[0]) == rgb
    assert int(rgb_to_id(np.array([rgb]))[0]) == segment_id


def test_z_order_then_annotation_order(tmp_path: Path) -> None:
    """The higher z-order is on top whatever the order; at equal z-order the later one is."""
    a, b = Box(x=0, y=0, w=6, h=6), Box(x=3, y=3, w=6, h=6)
    record = _record(Annotation(label="car", geometry=a, z_order=2),
                     Annotation(label="tree", geometry=b, z_order=1),
                     Annotation(label="road", geometry=Box(x=5, y=0, w=5, h=2)),
                     Annotation(label="car", geometry=Box(x=7, y=0, w=3, h=2)))
    out = tmp_path / "out"
    masks.SEMANTIC_SPEC.writer(_source(record), out, {}, WriteContext())  # type: ignore[misc]
    values = np.asarray(Image.open(out / "masks" / "a.png"))
    assert values[4, 4] == 1  # car (z 2) above tree (z 1)
    assert values[7, 7] == 3  # tree alone
    assert values[0, 6] == 2 and values[0, 8] == 1  # z 0: road, then the later car on top


def test_render_all_keeps_the_order_and_writes_every_png(tmp_path: Path) -> None:
    jobs = [(k, RasterJob(height=4, width=4, geometries=(Box(x=0, y=0, w=k % 4 + 1, h=1),),
                          outputs=(PngOut(path=tmp_path / f"{k}.png", values=(k % 200 + 1,)),)))
            for k in range(60)]
    results = list(render_all(iter(jobs), workers=3))
    assert [k for k, _ in results] == list(range(60))
    assert all(r[0] == {k % 200 + 1: Visible()} for k, r in results)
    assert render(jobs[5][1])[0][6] == Visible()  # measured only for panoptic ids
    panoptic = RasterJob(height=4, width=4, geometries=(Box(x=1, y=2, w=2, h=1),),
                         outputs=(PngOut(path=tmp_path / "p.png", values=(7,),
                                         encoding="rgb_id"),))
    assert render(panoptic)[0][7] == Visible(pixels=2, box_xywh=(1, 2, 2, 1))


# --- helpers ---------------------------------------------------------------------------------


CLASSES = ("car", "road", "tree")


def _source(*records: ItemRecord, classes: tuple[str, ...] = CLASSES) -> MemorySource:
    schema = LabelSchema(classes=tuple(LabelClass(id=i, name=n)
                                       for i, n in enumerate(classes, start=1)))
    return MemorySource(project=ProjectInfo(name="p"), schema=schema, items=records)


def _record(*annotations: Annotation, path: str = "a.jpg", size: tuple[int, int] = (10, 10),
            split: str | None = None) -> ItemRecord:
    return ItemRecord(item=Item(dataset="d", path=path, width=size[0], height=size[1]),
                      annotations=annotations, split=split)


def _write(spec: FormatSpec, source: ExportSource, out: Path, **options: object) -> WriteContext:
    ctx = WriteContext()
    assert spec.writer is not None
    spec.writer(source, out, spec.resolve_options(options), ctx)
    return ctx


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


def _png(path: Path) -> tuple[str, np.ndarray]:
    with Image.open(path) as image:
        return image.mode, np.asarray(image)


# --- every variant ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_pillow_reads_the_expected_mode_and_the_hole_stays_a_hole(spec: FormatSpec,
                                                                  tmp_path: Path) -> None:
    record = _record(Annotation(label="tree", geometry=DONUT),
                     Annotation(label="car", geometry=Polyline(points=(0, 0, 9, 9))))
    ctx = _write(spec, _source(record), tmp_path)
    assert ctx.report.counts["not written: polyline (no area to paint)"] == 1
    file = (tmp_path / "masks" / "a" / "tree_1.png" if spec is masks.PER_CLASS_SPEC
            else tmp_path / "masks" / "a.png")
    mode, values = _png(file)
    assert mode == MODES[spec.name]
    expected = {"masks_semantic": 3, "masks_semantic_color": 3, "masks_per_class": 255}
    value = expected.get(spec.name, 1)
    assert (values == value).sum() == 32 and (values == 0).sum() == 68
    assert (values[4:6, 4:6] == 0).all()
    assert "file: a.jpg\n" in (tmp_path / "classes.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_an_image_without_objects_gets_an_all_zero_mask(spec: FormatSpec,
                                                        tmp_path: Path) -> None:
    _write(spec, _source(_record(size=(7, 5))), tmp_path)
    file = next((tmp_path / "masks").rglob("*.png"))
    mode, values = _png(file)
    assert values.shape == (5, 7) and not values.any()
    assert (tmp_path / "classes.txt").read_text(encoding="utf-8") == "file: a.jpg\n"


def test_colour_variants_show_the_schema_colours_and_a_legend(tmp_path: Path) -> None:
    schema = LabelSchema(classes=(LabelClass(id=1, name="car", color="#e6194b"),
                                  LabelClass(id=2, name="road")))
    record = _record(Annotation(label="car", geometry=Box(x=0, y=0, w=2, h=2)),
                     Annotation(label="road", geometry=Box(x=5, y=5, w=2, h=2)),
                     Annotation(label="car", geometry=Box(x=8, y=8, w=2, h=2)))
    source = MemorySource(project=ProjectInfo(name="p"), schema=schema, items=(record,))
    for spec in (masks.SEMANTIC_COLOR_SPEC, masks.INSTANCE_COLOR_SPEC):
        out = tmp_path / spec.name
        _write(spec, source, out)
        with Image.open(out / "masks" / "a.png") as image:
            indices = np.asarray(image)
            rgb = image.convert("RGB")
            assert rgb.getpixel((0, 0)) == (230, 25, 75)
            assert rgb.getpixel((9, 9)) == (230, 25, 75)
            assert rgb.getpixel((5, 5)) == voc_color(2)  # no colour: the VOC palette's
            assert rgb.getpixel((3, 3)) == (0, 0, 0)
        values = {"masks_semantic_color": (1, 2, 1), "masks_instance_color": (1, 2, 3)}
        assert (indices[0, 0], indices[5, 5], indices[9, 9]) == values[spec.name]
        assert (out / "labelmap.txt").read_text(encoding="utf-8").splitlines()[1:] == [
            "background:0,0,0::", "car:230,25,75::", f"road:{','.join(map(str, voc_color(2)))}::"]


def test_instances_number_objects_in_annotation_order_and_count_hidden_ones(
        tmp_path: Path) -> None:
    record = _record(Annotation(label="road", geometry=Box(x=0, y=0, w=10, h=10), z_order=-1),
                     Annotation(label="car", geometry=Box(x=2, y=2, w=2, h=2), z_order=1),
                     Annotation(label="tree", geometry=Box(x=2, y=2, w=1, h=1)))
    ctx = _write(masks.INSTANCE_SPEC, _source(record), tmp_path)
    _, values = _png(tmp_path / "masks" / "a.png")
    assert values.dtype == np.uint16
    assert (values[0, 0], values[3, 3]) == (1, 2)
    assert 3 not in values  # under the car (z 1)
    assert ctx.report.counts["not written: object with no visible pixel (hidden under others or "
                             "too thin)"] == 1
    assert (tmp_path / "classes.txt").read_text(encoding="utf-8") == "file: a.jpg\n1 road\n2 car\n"


def test_more_than_255_instances_fit_in_16_bits(tmp_path: Path) -> None:
    boxes = [Annotation(label="car", geometry=Box(x=k % 30, y=k // 30, w=1, h=1))
             for k in range(600)]
    _write(masks.INSTANCE_SPEC, _source(_record(*boxes, size=(30, 20))), tmp_path)
    _, values = _png(tmp_path / "masks" / "a.png")
    assert values.max() == 600 and values[19, 29] == 600
    ctx = _write(masks.INSTANCE_COLOR_SPEC, _source(_record(*boxes, size=(30, 20))),
                 tmp_path / "c")
    assert ctx.report.counts["not written: instance beyond 255 in one image"] == 345


@pytest.mark.parametrize("by", ["instance", "class"])
def test_per_class_bitmasks_are_named_by_class_and_instance(by: str, tmp_path: Path) -> None:
    record = _record(Annotation(label="car", geometry=Box(x=0, y=0, w=4, h=4)),
                     Annotation(label="car", geometry=Box(x=2, y=2, w=4, h=4)),
                     Annotation(label="tree", geometry=Box(x=8, y=8, w=2, h=2)))
    _write(masks.PER_CLASS_SPEC, _source(record), tmp_path, by=by)
    names = sorted(p.name for p in (tmp_path / "masks" / "a").iterdir())
    if by == "instance":
        assert names == ["car_1.png", "car_2.png", "tree_3.png"]
        _, first = _png(tmp_path / "masks" / "a" / "car_1.png")
        assert first.sum() == 16 * 255  # its own pixels, the overlap kept
    else:
        assert names == ["car.png", "tree.png"]
        _, cars = _png(tmp_path / "masks" / "a" / "car.png")
        assert (cars == 255).sum() == 16 + 16 - 4


# --- goldens and round trips on the sample ---------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_golden_sample(spec: FormatSpec, sample_source: MemorySource, tmp_path: Path,
                       png_goldens: Callable[..., list[str]]) -> None:
    out = tmp_path / spec.name
    _write(spec, _ground_truth(sample_source), out)
    written = png_goldens(out, GOLDEN / spec.name, regen=REGEN)
    assert "labelmap.txt" in written and "classes.txt" in written
    classes = (out / "classes.txt").read_text(encoding="utf-8")
    assert classes.count("file: ") == len(sample_source)
    assert "file: straße_ü.png\n" in classes and "traffic sign, temporary" in classes
    labelmap = (out / "labelmap.txt").read_text(encoding="utf-8").splitlines()
    assert labelmap[2:4] == ["car:230,25,75::", "truck:60,180,75::"]  # schema order, with truck
    for file in (out / "masks").rglob("*.png"):
        with Image.open(file) as image:
            assert image.mode == MODES[spec.name]
    if spec is masks.SEMANTIC_SPEC:
        _, yard = _png(out / "masks" / "yard_002.png")
        assert yard[80, 100] == 0  # the building's courtyard
        assert yard[30, 30] == 5  # building: index 4 + 1
        assert yard[80, 240] == 1  # the front car
        assert (yard == 5).sum() == 160 * 120 - 60 * 40


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_round_trip_keeps_every_pixel(spec: FormatSpec, sample_source: MemorySource,
                                      tmp_path: Path) -> None:
    """Export, read back (masks), export again: every PNG has the same pixels."""
    first, second = tmp_path / "first", tmp_path / "second"
    _write(spec, _ground_truth(sample_source), first)
    assert spec.reader is not None
    read = spec.reader(first, {"images": None})
    assert len(read) == len(sample_source)
    assert all(a.geometry.kind.value == "mask" for r in read.records() for a in r.annotations)
    assert read.schema.class_names == sample_source.schema.class_names
    _write(spec, read, second)
    pngs = sorted(p.relative_to(first) for p in first.rglob("*.png"))
    assert pngs == sorted(p.relative_to(second) for p in second.rglob("*.png"))
    for name in pngs:
        a, b = _png(first / name), _png(second / name)
        assert a[0] == b[0] and np.array_equal(a[1], b[1]), name
    assert (first / "classes.txt").read_bytes() == (second / "classes.txt").read_bytes()


def test_reader_sets_splits_media_and_instance_ids(tmp_path: Path) -> None:
    record = _record(Annotation(label="car", geometry=Box(x=0, y=0, w=2, h=2)), split="val")
    _write(masks.INSTANCE_SPEC, _source(record), tmp_path)
    (tmp_path / "images").mkdir()
    Image.new("RGB", (10, 10)).save(tmp_path / "images" / "a.jpg")
    (read,) = masks.INSTANCE_SPEC.reader(tmp_path, {}).records()  # type: ignore[misc]
    assert read.split == "val"
    assert read.item.media_uri == str((tmp_path / "images" / "a.jpg").absolute())
    (annotation,) = read.annotations
    assert annotation.instance_id == 1 and isinstance(annotation.geometry, Mask)


# --- refusals and bad input ------------------------------------------------------------------


def test_more_than_255_classes_are_refused_for_semantic_masks(tmp_path: Path) -> None:
    classes = tuple(f"c{i}" for i in range(256))
    with pytest.raises(UnsupportedError, match="pixel value 1..255.*256 classes"):
        _write(masks.SEMANTIC_SPEC, _source(classes=classes), tmp_path)
    _write(masks.INSTANCE_SPEC, _source(classes=classes), tmp_path / "instance")


def test_class_names_labelmap_cannot_hold_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match="rename the class"):
        _write(masks.SEMANTIC_SPEC, _source(classes=("a:b",)), tmp_path)
    with pytest.raises(UnsupportedError, match="same file name"):
        _write(masks.PER_CLASS_SPEC, _source(classes=("a/b", "a_b")), tmp_path / "p")


@pytest.mark.parametrize(("classes", "message"), [
    ("1 car\n", r"classes.txt: line 1: expected 'file: <image name>' before"),
    ("file: a.jpg\ncar 1\n", r"classes.txt: line 2: expected '<pixel value> <class name>'"),
    ("file: b.jpg\n", r"'b.jpg' has no mask file masks/b.png"),
])
def test_bad_classes_txt(classes: str, message: str, tmp_path: Path) -> None:
    _write(masks.SEMANTIC_SPEC, _source(_record()), tmp_path)
    (tmp_path / "classes.txt").write_text(classes, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        masks.SEMANTIC_SPEC.reader(tmp_path, {})  # type: ignore[misc]


def test_a_mask_of_the_wrong_mode_or_no_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected a masks_semantic export: classes.txt"):
        masks.SEMANTIC_SPEC.reader(tmp_path, {})  # type: ignore[misc]
    _write(masks.SEMANTIC_SPEC, _source(_record()), tmp_path)
    Image.new("RGB", (10, 10)).save(tmp_path / "masks" / "a.png")
    with pytest.raises(InputError, match=r"a.png: expected a PNG of mode L, got RGB"):
        list(masks.SEMANTIC_SPEC.reader(tmp_path, {}).records())  # type: ignore[misc]



# --- reading without classes.txt, or with a class list (the schema option) ------------------


def _without_classes_txt(spec: FormatSpec, sample: MemorySource, out: Path) -> None:
    _write(spec, _ground_truth(sample), out)
    (out / "classes.txt").unlink()


def _class_list(kind: str, schema: LabelSchema, folder: Path) -> Path:
    """The sample's schema as a labelmap (moved out of the export), names or schema JSON."""
    folder.mkdir(exist_ok=True)
    if kind == "names":
        path = folder / "classes.names"
        path.write_text("background\n" + "\n".join(schema.class_names) + "\n", encoding="utf-8")
    elif kind == "json":
        path = folder / "schema.json"
        path.write_bytes(orjson.dumps(schema_to_json(schema)))
    else:
        path = folder / "labelmap.txt"
    return path


def _read_then_drop_classes_txt(spec: FormatSpec, sample: MemorySource,
                                out: Path) -> list[ItemRecord]:
    """The sample's export as read with its classes.txt, which is then deleted."""
    _write(spec, _ground_truth(sample), out)
    assert spec.reader is not None
    records = list(spec.reader(out, {}).records())
    (out / "classes.txt").unlink()
    return records


def _same_records(source: ExportSource, expected: list[ItemRecord]) -> None:
    """The same records, in any order (without classes.txt the masks are read by name)."""
    left, right = (sorted(r, key=lambda r: r.item.path) for r in (source.records(), expected))
    assert [r.item for r in left] == [r.item for r in right]
    assert [r.split for r in left] == [r.split for r in right]
    assert [r.annotations for r in left] == [r.annotations for r in right]  # RLEs: same pixels
    assert sum(len(r.annotations) for r in left) > 0


@pytest.mark.parametrize("kind", ["labelmap", "names", "json"])
def test_semantic_masks_without_classes_txt_read_with_a_class_list(
        kind: str, sample_source: MemorySource, tmp_path: Path) -> None:
    spec = masks.SEMANTIC_SPEC
    assert spec.reader is not None
    expected = _read_then_drop_classes_txt(spec, sample_source, tmp_path / "bare")
    listed = _class_list(kind, sample_source.schema, tmp_path / "list")
    if kind == "labelmap":
        (tmp_path / "bare" / "labelmap.txt").rename(listed)
    read = spec.reader(tmp_path / "bare", {"schema": str(listed), "images": None})
    assert read.schema.class_names == sample_source.schema.class_names
    assert read.schema.classes[0].geometry == (GeometryKind.BOX if kind == "json"
                                               else GeometryKind.MASK)
    _same_records(read, expected)
    assert {r.item.path for r in read.records()} >= {"yard_002.jpg", "straße_ü.png"}


def test_semantic_masks_without_classes_txt_use_the_exports_labelmap(
        sample_source: MemorySource, tmp_path: Path) -> None:
    spec = masks.SEMANTIC_SPEC
    _without_classes_txt(spec, sample_source, tmp_path)
    shutil.rmtree(tmp_path / "splits")
    (tmp_path / "images").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "images" / "yard_002.jpg")
    records = {r.item.path: r for r in spec.reader(tmp_path, {}).records()}  # type: ignore[misc]
    # without split lists, the name is the image's found by stem, else the mask's
    assert records["yard_002.jpg"].item.media_uri == str(tmp_path / "images" / "yard_002.jpg")
    assert records["yard_002.jpg"].split is None
    assert "street_001.png" in records
    labels = {a.label for a in records["yard_002.jpg"].annotations}
    assert "building" in labels


@pytest.mark.parametrize("kind", ["labelmap", "json"])
def test_colour_masks_without_classes_txt_are_read_by_colour(
        kind: str, sample_source: MemorySource, tmp_path: Path) -> None:
    spec = masks.SEMANTIC_COLOR_SPEC
    assert spec.reader is not None
    expected = _read_then_drop_classes_txt(spec, sample_source, tmp_path / "bare")
    options = ({} if kind == "labelmap" else
               {"schema": str(_class_list(kind, sample_source.schema, tmp_path / "list"))})
    _same_records(spec.reader(tmp_path / "bare", options), expected)
    # an RGB PNG of the same colours (another tool's) reads the same
    for mask in (tmp_path / "bare" / "masks").glob("*.png"):
        with Image.open(mask) as image:
            image.convert("RGB").save(mask)
    _same_records(spec.reader(tmp_path / "bare", options), expected)


def test_with_classes_txt_a_class_list_gives_order_and_ids(tmp_path: Path) -> None:
    record = _record(Annotation(label="tree", geometry=Box(x=0, y=0, w=2, h=2)))
    _write(masks.INSTANCE_SPEC, _source(record), tmp_path)
    listed = tmp_path / "order.txt"
    listed.write_text("# ours\nroad\ntree\ncar\nbike\n", encoding="utf-8")
    read = masks.INSTANCE_SPEC.reader(tmp_path, {"schema": str(listed)})  # type: ignore[misc]
    assert [(c.id, c.name) for c in read.schema.classes] == [
        (1, "road"), (2, "tree"), (3, "car"), (4, "bike")]
    (only,) = read.records()
    assert [(a.label, a.instance_id) for a in only.annotations] == [("tree", 1)]
    listed.write_text("road\ncar\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"classes.txt: class 'tree' is not in the schema "
                                         r".*order.txt"):
        masks.INSTANCE_SPEC.reader(tmp_path, {"schema": str(listed)})  # type: ignore[misc]


def _semantic_export(tmp_path: Path, spec: FormatSpec = masks.SEMANTIC_SPEC) -> Path:
    record = _record(Annotation(label="road", geometry=Box(x=0, y=0, w=4, h=4)))
    _write(spec, _source(record), tmp_path)
    (tmp_path / "classes.txt").unlink()
    return tmp_path / "masks" / "a.png"


def test_a_value_beyond_the_class_list_is_refused_with_the_file(tmp_path: Path) -> None:
    _semantic_export(tmp_path)  # road: value 2
    listed = tmp_path / "one.txt"
    listed.write_text("car\n", encoding="utf-8")
    source = masks.SEMANTIC_SPEC.reader(tmp_path, {"schema": str(listed)})  # type: ignore[misc]
    with pytest.raises(InputError, match=r"masks/a.png: pixel value 2, but the class list "
                                         r".*one.txt has 1 classes"):
        list(source.records())


def test_an_unknown_or_shared_colour_is_refused_with_the_file(tmp_path: Path) -> None:
    _semantic_export(tmp_path, masks.SEMANTIC_COLOR_SPEC)  # road in VOC colour 2
    listed = tmp_path / "names.txt"
    listed.write_text("road\n", encoding="utf-8")  # no colour: road gets VOC colour 1
    source = masks.SEMANTIC_COLOR_SPEC.reader(tmp_path, {"schema": str(listed)})  # type: ignore[misc]
    rgb = ",".join(map(str, voc_color(2)))
    with pytest.raises(InputError, match=rf"masks/a.png: colour {rgb} is no class's colour in "
                                         r".*names.txt \(nor background black\)"):
        list(source.records())
    (tmp_path / "labelmap.txt").write_text(f"car:{rgb}::\nroad:{rgb}::\n", encoding="utf-8")
    source = masks.SEMANTIC_COLOR_SPEC.reader(tmp_path, {})  # type: ignore[misc]
    with pytest.raises(InputError, match=rf"masks/a.png: colour {rgb} is the colour of 'car' "
                                         r"and 'road' in .*labelmap.txt"):
        list(source.records())


@pytest.mark.parametrize("spec", [masks.INSTANCE_SPEC, masks.INSTANCE_COLOR_SPEC,
                                  masks.PER_CLASS_SPEC], ids=lambda s: s.name)
def test_instance_masks_without_classes_txt_are_refused(spec: FormatSpec,
                                                        tmp_path: Path) -> None:
    _write(spec, _source(_record()), tmp_path)
    (tmp_path / "classes.txt").unlink()
    with pytest.raises(InputError, match=rf"{spec.name} needs classes.txt, which names the "
                                         "class of each instance"):
        spec.reader(tmp_path, {"schema": str(tmp_path / "labelmap.txt")})  # type: ignore[misc]


@pytest.mark.parametrize(("content", "message"), [
    (None, r"missing.txt: no such file"),
    ("# nothing\n\n", r"bad.txt: the class list has no class"),
    ("car\nroad\ncar\n", r"bad.txt: class 'car' is listed twice"),
    ("car:1,2,3::\nroad:red::\n", r"bad.txt: line 2: colour should be 'r,g,b'"),
    (b"\xff\xfe", r"bad.txt: line 1 \(byte 0\): not valid utf-8"),
])
def test_a_bad_class_list_is_refused_with_the_file(content: str | bytes | None, message: str,
                                                   tmp_path: Path) -> None:
    _semantic_export(tmp_path / "export")
    listed = tmp_path / ("missing.txt" if content is None else "bad.txt")
    if isinstance(content, bytes):
        listed.write_bytes(content)
    elif content is not None:
        listed.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        masks.SEMANTIC_SPEC.reader(tmp_path / "export", {"schema": str(listed)})  # type: ignore[misc]


def test_a_folder_without_classes_txt_nor_class_list_is_refused(tmp_path: Path) -> None:
    _semantic_export(tmp_path)
    (tmp_path / "labelmap.txt").unlink()
    with pytest.raises(InputError, match=r"expected a masks_semantic export: classes.txt and "
                                         r"masks/, or masks/\*.png with a class list"):
        masks.SEMANTIC_SPEC.reader(tmp_path, {})  # type: ignore[misc]


def _labelport(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labelport", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_imports_masks_with_a_class_list_and_refuses_a_bad_one(
        sample_source: MemorySource, tmp_path: Path) -> None:
    _without_classes_txt(masks.SEMANTIC_SPEC, sample_source, tmp_path / "bare")
    listed = _class_list("names", sample_source.schema, tmp_path)
    db = ("--db", str(tmp_path / "store.db"))
    assert _labelport("init", *db, cwd=tmp_path).returncode == 0
    assert _labelport("project", "create", "p", *db, cwd=tmp_path).returncode == 0
    run = _labelport("import", "p", "masks_semantic", "bare", "-o", f"schema={listed.name}",
                     *db, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"imported {len(sample_source)} items" in run.stdout
    listed.write_text("car\n", encoding="utf-8")
    run = _labelport("import", "p", "masks_semantic", "bare", "-o", f"schema={listed.name}",
                     *db, cwd=tmp_path)
    assert run.returncode == 2
    assert "pixel value" in run.stderr and "classes.names" in run.stderr
    assert "Traceback" not in run.stderr
