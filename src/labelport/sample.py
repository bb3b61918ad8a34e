"""A small, complete sample project: real images and exact annotations for every kind of label.

One builder feeds every format's round trip and contract tests, the docs and the demo. It is
deterministic (the same call writes byte-identical PNGs, JPEGs at a fixed quality and the same
records) and covers what formats get wrong: every geometry kind (a polygon with a hole, a
multi-part polygon, keypoints with v = 0/1/2, an RLE mask), attributes of every type, tags,
instance ids, z-order, a crowd object, nested image classifications, model predictions in their
own labelset and in ground truth, two datasets, every task status, class names with a comma and
a quote, a class with no annotations, an image with no objects, a box touching the image's right
and bottom edges, a unicode file name and a file in a sub-folder.

Every annotation is drawn on its image with the same coordinates, so a format that moves a box
by a pixel shows it on the picture as well as in the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw

from labelport.domain.geometry import (
    Box,
    GeometryKind,
    Keypoint,
    Keypoints,
    Mask,
    NoGeometry,
    Polygon,
    PolygonPart,
    Polyline,
    Ring,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import rotated_box_corners
from labelport.domain.masks import bitmap_to_rle
from labelport.domain.model import (
    DEFAULT_LABELSET,
    Annotation,
    Dataset,
    Item,
    ItemRecord,
    Labelset,
    ProjectInfo,
    Source,
    Task,
    TaskStatus,
)
from labelport.domain.schema import (
    AttributeDef,
    AttributeType,
    Classification,
    ClassificationDef,
    ClassificationKind,
    LabelClass,
    LabelSchema,
)
from labelport.domain.source import MemorySource

PREDICTIONS = "predictions"
TRAIN_POOL = "train-pool"
FIELD = "field"
JPEG_QUALITY = 90

RGB = tuple[int, int, int]
_T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)

SCHEMA = LabelSchema(
    classes=(
        LabelClass(
            id=1, name="car", geometry=GeometryKind.BOX, parent="vehicle", color="#e6194b",
            attributes=(
                AttributeDef(name="occluded", type=AttributeType.BOOL, required=True),
                AttributeDef(name="colour", type=AttributeType.SELECT,
                             options=("red", "blue", "white"), default="white"),
                AttributeDef(name="passengers", type=AttributeType.INT, min=0, max=9),
                AttributeDef(name="truncation", type=AttributeType.FLOAT, min=0.0, max=1.0),
                AttributeDef(name="plate", type=AttributeType.STRING),
            ),
        ),
        LabelClass(id=2, name="truck", geometry=GeometryKind.BOX, parent="vehicle",
                   color="#3cb44b"),
        LabelClass(id=3, name="traffic sign, temporary", geometry=GeometryKind.ROTATED_BOX,
                   color="#ffe119"),
        LabelClass(id=4, name='lane "dashed"', geometry=GeometryKind.POLYLINE, color="#4363d8"),
        LabelClass(id=5, name="building", geometry=GeometryKind.POLYGON, color="#f58231"),
        LabelClass(id=6, name="tree", geometry=GeometryKind.POLYGON, color="#911eb4"),
        LabelClass(
            id=7, name="person", geometry=GeometryKind.KEYPOINTS, color="#46f0f0",
            keypoint_names=("head", "left_hand", "right_hand", "left_foot", "right_foot"),
            skeleton=((0, 1), (0, 2), (0, 3), (0, 4)),
            flip_pairs=((1, 2), (3, 4)),
        ),
        LabelClass(id=8, name="road", geometry=GeometryKind.MASK, color="#808080"),
        LabelClass(id=9, name="blurry", geometry=GeometryKind.NONE, color="#000000"),
    ),
    classifications=(
        ClassificationDef(
            name="weather", kind=ClassificationKind.RADIO, options=("sunny", "rain", "fog"),
            required=True,
            children=(
                ClassificationDef(name="daytime", kind=ClassificationKind.SELECT,
                                  options=("morning", "noon", "evening"), when="sunny"),
            ),
        ),
        ClassificationDef(name="hazards", kind=ClassificationKind.CHECKBOX,
                          options=("glare", "wet road", "roadworks")),
        ClassificationDef(name="notes", kind=ClassificationKind.TEXT),
    ),
)
"""The sample's schema; ``truck`` is the class no annotation uses."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Image:
    """One image being drawn: what is drawn on it is what is annotated."""

    dataset: str
    path: str
    size_wh: tuple[int, int]
    background: RGB
    gradient_to: RGB | None = None

    def canvas(self) -> Image.Image:
        w, h = self.size_wh
        if self.gradient_to is None:
            return Image.new("RGB", (w, h), self.background)
        t = np.linspace(0.0, 1.0, w)[None, :, None]
        start, end = np.array(self.background), np.array(self.gradient_to)
        row = np.rint(start + (end - start) * t).astype(np.uint8)
        return Image.fromarray(np.repeat(row, h, axis=0), "RGB")


