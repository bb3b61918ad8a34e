"""Celery runner: export jobs dispatched through Redis to `labelport worker` processes on any
number of machines sharing the database and the artifact storage.

The queue only dispatches: the task is ``run_export_job(job_id)`` and everything else is in the
job's row. Messages are acknowledged late, so a worker lost mid-export gives its message back
(after Redis' visibility timeout); sooner than that, every worker's ticker sees the job's stale
heartbeat and queues it again, or fails it after `JobSettings.max_attempts`. A redelivered
message for a job already taken is a no-op (the claim is atomic).

``celery -A labelport.jobs.celery_app worker`` reads its settings from the environment
(`JobSettings.from_env`, ``LABELPORT_DB`` for the store).
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from labelport.jobs.config import JobSettings
from labelport.jobs.execute import execute
from labelport.jobs.runner import Runner, Ticker
from labelport.store.db import open_store
from labelport.store.repository import Store

TASK = "labelport.run_export_job"


def make_celery(settings: JobSettings) -> Celery:
    app = Celery("labelport", broker=settings.broker, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.queue, task_ignore_result=True,
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        worker_hijack_root_logger=False)
    return app


class CeleryRunner(Runner):
    """Sends jobs to the workers; the server's and each worker's also tick (recovery,
    schedules, expired artifacts)."""

    def __init__(self, store: Store, settings: JobSettings) -> None:
        super().__init__(store, settings)
        self.celery = make_celery(settings)
        self._ticker = Ticker(self)

    def submit(self, job_id: int) -> None:
        self.celery.send_task(TASK, args=[job_id], queue=self.settings.queue)

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()


settings = JobSettings.from_env()
app = make_celery(settings)
_state: dict[str, Any] = {}
_lock = threading.Lock()


def worker_runner() -> CeleryRunner:
    """This worker process's store and runner, opened on first use (after any fork)."""
    with _lock:
        if "runner" not in _state:
            _state["runner"] = CeleryRunner(open_store(), settings)
        runner: CeleryRunner = _state["runner"]
        return runner


@app.task(name=TASK)
def run_export_job(job_id: int) -> None:
    runner = worker_runner()
    execute(runner.store, job_id, runner.settings, runner.submit)


@worker_ready.connect
def _start(**_: Any) -> None:
    worker_runner().start()


@worker_shutdown.connect
def _stop(**_: Any) -> None:
    if "runner" in _state:
        _state["runner"].stop()
