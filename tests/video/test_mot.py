"""MOTChallenge: round trip of tracks through per-frame rows (the same keyframes come back),
the 1-based conventions, errors naming the line, and Datumaro reading the same rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelport.domain.source import MemorySource
from labelport.domain.tracks import expand_track
from labelport.errors import InputError
from labelport.export.media import MediaMode, media_placer
from labelport.formats.base import Report, WriteContext
from labelport.formats.mot import read, write
from tests.side_python import DATUMARO, run_side
from tests.video_project import CAR, FRAMES, PERSON, SINGLE, video_project


def _export(tmp_path: Path, media: MediaMode = MediaMode.COPY) -> tuple[MemorySource, Path,
                                                                         Report]:
    source = video_project(tmp_path / "media")
    report = Report()
    write(source, tmp_path / "out", {}, WriteContext(report=report,
                                                     place_media=media_placer(media, report)))
    return source, tmp_path / "out", report


def test_layout_and_one_based_rows(tmp_path: Path) -> None:
    _, out, report = _export(tmp_path)
    seq = out / "clip"
    info = (seq / "seqinfo.ini").read_text()
    assert "frameRate=10\n" in info and "seqLength=12\n" in info and "imWidth=64\n" in info
    assert (seq / "gt" / "labels.txt").read_text() == "car\nperson\nzone\n"
    rows = (seq / "gt" / "gt.txt").read_text().splitlines()
    assert rows[0] == "1,1,2,10,12,8,1,1,1"  # frame 0 -> 1, car is class 1, visible
    assert "5,1,18,14,12,8,1,1,0" in rows  # frame 4, occluded: visibility 0
    assert "4,-1,5,30,4,4,1,1,1" in rows  # the single-frame shape: id -1
    assert not any(r.startswith("5,2,") for r in rows)  # the person is outside on frame 4
    assert report.counts["converted: polygon to its bounding box"] == 10  # zone, frames 2-11


def test_round_trip_gives_the_same_keyframes(tmp_path: Path) -> None:
    source, out, _ = _export(tmp_path)
    (back,) = read(out, {}).records()
    assert back.item.frame_count == FRAMES and back.item.file_name == "clip.mp4"
    assert back.item.video == source.items[0].item.video

    def plain(keys):  # MOT keeps occluded only when true
        return [(a.label, a.frame, a.instance_id, a.geometry, a.outside,
                 a.attributes.get("occluded", False)) for a in keys]

    for track in (CAR, PERSON):
        got = [a for a in back.annotations if a.instance_id == track[0].instance_id]
        assert plain(got) == plain(track)
        assert [s.frame for s in expand_track(got, frame_count=FRAMES)] == [
            s.frame for s in expand_track(list(track), frame_count=FRAMES)]
    assert plain([a for a in back.annotations if a.instance_id is None]) == plain([SINGLE])


def test_without_the_video_the_seqinfo_describes_it(tmp_path: Path) -> None:
    _, out, _ = _export(tmp_path, MediaMode.NONE)
    (back,) = read(out / "clip", {}).records()
    assert (back.item.width, back.item.height, back.item.frame_count) == (64, 48, 12)
    assert back.item.video is not None and back.item.video.frame_rate == 10


@pytest.mark.parametrize(("row", "message"), [
    ("0,1,1,1,2,2,1,1,1", "frame 0 is not in the sequence"),
    ("13,1,1,1,2,2,1,1,1", "frame 13 is not in the sequence"),
    ("1,1,a,1,2,2,1,1,1", "expected numbers"),
    ("1,1,1", "expected frame,id"),
    ("1,1,1,1,2,2,1,9,1", "class 9 is not one of 1 to 3"),
    ("1,1,1,1,-2,2,1,1,1", "expected finite coordinates and a non-negative size"),
])
def test_bad_rows_are_named_by_line(tmp_path: Path, row: str, message: str) -> None:
    _, out, _ = _export(tmp_path, MediaMode.NONE)
    gt = out / "clip" / "gt" / "gt.txt"
    gt.write_text(gt.read_text() + row + "\n")
    lines = len(gt.read_text().splitlines())
    with pytest.raises(InputError, match=rf"gt.txt, line {lines}: {message}"):
        read(out, {})


def test_a_track_twice_on_a_frame_is_refused(tmp_path: Path) -> None:
    _, out, _ = _export(tmp_path, MediaMode.NONE)
    gt = out / "clip" / "gt" / "gt.txt"
    first = gt.read_text().splitlines()[0]
    gt.write_text(gt.read_text() + first + "\n")
    with pytest.raises(InputError, match="track 1 is on frame 1 twice"):
        read(out, {})


_DATUMARO_SCRIPT = """
import json, sys
from datumaro.components.dataset import Dataset
ds = Dataset.import_from(sys.argv[1], "mot_seq")
labels = ds.categories()[next(iter(ds.categories()))]
rows = []
for item in ds:
    for ann in item.annotations:
        rows.append([int(item.id), ann.attributes.get("track_id", -1), labels[ann.label].name,
                     [round(v, 2) for v in ann.get_bbox()], bool(ann.attributes["occluded"])])
print(json.dumps(rows))
"""


def test_datumaro_reads_the_same_rows(tmp_path: Path) -> None:
    _, out, _ = _export(tmp_path, MediaMode.NONE)
    found = run_side(DATUMARO, _DATUMARO_SCRIPT, str(out / "clip"))
    expected = []
    for line in (out / "clip" / "gt" / "gt.txt").read_text().splitlines():
        frame, track, x, y, w, h, _conf, cls, vis = line.split(",")
        expected.append([int(frame), int(track), ("car", "person", "zone")[int(cls) - 1],
                         [float(x), float(y), float(w), float(h)], float(vis) == 0])
    assert len(found) == len(expected) > 20
    assert sorted(map(str, found)) == sorted(map(str, expected))


@pytest.mark.parametrize("row", ["inf,1,1,1,2,2,1,1,1", "1,1e300,1,1,2,2,1,1,1"])
def test_numbers_beyond_integers_are_refused(tmp_path: Path, row: str) -> None:
    _, out, _ = _export(tmp_path, MediaMode.NONE)
    gt = out / "clip" / "gt" / "gt.txt"
    gt.write_text(gt.read_text() + row + "\n")
    with pytest.raises(InputError, match=r"gt.txt, line \d+: (expected numbers|track id)"):
        read(out, {})
