"""Frames extracted on worker threads: several videos decoded at once, on every core.

A writer places frames one at a time, in its own order; `FramePool` gathers consecutive frames
of one video into runs (at most ``chunk`` frames) and hands each run to a thread of a pool
bounded at the core count. Decoding and JPEG encoding run in FFmpeg, which releases the GIL, so
the threads decode different videos (or far apart stretches of one) in parallel. Each thread
keeps its own `FrameExtractor` (one open video, decoding forward), so a frame's bytes are the
same whichever thread writes it: the output equals the sequential path's.

Memory stays bounded: at most two runs per thread wait or run (placing blocks until the oldest
is done), each thread holds one decoder. The first failure (an `InputError` naming the file and
the frame) is raised by the next `place` or by `close`; after a failure, runs not started are
cancelled, and the export's staging folder, never published, is removed by its caller."""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from labelport.domain.frames import FrameItem
from labelport.export.frames import FrameExtractor

_Run = list[tuple[FrameItem, Path, Path]]


def available_cores() -> int:
    """The cores this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class FramePool:
    """`FrameExtractor`'s interface (`place`, `close`) with the work spread over threads."""

    def __init__(self, workers: int | None = None, *, chunk: int = 256) -> None:
        self.workers = max(1, workers or available_cores())
        self._chunk = chunk
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="frames")
        self._local = threading.local()
        self._extractors: list[FrameExtractor] = []
        self._lock = threading.Lock()
        self._run: _Run = []
        self._running: deque[Future[None]] = deque()

    def place(self, item: FrameItem, source: Path, target: Path) -> None:
        """Have frame ``item.frame_index`` of the video at ``source`` written to ``target``
        (later, on a worker); raises the failure of a run already finished."""
        while self._running and self._running[0].done():
            self._running.popleft().result()
        if self._run and (self._run[-1][1] != source or len(self._run) >= self._chunk):
            self._submit()
        self._run.append((item, source, target))

    def close(self) -> None:
        """Wait for every frame placed; raises the first run's failure (in placing order)."""
        try:
            if self._run:
                self._submit()
            while self._running:
                self._running.popleft().result()
        finally:
            self._shut_down()

    def __enter__(self) -> FramePool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._shut_down()  # after `close`, nothing left; after a failure, runs are dropped

    def _submit(self) -> None:
        while len(self._running) >= 2 * self.workers:
            self._running.popleft().result()
        self._running.append(self._executor.submit(self._extract, self._run))
        self._run = []

    def _extract(self, run: _Run) -> None:
        extractor: FrameExtractor | None = getattr(self._local, "extractor", None)
        if extractor is None:
            extractor = self._local.extractor = FrameExtractor()
            with self._lock:
                self._extractors.append(extractor)
        for item, source, target in run:
            extractor.place(item, source, target)

    def _shut_down(self) -> None:
        self._run = []
        self._running.clear()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for extractor in self._extractors:
            extractor.close()
        self._extractors.clear()
