"""Golden regeneration cannot pass by accident: refused in CI before any test runs, and
``make goldens`` reports PNGs as changed only when their pixels change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import conftest, regenerate_goldens


@pytest.mark.parametrize("ci", ["true", "1"])
def test_pytest_refuses_regeneration_in_ci(ci: str, monkeypatch: pytest.MonkeyPatch,
                                           pytestconfig: pytest.Config) -> None:
    """The session hook of tests/conftest.py stops the run (a usage error) before any test."""
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("LABELPORT_REGEN_GOLDEN", "1")
    with pytest.raises(pytest.UsageError, match="LABELPORT_REGEN_GOLDEN is set in CI"):
        conftest.pytest_configure(pytestconfig)


def test_make_goldens_refuses_in_ci(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CI", "yes")
    assert regenerate_goldens.main() == 2
    assert "refusing" in capsys.readouterr().err


def test_png_digest_follows_pixels_not_bytes(tmp_path: Path) -> None:
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8)
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    Image.fromarray(pixels).save(a, compress_level=1)
    Image.fromarray(pixels).save(b, compress_level=9)
    pixels[3, 3] += 1
    Image.fromarray(pixels).save(c)
    assert a.read_bytes() != b.read_bytes()
    digest = regenerate_goldens._digest
    assert digest(a) == digest(b) != digest(c)
