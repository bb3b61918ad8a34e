"""Round trips of every domain value through `labelport.domain.codec` and real JSON text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from labelport.domain import codec
from labelport.domain.geometry import (
    Box,
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
from labelport.domain.model import Annotation, Item, ItemRecord, Source, Task, TaskStatus
from labelport.domain.schema import (
    AttributeDef,
    AttributeType,
    Classification,
    ClassificationDef,
    ClassificationKind,
    LabelClass,
    LabelSchema,
)
from labelport.errors import InputError

GEOMETRIES = [
    Box(x=1.5, y=2.0, w=10.0, h=20.25),
    RotatedBox(cx=50.0, cy=40.0, w=30.0, h=10.0, angle_deg=-33.5),
    Polygon.simple((0.0, 0.0, 10.0, 0.0, 10.0, 10.0)),
    Polygon(parts=(
        PolygonPart(outer=(0.0, 0.0, 100.0, 0.0, 100.0, 100.0, 0.0, 100.0),
                    holes=((10.0, 10.0, 20.0, 10.0, 20.0, 20.0),
                           (50.0, 50.0, 60.0, 50.0, 60.0, 60.0))),
        PolygonPart(outer=(200.0, 200.0, 210.0, 200.0, 210.0, 210.0)),
    )),
    Polyline(points=(0.0, 0.0, 5.0, 5.0, 9.0, 1.0)),
    Keypoints(points=(Keypoint(x=1.0, y=2.0), Keypoint(x=0.0, y=0.0, v=Visibility.NOT_LABELED),
                      Keypoint(x=3.0, y=4.0, v=Visibility.OCCLUDED))),
    Mask(counts="0`0b01000", height=4, width=3),
    NoGeometry(),
]


def _through_text(data: dict) -> dict:
    return orjson.loads(orjson.dumps(data))


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: g.kind.value)
def test_geometry_round_trip(geometry) -> None:
    data = _through_text(codec.geometry_to_json(geometry))
    assert data["kind"] == geometry.kind.value
    assert codec.geometry_from_json(data) == geometry


def test_schema_round_trip() -> None:
    schema = LabelSchema(
        classes=(
            LabelClass(id=3, name="person", geometry=Keypoints.kind, parent="living",
                       color="#ff0000", keypoint_names=("l_eye", "r_eye", "nose"),
                       skeleton=((0, 2), (1, 2)), flip_pairs=((0, 1),),
                       attributes=(
                           AttributeDef(name="occluded", type=AttributeType.BOOL, default=False),
                           AttributeDef(name="pose", type=AttributeType.SELECT, required=True,
                                        options=("standing", "sitting")),
                           AttributeDef(name="age", type=AttributeType.INT, min=0, max=120),
                       )),
            LabelClass(id=7, name="voiture"),
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
    assert codec.schema_from_json(_through_text(codec.schema_to_json(schema))) == schema


def test_record_round_trip() -> None:
    stamp = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    record = ItemRecord(
        item=Item(dataset="städte", path="sub/日本/ä b.jpg", width=640, height=480,
                  media_uri="s3://bucket/ä b.jpg", frame_count=None, channels=3, bit_depth=8,
                  metadata={"camera": {"model": "X", "iso": 200}, "tags": ["a", "b"]}, id=42),
        tasks=(Task(labelset="ground-truth", status=TaskStatus.REVIEWED, assignee="ann",
                    reviewer="rev", created_at=stamp, updated_at=datetime(2024, 5, 2, tzinfo=UTC),
                    classifications=(Classification(name="weather", values=("rain",), children=(
                        Classification(name="intensity", values=("heavy",)),)),)),),
        annotations=tuple(
            Annotation(label="person", geometry=g, labelset="model-v1",
                       attributes={"occluded": True, "pose": "sitting"}, tags=("hard",),
                       instance_id=5, frame=2, z_order=1, crowd=True, source=Source.MODEL,
                       score=0.875, annotator="bot", lead_time_s=1.5, created_at=stamp)
            for g in GEOMETRIES
        ) + (Annotation(label="voiture", geometry=GEOMETRIES[0]),),
        split="train",
    )
    assert codec.record_from_json(_through_text(codec.record_to_json(record))) == record


def test_defaults_are_left_out() -> None:
    data = codec.annotation_to_json(Annotation(label="car", geometry=NoGeometry()))
    assert data == {"label": "car", "geometry": {"kind": "none"}, "labelset": "ground-truth"}


@pytest.mark.parametrize(("decode", "data", "message"), [
    (codec.geometry_from_json, {"kind": "box", "x": 1, "y": 2, "w": 3},
     "geometry: missing field 'h'"),
    (codec.geometry_from_json, {"kind": "blob"}, "unknown geometry kind 'blob'"),
    (codec.geometry_from_json, {"kind": "keypoints", "points": [1, 2]}, "triplets"),
    (codec.task_from_json, {"status": "done"}, "task: 'done' is not a valid TaskStatus"),
    (codec.annotation_from_json, {"geometry": {"kind": "none"}}, "missing field 'label'"),
])
def test_malformed_input_is_an_input_error(decode, data, message) -> None:
    with pytest.raises(InputError, match=message):
        decode(data)
