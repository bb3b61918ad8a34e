"""How a process working on jobs shows it is alive: a name unique among every worker, written
into what it claims, and a thread beating every few seconds while it works (a running export's
heartbeat, a delivery's), so a recoverer can tell a slow worker from a dead one."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def worker_name() -> str:
    """Host, process and thread: unique among every worker of every machine."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Beating:
    """Calls ``beat`` every ``every`` seconds from a thread of its own while the block runs;
    a beat that fails (the database away for a moment) is logged and the next one made, since
    a worker that stops beating is taken for dead and its work done again."""

    def __init__(self, every: float, beat: Callable[[], object], *, name: str) -> None:
        self.every, self.beat = every, beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def __enter__(self) -> Beating:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.beat()
            except Exception:
                log.exception("heartbeat %s failed; beating on", self._thread.name)
