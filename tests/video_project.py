"""A tiny video project for the video tests: a 12-frame 64x48 clip (encoded with PyAV, well
under a second) with exact tracks, one leaving and re-entering, one occluded for a span, a
polygon track, a single-frame shape, and an image beside the video."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from labelport.domain.geometry import Box, GeometryKind, Polygon
from labelport.domain.model import Annotation, Dataset, Item, ItemRecord, Labelset, ProjectInfo
from labelport.domain.schema import AttributeDef, AttributeType, LabelClass, LabelSchema
from labelport.domain.source import MemorySource
from labelport.video.clip import encode_video, paint_tracks
from labelport.video.probe import video_item

FRAMES = 12
SIZE_WH = (64, 48)
RATE = Fraction(10)

SCHEMA = LabelSchema(classes=(
    LabelClass(id=1, name="car", attributes=(
        AttributeDef(name="occluded", type=AttributeType.BOOL, default=False),)),
    LabelClass(id=2, name="person"),
    LabelClass(id=3, name="zone", geometry=GeometryKind.POLYGON),
))

COLOURS = {"car": (230, 25, 75), "person": (60, 180, 75), "zone": (0, 130, 200)}


def _key(label: str, track: int, frame: int, geometry: Box | Polygon, *,
         outside: bool = False, occluded: bool | None = None) -> Annotation:
    attributes = {} if occluded is None else {"occluded": occluded}
    return Annotation(label=label, geometry=geometry, frame=frame, instance_id=track,
                      outside=outside, attributes=attributes)


CAR = (  # x = 2 + 4f, y = 10 + f; occluded on frames 4-7
    _key("car", 1, 0, Box(x=2, y=10, w=12, h=8), occluded=False),
    _key("car", 1, 4, Box(x=18, y=14, w=12, h=8), occluded=True),
    _key("car", 1, 8, Box(x=34, y=18, w=12, h=8), occluded=False),
)
PERSON = (  # walks right, leaves on frame 4, comes back on frame 8 and stands
    _key("person", 2, 0, Box(x=40, y=2, w=6, h=12)),
    _key("person", 2, 4, Box(x=64, y=2, w=6, h=12), outside=True),
    _key("person", 2, 8, Box(x=50, y=30, w=6, h=12)),
)
ZONE = (
    _key("zone", 3, 2, Polygon.simple((0, 40, 10, 40, 10, 47))),
    _key("zone", 3, 6, Polygon.simple((20, 40, 30, 40, 30, 47))),
)
SINGLE = Annotation(label="car", geometry=Box(x=5, y=30, w=4, h=4), frame=3)
"""A shape on one frame, on no track."""


def write_clip(path: Path) -> Path:
    width, height = SIZE_WH
    frames = paint_tracks(width=width, height=height, frame_count=FRAMES,
                          tracks=(CAR, PERSON), colour=COLOURS.__getitem__)
    encode_video(path, frames, frame_rate=RATE)
    return path


def video_project(folder: Path) -> MemorySource:
    """The project, its clip written as ``folder/clip.mp4`` and an image ``folder/still.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    video = video_item(write_clip(folder / "clip.mp4"), dataset="clips")
    still = folder / "still.png"
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(still)
    image = Item(dataset="clips", path="still.png", width=30, height=20,
                 media_uri=str(still.absolute()))
    return MemorySource(
        project=ProjectInfo(name="video"), schema=SCHEMA,
        items=(ItemRecord(item=video, annotations=(*CAR, *PERSON, *ZONE, SINGLE)),
               ItemRecord(item=image, annotations=(
                   Annotation(label="car", geometry=Box(x=1, y=1, w=5, h=5)),))),
        datasets=(Dataset(name="clips"),), labelsets=(Labelset(name="ground-truth"),))
