"""A video's frame as an image item: what the frames stage hands to image formats and the media
stage extracts (`labelport.export.frames`)."""

from __future__ import annotations

from dataclasses import dataclass

from labelport.domain.model import Item


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameItem(Item):
    """One frame of a video, as an image: ``media_uri`` is the video's."""

    video_path: str
    frame_index: int
    rotation_deg: int = 0


def frame_item_path(video_path: str, frame: int) -> str:
    """``<video path without suffix>/<frame:06d>.jpg``: a folder per video (unique across a
    project's videos), which image writers keep as they keep any item's folders."""
    stem, dot, suffix = video_path.rpartition(".")
    base = stem if dot and "/" not in suffix else video_path
    return f"{base}/{frame:06d}.jpg"
