"""Scheduled exports: a project exports itself every N seconds or on a cron expression (UTC).

A delta schedule makes incremental exports (SATIn's scheduled incremental exports) from
releases: each run freezes the selection as a new release ``<schedule name>-<run>`` and exports
only what was added or changed since the release the last completed run froze (the first run
exports everything). Releases rather than hashes kept aside because they are what a user can
list, inspect, diff and export again, and each delta is then exactly "release N against
release N-1". A run missed while nothing was ticking fires once, not once per missed slot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from labelport.errors import InputError
from labelport.export.package import PackageKind
from labelport.export.request import ExportOptions
from labelport.jobs.cron import Cron
from labelport.store.jobs import now
from labelport.store.repository import Store
from labelport.store.schedules import ScheduleInfo


def create_schedule(store: Store, project_id: int, name: str, request: Mapping[str, Any], *,
                    interval_seconds: int | None = None, cron: str | None = None,
                    delta: bool = False, created_by: int | None = None) -> int:
    """Validate and store a schedule; its first run is one interval (or the next cron time)
    from now."""
    if (interval_seconds is None) == (cron is None):
        raise InputError("a schedule needs either interval_seconds or cron, not both")
    if interval_seconds is not None and interval_seconds < 1:
        raise InputError("interval_seconds must be at least 1")
    options = ExportOptions.from_json(request, default_package=PackageKind.ZIP)
    if delta and (options.release or options.since_release or options.freeze_release):
        raise InputError("a delta schedule makes its own releases: leave release, "
                         "since_release and freeze_release out")
    if not name.strip():
        raise InputError("a schedule needs a name")
    first = _next(now(), interval_seconds, cron)
    return store.schedules.create(project_id, name.strip(), request, next_run_at=first,
                                  interval_seconds=interval_seconds, cron=cron, delta=delta,
                                  created_by=created_by)


def fire_due(store: Store, submit: Callable[[int], None], at: datetime) -> list[int]:
    """Create and submit a job for each schedule due at ``at``; the jobs created."""
    created = []
    for schedule in store.schedules.due(at):
        if not store.schedules.take_run(schedule, _next(at, schedule.interval_seconds,
                                                        schedule.cron)):
            continue  # another ticker fired it
        job_id = store.jobs.create(schedule.project_id, run_request(schedule),
                                   created_by=schedule.created_by, schedule_id=schedule.id)
        submit(job_id)
        created.append(job_id)
    return created


def run_request(schedule: ScheduleInfo) -> dict[str, Any]:
    """The request of the schedule's next run (the run number is ``runs + 1``)."""
    request = dict(schedule.request)
    if schedule.delta:
        request["freeze_release"] = f"{schedule.name}-{schedule.runs + 1:04d}"
        request["since_release"] = schedule.last_release
    return request


def _next(at: datetime, interval_seconds: int | None, cron: str | None) -> datetime:
    if cron is not None:
        return Cron.parse(cron).next_after(at)
    assert interval_seconds is not None
    return at + timedelta(seconds=interval_seconds)