def _at(minutes: int) -> datetime:
    return _T0 + timedelta(minutes=minutes)


def _colour(label: str) -> RGB:
    """The class's colour in the schema, so the picture and the schema agree."""
    label_class = SCHEMA.get(label)
    if label_class is None or label_class.color is None:
        raise ValueError(f"the sample schema has no colour for {label!r}")
    r, g, b = ImageColor.getrgb(label_class.color)[:3]
    return (r, g, b)


def _points(ring: Ring) -> list[tuple[float, float]]:
    return list(zip(ring[::2], ring[1::2], strict=True))


def _draw_box(image: Image.Image, box: Box, colour: RGB) -> None:
    """Fill exactly the pixels of ``[x, x + w) x [y, y + h)`` (Pillow's corners are inclusive)."""
    x0, y0, x1, y1 = box.xyxy
    ImageDraw.Draw(image).rectangle((x0, y0, x1 - 1, y1 - 1), fill=colour)


def _draw_polygon(image: Image.Image, polygon: Polygon, colour: RGB) -> None:
    """Fill each part's outer ring minus its holes, through a stencil so any background shows
    through the holes."""
    stencil = Image.new("L", image.size, 0)
    draw = ImageDraw.Draw(stencil)
    for part in polygon.parts:
        draw.polygon(_points(part.outer), fill=255)
        for hole in part.holes:
            draw.polygon(_points(hole), fill=0)
    image.paste(colour, (0, 0), stencil)


def _draw_mask(image: Image.Image, bitmap: np.ndarray, colour: RGB) -> Mask:
    image.paste(colour, (0, 0), Image.fromarray(bitmap.astype(np.uint8) * 255, "L"))
    return bitmap_to_rle(bitmap)


def _draw_keypoints(image: Image.Image, points: Sequence[Keypoint], colour: RGB) -> None:
    """A dot per labelled point (an occluded one is drawn hollow); unlabelled points are not."""
    draw = ImageDraw.Draw(image)
    for p in points:
        if p.v is Visibility.NOT_LABELED:
            continue
        fill = colour if p.v is Visibility.VISIBLE else None
        draw.ellipse((p.x - 3, p.y - 3, p.x + 3, p.y + 3), fill=fill, outline=colour)


def _save(image: Image.Image, spec: _Image, media_dir: Path, **metadata: object) -> Item:
    target = media_dir / spec.dataset / spec.path
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() in (".jpg", ".jpeg"):
        image.save(target, "JPEG", quality=JPEG_QUALITY)
    else:
        image.save(target, "PNG")
    w, h = spec.size_wh
    return Item(dataset=spec.dataset, path=spec.path, width=w, height=h,
                media_uri=str(target.absolute()), channels=3, bit_depth=8,
                metadata={"camera": f"cam-{spec.dataset}", "exposure_ms": 8.5, **metadata})


