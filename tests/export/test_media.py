"""The media stage: local, HTTP and object-storage sources, missing media counted, and the image
paths writers put in their annotation files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fsspec
import orjson
import pytest

from labelport.domain.model import Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import MemorySource
from labelport.export.media import (
    MediaMode,
    PathMode,
    local_media_path,
    media_placer,
    media_referencer,
)
from labelport.export.run import run_export
from labelport.formats.base import Report
from labelport.formats.registry import get_format
from tests.media_server import serve_folder

NOT_AN_IMAGE = b"\x89PNG but not really: the media stage never decodes\n" * 100


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A web server on 127.0.0.1 serving a temporary folder, for this test only."""
    root = tmp_path / "served"
    root.mkdir()
    with serve_folder(root) as base:
        yield base, root


def _item(path: str, uri: str | None) -> Item:
    return Item(dataset="web", path=path, width=4, height=3, media_uri=uri)


def _source(*items: Item) -> MemorySource:
    return MemorySource(project=ProjectInfo(name="web"),
                        schema=LabelSchema(classes=(LabelClass(id=1, name="car"),)),
                        items=tuple(ItemRecord(item=item, split="train") for item in items))


def test_copy_over_http_keeps_bytes_and_counts_what_is_missing(
        http_root: tuple[str, Path], tmp_path: Path) -> None:
    base, root = http_root
    (root / "a.png").write_bytes(NOT_AN_IMAGE)
    report = Report()
    place = media_placer(MediaMode.COPY, report)

    place(_item("a.png", f"{base}/a.png"), tmp_path / "out" / "a.png")
    place(_item("b.png", f"{base}/b.png"), tmp_path / "out" / "b.png")

    assert (tmp_path / "out" / "a.png").read_bytes() == NOT_AN_IMAGE
    assert not (tmp_path / "out" / "b.png").exists()  # no partial or empty file
    assert report.counts == {"media missing": 1}
    assert "web/b.png" in report.messages[0]


def test_a_refused_connection_is_missing_media(tmp_path: Path) -> None:
    report = Report()
    media_placer(MediaMode.COPY, report)(_item("a.png", "http://127.0.0.1:9/a.png"),
                                        tmp_path / "a.png")
    assert report.counts == {"media missing": 1}
    assert not (tmp_path / "a.png").exists()


def test_coco_export_copies_http_media(http_root: tuple[str, Path], tmp_path: Path) -> None:
    base, root = http_root
    (root / "sub").mkdir()
    (root / "sub" / "a b.png").write_bytes(NOT_AN_IMAGE)
    source = _source(_item("a b.png", f"{base}/sub/a%20b.png"), _item("gone.png", f"{base}/x"))

    result = run_export(source, get_format("coco"), tmp_path / "out", media=MediaMode.COPY)

    assert (tmp_path / "out" / "images" / "train" / "a b.png").read_bytes() == NOT_AN_IMAGE
    assert result.report.counts["media missing"] == 1
    assert result.manifest["report"]["counts"]["media missing"] == 1


def test_object_storage_through_fsspec(tmp_path: Path) -> None:
    memory = fsspec.filesystem("memory")
    memory.pipe("/bucket/a.png", NOT_AN_IMAGE)
    try:
        report = Report()
        place = media_placer(MediaMode.SYMLINK, report)
        place(_item("a.png", "memory://bucket/a.png"), tmp_path / "a.png")
        place(_item("b.png", "memory://bucket/b.png"), tmp_path / "b.png")
    finally:
        memory.rm("/bucket", recursive=True)
    assert (tmp_path / "a.png").read_bytes() == NOT_AN_IMAGE
    assert not (tmp_path / "a.png").is_symlink()  # a remote source is copied, and that counted
    assert report.counts == {"media copied: a remote source cannot be linked": 1,
                             "media missing": 1}


def test_unknown_scheme_is_missing_media(tmp_path: Path) -> None:
    report = Report()
    media_placer(MediaMode.COPY, report)(_item("a.png", "nosuchscheme://x/a.png"),
                                        tmp_path / "a.png")
    assert report.counts == {"media missing": 1}


