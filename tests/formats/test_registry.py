"""The registry lists every format module, once, by a unique stable name."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import labelport.formats
from labelport.errors import NotFoundError
from labelport.formats.base import FormatSpec
from labelport.formats.registry import (
    all_formats,
    get_format,
    readable_formats,
    writable_formats,
)

_NOT_FORMATS = {"base", "registry"}


def _format_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(labelport.formats.__path__)
                  if m.name not in _NOT_FORMATS and not m.name.startswith("_"))


@pytest.mark.parametrize("module_name", _format_modules())
def test_every_format_module_is_registered(module_name: str) -> None:
    module = importlib.import_module(f"labelport.formats.{module_name}")
    spec = getattr(module, "SPEC", None)
    assert isinstance(spec, FormatSpec), f"formats/{module_name}.py exposes no SPEC: FormatSpec"
    assert any(registered is spec for registered in all_formats()), (
        f"formats/{module_name}.py is not listed in labelport.formats.registry.FORMATS")


def test_names_are_unique_and_every_format_reads_or_writes() -> None:
    names = [spec.name for spec in all_formats()]
    assert len(names) == len(set(names))
    assert all(spec.reader or spec.writer for spec in all_formats())


def test_get_format_by_name_and_unknown_names_list_the_choices() -> None:
    assert get_format("labelport").lossless
    with pytest.raises(NotFoundError, match="unknown format 'cocoa'.*labelport"):
        get_format("cocoa")


def test_readable_and_writable_formats() -> None:
    assert all(spec.writer is not None for spec in writable_formats())
    assert all(spec.reader is not None for spec in readable_formats())
    assert get_format("labelport") in writable_formats()
    assert get_format("labelport") in readable_formats()
