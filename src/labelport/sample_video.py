"""The sample project's video: a 2-second clip (24 frames, 160x96, 12 fps) that PyAV encodes
from exact tracks, so every frame's objects are known.

- car 1 drives right at 5 px per frame and passes under a grey pole (x 60-72): its keyframes
  mark it occluded on frames 6-13;
- car 2 drives right out of the picture (an ``outside`` keyframe on frame 6), comes back on
  frame 14 and drives left.

Keyframes only are stored; `labelport.domain.tracks` gives the frames between (what the clip
shows). `build_sample(..., video=True)` adds it (the demo does); the image sample stays as it
is for the tests that count its items."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from labelport.domain.geometry import Box
from labelport.domain.model import Annotation, Item, ItemRecord, Task, TaskStatus
from labelport.video.clip import RGB, encode_video, paint_tracks
from labelport.video.probe import probe_video

VIDEO_PATH = "clips/street_clip.mp4"
FRAMES = 24
SIZE_WH = (160, 96)
RATE = Fraction(12)
POLE = Box(x=60, y=0, w=12, h=96)
POLE_RGB: RGB = (150, 150, 150)


def _car(track: int, frame: int, x: float, y: float, *, occluded: bool = False,
         outside: bool = False, colour: str = "red") -> Annotation:
    size = (30, 16) if track == 1 else (24, 14)
    return Annotation(label="car", geometry=Box(x=x, y=y, w=size[0], h=size[1]), frame=frame,
                      instance_id=track, outside=outside, annotator="ana",
                      attributes={"occluded": occluded, "colour": colour})


CAR_1 = (  # x = 4 + 5f
    _car(1, 0, 4, 60), _car(1, 6, 34, 60, occluded=True), _car(1, 14, 74, 60),
    _car(1, 23, 119, 60),
)
CAR_2 = (  # right at 10 px per frame until it has left, back on frame 14, left at 6 px
    _car(2, 0, 100, 10, colour="blue"), _car(2, 6, 160, 10, outside=True, colour="blue"),
    _car(2, 14, 136, 10, colour="blue"), _car(2, 23, 82, 10, colour="blue"),
)


def sample_video(media_dir: Path, dataset: str,
                 colour: dict[str, RGB]) -> ItemRecord:
    """Encode the clip under ``media_dir/<dataset>/`` and return its record."""
    path = media_dir / dataset / VIDEO_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = SIZE_WH
    encode_video(path, paint_tracks(width=width, height=height, frame_count=FRAMES,
                                    tracks=(CAR_1, CAR_2), colour=colour.__getitem__,
                                    overlays=((POLE, POLE_RGB),)),
                 frame_rate=RATE)
    found = probe_video(path)
    item = Item(dataset=dataset, path=VIDEO_PATH, width=found.width, height=found.height,
                media_uri=str(path.absolute()), frame_count=found.frame_count, video=found.info)
    return ItemRecord(item=item, tasks=(Task(status=TaskStatus.LABELED, assignee="ana"),),
                      annotations=(*CAR_1, *CAR_2))