def _street(media_dir: Path) -> ItemRecord:
    """Non-square gradient: a car, a rotated sign, a dashed lane; predictions on the car."""
    spec = _Image(dataset=TRAIN_POOL, path="street_001.png", size_wh=(640, 360),
                  background=(40, 60, 90), gradient_to=(200, 210, 230))
    image = spec.canvas()
    car = Box(x=100, y=200, w=160, h=90)
    sign = RotatedBox(cx=480, cy=120, w=60, h=40, angle_deg=30)
    lane = Polyline(points=(0, 340, 320, 300, 639, 280))
    _draw_box(image, car, _colour("car"))
    _draw_polygon(image, Polygon.simple(rotated_box_corners(sign)),
                  _colour("traffic sign, temporary"))
    ImageDraw.Draw(image).line(_points(lane.points), fill=_colour('lane "dashed"'), width=3)
    item = _save(image, spec, media_dir)
    return ItemRecord(
        item=item,
        tasks=(
            Task(status=TaskStatus.REVIEWED, assignee="ana", reviewer="ben",
                 classifications=(
                     Classification(name="weather", values=("sunny",), children=(
                         Classification(name="daytime", values=("noon",)),)),
                     Classification(name="hazards", values=("glare", "roadworks")),
                     Classification(name="notes", values=("sign leans, \"temporary\"",)),
                 ),
                 created_at=_at(0), updated_at=_at(30)),
            Task(labelset=PREDICTIONS, status=TaskStatus.LABELED, assignee="detector-v2",
                 created_at=_at(5), updated_at=_at(5)),
        ),
        annotations=(
            Annotation(label="car", geometry=car, instance_id=1, tags=("parked",),
                       attributes={"occluded": False, "colour": "red", "passengers": 2,
                                   "truncation": 0.0, "plate": "LP-2024"},
                       annotator="ana", lead_time_s=12.5, created_at=_at(1), updated_at=_at(2)),
            Annotation(label="traffic sign, temporary", geometry=sign, instance_id=2,
                       annotator="ana", created_at=_at(3), updated_at=_at(3)),
            Annotation(label='lane "dashed"', geometry=lane, instance_id=3, annotator="ana",
                       created_at=_at(4), updated_at=_at(4)),
            Annotation(label="car", geometry=Box(x=102, y=198, w=155, h=93),
                       labelset=PREDICTIONS, source=Source.MODEL, score=0.91,
                       annotator="detector-v2", created_at=_at(5)),
            Annotation(label="traffic sign, temporary",
                       geometry=RotatedBox(cx=478, cy=121, w=58, h=42, angle_deg=28.5),
                       labelset=PREDICTIONS, source=Source.MODEL, score=0.47,
                       annotator="detector-v2", created_at=_at(5)),
        ),
    )


def _yard(media_dir: Path) -> ItemRecord:
    """JPEG: a building with a courtyard (hole), overlapping cars with z-order, a car touching
    the right and bottom edges, and a model pre-label accepted into ground truth."""
    spec = _Image(dataset=TRAIN_POOL, path="yard_002.jpg", size_wh=(320, 240),
                  background=(120, 160, 90))
    image = spec.canvas()
    building = Polygon(parts=(PolygonPart(
        outer=(20, 20, 180, 20, 180, 140, 20, 140),
        holes=((70, 60, 130, 60, 130, 100, 70, 100),),
    ),))
    back_car, front_car = Box(x=190, y=40, w=80, h=50), Box(x=230, y=70, w=70, h=40)
    edge_car = Box(x=250, y=190, w=70, h=50)
    _draw_polygon(image, building, _colour("building"))
    _draw_box(image, back_car, (150, 20, 40))
    _draw_box(image, front_car, _colour("car"))
    _draw_box(image, edge_car, (240, 240, 240))
    item = _save(image, spec, media_dir)
    return ItemRecord(
        item=item,
        tasks=(Task(status=TaskStatus.LABELED, assignee="ben",
                    classifications=(Classification(name="weather", values=("fog",)),),
                    created_at=_at(60), updated_at=_at(75)),),
        annotations=(
            Annotation(label="building", geometry=building, annotator="ben",
                       created_at=_at(61)),
            Annotation(label="car", geometry=back_car, z_order=0, instance_id=1,
                       attributes={"occluded": True, "colour": "red"}, annotator="ben",
                       created_at=_at(62)),
            Annotation(label="car", geometry=front_car, z_order=1, instance_id=2,
                       attributes={"occluded": False}, tags=("moving", "night-shift"),
                       annotator="ben", created_at=_at(63)),
            Annotation(label="car", geometry=edge_car, instance_id=3,
                       attributes={"occluded": False, "colour": "white", "truncation": 0.25},
                       source=Source.MODEL, score=0.66, annotator="detector-v2",
                       created_at=_at(64), updated_at=_at(70)),
        ),
    )


