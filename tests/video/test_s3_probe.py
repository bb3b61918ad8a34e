"""A video in object storage (a real S3 API: moto's server, `tests.s3_server`, through s3fs)
added as an item: probed from a copy set aside and removed, the item keeping its ``s3://`` URL;
under the service's media roots only; a broken or missing object is an error naming it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import fsspec
import pytest

from labelport.errors import InputError
from labelport.export.media_access import MediaAccess, MediaDeniedError
from labelport.media_items import media_item
from tests.s3_server import make_bucket, s3_endpoint_fixture, s3_env_fixture  # noqa: F401
from tests.video_project import FRAMES, write_clip

BUCKET = "lp-videos"


@pytest.fixture
def bucket(s3_env: str, tmp_path: Path) -> str:
    make_bucket(BUCKET)
    s3 = fsspec.filesystem("s3")
    s3.put_file(str(write_clip(tmp_path / "clip.mp4")), f"{BUCKET}/cam1/clip.mp4")
    s3.pipe_file(f"{BUCKET}/cam1/broken.mp4", b"not a video")
    return f"s3://{BUCKET}"


def test_an_s3_video_is_probed_and_keeps_its_url(bucket: str, tmp_path: Path) -> None:
    local = media_item(str(tmp_path / "clip.mp4"))
    before = set(Path(tempfile.gettempdir()).glob("labelport-probe-*"))
    item = media_item(f"{bucket}/cam1/clip.mp4", dataset="cams")
    assert (item.path, item.dataset, item.media_uri) == ("clip.mp4", "cams",
                                                         f"{bucket}/cam1/clip.mp4")
    assert (item.width, item.height, item.frame_count) == (64, 48, FRAMES)
    assert item.video == local.video  # rate, duration, rotation as probed locally
    assert set(Path(tempfile.gettempdir()).glob("labelport-probe-*")) == before


def test_the_service_probes_only_under_its_media_roots(bucket: str) -> None:
    allowed = MediaAccess.service([f"{bucket}/cam1/"])
    assert media_item(f"{bucket}/cam1/clip.mp4", access=allowed).frame_count == FRAMES
    with pytest.raises(MediaDeniedError):
        media_item(f"{bucket}/cam1/clip.mp4", access=MediaAccess.service([f"{bucket}/cam2/"]))


def test_a_broken_or_missing_s3_video_names_its_url(bucket: str) -> None:
    with pytest.raises(InputError, match=rf"{bucket}/cam1/broken.mp4: not a readable video"):
        media_item(f"{bucket}/cam1/broken.mp4")
    with pytest.raises(InputError, match=rf"{bucket}/cam1/gone.mp4: cannot be read"):
        media_item(f"{bucket}/cam1/gone.mp4")
