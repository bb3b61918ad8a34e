"""A video item in the web app: its page plays the video (served with byte ranges, through the
media access policy) with every frame's boxes for the player's overlay, and its thumbnail is
its first frame."""

from __future__ import annotations

import io
import json
import re
from html import unescape
from pathlib import Path

from PIL import Image

from labelport.domain.model import ItemRecord
from labelport.domain.source import MemorySource
from labelport.sample import SCHEMA
from labelport.video.probe import video_item
from tests.video_project import CAR, write_clip
from tests.web.conftest import Web


def _add_clip(web: Web) -> int:
    sample = next(iter(web.store.source("sample").records())).item
    root = Path(sample.media_uri or "").parents[1]  # under the operator's media root
    (root / "clips-web").mkdir(exist_ok=True)
    item = video_item(write_clip(root / "clips-web" / "clip.mp4"), dataset="clips")
    web.store.import_source("sample", MemorySource(
        project=web.store.project("sample"), schema=SCHEMA,
        items=(ItemRecord(item=item, annotations=CAR),)))
    found = [r.item.id for r in web.store.source("sample").records()
             if r.item.path == "clip.mp4"]
    return int(found[0] or 0)


def test_the_item_page_plays_the_video_with_its_tracks(web: Web) -> None:
    item = _add_clip(web)
    alice = web.sign_in("alice")
    page = alice.get(f"/projects/{web.project}/items/{item}").text
    assert '<video id="video-player"' in page and "/static/video.js" in page
    frames = json.loads(unescape(re.search(r'data-frames="([^"]*)"', page).group(1)))
    assert frames["5"][0][:4] == [22, 15, 12, 8]  # the car, interpolated on frame 5
    assert 'data-rate="10.0"' in page
    video = alice.get(f"/projects/{web.project}/items/{item}/video",
                      headers={"Range": "bytes=0-99"}, status=206)
    assert len(video.content) == 100 and video.headers["content-type"] == "video/mp4"
    thumb = alice.get(f"/projects/{web.project}/items/{item}/image")
    assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"
    assert alice.get("/static/video.js").text.startswith("// The item page of a video")


def test_an_image_has_no_video(web: Web) -> None:
    alice = web.sign_in("alice")
    image = next(iter(web.store.source("sample").records())).item.id
    alice.get(f"/projects/{web.project}/items/{image}/video", status=404)
