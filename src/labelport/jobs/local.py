"""The local runner: export jobs run on a thread pool inside the server (the embedded
default: one machine, SQLite). Jobs are rows in the store, so a restart loses nothing: on
start, queued jobs are dispatched again and jobs left running are recovered by the ticker once
their heartbeat is stale."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from labelport.jobs.config import JobSettings
from labelport.jobs.execute import execute
from labelport.jobs.runner import Runner, Ticker
from labelport.store.repository import Store


class LocalRunner(Runner):
    def __init__(self, store: Store, settings: JobSettings) -> None:
        super().__init__(store, settings)
        self._pool = ThreadPoolExecutor(max_workers=max(1, settings.workers),
                                        thread_name_prefix="labelport-export")
        self._ticker = Ticker(self)

    def submit(self, job_id: int) -> None:
        self._pool.submit(execute, self.store, job_id, self.settings, self.submit)

    def start(self) -> None:
        for job_id in self.store.jobs.waiting():
            self.submit(job_id)
        self._ticker.start()

    def stop(self) -> None:
        """Stop ticking and taking jobs; running exports finish first."""
        self._ticker.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
