"""Videos and images added as items from local files and URLs (probed; a remote video copied
aside for probing and gone afterwards), and the CLI's `project add-media`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from labelport.cli import app
from labelport.errors import InputError
from labelport.media_items import media_item
from labelport.store.db import open_store
from tests.media_server import serve_folder
from tests.video_project import FRAMES, write_clip


def test_local_and_remote_videos_and_images(tmp_path: Path) -> None:
    write_clip(tmp_path / "clip.mp4")
    Image.new("RGB", (7, 5)).save(tmp_path / "still.png")
    (tmp_path / "broken.mp4").write_bytes(b"nope")
    local = media_item(str(tmp_path / "clip.mp4"), dataset="d")
    assert (local.width, local.height, local.frame_count, local.dataset) == (64, 48, FRAMES, "d")
    before = set(Path(tempfile.gettempdir()).glob("labelport-probe-*"))
    with serve_folder(tmp_path) as base:
        remote = media_item(f"{base}/clip.mp4")
        assert remote.media_uri == f"{base}/clip.mp4" and remote.video == local.video
        assert (media_item(f"{base}/still.png").width, remote.path) == (7, "clip.mp4")
        with pytest.raises(InputError, match=rf"{base}/broken.mp4: not a readable video"):
            media_item(f"{base}/broken.mp4")
    assert set(Path(tempfile.gettempdir()).glob("labelport-probe-*")) == before


def test_cli_add_media(tmp_path: Path) -> None:
    write_clip(tmp_path / "clip.mp4")
    db = str(tmp_path / "store.db")
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["project", "create", "p", "--db", db]).exit_code == 0
    added = runner.invoke(app, ["project", "add-media", "p", str(tmp_path / "clip.mp4"),
                                "--db", db])
    assert added.exit_code == 0, added.output
    assert "1 videos" in added.output
    (record,) = open_store(db).source("p").records()
    assert record.item.frame_count == FRAMES and record.item.video is not None
