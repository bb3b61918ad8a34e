"""The safe-input helpers every reader opens its files through: what is not a regular file,
text that is not in its encoding, images beyond the pixel limit or broken, JSON nested too
deeply and counts out of range are `InputError`s naming the file and place."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from labelport.errors import InputError
from labelport.formats._shared.input_files import (
    bounded_count,
    is_regular_file,
    open_image,
    read_bytes,
    read_text,
)
from labelport.formats._shared.json_input import decode_json


def _png(width: int = 4, height: int = 3) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.mkdir(), "a folder, expected a file"),
    (lambda p: p.symlink_to(p.name), "a symlink loop"),
    (lambda p: os.mkfifo(p), "not a regular file"),
    (lambda p: p.symlink_to("/dev/zero"), "not a regular file"),
    (lambda p: None, "no such file"),
], ids=["folder", "symlink loop", "fifo", "device", "missing"])
def test_only_regular_files_are_read(tmp_path: Path, make, expected: str) -> None:
    path = tmp_path / "labels.txt"
    make(path)
    with pytest.raises(InputError, match=expected) as error:
        read_bytes(path)
    assert str(path) in str(error.value)
    assert not is_regular_file(path)


def test_a_name_too_long_is_not_a_file(tmp_path: Path) -> None:
    path = tmp_path / ("a" * 5000)
    assert not is_regular_file(path)
    with pytest.raises(InputError, match="a name too long"):
        read_text(path)


def test_bad_bytes_name_the_line_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "classes.txt"
    path.write_bytes(b"car\nbus\nst\xffop\n")
    with pytest.raises(InputError, match=r"classes.txt: line 3 \(byte 10\): not valid utf-8"):
        read_text(path)
    path.write_bytes(b"\xef\xbb\xbfcar\n")
    assert read_text(path, "utf-8-sig") == "car\n"


def test_counts_are_bounded() -> None:
    assert bounded_count(17, "kpt_shape[0]", "data.yaml") == 17
    with pytest.raises(InputError, match=r"data.yaml: kpt_shape\[0\] 99999999 is out of range"):
        bounded_count(99_999_999, "kpt_shape[0]", "data.yaml")
    with pytest.raises(InputError, match="out of range"):
        bounded_count(-1, "nc", "data.yaml")


def test_deep_json_is_an_input_error() -> None:
    with pytest.raises(InputError, match="a.json: JSON nested too deeply"):
        decode_json(b"[" * 5000 + b"]" * 5000, "a.json")


def _broken(data: bytes, kind: str) -> bytes:
    ihdr_end = 8 + 8 + 13 + 4
    if kind == "huge":
        body = struct.pack(">II", 100_000, 100_000) + data[24:29]
        return data[:8] + _chunk(b"IHDR", body) + data[ihdr_end:]
    if kind == "text chunk":
        text = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * (8 << 20)))
        return data[:ihdr_end] + text + data[ihdr_end:]
    if kind == "broken chunk":
        return data[:ihdr_end] + b"\x00\x00\x00\x04{{{{" + data[ihdr_end:]
    return data[:20]


@pytest.mark.parametrize("kind", ["huge", "text chunk", "broken chunk", "cut"])
def test_every_pillow_error_is_an_input_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "mask.png"
    path.write_bytes(_broken(_png(), kind))
    with pytest.raises(InputError, match="mask.png: ") as error, open_image(path) as image:
        image.load()
    assert type(error.value) is InputError


def test_an_image_in_bytes_is_named_by_its_origin() -> None:
    with open_image(io.BytesIO(_png(4, 3)), "row 7") as image:
        assert image.size == (4, 3)
    with pytest.raises(InputError, match="row 7: not a readable image"), \
            open_image(io.BytesIO(b"not an image"), "row 7"):
        pass
