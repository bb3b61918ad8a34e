"""CVAT for video 1.1: round trip of tracks (keyframes, outside, occluded), and Datumaro
reading the same keyframes."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelport.domain.model import ItemRecord
from labelport.domain.source import MemorySource
from labelport.errors import InputError
from labelport.export.media import MediaMode, media_placer
from labelport.formats.base import Report, WriteContext
from labelport.formats.cvat.video import read, write
from tests.side_python import DATUMARO, run_side
from tests.video_project import video_project


def _export(tmp_path: Path) -> tuple[MemorySource, Path, Report]:
    source = video_project(tmp_path / "media")
    report = Report()
    ctx = WriteContext(report=report, place_media=media_placer(MediaMode.COPY, report))
    write(source, tmp_path / "out", {}, ctx)
    return source, tmp_path / "out", report


def _tracks(record: ItemRecord) -> list[tuple]:
    return sorted((a.instance_id, a.frame, a.label, a.geometry, a.outside,
                   a.attributes.get("occluded", False)) for a in record.annotations)


def test_round_trip_keeps_keyframes(tmp_path: Path) -> None:
    source, out, report = _export(tmp_path)
    assert (out / "videos" / "clip.mp4" / "annotations.xml").is_file()
    assert (out / "videos" / "clip.mp4" / "clip.mp4").is_file()
    (back,) = read(out, {}).records()
    original = source.items[0]
    assert back.item.frame_count == original.item.frame_count
    assert back.item.video == original.item.video
    assert (back.item.width, back.item.height) == (original.item.width, original.item.height)
    tracked = [a for a in original.annotations if a.instance_id is not None]
    single = [a for a in back.annotations if a.instance_id not in (1, 2, 3)]
    assert _tracks(ItemRecord(item=back.item, annotations=tuple(
        a for a in back.annotations if a.instance_id in (1, 2, 3)))) == _tracks(
        ItemRecord(item=original.item, annotations=tuple(tracked)))
    # the single-frame shape became a track: the shape, then outside on the next frame
    assert [(a.frame, a.outside) for a in single] == [(3, False), (4, True)]
    assert report.counts["converted: single-frame shape to a one-keyframe track"] == 1
    assert report.counts["not written: image item (cvat_video holds videos)"] == 1


def test_interpolated_shapes_of_cvat_are_dropped(tmp_path: Path) -> None:
    _, out, _ = _export(tmp_path)
    xml = out / "videos" / "clip.mp4" / "annotations.xml"
    text = xml.read_text()
    extra = ('<box frame="1" keyframe="0" outside="0" occluded="0" xtl="6.00" ytl="11.00" '
             'xbr="18.00" ybr="19.00" z_order="0"></box>\n  </track>')
    xml.write_text(text.replace("  </track>", extra, 1))
    (back,) = read(out, {}).records()
    assert all(a.frame != 1 for a in back.annotations)


def test_a_frame_past_the_end_is_refused(tmp_path: Path) -> None:
    _, out, _ = _export(tmp_path)
    xml = out / "videos" / "clip.mp4" / "annotations.xml"
    xml.write_text(xml.read_text().replace('frame="8"', 'frame="80"', 1))
    with pytest.raises(InputError, match=r"annotations.xml: <track> \d.*frame 80 is not in"):
        list(read(out, {}).records())


_DATUMARO_SCRIPT = """
import json, sys
from datumaro.components.dataset import Dataset
ds = Dataset.import_from(sys.argv[1], "cvat")
labels = ds.categories()[next(iter(ds.categories()))]
out = []
for item in ds:
    for ann in item.annotations:
        a = ann.attributes
        out.append([a.get("track_id"), a.get("frame", item.attributes.get("frame")),
                    labels[ann.label].name, [round(v, 2) for v in ann.get_bbox()],
                    bool(a.get("outside")), bool(a.get("keyframe")), bool(a.get("occluded"))])
print(json.dumps(out))
"""


def test_datumaro_reads_the_same_keyframes(tmp_path: Path) -> None:
    source, out, _ = _export(tmp_path)
    xml = out / "videos" / "clip.mp4" / "annotations.xml"
    found = run_side(DATUMARO, _DATUMARO_SCRIPT, str(xml))
    boxes = [a for a in source.items[0].annotations
             if a.instance_id in (1, 2) and a.label in ("car", "person")]
    expected = sorted([[n, a.frame, a.label, [a.geometry.x, a.geometry.y, a.geometry.w,
                                               a.geometry.h], a.outside, True,
                        bool(a.attributes.get("occluded"))]
                       for n, track in enumerate((1, 2)) for a in boxes
                       if a.instance_id == track])
    got = sorted([row[0], row[1] if row[1] is not None else -1, *row[2:]] for row in found
                 if row[2] in ("car", "person") and row[0] in (0, 1))
    assert got == expected


def test_the_video_is_found_in_the_images_folder(tmp_path: Path) -> None:
    source = video_project(tmp_path / "media")
    write(source, tmp_path / "out", {}, WriteContext())  # no media in the export
    (back,) = read(tmp_path / "out", {"images": tmp_path / "media"}).records()
    assert back.item.video == source.items[0].item.video
    assert back.item.media_uri == str((tmp_path / "media" / "clip.mp4").absolute())
