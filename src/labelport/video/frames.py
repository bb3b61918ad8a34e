"""Frames out of a video with PyAV, streamed: one decoder per video, moving forward through the
file and seeking only when the next frame asked for is far ahead (or behind), so memory stays at
a few decoded frames whatever the video's length, and a sparse selection does not decode the
whole file.

Frames are zero-based in decoding (presentation) order, counted from the stream's first
frame; a frame's index comes from its timestamp (`labelport.domain.video` converts), so seeking
lands on the same numbering as decoding from the start. The display rotation is applied, so a
frame has the item's (displayed) size."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from labelport.errors import InputError
from labelport.video.probe import open_video

SEEK_AHEAD = 48
"""Decode forward when the next wanted frame is at most this many frames ahead; seek further
(a seek costs decoding from the keyframe before the target, typically up to a GOP of 12-250
frames, so short gaps are cheaper to decode through)."""


class VideoFrames:
    """Reads frames of one video in any order, cheapest when asked in increasing order.

    Holds one open container and decoder; `close` releases them."""

    def __init__(self, path: Path | str, *, rotation_deg: int = 0) -> None:
        import av

        self.path = str(path)
        self.rotation_deg = rotation_deg
        self._container = open_video(path)
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # FFmpeg decodes on every core
        rate = (self._stream.average_rate or self._stream.guessed_rate
                or self._stream.base_rate)
        self._rate = Fraction(rate.numerator, rate.denominator)
        self._time_base = self._stream.time_base
        self._start = self._stream.start_time or 0
        self._frames: Iterator[Any] | None = None
        self._next = 0  # index of the frame the decoder gives next
        self._errors: tuple[type[BaseException], ...] = (av.error.FFmpegError,)

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoFrames:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _index(self, frame: Any) -> int:
        if frame.pts is None or self._time_base is None:
            return self._next
        return round((frame.pts - self._start) * self._time_base * self._rate)

    def _seek(self, index: int) -> None:
        target = self._start + round(Fraction(index) / self._rate / self._time_base)
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        self._frames = self._container.decode(self._stream)
        self._next = -1  # known from the first decoded frame's timestamp

    def frame(self, index: int) -> Any:
        """The decoded frame ``index`` (a PyAV ``VideoFrame``); `InputError` naming the file and
        the frame when the video ends before it or cannot be decoded there."""
        if self._frames is None and index <= SEEK_AHEAD:
            self._frames = self._container.decode(self._stream)
        elif self._frames is None or index < self._next or index - self._next > SEEK_AHEAD:
            self._seek(index)
        assert self._frames is not None
        try:
            for decoded in self._frames:
                found = self._index(decoded)
                self._next = found + 1
                if found == index:
                    return decoded
                if found > index:
                    break
        except self._errors as error:
            raise InputError(f"{self.path}: cannot be decoded at frame {index} ({error})") \
                from None
        raise InputError(f"{self.path}: frame {index} is missing: the video ends or skips it "
                         "(truncated, or fewer frames than it states)")

    def image(self, index: int) -> Any:
        """Frame ``index`` as an upright Pillow RGB image (display rotation applied)."""
        image = self.frame(index).to_image()
        if self.rotation_deg:
            image = image.rotate(self.rotation_deg, expand=True)  # counter-clockwise, as FFmpeg
        return image


def save_frame(image: Any, target: Path, *, jpeg_quality: int = 95) -> None:
    """Write a frame image by the target's suffix (JPEG at ``jpeg_quality``, else what Pillow
    infers: PNG for ``.png``), beside then renamed, so no partial file is left."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    suffix = target.suffix.lower()
    try:
        if suffix in (".jpg", ".jpeg"):
            image.save(partial, format="JPEG", quality=jpeg_quality)
        else:
            image.save(partial, format=suffix.lstrip(".").upper() or "PNG")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
