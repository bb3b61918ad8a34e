"""The video parts of the Innotescus JSON: a video item with num_frames, each track on every
visible frame with its frame_index and instance_id, read back to the same keyframes."""

from __future__ import annotations

import json
from pathlib import Path

from labelport.formats.base import WriteContext
from labelport.formats.innotescus import read, write
from tests.video_project import CAR, FRAMES, PERSON, ZONE, video_project


def test_tracks_on_every_frame_and_back(tmp_path: Path) -> None:
    source = video_project(tmp_path / "media")
    write(source, tmp_path / "out", {}, WriteContext())
    folder = tmp_path / "out" / "annotations" / "clips"
    items = json.loads((folder / "dataset_items.json").read_text())
    assert [(i["name"], i["num_frames"]) for i in items] == [("clip.mp4", 12), ("still.png", None)]
    rows = json.loads((folder / "annotations.json").read_text())
    person = sorted(r["frame_index"] for r in rows if r["instance_id"] == 2)
    assert person == [0, 1, 2, 3, 8, 9, 10, 11]
    video, still = read(tmp_path / "out", {}).records()
    assert video.item.frame_count == FRAMES and still.item.frame_count is None
    for track in (CAR, PERSON, ZONE):
        got = [(a.frame, a.geometry, a.outside, a.attributes.get("occluded"))
               for a in video.annotations if a.instance_id == track[0].instance_id]
        assert got == [(a.frame, a.geometry, a.outside, a.attributes.get("occluded"))
                       for a in track]
