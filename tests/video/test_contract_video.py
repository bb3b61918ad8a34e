"""The contract of the formats that write videos as videos, over the video project: every
geometry written or reported, every video kept, an empty project exports, a reader gives back
the same videos with the same keyframe frames."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelport.domain.model import ItemRecord
from labelport.domain.source import MemorySource
from labelport.domain.tracks import split_tracks, visible_frames
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats.base import FormatSpec
from labelport.formats.registry import writable_formats
from tests.video_project import video_project

VIDEO_WRITERS = [pytest.param(spec, id=spec.name) for spec in writable_formats() if spec.video]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return video_project(tmp_path_factory.mktemp("media"))


@pytest.mark.parametrize("spec", VIDEO_WRITERS)
def test_video_formats_write_or_report_and_read_back(spec: FormatSpec, project: MemorySource,
                                                     tmp_path: Path) -> None:
    result = run_export(project, spec, tmp_path / "out", media=MediaMode.COPY)
    reported = " ".join(result.report.counts)
    kinds = {a.geometry.kind for r in project.records() for a in r.annotations}
    for kind in kinds - spec.geometries:
        assert kind.value in reported, f"{spec.name} lost {kind.value} without reporting it"
    if not spec.images:
        assert "image item" in reported
    if spec.reader is None:
        return
    back = {r.item.file_name: r for r in spec.reader(result.path, {}).records()}
    for record in project.records():
        if not record.item.is_video and not spec.images:
            continue
        got = back[record.item.file_name]
        assert got.item.frame_count == record.item.frame_count
        visible, visible_back = _visible(record, spec), _visible(got, spec)
        for track, frames in visible.items():  # converted shapes may add tracks
            assert visible_back.get(track) == frames, (spec.name, track)


def _visible(record: ItemRecord, spec: FormatSpec) -> dict[int, list[int]]:
    """The frames on which each track of a kind the format carries is visible."""
    tracks, _ = split_tracks(a for a in record.annotations if a.geometry.kind in spec.geometries)
    return {key[1]: list(visible_frames(keys, frame_count=record.item.frame_count))
            for key, keys in tracks.items()}


@pytest.mark.parametrize("spec", VIDEO_WRITERS)
def test_an_empty_video_project_exports(spec: FormatSpec, project: MemorySource,
                                        tmp_path: Path) -> None:
    empty = MemorySource(project=project.project, schema=project.schema)
    assert run_export(empty, spec, tmp_path / "out").counts.items == 0
