"""Painting in `formats/_shared/raster.py`: the runs of every object, expanded together, paint what
filling each run's slice in paint order paints (the later object on top), whatever mix of
overlapping runs, objects without runs, objects not painted, and encodings; and the values
found visible are those a scan of every object's pixels finds."""

from __future__ import annotations

import random

import numpy as np
import pytest

from labelport.formats._shared import raster as _raster
from labelport.formats._shared.raster import Encoding, Runs, Visible, paint, visible_values


def _runs(rnd: random.Random, size: int) -> Runs | None:
    """None, no runs, or up to six runs of 1-9 pixels (they may overlap) inside ``size``."""
    kind = rnd.random()
    if kind < 0.1:
        return None
    starts = sorted(rnd.randrange(size) for _ in range(0 if kind < 0.2 else rnd.randint(1, 6)))
    ends = [min(size, start + rnd.randint(1, 9)) for start in starts]
    return Runs(starts=np.array(starts, dtype=np.int64), ends=np.array(ends, dtype=np.int64))


def _slice_by_slice(objects: list[Runs | None], values: list[int | None], *, height: int,
                    width: int) -> np.ndarray:
    flat = np.zeros(height * width, dtype=np.int64)
    for runs, value in zip(objects, values, strict=True):
        if runs is not None and value is not None:
            for start, end in zip(runs.starts.tolist(), runs.ends.tolist(), strict=True):
                flat[start:end] = value
    return flat.reshape(width, height).T


@pytest.fixture(params=["positions", "runs"])
def painting(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of painting: positions at once, and run by run (as for large images)."""
    if request.param == "runs":
        monkeypatch.setattr(_raster, "MAX_POSITIONS", 0)
    return str(request.param)


@pytest.mark.parametrize(("encoding", "top"), [("uint8", 255), ("uint16", 65535),
                                               ("rgb_id", 2**24 - 1)])
def test_painting_equals_filling_each_run_in_order(encoding: Encoding, top: int,
                                                   painting: str) -> None:
    rnd = random.Random(6)
    for _ in range(200):
        height, width = rnd.randint(2, 9), rnd.randint(2, 9)
        objects = [_runs(rnd, height * width) for _ in range(rnd.randint(0, 8))]
        values = [None if rnd.random() < 0.1 else rnd.randint(1, top) for _ in objects]
        painted = paint(objects, values, height=height, width=width, encoding=encoding)
        assert np.array_equal(painted, _slice_by_slice(objects, values, height=height,
                                                       width=width))


def test_visible_values_are_those_some_pixel_of_their_objects_holds(painting: str) -> None:
    rnd = random.Random(7)
    for _ in range(300):
        height, width = rnd.randint(2, 9), rnd.randint(2, 9)
        objects = [_runs(rnd, height * width) for _ in range(rnd.randint(0, 8))]
        values = [None if rnd.random() < 0.1 else rnd.randint(1, 4) for _ in objects]
        columns = paint(objects, values, height=height, width=width).T.ravel()
        expected = {value for runs, value in zip(objects, values, strict=True)
                    if runs is not None and value is not None and any(
                        (columns[start:end] == value).any()
                        for start, end in zip(runs.starts, runs.ends, strict=True))}
        assert visible_values(columns, objects, values, height=height) == {
            value: Visible() for value in expected}
