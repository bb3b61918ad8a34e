"""The label-map PNG encoder (`_shared/png.py`): Pillow, the reader every consumer uses, opens
each PNG it writes with the expected mode and exactly the values (and palette) encoded, for
odd sizes, all-zero and maximal values, and arrays in either memory order."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from labelport.formats._shared.png import encode_png
from labelport.formats._shared.raster import id_to_rgb, rgb_to_id, voc_color

SHAPES = [(1, 1), (1, 9), (9, 1), (3, 7), (5, 13), (480, 641)]
"""Height x width: single pixels, rows and columns, widths that are no multiple of 8."""


def _decode(data: bytes) -> tuple[str, np.ndarray, list[int] | None]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.mode, np.asarray(image), image.getpalette()


def _samples(shape: tuple[int, ...], dtype: type[np.integer]) -> list[np.ndarray]:
    """All zero, all maximal, and random values (runs and noise) of ``dtype``."""
    top = np.iinfo(dtype).max
    noise = np.random.default_rng(sum(shape)).integers(0, top, size=shape, endpoint=True,
                                                       dtype=dtype)
    return [np.zeros(shape, dtype=dtype), np.full(shape, top, dtype=dtype), noise,
            np.repeat(noise[:1], shape[0], axis=0)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("dtype", "mode"), [(np.uint8, "L"), (np.uint16, "I;16")])
def test_grey_maps_read_back_with_their_mode_and_values(shape: tuple[int, int],
                                                        dtype: type[np.integer],
                                                        mode: str) -> None:
    for pixels in _samples(shape, dtype):
        for layout in (pixels, np.asfortranarray(pixels)):
            assert _same(_decode(encode_png(layout)), mode, pixels, None)


@pytest.mark.parametrize("shape", SHAPES)
def test_palette_maps_keep_indices_and_palette(shape: tuple[int, int]) -> None:
    palette = b"".join(bytes(voc_color(i)) for i in range(256))
    for pixels in _samples(shape, np.uint8):
        assert _same(_decode(encode_png(pixels, palette=palette)), "P", pixels, list(palette))
    short = bytes((1, 2, 3, 250, 251, 252))  # two entries
    ones = np.ones(shape, dtype=np.uint8)
    assert _same(_decode(encode_png(ones, palette=short)), "P", ones, list(short))


@pytest.mark.parametrize("shape", SHAPES)
def test_rgb_panoptic_ids_read_back(shape: tuple[int, int]) -> None:
    ids = np.random.default_rng(1).integers(0, 2**24, size=shape, dtype=np.uint32)
    ids.flat[0] = 2**24 - 1
    ids.flat[-1] = 0
    mode, rgb, _ = _decode(encode_png(id_to_rgb(ids)))
    assert mode == "RGB" and np.array_equal(rgb_to_id(rgb), ids)
    assert np.array_equal(rgb_to_id(_decode(encode_png(id_to_rgb(ids.T).transpose(1, 0, 2)))[1]),
                          ids)


@pytest.mark.parametrize(("pixels", "palette", "message"), [
    (np.zeros((0, 4), dtype=np.uint8), None, "at least one pixel"),
    (np.zeros((4, 0), dtype=np.uint8), None, "at least one pixel"),
    (np.zeros(4, dtype=np.uint8), None, "at least one pixel"),
    (np.zeros((2, 2), dtype=np.int32), None, "no PNG mode for a int32"),
    (np.zeros((2, 2, 4), dtype=np.uint8), None, "no PNG mode"),
    (np.zeros((2, 2), dtype=np.uint16), bytes(768), "with a palette"),
    (np.zeros((2, 2), dtype=np.uint8), bytes(769), "1 to 256 RGB triples"),
    (np.zeros((2, 2), dtype=np.uint8), bytes(771), "1 to 256 RGB triples"),
])
def test_what_has_no_png_mode_is_refused(pixels: np.ndarray, palette: bytes | None,
                                         message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_png(pixels, palette=palette)


def _same(decoded: tuple[str, np.ndarray, list[int] | None], mode: str, pixels: np.ndarray,
          palette: list[int] | None) -> bool:
    got_mode, got, got_palette = decoded
    return (got_mode == mode and got.shape == pixels.shape and np.array_equal(got, pixels)
            and (palette is None or got_palette == palette))
