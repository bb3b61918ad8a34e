"""Frames out of a video with PyAV, streamed: one decoder per video, moving forward through the
file and seeking only when the next frame asked for is far ahead (or behind), so memory stays at
a few decoded frames whatever the video's length, and a sparse selection does not decode the
whole file.

Frames are zero-based in decoding (presentation) order, counted from the stream's first
frame; a frame's index comes from its timestamp (`labelport.domain.video` converts), so seeking
lands on the same numbering as decoding from the start. The display rotation is applied, so a
frame has the item's (displayed) size."""

from __future__ import annotations

import io
from collections import deque
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

    Holds one open container and decoder; `close` releases them. Packets of frames before the
    one asked for are decoded with FFmpeg's ``skip_frame=NONREF``: a frame no other frame
    refers to and nobody wants is not decoded at all (B-frames, in most H.264 files)."""

    def __init__(self, path: Path | str, *, rotation_deg: int = 0) -> None:
        import av

        self.path = str(path)
        self.rotation_deg = rotation_deg
        self._container = open_video(path)
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # FFmpeg decodes on every core
        self._codec = self._stream.codec_context
        rate = (self._stream.average_rate or self._stream.guessed_rate
                or self._stream.base_rate)
        self._rate = Fraction(rate.numerator, rate.denominator)
        self._time_base = self._stream.time_base
        self._start = self._stream.start_time or 0
        self._packets: Iterator[Any] | None = None
        self._decoded: deque[Any] = deque()
        self._next = 0  # index of the frame the decoder gives next
        self._jpeg: Any = None
        self._pictures = 0
        self._errors: tuple[type[BaseException], ...] = (av.error.FFmpegError,)

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoFrames:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _index(self, pts: int | None) -> int:
        if pts is None or self._time_base is None:
            return self._next
        return round((pts - self._start) * self._time_base * self._rate)

    def _seek(self, index: int) -> None:
        target = self._start + round(Fraction(index) / self._rate / self._time_base)
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        self._packets = self._container.demux(self._stream)
        self._decoded.clear()
        self._next = -1  # known from the first decoded frame's timestamp

    def _decode_more(self, index: int) -> bool:
        """Decode the next packet into the queue; False at the end of the stream."""
        assert self._packets is not None
        packet = next(self._packets, None)
        if packet is None:
            return False
        wanted = packet.pts is None or self._index(packet.pts) >= index
        self._codec.skip_frame = "DEFAULT" if wanted else "NONREF"
        self._decoded.extend(packet.decode())
        return True

    def frame(self, index: int) -> Any:
        """The decoded frame ``index`` (a PyAV ``VideoFrame``); `InputError` naming the file and
        the frame when the video ends before it or cannot be decoded there."""
        if self._packets is None and index <= SEEK_AHEAD:
            self._packets = self._container.demux(self._stream)
        elif self._packets is None or index < self._next or index - self._next > SEEK_AHEAD:
            self._seek(index)
        try:
            while True:
                while self._decoded:
                    decoded = self._decoded.popleft()
                    found = self._index(decoded.pts)
                    self._next = found + 1
                    if found == index:
                        return decoded
                    if found > index:
                        raise self._missing(index)
                if not self._decode_more(index):
                    raise self._missing(index)
        except self._errors as error:
            raise InputError(f"{self.path}: cannot be decoded at frame {index} ({error})") \
                from None

    def _missing(self, index: int) -> InputError:
        return InputError(f"{self.path}: frame {index} is missing: the video ends or skips it "
                          "(truncated, or fewer frames than it states)")

    def image(self, index: int) -> Any:
        """Frame ``index`` as an upright Pillow RGB image (display rotation applied)."""
        image = self.frame(index).to_image()
        if self.rotation_deg:
            image = image.rotate(self.rotation_deg, expand=True)  # counter-clockwise, as FFmpeg
        return image

    def jpeg(self, index: int) -> bytes:
        """Frame ``index`` as JPEG bytes, encoded by FFmpeg's MJPEG encoder straight from the
        decoded YUV (quantiser 2, as ``ffmpeg -q:v 2``); rotated videos go through `image`."""
        if self.rotation_deg:
            out = io.BytesIO()
            self.image(index).save(out, format="JPEG", quality=95)
            return out.getvalue()
        import av

        frame = self.frame(index)
        if self._jpeg is None:
            self._jpeg = av.CodecContext.create("mjpeg", "w")
            self._jpeg.width, self._jpeg.height = frame.width, frame.height
            self._jpeg.pix_fmt = "yuvj420p"
            self._jpeg.time_base = Fraction(1, 1)
            self._jpeg.options = {"qmin": "2", "qmax": "2"}
        picture = frame.reformat(format="yuvj420p")
        self._pictures += 1
        # the encoder wants increasing timestamps (after a seek too), in its own time base
        picture.pts, picture.time_base = self._pictures, self._jpeg.time_base
        return b"".join(bytes(p) for p in self._jpeg.encode(picture))


def save_frame(frames: VideoFrames, index: int, target: Path) -> None:
    """Write frame ``index`` by the target's suffix (JPEG for ``.jpg``/``.jpeg``, else what
    Pillow infers: PNG for ``.png``), beside then renamed, so no partial file is left."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    suffix = target.suffix.lower()
    try:
        if suffix in (".jpg", ".jpeg"):
            partial.write_bytes(frames.jpeg(index))
        else:
            frames.image(index).save(partial, format=suffix.lstrip(".").upper() or "PNG")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
