"""`labelport.jobs.liveness.Beating`: the heartbeat of a run or a delivery."""

from __future__ import annotations

import threading

from labelport.jobs.liveness import Beating


def test_a_failed_beat_does_not_stop_the_beating() -> None:
    """One beat failing (the database away for a moment) must not end the heartbeats: a
    silent worker is taken for dead, its job run or its webhook called a second time."""
    calls: list[int] = []
    again = threading.Event()

    def beat() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database restarting")
        again.set()

    with Beating(0.01, beat, name="test-beating"):
        assert again.wait(5)
    assert len(calls) >= 2
