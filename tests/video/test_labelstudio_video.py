"""Label Studio video tasks: tracks as videorectangle sequences, read back to the same
keyframes; enabled=false for an object leaving; errors name the JSON path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelport.domain.source import MemorySource
from labelport.domain.tracks import expand_track
from labelport.errors import InputError
from labelport.export.media import MediaMode, media_placer
from labelport.formats.base import Report, WriteContext
from labelport.formats.labelstudio.video import read, write
from tests.video_project import CAR, FRAMES, PERSON, video_project


def _export(tmp_path: Path, media: MediaMode = MediaMode.COPY) -> tuple[MemorySource, Path,
                                                                         Report]:
    source = video_project(tmp_path / "media")
    report = Report()
    write(source, tmp_path / "out", {}, WriteContext(report=report,
                                                     place_media=media_placer(media, report)))
    return source, tmp_path / "out", report


def _plain(keys) -> list[tuple]:
    return [(a.label, a.frame, a.instance_id, a.outside,
             tuple(round(v, 6) for v in (a.geometry.x, a.geometry.y, a.geometry.w,
                                         a.geometry.h))) for a in keys]


def test_sequences_as_label_studio_writes_them(tmp_path: Path) -> None:
    _, out, report = _export(tmp_path)
    (task,) = json.loads((out / "tasks.json").read_text())
    assert task["data"]["video"] == "videos/clip.mp4" and (out / "videos/clip.mp4").is_file()
    results = {r["id"]: r for r in task["annotations"][0]["result"]}
    person = results["2"]["value"]["sequence"]
    # visible from frame 1, last seen on frame 4 (0-based 3) then hidden, back on frame 9
    assert [(k["frame"], k["enabled"]) for k in person] == [(1, True), (4, False), (9, True)]
    assert person[1]["x"] == pytest.approx(58 / 64 * 100)
    assert person[2]["time"] == pytest.approx(0.8)
    assert results["1"]["value"]["labels"] == ["car"]
    assert "<VideoRectangle" in (out / "label_config.xml").read_text()
    assert report.counts["not written: polygon on a video (Label Studio tracks rectangles)"]


def test_round_trip_gives_the_same_keyframes(tmp_path: Path) -> None:
    _, out, _ = _export(tmp_path, MediaMode.NONE)  # the task's meta describes the video
    (back,) = read(out, {}).records()
    assert back.item.frame_count == FRAMES and back.item.video is not None
    got = {t: [a for a in back.annotations if a.instance_id == t] for t in (1, 2)}
    assert _plain(got[2]) == _plain(PERSON)  # leaves and re-enters: the same keyframes
    # the car's keyframe on frame 4 only changed `occluded`, which Label Studio does not
    # carry: it is not needed to give back the same boxes on every frame
    assert [(s.frame, s.annotation.geometry) for s in expand_track(got[1], frame_count=FRAMES)] \
        == [(s.frame, s.annotation.geometry) for s in expand_track(list(CAR), frame_count=FRAMES)]


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t[0]["annotations"][0]["result"][0]["value"]["sequence"][0].update(frame=99),
     r"\$\[0\]\.annotations\[0\]\.result\[0\]\.value\.sequence\[0\]\.frame: frame 99"),
    (lambda t: t[0].pop("meta"), r"\$\[0\]\.meta: video 'clip.mp4' not found"),
    (lambda t: t[0]["annotations"][0]["result"][0]["value"].update(labels=[]),
     r"value\.labels: expected one label name"),
])
def test_bad_tasks_name_the_json_path(tmp_path: Path, change, message: str) -> None:
    _, out, _ = _export(tmp_path, MediaMode.NONE)
    tasks = json.loads((out / "tasks.json").read_text())
    change(tasks)
    (out / "tasks.json").write_text(json.dumps(tasks))
    with pytest.raises(InputError, match=message):
        read(out, {})
