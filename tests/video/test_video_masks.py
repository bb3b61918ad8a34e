"""Innotescus video masks: a label map per labelled frame beside the frame itself, classes.txt
per video; the maps show each track where the interpolation puts it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats.registry import get_format
from tests.video_project import video_project


def test_masks_and_frames_per_video(tmp_path: Path) -> None:
    source = video_project(tmp_path / "media")
    result = run_export(source, get_format("innotescus_video_masks"), tmp_path / "out",
                        media=MediaMode.COPY)
    masks = sorted(int(p.stem) for p in (result.path / "clip" / "masks").glob("*.png"))
    frames = sorted(int(p.stem) for p in (result.path / "clip" / "frames").glob("*.png"))
    assert masks == frames == list(range(12))
    assert (result.path / "classes.txt").read_text() == "file: clip\n1 car\n2 person\n3 zone\n"
    mask5 = np.asarray(Image.open(result.path / "clip" / "masks" / "5.png"))
    assert mask5.shape == (48, 64) and mask5.dtype == np.uint8
    # car on frame 5: x = 22..34, y = 15..23 (class 1); no person (outside 4-7)
    assert (mask5[15:23, 22:34] == 1).all() and not (mask5 == 2).any()
    with Image.open(result.path / "clip" / "frames" / "5.png") as frame:
        assert frame.size == (64, 48)
        assert frame.convert("RGB").getpixel((28, 19))[0] > 180  # the car's red
