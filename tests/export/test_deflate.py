"""The parallel deflater: one raw deflate stream, whatever the threads, that inflates back."""

from __future__ import annotations

import random
import zlib

import pytest

from labelport.export.deflate import PIECE, ParallelDeflate


def _deflated(data: bytes, threads: int, step: int) -> bytes:
    with ParallelDeflate(threads) as deflater:
        out = [deflater.compress(data[i:i + step]) for i in range(0, len(data), step)]
        out.append(deflater.flush())
    return b"".join(out)


def _text(size: int) -> bytes:
    """Lines like a COCO file's: repetitive enough that matches cross the pieces."""
    rng = random.Random(size)
    lines, total = [], 0
    while total < size:
        line = b'{"id":%d,"image_id":%d,"bbox":[%d,%d,%d,%d]},\n' % (
            len(lines) + 1, len(lines) // 20 + 1, *(rng.randrange(640) for _ in range(4)))
        lines.append(line)
        total += len(line)
    return b"".join(lines)[:size]


@pytest.mark.parametrize("size", [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 12345])
def test_the_stream_inflates_to_the_input(size: int) -> None:
    data = _text(size)
    assert zlib.decompress(_deflated(data, 2, 65536), -zlib.MAX_WBITS) == data


def test_the_bytes_do_not_depend_on_threads_or_how_the_input_is_fed() -> None:
    data = _text(5 * PIECE + 999)
    first = _deflated(data, 1, 1 << 20)
    assert _deflated(data, 2, 4096) == first
    assert _deflated(data, 4, 3 * PIECE) == first


def test_it_deflates_about_as_small_as_one_stream() -> None:
    data = _text(6 * PIECE)
    one = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    alone = len(one.compress(data) + one.flush())
    assert len(_deflated(data, 2, PIECE)) <= alone * 1.01
