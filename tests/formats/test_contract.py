"""The contract every registered writer keeps, run over the sample project: it writes, reports
what it could not carry, keeps images without objects, survives unicode names and an empty
project, and (with a reader) reads back the same items."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelport.domain.model import DEFAULT_LABELSET, ProjectInfo
from labelport.domain.source import ExportSource, MemorySource
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import FormatSpec
from labelport.formats.registry import writable_formats
from labelport.sample import build_sample

WRITERS = [pytest.param(spec, id=spec.name) for spec in writable_formats() if spec.images]
"""Formats that write images: the sample is images (video-only formats keep their contract in
tests/video/test_contract_video.py)."""


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return build_sample(tmp_path_factory.mktemp("media"))


def _selected(spec: FormatSpec, source: MemorySource) -> ExportSource:
    return source if spec.lossless else restrict_labelsets(source, [DEFAULT_LABELSET])


def _all_text(root: Path) -> str:
    parts = []
    for path in sorted(root.rglob("*")):
        parts.append(path.name)
        if path.is_file() and path.suffix.lower() not in {".png", ".jpg", ".jpeg"}:
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


@pytest.mark.parametrize("spec", WRITERS)
def test_every_geometry_is_written_or_reported(spec: FormatSpec, sample: MemorySource,
                                               tmp_path: Path) -> None:
    result = run_export(_selected(spec, sample), spec, tmp_path / "out")
    assert (result.path / "labelport-export.json").is_file()
    written_kinds = {a.geometry.kind for r in _selected(spec, sample).records()
                     for a in r.annotations}
    reported = " ".join(result.report.counts)
    for kind in written_kinds - spec.geometries:
        assert kind.value in reported, f"{spec.name} lost {kind.value} without reporting it"


@pytest.mark.parametrize("spec", WRITERS)
def test_images_without_objects_and_unicode_names_survive(spec: FormatSpec, sample: MemorySource,
                                                          tmp_path: Path) -> None:
    result = run_export(_selected(spec, sample), spec, tmp_path / "out", media=MediaMode.COPY)
    text = _all_text(result.path)
    for record in sample.records():
        stem = record.item.file_name.rsplit(".", 1)[0]
        assert stem in text, f"{spec.name} lost {record.item.file_name}"


@pytest.mark.parametrize("spec", WRITERS)
def test_an_empty_project_exports(spec: FormatSpec, sample: MemorySource, tmp_path: Path) -> None:
    empty = MemorySource(project=ProjectInfo(name="empty"), schema=sample.schema)
    result = run_export(empty, spec, tmp_path / "out")
    assert result.counts.items == 0
    assert (result.path / "labelport-export.json").is_file()


@pytest.mark.parametrize("spec", [p for p in WRITERS if p.values[0].reader is not None])
def test_reads_back_the_same_items(spec: FormatSpec, sample: MemorySource, tmp_path: Path) -> None:
    result = run_export(_selected(spec, sample), spec, tmp_path / "out", media=MediaMode.COPY)
    assert spec.reader is not None
    read = spec.reader(result.path, {"images": None})
    assert len(read) == len(sample)
    written = sorted(r.item.file_name for r in sample.records())
    assert sorted(r.item.file_name for r in read.records()) == written
