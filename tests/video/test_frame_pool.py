"""Several videos' frames extracted at once (`FramePool`): the same bytes as the sequential
extractor whatever the threads' timing, in an export too (its manifest hashes the finished
frames); a video that cannot be decoded among good ones is an error naming it and the frame,
and the export publishes nothing."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from labelport.domain.frames import FrameItem
from labelport.domain.geometry import Box
from labelport.domain.model import Annotation, ItemRecord, ProjectInfo
from labelport.domain.source import MemorySource
from labelport.errors import InputError
from labelport.export.frame_pool import FramePool
from labelport.export.frames import FrameExtractor, FrameSelection
from labelport.export.media import MediaMode
from labelport.export.pipeline import ExportRequest, run_pipeline
from labelport.video.clip import encode_video
from labelport.video.probe import video_item
from tests.video_project import SCHEMA

FRAMES = 40


def _clip(path: Path, shade: int) -> Path:
    """40 frames, each its own brightness, keyframes every 10, with B-frames."""
    frames = (np.full((32, 48, 3), (shade + 5 * i) % 256, np.uint8) for i in range(FRAMES))
    encode_video(path, frames, frame_rate=Fraction(25), options={"g": "10", "bf": "2"})
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    return [_clip(folder / f"v{n}.mp4", 40 * n) for n in range(3)]


def _placements(clips: list[Path], out: Path) -> list[tuple[FrameItem, Path, Path]]:
    """Every 3rd frame of each video in turn, then a few of the first again (as a writer
    placing one split after another does)."""
    wanted = [(clip, f) for clip in clips for f in range(0, FRAMES, 3)]
    wanted += [(clips[0], f) for f in (1, 20, 39)]
    return [(FrameItem(dataset="d", path=f"{clip.stem}/{f:06d}.jpg", width=48, height=32,
                       media_uri=str(clip), video_path=clip.name, frame_index=f),
             clip, out / clip.stem / f"{f:06d}.jpg") for clip, f in wanted]


def _written(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.jpg"))}


def test_the_pool_writes_what_the_sequential_path_writes(clips: list[Path],
                                                         tmp_path: Path) -> None:
    sequential = FrameExtractor()
    for item, source, target in _placements(clips, tmp_path / "seq"):
        sequential.place(item, source, target)
    sequential.close()
    expected = _written(tmp_path / "seq")
    assert len(expected) == 3 * 14 + 2  # frames 0 and 39 asked twice
    for run in range(2):
        out = tmp_path / f"pool{run}"
        with FramePool(workers=2, chunk=5) as pool:  # runs split inside a video too
            for item, source, target in _placements(clips, out):
                pool.place(item, source, target)
            pool.close()
        assert _written(out) == expected
        assert not list(out.rglob(".*"))  # no partial file


def test_a_bad_video_among_good_ones_is_named_with_its_frame(clips: list[Path],
                                                             tmp_path: Path) -> None:
    bad = tmp_path / "cut.mkv"
    _clip(bad, 7)
    bad.write_bytes(bad.read_bytes()[:2000])
    placements = _placements([clips[0], bad, clips[1]], tmp_path / "out")
    with FramePool(workers=2, chunk=4) as pool, \
            pytest.raises(InputError, match=r"cut\.mkv: .*frame \d+"):
        for item, source, target in placements:
            pool.place(item, source, target)
        pool.close()


def _project(clips: list[Path]) -> MemorySource:
    """Each clip a video item with one car track over all its frames."""
    track = (Annotation(label="car", geometry=Box(x=2, y=4, w=10, h=10), frame=0, instance_id=1),
             Annotation(label="car", geometry=Box(x=30, y=4, w=10, h=10), frame=FRAMES - 1,
                        instance_id=1))
    return MemorySource(project=ProjectInfo(name="pool"), schema=SCHEMA, items=tuple(
        ItemRecord(item=video_item(clip, dataset="clips"), annotations=track) for clip in clips))


def test_an_export_of_several_videos_hashes_the_finished_frames(clips: list[Path],
                                                                tmp_path: Path) -> None:
    result = run_pipeline(_project(clips), ExportRequest(
        format="yolo", media=MediaMode.COPY, frames=FrameSelection.ALL, frame_step=4),
        tmp_path / "out")
    files = result.manifest["files"]
    frames = {name: digest for name, digest in files.items() if name.endswith(".jpg")}
    assert len(frames) == 3 * 10
    for name, digest in frames.items():
        assert hashlib.sha256((result.path / name).read_bytes()).hexdigest() == digest


def test_an_export_with_a_bad_video_among_good_ones_publishes_nothing(
        clips: list[Path], tmp_path: Path) -> None:
    bad = _clip(tmp_path / "cut.mkv", 7)  # Matroska: readable when cut short
    project = _project([clips[0], bad, clips[1]])
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size * 2 // 3])
    with pytest.raises(InputError, match=r"cut\.mkv: .*frame \d+"):
        run_pipeline(project, ExportRequest(format="yolo", media=MediaMode.COPY,
                                            frames=FrameSelection.ALL), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
