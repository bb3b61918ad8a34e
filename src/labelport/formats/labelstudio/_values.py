"""Values as Label Studio stores them, converted to and from labelport's pixels: coordinates in
percent of the original image size, rectangles anchored at a corner, and the brush RLE.

Coordinates: ``x`` and widths are percentages (0-100) of ``original_width``, ``y`` and heights
of ``original_height``. A rectangle's ``x, y`` is its top-left corner before rotation, and
``rotation`` turns it clockwise (y points down) by that many degrees about that corner; the
conversion to labelport's centre-based rotated box happens in pixels, never in percent (which
deforms boxes on non-square images, HumanSignal/label-studio#2293).

Brush RLE: not COCO's RLE. A brush result's ``rle`` is a list of bytes holding the thi.ng
``rle-pack`` encoding of the image's RGBA buffer, row-major (``height x width x 4`` values, one
word each); the mask is the alpha channel (any non-zero alpha is set). This is the format
``label_studio_sdk/converter/brush.py`` documents and decodes (``decode_rle``). The bit stream,
most significant bit first within each byte, zero-padded to a whole byte:

- header: ``num`` (32 bits, the number of words), ``word_size - 1`` (5 bits), then four run-size
  fields ``size_i - 1`` (4 bits each; labelport writes sizes 3, 4, 8, 16 as the SDK does);
- chunks until ``num`` words are out: a repeat flag (1 bit), a size index ``i`` (2 bits), the
  chunk length minus one (``size_i`` bits); a repeat chunk then holds one word repeated that many
  times, a literal chunk holds that many words.

labelport writes 8-bit words, every pixel ``(255, 255, 255, 255)`` when set and ``(0, 0, 0, 0)``
when not (the SDK's ``mask2rle``), so every run is a repeat chunk."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from labelport.domain.geometry import Box, Mask, Ring, RotatedBox
from labelport.domain.geometry_ops import rotated_box_corners
from labelport.domain.masks import bitmap_to_rle, rle_to_bitmap

Json = dict[str, Any]

# --- coordinates --------------------------------------------------------------------------------


def to_percent(value: float, size: int) -> float:
    return value * 100.0 / size


_PIXEL_DECIMALS = 9
"""Pixels read back are rounded to 1e-9 px: far below any annotation's precision, and enough
that percent -> pixels -> percent gives the same float, so export -> read -> export is
byte-identical."""


def from_percent(value: float, size: int) -> float:
    return round(value * size / 100.0, _PIXEL_DECIMALS)


def box_to_ls(box: Box, *, image_wh: tuple[int, int]) -> Json:
    """A box as a rectangle's ``value``: top-left corner and size in percent."""
    width, height = image_wh
    return {"x": to_percent(box.x, width), "y": to_percent(box.y, height),
            "width": to_percent(box.w, width), "height": to_percent(box.h, height),
            "rotation": 0}


def rotated_box_to_ls(box: RotatedBox, *, image_wh: tuple[int, int]) -> Json:
    """A centre-based rotated box as a rectangle anchored at its (turned) top-left corner, in
    pixels first, then percent; the rotation is clockwise degrees in ``[0, 360)``."""
    width, height = image_wh
    x, y = rotated_box_corners(box)[:2]
    return {"x": to_percent(x, width), "y": to_percent(y, height),
            "width": to_percent(box.w, width), "height": to_percent(box.h, height),
            "rotation": box.angle_deg % 360.0}


def rectangle_from_ls(value: Mapping[str, float], *, image_wh: tuple[int, int]
                      ) -> Box | RotatedBox:
    """The inverse of `box_to_ls` / `rotated_box_to_ls`: percent to pixels, then the corner
    anchor to the centre; a rotation of 0 gives an axis-aligned box. Angles come back in
    ``(-180, 180]``."""
    width, height = image_wh
    x, y = from_percent(value["x"], width), from_percent(value["y"], height)
    w, h = from_percent(value["width"], width), from_percent(value["height"], height)
    rotation = float(value.get("rotation", 0.0)) % 360.0
    if rotation == 0.0:
        return Box(x=x, y=y, w=w, h=h)
    theta = math.radians(rotation)
    cos, sin = math.cos(theta), math.sin(theta)
    return RotatedBox(cx=round(x + w / 2 * cos - h / 2 * sin, _PIXEL_DECIMALS),
                      cy=round(y + w / 2 * sin + h / 2 * cos, _PIXEL_DECIMALS),
                      w=w, h=h, angle_deg=rotation - 360.0 if rotation > 180.0 else rotation)


def ring_to_ls(ring: Ring, *, image_wh: tuple[int, int]) -> list[list[float]]:
    width, height = image_wh
    return [[to_percent(x, width), to_percent(y, height)]
            for x, y in zip(ring[::2], ring[1::2], strict=True)]


