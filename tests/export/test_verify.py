"""``--verify``: an export read back by labelport's own reader and compared object by object
before it is published (`labelport.export.verify`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from labelport.domain.geometry import Box
from labelport.domain.model import Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, UnsupportedError
from labelport.export.manifest import MANIFEST_NAME
from labelport.export.media import MediaMode
from labelport.export.request import ExportOptions
from labelport.export.run import run_export
from labelport.export.verify import VerificationError
from labelport.formats.base import FormatSpec, WriteContext
from labelport.formats.registry import all_formats, get_format
from labelport.sample import build_sample

VERIFIABLE = [s.name for s in all_formats()
              if s.reader is not None and s.writer is not None and not s.video]
"""Every format with a reader and a writer; video-only ones have nothing to write from the
sample project (it has no video)."""


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return build_sample(tmp_path_factory.mktemp("media"))


@pytest.mark.parametrize("name", VERIFIABLE)
def test_every_format_verifies_the_sample(sample: MemorySource, tmp_path: Path,
                                          name: str) -> None:
    result = run_export(sample, get_format(name), tmp_path / "out", verify=True,
                        media=MediaMode.COPY)
    verification = result.manifest["verification"]
    assert verification["verified"] is True and verification["reader"] == name
    assert verification["items"] == len(sample)
    written = json.loads((tmp_path / "out" / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert written["verification"] == verification


@pytest.mark.parametrize("name", ["kitti", "datagym", "csv"])
def test_formats_without_sizes_verify_with_the_items_images(sample: MemorySource,
                                                            tmp_path: Path, name: str) -> None:
    """No media in the export: the reader gets the items' images linked into a scratch
    folder, which is gone afterwards."""
    result = run_export(sample, get_format(name), tmp_path / "out", verify=True)
    assert result.manifest["verification"]["items"] == len(sample)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_export_not_verified_says_so(sample: MemorySource, tmp_path: Path) -> None:
    result = run_export(sample, get_format("coco"), tmp_path / "out")
    assert result.manifest["verification"] == {"verified": False}


def _shifted(spec: FormatSpec, dx: float) -> FormatSpec:
    """``spec`` with a writer that moves every box by ``dx`` pixels: a writer bug."""
    assert spec.writer is not None
    inner = spec.writer

    def write(source: ExportSource, out: Path, options: Mapping[str, Any],
              ctx: WriteContext) -> None:
        moved = tuple(
            replace(r, annotations=tuple(
                replace(a, geometry=replace(a.geometry, x=a.geometry.x + dx))
                if isinstance(a.geometry, Box) else a for a in r.annotations))
            for r in source.records())
        inner(MemorySource(project=source.project, schema=source.schema, items=moved), out,
              options, ctx)

    return replace(spec, writer=write)


def _boxes() -> MemorySource:
    return MemorySource(
        project=ProjectInfo(name="p"),
        schema=LabelSchema(classes=(LabelClass(id=1, name="car"),)),
        items=(ItemRecord(item=Item(dataset="default", path="a.png", width=200, height=100),
                          annotations=(Annotation(label="car",
                                                  geometry=Box(x=10, y=10, w=50, h=20)),)),))


@pytest.mark.parametrize("name", ["coco", "voc", "labelstudio"])
def test_a_writer_bug_fails_the_export_naming_the_first_difference(tmp_path: Path,
                                                                   name: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(VerificationError, match=r"item 'a\.png': box of class 'car' at x=10 "
                                                r"y=10 w=50 h=20"):
        run_export(_boxes(), _shifted(get_format(name), 5), out, verify=True)
    assert not out.exists() and list(tmp_path.iterdir()) == []  # nothing published or left
    run_export(_boxes(), _shifted(get_format(name), 0.4), out, verify=True)  # within 1 px


def test_a_loss_the_report_does_not_count_fails(tmp_path: Path) -> None:
    spec = get_format("coco")
    assert spec.writer is not None
    inner = spec.writer

    def drops(source: ExportSource, out: Path, options: Mapping[str, Any],
              ctx: WriteContext) -> None:
        empty = tuple(replace(r, annotations=()) for r in source.records())
        inner(MemorySource(project=source.project, schema=source.schema, items=empty), out,
              options, ctx)

    with pytest.raises(VerificationError, match="1 written objects \\(box\\) are not in the "
                                                "export read back and the report accounts for 0"):
        run_export(_boxes(), replace(spec, writer=drops), tmp_path / "out", verify=True)

    def counts(source: ExportSource, out: Path, options: Mapping[str, Any],
               ctx: WriteContext) -> None:
        ctx.report.count("not written: box (on purpose)")
        drops(source, out, options, ctx)

    result = run_export(_boxes(), replace(spec, writer=counts), tmp_path / "out", verify=True)
    assert result.manifest["verification"]["objects_not_read_back"] == 1


def test_a_format_without_a_reader_cannot_be_verified(tmp_path: Path) -> None:
    spec = replace(get_format("coco"), reader=None)
    with pytest.raises(UnsupportedError, match="has no reader"):
        run_export(_boxes(), spec, tmp_path / "out", verify=True)


def test_the_job_option_is_a_boolean() -> None:
    assert ExportOptions.from_json({"format": "coco", "verify": True}).verify is True
    assert ExportOptions.from_json({"format": "coco"}).verify is False
    with pytest.raises(InputError, match="`verify` must be true or false"):
        ExportOptions.from_json({"format": "coco", "verify": "yes"})


def test_cli_verify(sample: MemorySource, tmp_path: Path) -> None:
    from labelport.store.db import open_store

    store = open_store(str(tmp_path / "s.db"))
    store.create_project("p", sample.schema)
    store.import_source("p", sample)
    run = subprocess.run([sys.executable, "-m", "labelport", "export", "p", "voc",
                          "--export-path", "v", "--verify", "--db", str(tmp_path / "s.db")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((tmp_path / "v" / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["verification"]["verified"] is True
    assert manifest["verification"]["items"] == manifest["counts"]["items"] > 0
