"""COCO per video (Innotescus' layout): one file per video, image id = frame index from 0,
tracks on every visible frame; pycocotools reads it and the frames decode at the sizes given."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

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
