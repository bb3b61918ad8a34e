"""tests/side_python.py: what the format tests rely on when they call a reader in a side venv."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.side_python import run_side

_VAR = "LABELPORT_TEST_SIDE_PYTHON"


def test_returns_the_last_line_as_json_and_runs_in_a_temporary_folder(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_VAR, sys.executable)
    script = ("import json, os, sys; print('noise'); open('litter', 'w').close(); "
              "print(json.dumps({'args': sys.argv[1:], 'cwd': os.getcwd()}))")
    found = run_side(_VAR, script, "a b", "c")
    assert found["args"] == ["a b", "c"]
    assert not Path(found["cwd"]).exists()  # removed, litter and all


@pytest.mark.parametrize("ci", ["", "1"])
def test_a_missing_interpreter_skips_outside_ci_and_fails_in_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv(_VAR, str(tmp_path / "no-python"))
    outcome = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(outcome, match="not an executable Python"):
        run_side(_VAR, "print(1)")
    monkeypatch.delenv(_VAR)
    with pytest.raises(outcome, match=f"{_VAR} is not set"):
        run_side(_VAR, "print(1)")


def test_a_failing_script_fails_the_test_with_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_VAR, sys.executable)
    with pytest.raises(pytest.fail.Exception, match="ZeroDivisionError"):
        run_side(_VAR, "1 / 0")
    with pytest.raises(pytest.fail.Exception, match="not JSON"):
        run_side(_VAR, "print('{')")