@pytest.mark.parametrize("mode", [MediaMode.COPY, MediaMode.SYMLINK])
def test_local_media_copied_or_linked_and_missing_counted(tmp_path: Path,
                                                          mode: MediaMode) -> None:
    image = tmp_path / "src" / "a.png"
    image.parent.mkdir()
    image.write_bytes(NOT_AN_IMAGE)
    report = Report()
    place = media_placer(mode, report)
    place(_item("a.png", image.as_uri()), tmp_path / "out" / "a.png")
    place(_item("b.png", str(tmp_path / "src" / "b.png")), tmp_path / "out" / "b.png")
    place(_item("c.png", None), tmp_path / "out" / "c.png")

    assert (tmp_path / "out" / "a.png").read_bytes() == NOT_AN_IMAGE
    assert (tmp_path / "out" / "a.png").is_symlink() is (mode is MediaMode.SYMLINK)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]
    assert report.counts == {"media missing": 2}


def test_no_media_places_nothing(tmp_path: Path) -> None:
    report = Report()
    media_placer(MediaMode.NONE, report)(_item("a.png", "/nowhere/a.png"), tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == [] and not report.counts


@pytest.mark.parametrize(("uri", "expected"), [
    ("/data/a.png", Path("/data/a.png")),
    ("file:///data/a%20b.png", Path("/data/a b.png")),
    ("https://example.org/a.png", None),
    ("s3://bucket/a.png", None),
    (None, None),
])
def test_local_media_path(uri: str | None, expected: Path | None) -> None:
    assert local_media_path(_item("a.png", uri)) == expected


def test_relative_paths_keep_the_layouts_own(tmp_path: Path) -> None:
    for mode in MediaMode:
        reference = media_referencer(mode, PathMode.RELATIVE, staging=tmp_path / "s",
                                     published=tmp_path / "out", report=Report())
        item = _item("a.png", "https://example.org/a.png")
        assert reference(item, tmp_path / "s" / "images" / "a.png", "a.png") == "a.png"


@pytest.mark.parametrize("mode", [MediaMode.COPY, MediaMode.SYMLINK])
def test_absolute_paths_with_media_name_the_published_file(tmp_path: Path,
                                                           mode: MediaMode) -> None:
    reference = media_referencer(mode, PathMode.ABSOLUTE, staging=tmp_path / ".out.partial",
                                 published=tmp_path / "out", report=Report())
    target = tmp_path / ".out.partial" / "images" / "train" / "a.png"
    assert reference(_item("a.png", "/x/a.png"), target, "a.png") == str(
        tmp_path / "out" / "images" / "train" / "a.png")


def test_absolute_paths_without_media_name_the_source(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = Report()
    reference = media_referencer(MediaMode.NONE, PathMode.ABSOLUTE, staging=tmp_path / "s",
                                 published=tmp_path / "out", report=report)
    target = tmp_path / "s" / "images" / "a.png"
    cases = [("https://example.org/a%20b.png?v=1", "https://example.org/a%20b.png?v=1"),
             ("s3://bucket/a.png", "s3://bucket/a.png"),
             ("file:///data/a.png", "/data/a.png"),
             ("rel/a.png", str(tmp_path / "rel" / "a.png")),
             (None, "a.png")]
    for uri, expected in cases:
        assert reference(_item("a.png", uri), target, "a.png") == expected
    assert report.counts == {"relative image path written: item has no media URI": 1}


def test_the_manifest_records_media_and_paths(tmp_path: Path) -> None:
    result = run_export(_source(_item("a.png", None)), get_format("coco"), tmp_path / "out",
                        paths=PathMode.ABSOLUTE)
    manifest = orjson.loads((tmp_path / "out" / "labelport-export.json").read_bytes())
    assert manifest["options"]["media"] == "none"
    assert manifest["options"]["paths"] == "absolute"
    assert result.manifest == manifest
