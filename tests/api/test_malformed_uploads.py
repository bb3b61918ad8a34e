"""The service answers malformed uploads with a 4xx, never a 500 (issue 13): every case of the
fuzz regression corpus (`tests/data/fuzz/`) as an import (the format's folder zipped), and
broken images given to ``items/upload``; a failed request leaves the project as it was."""

from __future__ import annotations

import io
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tests.api.conftest import Api
from tests.formats.fuzzing import write_seeds
from tests.formats.test_fuzz import CASES, CORPUS


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def _zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(folder).as_posix())
    return buffer.getvalue()


def _counts(api: Api) -> tuple[int, int]:
    stats = api.store.project_stats("sample")
    return sum(stats.items_per_dataset.values()), sum(stats.annotations_per_class.values())


def test_every_corpus_case_imported_through_the_api_is_a_4xx(api: Api, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    write_seeds(seeds)
    before = _counts(api)
    for case in CASES:
        format_name = case.split("/")[0]
        folder = tmp_path / "cases" / case
        shutil.copytree(seeds / format_name, folder)
        for file in (CORPUS / case).rglob("*"):
            if file.is_file():
                shutil.copyfile(file, folder / file.relative_to(CORPUS / case))
        response = api.call("alice", "POST", f"/api/projects/{api.project}/import",
                            data={"format": format_name},
                            files={"file": ("upload.zip", _zipped(folder), "application/zip")})
        assert 400 <= response.status_code < 500, f"{case}: {response.status_code} {response.text}"
        assert response.json()["error"]["message"], case
    assert _counts(api) == before


def _png(width: int = 8, height: int = 6) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


_IHDR_END = 8 + 8 + 13 + 4
_BROKEN_IMAGES = {
    "huge.png": b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">II", 100_000, 100_000)
                                             + _png()[24:29]) + _png()[_IHDR_END:],
    "text-bomb.png": _png()[:_IHDR_END] + _chunk(b"zTXt", b"Comment\x00\x00"
                                                 + zlib.compress(b"a" * (8 << 20)))
    + _png()[_IHDR_END:],
    "broken-chunk.png": _png()[:_IHDR_END] + b"\x00\x00\x00\x04{{{{" + _png()[_IHDR_END:],
    "cut.png": _png()[:20],
    "not-an-image.jpg": b"hello",
    "empty.png": b"",
}


@pytest.mark.parametrize("name", sorted(_BROKEN_IMAGES))
def test_a_broken_image_upload_is_a_4xx(api: Api, name: str) -> None:
    before = _counts(api)
    response = api.call("alice", "POST", f"/api/projects/{api.project}/items/upload",
                        files=[("files", ("good.png", _png(), "image/png")),
                               ("files", (name, _BROKEN_IMAGES[name], "image/png"))])
    assert 400 <= response.status_code < 500, f"{name}: {response.status_code} {response.text}"
    assert name in response.json()["error"]["message"]
    assert _counts(api) == before