def _park(media_dir: Path) -> ItemRecord:
    """A unicode file name and a tree occluded into two parts."""
    spec = _Image(dataset=TRAIN_POOL, path="straße_ü.png", size_wh=(320, 240),
                  background=(170, 200, 240), gradient_to=(90, 140, 60))
    image = spec.canvas()
    tree = Polygon(parts=(
        PolygonPart(outer=(100, 40, 140, 110, 60, 110)),
        PolygonPart(outer=(90, 130, 110, 130, 110, 200, 90, 200)),
    ))
    _draw_polygon(image, tree, _colour("tree"))
    item = _save(image, spec, media_dir)
    return ItemRecord(
        item=item,
        tasks=(Task(status=TaskStatus.LABELED, assignee="chloé",
                    created_at=_at(120), updated_at=_at(125)),),
        annotations=(Annotation(label="tree", geometry=tree, tags=("occluded-by-sign",),
                                annotator="chloé", lead_time_s=40.0, created_at=_at(121)),),
    )


def _walker(media_dir: Path) -> ItemRecord:
    """In a sub-folder: a person's keypoints, one occluded, one not labelled."""
    spec = _Image(dataset=TRAIN_POOL, path="sub/dir/walker.png", size_wh=(320, 240),
                  background=(230, 230, 220))
    image = spec.canvas()
    person = Keypoints(points=(
        Keypoint(x=160, y=50),
        Keypoint(x=120, y=110),
        Keypoint(x=200, y=110, v=Visibility.OCCLUDED),
        Keypoint(x=0, y=0, v=Visibility.NOT_LABELED),
        Keypoint(x=175, y=200),
    ))
    _draw_keypoints(image, person.points, _colour("person"))
    item = _save(image, spec, media_dir)
    return ItemRecord(
        item=item,
        tasks=(Task(status=TaskStatus.REVIEWED, assignee="ana", reviewer="chloé",
                    created_at=_at(180), updated_at=_at(200)),),
        annotations=(Annotation(label="person", geometry=person, instance_id=7,
                                annotator="ana", created_at=_at(181)),),
    )


