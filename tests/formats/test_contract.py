"""The contract every registered writer keeps, run over the sample project: it writes, reports
what it could not carry, names every image (the one without objects and the unicode one too) in
its annotation files, exports an empty project, and (with a reader) reads back the same items.

The image check reads what the writer wrote without media, the manifest left out, so a copied
image cannot stand in for a label a writer dropped; a writer that drops one image proves it
fails. Only a format whose labels are the folders images sit in (``FOLDER_LABELS``) is checked
with media copied, since the image's place there is its annotation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from labelport.domain.model import DEFAULT_LABELSET, ProjectInfo
from labelport.domain.source import ExportSource, MemorySource
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import FormatSpec
from labelport.formats.registry import get_format, writable_formats
from labelport.sample import build_sample

WRITERS = [pytest.param(spec, id=spec.name) for spec in writable_formats() if spec.images]
"""Formats that write images: the sample is images (video-only formats keep their contract in
tests/video/test_contract_video.py)."""


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return build_sample(tmp_path_factory.mktemp("media"))


def _selected(spec: FormatSpec, source: MemorySource) -> ExportSource:
    return source if spec.lossless else restrict_labelsets(source, [DEFAULT_LABELSET])


FOLDER_LABELS = frozenset({"imagefolder"})
MANIFEST = "labelport-export.json"


def _annotation_text(root: Path) -> str:
    """Every name and every text of the export's files but the manifest (a Parquet file as its
    rows); images' pixels do not count."""
    parts = []
    for path in sorted(root.rglob("*")):
        if path.name == MANIFEST:
            continue
        parts.append(path.relative_to(root).as_posix())
        if not path.is_file() or path.suffix.lower() in {".png", ".jpg", ".jpeg"}:
            continue
        if path.suffix == ".parquet":
            parts.append(str(pq.read_table(path).to_pylist()))
        else:
            parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def _unnamed_images(spec: FormatSpec, source: MemorySource, out: Path) -> list[str]:
    """The images of ``source`` whose name the export of ``spec`` into ``out`` never mentions."""
    media = MediaMode.COPY if spec.name in FOLDER_LABELS else MediaMode.NONE
    result = run_export(_selected(spec, source), spec, out, media=media)
    text = _annotation_text(result.path)
    return [r.item.file_name for r in source.records()
            if r.item.file_name.rsplit(".", 1)[0] not in text]


def _dropping(spec: FormatSpec, file_name: str) -> FormatSpec:
    """``spec`` with a writer that leaves out the image ``file_name``."""
    assert spec.writer is not None
    write = spec.writer

    def writer(source: ExportSource, out_dir: Path, options: Any, ctx: Any) -> Any:
        kept = MemorySource(project=source.project, schema=source.schema,
                            datasets=source.datasets, labelsets=source.labelsets,
                            items=tuple(r for r in source.records()
                                        if r.item.file_name != file_name))
        return write(kept, out_dir, options, ctx)

    return replace(spec, writer=writer)


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
def test_annotation_files_name_every_image(spec: FormatSpec, sample: MemorySource,
                                           tmp_path: Path) -> None:
    assert _unnamed_images(spec, sample, tmp_path / "out") == [], f"{spec.name} lost images"


@pytest.mark.parametrize("name", ["coco", "yolo", "cvat", "masks_semantic", "parquet",
                                  "imagefolder"])
@pytest.mark.parametrize("dropped", ["empty_006.png", "straße_ü.png"])
def test_a_writer_that_drops_an_image_fails_the_check(name: str, dropped: str,
                                                      sample: MemorySource,
                                                      tmp_path: Path) -> None:
    broken = _dropping(get_format(name), dropped)
    assert _unnamed_images(broken, sample, tmp_path / "out") == [dropped]


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
