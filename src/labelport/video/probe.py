"""What a video file is, learnt with PyAV when it is imported: size, frame count, frame rate,
duration, display rotation. Nothing is decoded but the first frame (where FFmpeg reports the
rotation of the container's display matrix); a container that does not state its frame count
has its packets counted, which reads the file but decodes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from labelport.domain.model import DEFAULT_DATASET, Item
from labelport.domain.video import VideoInfo
from labelport.errors import InputError

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg",
                            ".ts", ".wmv", ".flv", ".ogv"})
"""Suffixes taken for videos when a folder or an upload is sorted into images and videos."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoProbe:
    """A probed video: the displayed size (rotation applied), its frames and `VideoInfo`."""

    width: int
    height: int
    frame_count: int
    info: VideoInfo


def is_video_name(name: str) -> bool:
    return Path(name).suffix.lower() in VIDEO_SUFFIXES


def open_video(path: Path | str) -> Any:
    """A PyAV input container, or `InputError` naming the file when it is not a video."""
    import av

    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable video ({error})") from None
    format_name = container.format.name
    if not container.streams.video or format_name == "image2" or format_name.endswith("_pipe"):
        container.close()
        what = "an image" if container.streams.video else "a file with no video stream"
        raise InputError(f"{path}: is {what}, not a video")
    return container


def probe_video(path: Path | str) -> VideoProbe:
    """Probe ``path``; `InputError` naming the file when it is not a video, has no frames or
    its first frame cannot be decoded."""
    import av

    with open_video(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise InputError(f"{path}: the video stream states no frame rate")
        frame_rate = Fraction(rate.numerator, rate.denominator)
        try:
            frame_count = stream.frames
            if not frame_count:
                frame_count = sum(1 for packet in container.demux(stream) if packet.size)
                container.seek(0, stream=stream)
            first = next(container.decode(stream), None)
        except av.error.FFmpegError as error:
            raise InputError(f"{path}: cannot be decoded at frame 0 ({error})") from None
        if first is None or frame_count == 0:
            raise InputError(f"{path}: the video has no frames")
        rotation = int(round(getattr(first, "rotation", 0) or 0)) % 360
        duration = _duration_s(stream, container, frame_count, frame_rate)
        width, height = stream.width, stream.height
        if rotation in (90, 270):
            width, height = height, width
        return VideoProbe(width=width, height=height, frame_count=frame_count,
                          info=VideoInfo(frame_rate=frame_rate, duration_s=duration,
                                         rotation_deg=rotation, codec=stream.codec_context.name))


def _duration_s(stream: Any, container: Any, frame_count: int, frame_rate: Fraction) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return float(frame_count / frame_rate)


def video_item(path: Path, *, dataset: str = DEFAULT_DATASET, item_path: str | None = None,
               media_uri: str | None = None) -> Item:
    """The item of a local video file, probed."""
    found = probe_video(path)
    return Item(dataset=dataset, path=item_path or path.name, width=found.width,
                height=found.height, media_uri=media_uri or str(path.absolute()),
                frame_count=found.frame_count, video=found.info)
