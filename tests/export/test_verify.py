"""``--verify``: an export read back by labelport's own reader and compared object by object
before it is published (`labelport.export.verify`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
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
from labelport.export.verify import VerificationError, compare_item
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


@pytest.fixture(scope="module")
def with_video(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    """The sample with its video, plus a single-frame shape on frame 10 (cvat_video writes it
    as a one-keyframe track, Label Studio as a one-keyframe sequence)."""
    source = build_sample(tmp_path_factory.mktemp("media"), video=True)
    video = source.items[-1]
    assert video.item.is_video
    single = Annotation(label="car", geometry=Box(x=20, y=40, w=10, h=8), frame=10)
    return replace(source, items=(*source.items[:-1],
                                  replace(video, annotations=(*video.annotations, single))))


@pytest.mark.parametrize("name", ["cvat_video", "labelstudio_video", "mot", "labelport"])
def test_video_formats_verify_what_a_viewer_sees(with_video: MemorySource, tmp_path: Path,
                                                 name: str) -> None:
    """Each format holds the tracks as other keyframes (every frame, a single-frame shape as a
    track, a keyframe carrying only attributes dropped), yet every frame shows the same boxes."""
    result = run_export(with_video, get_format(name), tmp_path / "out", verify=True,
                        media=MediaMode.COPY)
    verification = result.manifest["verification"]
    assert verification["verified"] is True and verification["objects_not_read_back"] == 0


def _gt_edited(edit: Callable[[list[str]], list[str]]) -> FormatSpec:
    """The MOT format with a writer that edits the rows of ``gt/gt.txt`` it wrote."""
    spec = get_format("mot")
    assert spec.writer is not None
    inner = spec.writer

    def write(source: ExportSource, out: Path, options: Mapping[str, Any],
              ctx: WriteContext) -> None:
        inner(source, out, options, ctx)
        for gt in out.glob("*/gt/gt.txt"):
            rows = gt.read_text(encoding="utf-8").splitlines()
            gt.write_text("".join(f"{row}\n" for row in edit(rows)), encoding="utf-8")

    return replace(spec, writer=write)


def _moved_on_frame_8(rows: list[str]) -> list[str]:
    """Car 1's box on the 8th frame (MOT's frame 8, labelport's 7) 20 px to the right."""
    def move(row: str) -> str:
        frame, track, x, *rest = row.split(",")
        if (frame, track) != ("8", "1"):
            return row
        return ",".join([frame, track, str(float(x) + 20), *rest])
    return [move(row) for row in rows]


def test_a_video_box_moved_on_one_frame_fails_naming_the_frame(with_video: MemorySource,
                                                               tmp_path: Path) -> None:
    with pytest.raises(VerificationError, match=r"item 'clips/street_clip\.mp4': box of class "
                                                r"'car' at x=39 y=60 w=30 h=16 written on "
                                                r"frame 7 is not read back"):
        run_export(with_video, _gt_edited(_moved_on_frame_8), tmp_path / "out", verify=True)
    assert not (tmp_path / "out").exists()


def test_a_video_track_missing_fails(with_video: MemorySource, tmp_path: Path) -> None:
    def without_car_2(rows: list[str]) -> list[str]:
        return [row for row in rows if row.split(",")[1] != "2"]

    with pytest.raises(VerificationError, match=r"4 written objects \(box\) are not in the "
                                                r"export read back"):
        run_export(with_video, _gt_edited(without_car_2), tmp_path / "out", verify=True)


def test_compare_item_on_a_video_names_the_first_differing_frame(
        with_video: MemorySource) -> None:
    """Frame by frame: car 1 without its attribute-only keyframe shows the same boxes; car 1's
    frame-14 keyframe moved differs from frame 7 on (the first frame it moves)."""
    video = with_video.items[-1]
    frame_6 = video.annotations[1]
    assert frame_6.instance_id == 1 and frame_6.frame == 6
    same = replace(video, annotations=tuple(a for a in video.annotations if a is not frame_6))
    assert compare_item(video, same, "cvat_video").differs is None
    moved = replace(video, annotations=tuple(
        replace(a, geometry=Box(x=84, y=60, w=30, h=16)) if (a.instance_id, a.frame) == (1, 14)
        else a for a in video.annotations))
    compared = compare_item(video, moved, "cvat_video")
    assert compared.differs == ("box of class 'car' at x=39 y=60 w=30 h=16 written on frame 7 "
                                "is not read back")
    assert not compared.lost and not compared.extra


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
