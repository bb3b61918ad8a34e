"""COCO per video (Innotescus' layout): one file per video, image id = frame index from 0,
tracks on every visible frame; pycocotools reads it and the frames decode at the sizes given;
labelport reads it back with the same shapes on every frame and its track ids."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from labelport.domain.geometry import Box
from labelport.domain.model import ItemRecord
from labelport.domain.source import ExportSource
from labelport.domain.tracks import on_every_frame, split_tracks
from labelport.errors import InputError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats.registry import get_format
from tests.video_project import FRAMES, video_project


def test_one_coco_file_per_video(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    source = video_project(tmp_path / "media")
    result = run_export(source, get_format("coco_video"), tmp_path / "out", media=MediaMode.COPY)
    coco = COCO(str(result.path / "annotations" / "clip.json"))
    assert sorted(coco.getImgIds()) == list(range(FRAMES))
    for image in coco.loadImgs(coco.getImgIds()):
        with Image.open(result.path / image["file_name"]) as frame:
            assert frame.size == (image["width"], image["height"]) == (64, 48)
    car = coco.getCatIds(catNms=["car"])
    on_5 = coco.loadAnns(coco.getAnnIds(imgIds=[5], catIds=car))
    assert [(a["bbox"], a["track_id"]) for a in on_5] == [([22.0, 15.0, 12.0, 8.0], 1)]
    person = coco.getCatIds(catNms=["person"])
    frames_with_person = sorted({a["image_id"] for a in coco.loadAnns(
        coco.getAnnIds(catIds=person))})
    assert frames_with_person == [0, 1, 2, 3, 8, 9, 10, 11]  # outside on frames 4-7
    assert result.report.counts["not written: image item (coco_video holds videos)"] == 1


def _read(path: Path, options: dict[str, str]) -> ExportSource:
    reader = get_format("coco_video").reader
    assert reader is not None
    return reader(path, options)


def _per_frame(record: ItemRecord) -> dict[tuple[int | None, int], tuple[str, object]]:
    """(track or None, frame) -> (label, geometry) of every visible shape of the kinds COCO
    holds (every geometry of the project)."""
    framed, _ = on_every_frame(record.annotations, frame_count=record.item.frame_count)
    return {(a.instance_id, a.frame or 0): (a.label, a.geometry) for a in framed}


def test_coco_video_reads_back_the_same_shapes_per_frame(tmp_path: Path) -> None:
    source = video_project(tmp_path / "media")
    result = run_export(source, get_format("coco_video"), tmp_path / "out")
    (back,) = _read(result.path, {"images": str(tmp_path / "media")}).records()
    (video,) = (r for r in source.records() if r.item.is_video)
    assert (back.item.path, back.item.frame_count) == ("clip.mp4", FRAMES)
    assert back.item.media_uri == str((tmp_path / "media" / "clip.mp4").absolute())
    assert _per_frame(back) == _per_frame(video)
    tracks, singles = split_tracks(back.annotations)
    by_label = {keys[0].label: keys for keys in tracks.values()}
    assert [a.frame for a in by_label["person"] if a.outside] == [4]  # leaves, back at 8
    assert [(a.frame, a.label) for a in singles] == [(3, "car")]


def test_an_innotescus_file_without_track_ids(tmp_path: Path) -> None:
    """Innotescus' own file: no ``video`` key, no ``track_id``: shapes on their frames."""
    file = tmp_path / "street.json"
    file.write_text(json.dumps({
        "images": [{"id": n, "file_name": f"{n}.jpg", "width": 320, "height": 240}
                   for n in range(5)],
        "categories": [{"id": 7, "name": "car"}],
        "annotations": [{"id": 1, "image_id": 2, "category_id": 7, "bbox": [1, 2, 30, 40],
                         "iscrowd": 0, "area": 1200}]}))
    source = _read(file, {})
    (record,) = source.records()
    assert (record.item.path, record.item.frame_count, record.item.media_uri) == (
        "street.mp4", 5, None)
    (box,) = record.annotations
    assert (box.frame, box.instance_id, box.geometry) == (2, None, Box(x=1, y=2, w=30, h=40))
    assert [c.name for c in source.schema.classes] == ["car"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["annotations"].append(dict(d["annotations"][0], id=99)),
     r"\$\.annotations\[\d+\]: track 1 is on frame 0 twice"),
    (lambda d: d["annotations"][0].update(image_id=500),
     r"\$\.annotations\[0\]\.image_id: no frame has id 500"),
    (lambda d: d["annotations"][0].update(track_id="x"),
     r"\$\.annotations\[0\]\.track_id: expected a whole number"),
    (lambda d: d["images"][3].update(width=1),
     r"\$\.images\[3\]: expected every frame of the size of the first"),
])
def test_bad_files_name_the_json_path(tmp_path: Path, change: Callable[[Any], None],
                                      message: str) -> None:
    result = run_export(video_project(tmp_path / "media"), get_format("coco_video"),
                        tmp_path / "out")
    file = result.path / "annotations" / "clip.json"
    document = json.loads(file.read_text())
    change(document)
    file.write_text(json.dumps(document))
    with pytest.raises(InputError, match=r"clip\.json: at " + message):
        list(_read(result.path, {}).records())


def test_verify_reads_the_export_back(tmp_path: Path) -> None:
    """--verify on a project of a video and an image: the image, which a format of videos does
    not write (counted), is not looked for; every shape of the video is read back."""
    result = run_export(video_project(tmp_path / "media"), get_format("coco_video"),
                        tmp_path / "out", verify=True)
    verification = result.manifest["verification"]
    assert (verification["verified"], verification["items"]) == (True, 1)
    assert verification["objects_not_read_back"] == 0
    assert verification["expected_differences"] == {
        "not written: image item (coco_video holds videos)": 1}
