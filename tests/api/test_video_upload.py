"""Videos through the API: an upload is probed (size, frames, rate), a track is annotated on
it, and an export job writes it as CVAT for video and, as frames, as COCO."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import orjson
import pytest

from tests.api.conftest import Api
from tests.video_project import write_clip


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture(autouse=True)
def job_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LABELPORT_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("LABELPORT_RUNNER", "local")
    monkeypatch.setenv("LABELPORT_TICK_SECONDS", "0.2")


def _download(api: Api, project: int, body: dict[str, object]) -> zipfile.ZipFile:
    created = api.ok("alice", "POST", f"/api/projects/{project}/exports", 202, json=body)
    done = api.wait_export("alice", project, created["id"])
    assert done["status"] == "completed", done["error"]
    content = api.call("alice", "GET",
                       f"/api/projects/{project}/exports/{done['id']}/download").content
    return zipfile.ZipFile(io.BytesIO(content))


def test_a_video_upload_is_probed_and_exports(api: Api, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4").read_bytes()
    project = api.ok("alice", "POST", "/api/projects", 201, json={
        "name": "videos", "schema": {"classes": [{"name": "car"}]}})["id"]
    api.ok("alice", "POST", f"/api/projects/{project}/items/upload", 201,
           files=[("files", ("clip.mp4", clip, "video/mp4"))])
    (item,) = api.ok("alice", "GET", f"/api/projects/{project}/items")["results"]
    assert (item["width"], item["height"], item["frame_count"]) == (64, 48, 12)
    assert item["video"]["frame_rate"] == "10"
    for frame, x in ((0, 2.0), (8, 34.0)):
        api.ok("alice", "POST", f"/api/projects/{project}/annotations", 201,
               json={"item": item["id"], "label": "car", "frame": frame, "instance_id": 1,
                          "geometry": {"kind": "box", "x": x, "y": 10, "w": 12, "h": 8}})

    with _download(api, project, {"format": "cvat_video", "media": "copy"}) as zipped:
        xml = zipped.read("videos/clip.mp4/annotations.xml").decode()
        assert xml.count('keyframe="1"') == 2 and "videos/clip.mp4/clip.mp4" in zipped.namelist()
    with _download(api, project, {"format": "coco", "media": "copy", "frames": "labeled",
                                  "frame_step": 4}) as zipped:
        frames = sorted(n for n in zipped.namelist() if n.endswith(".jpg"))
        assert frames == [  # images/{split}/{video}/{frame:06d}.jpg
            "images/train/clip/000000.jpg", "images/train/clip/000004.jpg",
            "images/train/clip/000008.jpg"]
        coco = orjson.loads(next(zipped.read(n) for n in zipped.namelist()
                                 if n.startswith("annotations/") and n.endswith(".json")))
        boxes = {a["image_id"]: a["bbox"] for a in coco["annotations"]}
        assert sorted(boxes.values())[1] == [18.0, 10.0, 12.0, 8.0]  # frame 4, interpolated


def test_a_bad_video_upload_is_refused_and_nothing_stays(api: Api) -> None:
    project = api.ok("alice", "POST", "/api/projects", 201, json={"name": "bad"})["id"]
    answer = api.call("alice", "POST", f"/api/projects/{project}/items/upload",
                      files=[("files", ("broken.mp4", b"not a video", "video/mp4"))])
    assert answer.status_code == 400, answer.text
    assert "not a readable video" in answer.json()["error"]["message"]
    assert api.ok("alice", "GET", f"/api/projects/{project}/items")["count"] == 0
