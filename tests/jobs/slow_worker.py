"""A Celery app for tests: labelport's, with each record of an export's source slowed down,
so a test can kill the worker mid-export. Start it with ``celery -A tests.jobs.slow_worker``
and ``LABELPORT_TEST_RECORD_DELAY`` seconds."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from labelport.domain.model import ItemRecord
from labelport.domain.source import StreamSource
from labelport.export.request import PlannedExport
from labelport.jobs import execute
from labelport.jobs.celery_app import app

__all__ = ["app"]

_DELAY = float(os.environ.get("LABELPORT_TEST_RECORD_DELAY", "0"))
_plan = execute.plan_export


def _slow_plan(*args: Any, **kwargs: Any) -> PlannedExport:
    planned = _plan(*args, **kwargs)
    source = planned.source

    def records() -> Iterator[ItemRecord]:
        for record in source.records():
            time.sleep(_DELAY)
            yield record

    slow = StreamSource(project=source.project, schema=source.schema, count=len(source),
                        open_records=records, datasets=source.datasets,
                        labelsets=source.labelsets)
    return replace(planned, source=slow)


execute.plan_export = _slow_plan  # type: ignore[assignment]
