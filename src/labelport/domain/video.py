"""What a video item is beyond its size, and the one place where time and frames convert.

Frames are zero-based indices everywhere in labelport (the first decoded frame is frame 0).
A frame covers the half-open time span ``[n / rate, (n + 1) / rate)`` seconds from the start of
the stream, so `frame_at` rounds down and `time_of` gives the frame's start. The rate is kept as
an exact fraction (NTSC's 29.97 fps is ``30000/1001``): float rates drift by a frame within an
hour of video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoInfo:
    """What PyAV probed when the video was imported (`Item.frame_count` holds the frame count).

    ``rotation_deg`` is the display rotation from the container's metadata as FFmpeg states
    it (its display matrix: 0, 90, 180 or 270 degrees counter-clockwise), applied to decoded
    frames as players do; the item's width and height are the displayed (rotated) size, and
    annotations are drawn on the displayed frames."""

    frame_rate: Fraction
    duration_s: float
    rotation_deg: int = 0
    codec: str = ""


def frame_at(time_s: float, frame_rate: Fraction) -> int:
    """The zero-based frame shown at ``time_s`` seconds from the start."""
    if time_s < 0:
        raise ValueError(f"time {time_s} s is before the start of the video")
    # a small tolerance: 0.1 s at 10 fps is frame 1, not 0.9999... -> 0
    return math.floor(Fraction(time_s) * frame_rate + Fraction(1, 10**6))


def time_of(frame: int, frame_rate: Fraction) -> float:
    """The time in seconds at which zero-based ``frame`` starts."""
    if frame < 0:
        raise ValueError(f"frame {frame} is negative; frames count from 0")
    return float(frame / frame_rate)


def rate_to_text(frame_rate: Fraction) -> str:
    """``"30000/1001"`` or ``"25"``: how the store and the native format write a rate."""
    return str(frame_rate)


def rate_from_text(text: str) -> Fraction:
    """The inverse of `rate_to_text`; a positive fraction or integer."""
    rate = Fraction(text)
    if rate <= 0:
        raise ValueError(f"frame rate {text!r} is not positive")
    return rate
