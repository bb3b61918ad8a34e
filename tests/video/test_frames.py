"""Decoding chosen frames: skipping unwanted non-reference frames and seeking give exactly the
pixels a full decode gives, for any order of requests; JPEGs decode at the frame's size."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelport.errors import InputError
from labelport.video.clip import encode_video
from labelport.video.frames import VideoFrames


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """90 frames whose brightness is their index x 2, keyframes every 10, with B-frames."""
    path = tmp_path_factory.mktemp("clip") / "ramp.mp4"
    frames = (np.full((32, 48, 3), 2 * i, np.uint8) for i in range(90))
    encode_video(path, frames, frame_rate=Fraction(30000, 1001),
                 options={"g": "10", "bf": "2"})
    return path


def test_sparse_and_out_of_order_frames_match_a_full_decode(clip: Path) -> None:
    import av

    with av.open(str(clip)) as container:
        full = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(full) == 90
    with VideoFrames(clip) as frames:
        for index in (*range(0, 90, 5), 89, 3, 70, 71, 12):
            got = frames.frame(index).to_ndarray(format="rgb24")
            assert np.array_equal(got, full[index]), index
            assert abs(float(got.mean()) - 2 * index) < 3


def test_jpegs_and_a_frame_past_the_end(clip: Path) -> None:
    with VideoFrames(clip) as frames:
        picture = Image.open(io.BytesIO(frames.jpeg(40)))
        assert picture.format == "JPEG" and picture.size == (48, 32)
        assert abs(float(np.asarray(picture.convert("L")).mean()) - 80) < 4
        with pytest.raises(InputError, match=r"ramp.mp4: frame 90 is missing"):
            frames.frame(90)
