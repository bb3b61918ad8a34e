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
    """Every public module under formats/, family packages included (`coco.instances`); helpers
    are private (`_shared`, `yolo._rows`) and so are not formats."""
    prefix = "labelport.formats."
    found = []
    for module in pkgutil.walk_packages(labelport.formats.__path__, prefix):
        name = module.name.removeprefix(prefix)
        if module.ispkg or name in _NOT_FORMATS or any(p.startswith("_") for p in name.split(".")):
            continue
        found.append(name)
    return sorted(found)


def test_family_packages_hold_their_formats() -> None:
    assert {"coco.instances", "coco.panoptic", "yolo.ultralytics", "yolo.darknet", "yolo.keras",
            "voc.detection", "voc.segmentation", "labelstudio.tasks"} <= set(_format_modules())


@pytest.mark.parametrize("module_name", _format_modules())
def test_every_format_module_is_registered(module_name: str) -> None:
    module = importlib.import_module(f"labelport.formats.{module_name}")
    path = f"formats/{module_name.replace('.', '/')}.py"
    spec = getattr(module, "SPEC", None)
    assert isinstance(spec, FormatSpec), f"{path} exposes no SPEC: FormatSpec"
    assert any(registered is spec for registered in all_formats()), (
        f"{path} is not listed in labelport.formats.registry.FORMATS")


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
