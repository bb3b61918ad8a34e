"""Encode generated clips with PyAV: boxes moving along tracks whose every frame is known, for
the sample project, the tests and the benchmark. The frames are painted from the tracks'
expansion (`labelport.domain.tracks`), so the annotations are exact by construction."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import cast

import numpy as np

from labelport.domain.geometry import Box
from labelport.domain.model import Annotation
from labelport.domain.tracks import expand_track

RGB = tuple[int, int, int]


def encode_video(path: Path, frames: Iterable[np.ndarray], *, frame_rate: Fraction,
                 codec: str = "libx264", options: Mapping[str, str] | None = None) -> None:
    """Encode ``height x width x 3`` RGB arrays as an H.264 (by default) video at ``path``;
    written beside it and renamed, so a failure leaves no partial file."""
    import av

    partial = path.with_name(f".{path.name}.partial{path.suffix}")
    try:
        with av.open(str(partial), mode="w") as container:
            stream: av.video.stream.VideoStream | None = None
            for array in frames:
                if stream is None:
                    stream = cast(av.video.stream.VideoStream, container.add_stream(
                        codec, rate=frame_rate, options=dict(options or {})))
                    stream.height, stream.width = array.shape[:2]
                    stream.pix_fmt = "yuv420p"
                container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
            if stream is None:
                raise ValueError(f"{path}: no frames to encode")
            container.mux(stream.encode(None))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def paint_tracks(*, width: int, height: int, frame_count: int,
                 tracks: Sequence[Sequence[Annotation]], colour: Callable[[str], RGB],
                 background: RGB = (40, 40, 40),
                 overlays: Sequence[tuple[Box, RGB]] = ()) -> Iterator[np.ndarray]:
    """One RGB frame per frame: each track's box filled in its label's colour where the track
    is visible (clipped to the frame), then ``overlays`` (occluders) on top."""
    per_frame: list[list[tuple[Box, RGB]]] = [[] for _ in range(frame_count)]
    for keyframes in tracks:
        for shape in expand_track(list(keyframes), frame_count=frame_count):
            geometry = shape.annotation.geometry
            if isinstance(geometry, Box) and shape.frame < frame_count:
                per_frame[shape.frame].append((geometry, colour(shape.annotation.label)))
    for boxes in per_frame:
        image = np.empty((height, width, 3), np.uint8)
        image[:] = background
        for box, rgb in (*boxes, *overlays):
            x0, y0, x1, y1 = (round(v) for v in box.xyxy)
            image[max(y0, 0):max(min(y1, height), 0), max(x0, 0):max(min(x1, width), 0)] = rgb
        yield image

