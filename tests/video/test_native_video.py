"""The native format keeps a video project exactly: video facts, tracks as keyframes."""

from __future__ import annotations

from pathlib import Path

from labelport.formats.base import WriteContext
from labelport.formats.labelport_native import read, write
from tests.video_project import video_project


def test_native_round_trip_keeps_keyframes_and_video_facts(tmp_path: Path) -> None:
    source = video_project(tmp_path / "media")
    write(source, tmp_path / "out", {"jsonl": True}, WriteContext())
    back = read(tmp_path / "out", {})
    assert list(back.records()) == list(source.records())
    video = next(back.records()).item
    assert video.video is not None and video.frame_count == 12
    assert sum(a.outside for a in next(back.records()).annotations) == 1
