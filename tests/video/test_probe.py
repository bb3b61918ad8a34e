"""Probing video files at import: what PyAV reports, and clear errors for bad files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from labelport.errors import InputError
from labelport.video.clip import encode_video
from labelport.video.probe import probe_video
from tests.video_project import FRAMES, RATE, SIZE_WH, write_clip


def test_probe_reports_size_frames_rate_duration(tmp_path: Path) -> None:
    found = probe_video(write_clip(tmp_path / "clip.mp4"))
    assert (found.width, found.height, found.frame_count) == (*SIZE_WH, FRAMES)
    assert found.info.frame_rate == RATE
    assert found.info.duration_s == pytest.approx(FRAMES / RATE)
    assert (found.info.rotation_deg, found.info.codec) == (0, "h264")


def test_rotated_video_reports_the_displayed_size(tmp_path: Path) -> None:
    import av

    path = tmp_path / "turned.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "yuv420p"
        stream.set_display_rotation(90)
        for _ in range(3):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(
                np.zeros((16, 32, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode(None))
    found = probe_video(path)
    assert (found.width, found.height, found.info.rotation_deg) == (16, 32, 90)


def test_a_rate_that_is_not_whole_stays_exact(tmp_path: Path) -> None:
    path = tmp_path / "ntsc.mkv"
    encode_video(path, (np.zeros((16, 16, 3), np.uint8) for _ in range(3)),
                 frame_rate=Fraction(30000, 1001))
    found = probe_video(path)
    assert found.info.frame_rate == Fraction(30000, 1001)
    assert found.frame_count == 3  # Matroska states no count: packets are counted


@pytest.mark.parametrize(("make", "expected"), [
    (lambda p: p.write_bytes(b"not a video at all"), "not a readable video"),
    (lambda p: p.write_bytes(write_clip(p.with_name("whole.mp4")).read_bytes()[:600]),
     "not a readable video"),
    (lambda p: p.write_bytes(b""), "not a readable video"),
])
def test_bad_files_are_named(tmp_path: Path, make, expected: str) -> None:
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(InputError, match=expected) as caught:
        probe_video(path)
    assert str(path) in str(caught.value)


def test_an_image_is_not_a_video(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "still.png"
    Image.new("RGB", (4, 4)).save(path)
    with pytest.raises(InputError, match="still.png"):
        probe_video(path)


def test_a_video_without_frames_is_refused(tmp_path: Path) -> None:
    import av

    path = tmp_path / "empty.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        container.start_encoding()
    with pytest.raises(InputError,
                       match=r"empty.mp4: (the video has no frames|is a file with no video)"):
        probe_video(path)
