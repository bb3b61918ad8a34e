"""The one interface the service runs exports through, whatever runs them.

`Runner.submit` dispatches a queued job, `Runner.cancel` marks it cancelled (its worker stops at
its next progress report), `Runner.recover` queues again (or fails, after too many attempts)
jobs whose worker died, dispatches queued jobs whose dispatch may have been lost, and makes
owed deliveries nobody alive makes. `Ticker` does recovery, due schedules and expired
artifacts periodically; the local runner and every Celery worker run one (each step is an
atomic claim, so several tickers are safe).
"""

from __future__ import annotations

import abc
import logging
import threading
from datetime import timedelta

from labelport.jobs import delivery
from labelport.jobs.artifacts import ArtifactStorage, cleanup_expired
from labelport.jobs.config import JobSettings
from labelport.jobs.schedules import fire_due
from labelport.store.jobs import Recovered, now
from labelport.store.repository import Store

log = logging.getLogger(__name__)


class Runner(abc.ABC):
    def __init__(self, store: Store, settings: JobSettings) -> None:
        self.store = store
        self.settings = settings

    @abc.abstractmethod
    def submit(self, job_id: int) -> None:
        """Dispatch the queued job ``job_id``; the worker that gets it claims it."""

    def cancel(self, job_id: int) -> bool:
        """Cancel a queued or running job; False when it had finished already. Its webhook
        is called from a thread of its own (a listener may be slow; should this process die
        first, a tick calls it)."""
        if not self.store.jobs.cancel(job_id):
            return False
        threading.Thread(target=delivery.deliver_owed, daemon=True, name=f"cancel-{job_id}",
                         args=(self.store, job_id, self.settings)).start()
        return True

    def recover(self) -> Recovered:
        """Re-queue or fail jobs whose heartbeat went stale, dispatch queued jobs nobody has
        taken for a while, then make the deliveries owed that nobody alive makes (a failed
        export's webhook, a delivery whose worker died; each on a thread of its own, so a slow
        listener holds no tick)."""
        stale = timedelta(seconds=self.settings.stale_seconds)
        recovered = self.store.jobs.recover(stale_before=now() - stale,
                                            max_attempts=self.settings.max_attempts)
        for job_id in self.store.jobs.waiting(touched_before=now() - stale):
            self.submit(job_id)
        for job_id in recovered.requeued:
            self.submit(job_id)
        delivery.deliver_due(self.store, self.settings)
        if recovered.requeued or recovered.failed:
            log.warning("recovered export jobs: requeued %s, failed %s", recovered.requeued,
                        recovered.failed)
        return recovered

    @abc.abstractmethod
    def start(self) -> None:
        """Start what the runner needs (a pool, a ticker)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop it; running jobs left behind are recovered by the next start."""


class Ticker:
    """Every ``settings.tick_seconds``: `Runner.recover`, due schedules, expired artifacts."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="labelport-tick")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def tick(self) -> None:
        runner = self.runner
        runner.recover()
        fire_due(runner.store, runner.submit, now())
        cleanup_expired(runner.store, ArtifactStorage(runner.settings.artifacts))

    def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # a database hiccup must not end the ticking
                log.exception("labelport job tick failed")
            if self._stop.wait(self.runner.settings.tick_seconds):
                return
