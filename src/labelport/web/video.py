"""Videos in the web app: the item page plays the video and draws its tracks at the current
frame (`static/video.js` reads what `frame_boxes` gives), and thumbnails show the first frame."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from PIL import Image

from labelport.domain.geometry_ops import bounding_box
from labelport.domain.model import Annotation, Item
from labelport.domain.tracks import on_every_frame


def frame_boxes(item: Item, annotations: list[Annotation], colours: Mapping[str, str]) -> str:
    """JSON ``{frame: [[x, y, w, h, colour, label], ...]}`` of every visible object's box on
    every frame (tracks interpolated between keyframes), in the video's pixels."""
    framed, _ = on_every_frame(annotations, frame_count=item.frame_count)
    frames: dict[int, list[list[object]]] = {}
    for annotation in framed:
        box = bounding_box(annotation.geometry)
        if box is not None:
            frames.setdefault(annotation.frame or 0, []).append(
                [round(box.x, 2), round(box.y, 2), round(box.w, 2), round(box.h, 2),
                 colours.get(annotation.label, "#888888"), annotation.label])
    return json.dumps(frames, separators=(",", ":"))


def first_frame(source: Path, rotation_deg: int) -> Image.Image:
    """The video's first frame as a Pillow image (upright)."""
    from labelport.video.frames import VideoFrames

    with VideoFrames(source, rotation_deg=rotation_deg) as frames:
        picture: Image.Image = frames.image(0)
        return picture