def _crossing(media_dir: Path) -> ItemRecord:
    """A road as an RLE mask and a crowd of cars; predictions include a mask too."""
    spec = _Image(dataset=TRAIN_POOL, path="crossing_005.png", size_wh=(320, 240),
                  background=(100, 170, 100))
    image = spec.canvas()
    rows, cols = np.mgrid[0:240, 0:320]
    road = (cols >= 120 - rows // 4) & (cols < 200 + rows // 4) & (rows >= 40)
    road_mask = _draw_mask(image, road, _colour("road"))
    crowd = Box(x=10, y=10, w=60, h=30)
    _draw_box(image, crowd, _colour("car"))
    predicted_mask = bitmap_to_rle((rows >= 60) & (cols >= 110) & (cols < 210))
    item = _save(image, spec, media_dir)
    return ItemRecord(
        item=item,
        tasks=(
            Task(status=TaskStatus.REVIEWED, assignee="ben", reviewer="ana",
                 classifications=(Classification(name="weather", values=("rain",)),
                                  Classification(name="hazards", values=("wet road",))),
                 created_at=_at(240), updated_at=_at(260)),
            Task(labelset=PREDICTIONS, status=TaskStatus.LABELED, assignee="segmenter-v1",
                 created_at=_at(245)),
        ),
        annotations=(
            Annotation(label="road", geometry=road_mask, annotator="ben", created_at=_at(241)),
            Annotation(label="car", geometry=crowd, crowd=True,
                       attributes={"occluded": True}, annotator="ben", created_at=_at(242)),
            Annotation(label="road", geometry=predicted_mask, labelset=PREDICTIONS,
                       source=Source.MODEL, score=0.78, annotator="segmenter-v1",
                       created_at=_at(245)),
        ),
    )


def _empty(media_dir: Path) -> ItemRecord:
    """No objects and nothing done yet."""
    spec = _Image(dataset=TRAIN_POOL, path="empty_006.png", size_wh=(320, 240),
                  background=(250, 250, 250))
    item = _save(spec.canvas(), spec, media_dir)
    return ItemRecord(item=item, tasks=(Task(status=TaskStatus.NEW, created_at=_at(300)),))


def _blurred(media_dir: Path) -> ItemRecord:
    """An image-level class only, in a task still in progress."""
    spec = _Image(dataset=FIELD, path="field_001.jpg", size_wh=(320, 240),
                  background=(128, 128, 128), gradient_to=(140, 140, 150))
    item = _save(spec.canvas(), spec, media_dir)
    return ItemRecord(
        item=item,
        tasks=(Task(status=TaskStatus.IN_PROGRESS, assignee="dmitri",
                    classifications=(Classification(name="weather", values=("fog",)),
                                     Classification(name="notes", values=("lens, smudged",))),
                    created_at=_at(360), updated_at=_at(365)),),
        annotations=(Annotation(label="blurry", geometry=NoGeometry(), annotator="dmitri",
                                created_at=_at(362)),),
    )


def _rejected(media_dir: Path) -> ItemRecord:
    """A rejected task whose box is still there for the annotator to fix."""
    spec = _Image(dataset=FIELD, path="field_002.png", size_wh=(320, 240),
                  background=(60, 60, 70))
    image = spec.canvas()
    car = Box(x=0, y=100, w=90, h=60)
    _draw_box(image, car, _colour("car"))
    item = _save(image, spec, media_dir)
    return ItemRecord(
        item=item,
        tasks=(Task(status=TaskStatus.REJECTED, assignee="dmitri", reviewer="ana",
                    classifications=(Classification(name="weather", values=("sunny",),
                                                    children=(Classification(
                                                        name="daytime", values=("evening",)),)),),
                    created_at=_at(420), updated_at=_at(450)),),
        annotations=(Annotation(label="car", geometry=car,
                                attributes={"occluded": False, "passengers": 0},
                                annotator="dmitri", created_at=_at(421)),),
    )


def _skipped(media_dir: Path) -> ItemRecord:
    """Skipped by its annotator: no labels, a reason in the metadata."""
    spec = _Image(dataset=FIELD, path="field_003.jpg", size_wh=(320, 240),
                  background=(20, 20, 20))
    item = _save(spec.canvas(), spec, media_dir, skip_reason="too dark")
    return ItemRecord(item=item, tasks=(Task(status=TaskStatus.SKIPPED, assignee="dmitri",
                                             created_at=_at(480), updated_at=_at(481)),))


def build_sample(media_dir: Path, *, video: bool = False) -> MemorySource:
    """Write the sample's images under ``media_dir/<dataset>/<path>`` and return the project;
    with ``video``, also its clip with tracks (`labelport.sample_video`).

    Media URIs are the images' absolute paths, so the records depend on ``media_dir`` only."""
    builders = (_street, _yard, _park, _walker, _crossing, _empty, _blurred, _rejected, _skipped)
    records = tuple(build(media_dir) for build in builders)
    if video:
        from labelport.sample_video import sample_video

        records += (sample_video(media_dir, TRAIN_POOL, {"car": _colour("car")}),)
    return MemorySource(
        project=ProjectInfo(name="labelport sample", description="Every kind of label, small."),
        schema=SCHEMA,
        items=records,
        datasets=(Dataset(name=TRAIN_POOL, description="images waiting for training"),
                  Dataset(name=FIELD, description="new images from the field")),
        labelsets=(Labelset(name=DEFAULT_LABELSET, description="human-checked labels"),
                   Labelset(name=PREDICTIONS, description="detector-v2 and segmenter-v1")),
    )
