"""Fixtures the format tests share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.required import unavailable

from labelport.domain.source import MemorySource
from labelport.sample import build_sample


@pytest.fixture
def sample_source(tmp_path: Path) -> MemorySource:
    """The sample project, its images written under ``tmp_path / "media"``."""
    return build_sample(tmp_path / "media")


def compare_png_goldens(out: Path, golden: Path, *, regen: bool) -> list[str]:
    """Compare an export folder with its goldens (``regen`` rewrites them first): the same
    files; PNGs equal by decoded pixels, mode and palette (not bytes: zlib may change), other
    files byte for byte and free of the machine's temporary paths. Returns the file names."""
    import numpy as np
    from PIL import Image

    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    if regen:
        import shutil
        shutil.rmtree(golden, ignore_errors=True)
        for name in written:
            (golden / name).parent.mkdir(parents=True, exist_ok=True)
            (golden / name).write_bytes((out / name).read_bytes())
    assert written == sorted(p.relative_to(golden).as_posix()
                             for p in golden.rglob("*") if p.is_file())
    for name in written:
        if name.endswith(".png"):
            with Image.open(out / name) as a, Image.open(golden / name) as b:
                assert (a.mode, a.size, a.getpalette()) == (b.mode, b.size, b.getpalette()), name
                assert np.array_equal(np.asarray(a), np.asarray(b)), f"{name}: pixels differ"
        else:
            assert (out / name).read_bytes() == (golden / name).read_bytes(), f"{name} differs"
            assert str(out.parent) not in (golden / name).read_text(encoding="utf-8")
    return written


@pytest.fixture
def png_goldens() -> Callable[..., list[str]]:
    """`compare_png_goldens`, for the tests of formats that write PNG masks."""
    return compare_png_goldens


@pytest.fixture
def offline_datasets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Hugging Face ``datasets`` (the dev extra) with the hub switched off and its cache inside
    ``tmp_path``."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    try:
        import datasets
    except ImportError:
        unavailable("Hugging Face datasets is not installed (pip install -e '.[dev]')")
    datasets.disable_progress_bars()
    return datasets


def write_inputs(root: Path, files: Mapping[str, str | bytes | int]) -> None:
    """Files for bad-input tests under ``root``: text, bytes, ``"RGB"`` (a 2x2 RGB PNG) or an
    int (a 2x2 16-bit PNG holding that value)."""
    import numpy as np
    from PIL import Image

    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, int):
            Image.fromarray(np.full((2, 2), content, dtype=np.uint16)).save(target)
        elif content == "RGB":
            Image.new("RGB", (2, 2)).save(target)
        elif isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)