def ring_from_ls(points: list[tuple[float, float]], *, image_wh: tuple[int, int]) -> Ring:
    width, height = image_wh
    return tuple(v for x, y in points for v in (from_percent(x, width), from_percent(y, height)))


# --- brush RLE ----------------------------------------------------------------------------------

_WORD_BITS = 8
_RUN_SIZES = (3, 4, 8, 16)
_SET = 255


def _runs(flat: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """Lengths and values of the runs of equal values in ``flat``."""
    if flat.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
    lengths = np.diff(np.concatenate((starts, [flat.size])))
    return lengths, flat[starts]


def encode_brush_rle(bitmap: npt.ArrayLike) -> list[int]:
    """The ``rle`` of a ``(height, width)`` mask (non-zero = set) as Label Studio stores it."""
    array = np.asarray(bitmap)
    if array.ndim != 2:
        raise ValueError(f"a mask bitmap must be 2-D (height, width); got shape {array.shape}")
    flat = np.where(array.ravel(order="C") != 0, _SET, 0).astype(np.uint8)
    lengths, values = _runs(flat)
    bits = [f"{flat.size * 4:032b}", f"{_WORD_BITS - 1:05b}",
            "".join(f"{size - 1:04b}" for size in _RUN_SIZES)]
    longest = 1 << _RUN_SIZES[-1]
    for length, value in zip((lengths * 4).tolist(), values.tolist(), strict=True):
        word = f"{value:08b}"
        while length > 0:
            chunk = min(length, longest)
            index = next(i for i, size in enumerate(_RUN_SIZES) if chunk <= 1 << size)
            bits.append(f"1{index:02b}{chunk - 1:0{_RUN_SIZES[index]}b}{word}")
            length -= chunk
    stream = "".join(bits)
    stream += "0" * (-len(stream) % 8)
    return list(int(stream, 2).to_bytes(len(stream) // 8, "big"))


class _Bits:
    """Reads unsigned fields from a bit array, failing clearly when the stream ends early."""

    def __init__(self, data: bytes) -> None:
        self.bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        self.at = 0

    def read(self, n: int) -> int:
        end = self.at + n
        if end > self.bits.size:
            raise ValueError(f"the brush RLE ends early (at bit {self.at} of {self.bits.size})")
        value = 0
        for bit in self.bits[self.at:end].tolist():
            value = (value << 1) | bit
        self.at = end
        return value

    def words(self, count: int, size: int) -> npt.NDArray[np.uint32]:
        end = self.at + count * size
        if end > self.bits.size:
            raise ValueError(f"the brush RLE ends early (at bit {self.at} of {self.bits.size})")
        chunk = self.bits[self.at:end].reshape(count, size).astype(np.uint32)
        self.at = end
        return chunk @ (1 << np.arange(size - 1, -1, -1, dtype=np.uint32))


def decode_brush_rle(rle: list[int] | bytes) -> npt.NDArray[np.uint32]:
    """The words an ``rle`` holds (rle-pack decode): ``height * width * 4`` RGBA values for a
    brush. Raises ValueError for a stream that is not rle-pack."""
    if any(not (0 <= b <= 255) for b in rle):
        raise ValueError("the brush RLE must be a list of bytes (0 to 255)")
    bits = _Bits(bytes(rle))
    num = bits.read(32)
    word_size = bits.read(5) + 1
    sizes = [bits.read(4) + 1 for _ in range(4)]
    out = np.zeros(num, dtype=np.uint32)
    i = 0
    while i < num:
        repeat = bits.read(1)
        j = i + 1 + bits.read(sizes[bits.read(2)])
        if j > num:
            raise ValueError(f"a brush RLE chunk ends at word {j}, past the {num} words announced")
        if repeat:
            out[i:j] = bits.read(word_size)
        else:
            out[i:j] = bits.words(j - i, word_size)
        i = j
    return out


def brush_rle_to_bitmap(rle: list[int] | bytes, *, height: int, width: int
                        ) -> npt.NDArray[np.uint8]:
    """The ``(height, width)`` 0/1 mask of a brush: its alpha channel, non-zero = set."""
    words = decode_brush_rle(rle)
    if words.size != height * width * 4:
        raise ValueError(f"the brush RLE holds {words.size} values; a {width} x {height} RGBA "
                         f"image needs {height * width * 4}")
    return (words.reshape(height, width, 4)[:, :, 3] != 0).astype(np.uint8)


def mask_to_brush_rle(mask: Mask) -> list[int]:
    return encode_brush_rle(rle_to_bitmap(mask))


def brush_rle_to_mask(rle: list[int] | bytes, *, height: int, width: int) -> Mask:
    return bitmap_to_rle(brush_rle_to_bitmap(rle, height=height, width=width))
