"""Sources to import: one covering every value the store persists, and plain generated ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest

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
    RotatedBox,
    Visibility,
)
from labelport.domain.model import (
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
from labelport.domain.video import VideoInfo

SCHEMA = LabelSchema(
    classes=(
        LabelClass(id=1, name="car", color="#ff0000", parent="vehicle", attributes=(
            AttributeDef(name="occluded", type=AttributeType.BOOL, default=False),
            AttributeDef(name="colour", type=AttributeType.SELECT, options=("red", "blue")),
        )),
        LabelClass(id=2, name="boat", geometry=GeometryKind.ROTATED_BOX),
        LabelClass(id=3, name="straße", geometry=GeometryKind.POLYGON),
        LabelClass(id=4, name="lane", geometry=GeometryKind.POLYLINE),
        LabelClass(id=5, name="person", geometry=GeometryKind.KEYPOINTS,
                   keypoint_names=("l_eye", "r_eye", "nose"), skeleton=((0, 2), (1, 2)),
                   flip_pairs=((0, 1),)),
        LabelClass(id=6, name="sky", geometry=GeometryKind.MASK),
        LabelClass(id=7, name="night", geometry=GeometryKind.NONE),
        LabelClass(id=9, name="unused"),
    ),
    classifications=(
        ClassificationDef(
            name="weather", kind=ClassificationKind.RADIO, options=("sun", "rain"),
            required=True, children=(ClassificationDef(
                name="intensity", kind=ClassificationKind.SELECT, options=("light", "heavy"),
                when="rain"),)),
        ClassificationDef(name="note", kind=ClassificationKind.TEXT),
    ),
)

STAMP = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))


def _every_annotation(labelset: str) -> tuple[Annotation, ...]:
    return (
        Annotation(label="car", geometry=Box(x=1.5, y=2.0, w=10.0, h=20.25), labelset=labelset,
                   attributes={"occluded": True, "colour": "red"}, tags=("hard", "ü"),
                   instance_id=12, z_order=2, annotator="ann", lead_time_s=3.25,
                   created_at=STAMP, updated_at=datetime(2024, 6, 1, tzinfo=UTC)),
        Annotation(label="boat", geometry=RotatedBox(cx=50, cy=40, w=30, h=10, angle_deg=-33.5),
                   labelset=labelset, source=Source.MODEL, score=0.875),
        Annotation(label="straße", labelset=labelset, crowd=True, geometry=Polygon(parts=(
            PolygonPart(outer=(0.0, 0.0, 100.0, 0.0, 100.0, 100.0, 0.0, 100.0),
                        holes=((10.0, 10.0, 20.0, 10.0, 20.0, 20.0),)),
            PolygonPart(outer=(200.0, 200.0, 210.0, 200.0, 210.0, 210.0)),
        ))),
        Annotation(label="lane", geometry=Polyline(points=(0.0, 0.0, 5.5, 5.0, 9.0, 1.0)),
                   labelset=labelset, frame=3),
        Annotation(label="person", labelset=labelset, geometry=Keypoints(points=(
            Keypoint(x=1.0, y=2.0), Keypoint(x=0.0, y=0.0, v=Visibility.NOT_LABELED),
            Keypoint(x=3.0, y=4.0, v=Visibility.OCCLUDED)))),
        Annotation(label="sky", geometry=Mask(counts="0`0b01000", height=4, width=3),
                   labelset=labelset),
        Annotation(label="night", geometry=NoGeometry(), labelset=labelset),
    )


def every_value_source() -> MemorySource:
    """Every geometry kind, nested classifications, unicode names, metadata, an empty image,
    two labelsets and an empty dataset."""
    answers = (Classification(name="weather", values=("rain",), children=(
        Classification(name="intensity", values=("heavy",)),)),
        Classification(name="note", values=("späte Stunde",)))
    records = (
        ItemRecord(
            item=Item(dataset="städte", path="sub/日本/ä b.jpg", width=640, height=480,
                      media_uri="s3://bucket/ä b.jpg", channels=3, bit_depth=8,
                      metadata={"camera": {"model": "X", "iso": 200}, "tags": ["a", "b"]}),
            tasks=(
                Task(labelset="ground-truth", status=TaskStatus.REVIEWED, assignee="ann",
                     reviewer="rev", classifications=answers, created_at=STAMP,
                     updated_at=datetime(2024, 5, 2, 8, tzinfo=UTC)),
                Task(labelset="model-v1", status=TaskStatus.LABELED),
            ),
            annotations=_every_annotation("ground-truth") + _every_annotation("model-v1"),
        ),
        ItemRecord(item=Item(dataset="städte", path="empty.png", width=10, height=20),
                   tasks=(Task(labelset="ground-truth"),)),
        ItemRecord(
            item=Item(dataset="default", path="video.mp4", width=1920, height=1080,
                      frame_count=300, video=VideoInfo(frame_rate=Fraction(30000, 1001),
                                                       duration_s=10.01, rotation_deg=90,
                                                       codec="h264")),
            annotations=(Annotation(label="car", geometry=Box(x=0, y=0, w=1, h=1), frame=7,
                                    instance_id=4, outside=True),),
        ),
    )
    return MemorySource(
        project=ProjectInfo(name="sample"), schema=SCHEMA, items=records,
        datasets=(Dataset(name="städte", description="Städte"), Dataset(name="default"),
                  Dataset(name="leer")),
        labelsets=(Labelset(name="ground-truth"),
                   Labelset(name="model-v1", description="predictions")),
    )


def boxes_source(n_items: int, *, dataset: str = "default", prefix: str = "img",
                 labels: tuple[str, ...] = ("car",), boxes_per_item: int = 2,
                 schema: LabelSchema | None = None) -> MemorySource:
    """``n_items`` images with ``boxes_per_item`` boxes each, labels in turn."""
    records = tuple(
        ItemRecord(
            item=Item(dataset=dataset, path=f"{prefix}_{i:05d}.jpg", width=100, height=80),
            tasks=(Task(status=TaskStatus.LABELED),),
            annotations=tuple(
                Annotation(label=labels[(i + j) % len(labels)],
                           geometry=Box(x=float(j), y=float(i), w=5.0, h=6.0))
                for j in range(boxes_per_item)),
        )
        for i in range(n_items)
    )
    return MemorySource(project=ProjectInfo(name="boxes"), schema=schema or LabelSchema(),
                        items=records)


@pytest.fixture
def every_value() -> MemorySource:
    return every_value_source()


@pytest.fixture
def make_boxes() -> Callable[..., MemorySource]:
    return boxes_source
