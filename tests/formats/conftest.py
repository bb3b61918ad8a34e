"""Fixtures the format tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelport.domain.source import MemorySource
from labelport.sample import build_sample


@pytest.fixture
def sample_source(tmp_path: Path) -> MemorySource:
    """The sample project, its images written under ``tmp_path / "media"``."""
    return build_sample(tmp_path / "media")
