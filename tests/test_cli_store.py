"""The CLI opens the store only in the commands that need it."""

from __future__ import annotations

import subprocess
import sys

from labelport import cli_store
from labelport.store import db


def test_the_help_names_the_stores_default() -> None:
    assert cli_store.DEFAULT_DB == db.DEFAULT_DB


def test_importing_the_cli_leaves_the_store_alone() -> None:
    code = ("import sys, labelport.cli; "
            "print(sorted(m for m in ('sqlalchemy', 'alembic', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "[]"
