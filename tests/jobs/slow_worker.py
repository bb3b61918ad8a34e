"""A Celery app for tests: labelport's, with each record of an export's source slowed down
(``LABELPORT_TEST_RECORD_DELAY`` seconds) and, with ``LABELPORT_TEST_HOLD_AFTER=n``, held after
the n-th record until the test kills the worker, so a kill lands mid-export at a point the test
chose. The worker marks what it reached as files in ``LABELPORT_TEST_EVENTS``: ``ready-<pid>``
when it consumes its queue, ``held-<pid>`` when it holds. Start it with
``celery -A tests.jobs.slow_worker``."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from celery.signals import worker_ready

from labelport.domain.model import ItemRecord
from labelport.domain.source import StreamSource
from labelport.export.request import PlannedExport
from labelport.jobs import execute
from labelport.jobs.celery_app import app

__all__ = ["app"]

_DELAY = float(os.environ.get("LABELPORT_TEST_RECORD_DELAY", "0"))
_HOLD_AFTER = int(os.environ.get("LABELPORT_TEST_HOLD_AFTER", "0"))  # 0: never hold
_EVENTS = os.environ.get("LABELPORT_TEST_EVENTS")
_plan = execute.plan_export


def _mark(event: str) -> None:
    if _EVENTS:
        Path(_EVENTS, f"{event}-{os.getpid()}").touch()


@worker_ready.connect
def _ready(**_: Any) -> None:
    _mark("ready")


def _slow_plan(*args: Any, **kwargs: Any) -> PlannedExport:
    planned = _plan(*args, **kwargs)
    source = planned.source

    def records() -> Iterator[ItemRecord]:
        for number, record in enumerate(source.records(), 1):
            time.sleep(_DELAY)
            yield record
            if number == _HOLD_AFTER:
                _mark("held")
                threading.Event().wait()  # until the test kills this worker

    slow = StreamSource(project=source.project, schema=source.schema, count=len(source),
                        open_records=records, datasets=source.datasets,
                        labelsets=source.labelsets)
    return replace(planned, source=slow)


execute.plan_export = _slow_plan  # type: ignore[assignment]
