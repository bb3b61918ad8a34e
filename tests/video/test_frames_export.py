"""Video projects through image formats: the frames stage (which frames, their annotations,
their split) and the media stage extracting them; COCO read by pycocotools, frames decoded by
Pillow at the sizes the JSON says; a bad video fails the export leaving nothing behind."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from labelport.domain.frames import FrameItem
from labelport.domain.source import MemorySource
from labelport.errors import InputError
from labelport.export.frames import FrameSelection, chosen_frames, video_frames
from labelport.export.media import MediaMode
from labelport.export.pipeline import ExportRequest, run_pipeline
from labelport.export.splits import SplitSpec
from labelport.formats.base import Report
from tests.video_project import COLOURS, video_project, write_clip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return video_project(tmp_path_factory.mktemp("media"))


def test_which_frames(project: MemorySource) -> None:
    video = project.items[0]
    # car 0-11, person 0-3 and 8-11, zone 2-11, single shape 3
    assert chosen_frames(video, FrameSelection.LABELED, 1) == list(range(12))
    assert chosen_frames(video, FrameSelection.KEYFRAMES, 1) == [0, 2, 3, 4, 6, 8]
    assert chosen_frames(video, FrameSelection.ALL, 5) == [0, 5, 10]
    assert chosen_frames(video, FrameSelection.KEYFRAMES, 2) == [0, 2, 4, 6, 8]


def test_frame_records_carry_interpolated_tracks(project: MemorySource) -> None:
    frames = list(video_frames(project, Report(), selection=FrameSelection.ALL).records())
    assert len(frames) == 13  # 12 frames and the image
    frame5 = frames[5]
    assert isinstance(frame5.item, FrameItem) and frame5.item.path == "clip/000005.jpg"
    assert frame5.item.metadata == {"video": "clip.mp4", "frame_index": 5}
    car = next(a for a in frame5.annotations if a.label == "car")
    assert (car.geometry.x, car.geometry.y) == (22, 15)  # x = 2 + 4f, y = 10 + f
    assert car.attributes == {"occluded": True, "track_id": 1} and car.frame == 5
    assert not any(a.label == "person" for a in frame5.annotations)  # outside 4-7
    assert frames[-1].item.path == "still.png"


def test_coco_on_frames_reads_with_pycocotools(project: MemorySource, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    result = run_pipeline(project, ExportRequest(
        format="coco", media=MediaMode.COPY, frame_step=2,
        split=SplitSpec.parse("train=0.5,val=0.5", strategy="random", seed=3)),
        tmp_path / "out")
    splits = {}
    for json_file in sorted((result.path / "annotations").glob("*.json")):
        coco = COCO(str(json_file))
        for image in coco.dataset["images"]:
            frame = Image.open(result.path / "images" / json_file.stem.split("_")[-1]
                               / image["file_name"])
            assert frame.size == (image["width"], image["height"])
            attributes = image.get("attributes", {})
            if "frame_index" in attributes:
                splits.setdefault("video", set()).add(json_file.stem)
                assert attributes["frame_index"] % 2 == 0
                for ann in coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]])):
                    if ann.get("instance_id") is not None:
                        assert ann["attributes"]["track_id"] == ann["instance_id"]
                # the car's colour where its box is, on the extracted frame
                if attributes["frame_index"] == 0:
                    assert frame.convert("RGB").getpixel((6, 14))[0] > 180
    assert len(splits["video"]) == 1  # every frame of the video in one split
    assert COLOURS  # the palette the clip was painted with


def test_split_by_frame_spreads_a_videos_frames(project: MemorySource, tmp_path: Path) -> None:
    result = run_pipeline(project, ExportRequest(
        format="coco", split_by_frame=True,
        split=SplitSpec.parse("train=0.5,val=0.5", strategy="random", seed=1)),
        tmp_path / "out")
    counts = {p.stem: len(json.loads(p.read_text())["images"])
              for p in (result.path / "annotations").glob("*.json")}
    assert len(counts) == 2 and all(counts.values())


def test_a_truncated_video_fails_the_export_and_leaves_nothing(tmp_path: Path) -> None:
    project = video_project(tmp_path / "media")
    clip = write_clip(tmp_path / "media" / "clip.mkv")  # Matroska: readable when cut short
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) * 2 // 3])
    video = replace(project.items[0], item=replace(project.items[0].item,
                                                   media_uri=str(clip)))
    source = replace(project, items=(video, *project.items[1:]))
    with pytest.raises(InputError, match=r"clip.mkv: .*frame \d+"):
        run_pipeline(source, ExportRequest(format="yolo", media=MediaMode.COPY,
                                           frames=FrameSelection.ALL), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_the_manifest_records_the_frames_chosen(project: MemorySource, tmp_path: Path) -> None:
    result = run_pipeline(project, ExportRequest(format="yolo", frames=FrameSelection.KEYFRAMES,
                                                 frame_step=2), tmp_path / "out")
    assert result.manifest["selection"]["video_frames"] == {
        "frames": "keyframes", "frame_step": 2, "split_by_frame": False}


def test_frames_are_named_by_video_folder_and_index(project: MemorySource,
                                                    tmp_path: Path) -> None:
    """``images/{split}/{video}/{frame:06d}.jpg`` (labels mirror it); a format that names images
    by file name alone (labelme) flattens them, distinct per video, renamings in the manifest."""
    other = replace(project.items[0], item=replace(project.items[0].item, path="cam2/clip.mp4"))
    two_videos = replace(project, items=(*project.items, other))
    request = ExportRequest(format="yolo", media=MediaMode.COPY, frames=FrameSelection.KEYFRAMES,
                            frame_step=4)
    yolo = run_pipeline(two_videos, request, tmp_path / "yolo").path
    for video in ("clip", "cam2/clip"):
        for frame in (0, 4, 8):
            assert Image.open(yolo / f"images/train/{video}/{frame:06d}.jpg").size == (64, 48)
            assert (yolo / f"labels/train/{video}/{frame:06d}.txt").is_file()
    labelme = run_pipeline(two_videos, replace(request, format="labelme"), tmp_path / "labelme")
    renamed = {r["path"]: r["name"] for r in labelme.manifest["report"]["renamed"]}
    frames = [f"{video}/{frame:06d}.jpg" for frame in (0, 4, 8) for video in ("clip", "cam2/clip")]
    names = [renamed.get(frame, frame) for frame in frames]  # flattened, or kept if it nests
    assert len(set(names)) == 6
    assert all((labelme.path / "train" / name).is_file() for name in names)
