"""What a test does when a service or a third-party reader it needs is missing: in CI (``CI``
set to any non-empty value) the test fails, so a green run never hides a check that did not
run; elsewhere it is skipped with the message, so a laptop without PostgreSQL runs the rest."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def unavailable(message: str) -> NoReturn:
    """Fail in CI, skip elsewhere, saying what is missing."""
    if in_ci():
        pytest.fail(f"required in CI: {message}", pytrace=False)
    pytest.skip(message)
