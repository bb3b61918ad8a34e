"""Run a script under a third-party reader's own Python and hand back the JSON it printed.

Readers whose dependencies are too heavy for the dev extra, or pin versions that clash with
ours, live in side venvs the Makefile builds; ``make test`` (and so CI) names each venv's
interpreter in an environment variable:

- ``LABELPORT_DATUMARO_PYTHON``: ``.venv-datumaro``, Datumaro (version pinned in the Makefile);
- ``LABELPORT_ULTRALYTICS_PYTHON``: ``.venv-ultralytics``, Ultralytics' dataset code on
  PyTorch's CPU build;
- ``LABELPORT_LS_PYTHON``: ``.venv-labelstudio``, Label Studio's SDK and converter;
- ``LABELPORT_SEGMENTS_PYTHON``: ``.venv-segments``, the Segments.ai SDK.

By hand::

    make .venv-datumaro/.installed
    LABELPORT_DATUMARO_PYTHON=$PWD/.venv-datumaro/bin/python .venv/bin/python -m pytest tests/...

In a test::

    from tests.side_python import DATUMARO, run_side
    found = run_side(DATUMARO, SCRIPT, str(export_dir), "coco")

``SCRIPT`` is Python source; it gets the arguments as ``sys.argv[1:]``, runs in a fresh
temporary folder (its working directory, removed afterwards, so a reader's caches and settings
land nowhere else) and prints one JSON value as its last line of output; ``run_side`` returns
that value. Starting an interpreter and importing a reader costs about a second, so call it once
per reader and export (a loop over items goes inside the script), not once per item.

When the variable is unset or names no interpreter, :func:`tests.required.unavailable` fails the
test in CI and skips it elsewhere. A script that exits non-zero fails the test with its output.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.required import unavailable

DATUMARO = "LABELPORT_DATUMARO_PYTHON"
ULTRALYTICS = "LABELPORT_ULTRALYTICS_PYTHON"
SEGMENTS = "LABELPORT_SEGMENTS_PYTHON"

# A reader that needs longer than this on the sample project is hung, not slow.
_TIMEOUT_S = 300


def side_python(env_var: str) -> Path:
    """The interpreter ``env_var`` names; ``unavailable`` when it names none."""
    named = os.environ.get(env_var)
    if not named:
        unavailable(f"{env_var} is not set: run the tests with `make test`, or build the side "
                    f"venv (see tests/side_python.py) and name its python in {env_var}")
    python = Path(named)
    if not (python.is_file() and os.access(python, os.X_OK)):
        unavailable(f"{env_var}={named} is not an executable Python")
    return python


def run_side(env_var: str, script: str, *args: str) -> Any:
    """Run ``script`` with ``args`` under the Python ``env_var`` names; return the JSON value
    its last line of standard output holds."""
    python = side_python(env_var)
    with tempfile.TemporaryDirectory(prefix="labelport-side-") as cwd:
        try:
            done = subprocess.run([str(python), "-c", script, *args], capture_output=True,
                                  text=True, cwd=cwd, timeout=_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{env_var} script ran over {_TIMEOUT_S} s: {exc.stderr!r}")
    if done.returncode != 0:
        pytest.fail(f"{env_var} script exited {done.returncode}:\n{done.stderr[-4000:]}",
                    pytrace=False)
    lines = done.stdout.strip().splitlines()
    if not lines:
        pytest.fail(f"{env_var} script printed nothing:\n{done.stderr[-4000:]}", pytrace=False)
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        pytest.fail(f"{env_var} script's last line is not JSON: {lines[-1][:500]!r}",
                    pytrace=False)
