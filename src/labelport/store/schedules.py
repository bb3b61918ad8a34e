"""Export schedules as rows: a project's export options, when to run them, and for delta
schedules the release the last completed run froze.

A run is taken by one UPDATE that moves ``next_run_at`` from the value the scheduler read, so
several schedulers (local runners, Celery beat, worker ticks) never fire the same run twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, Row, delete, insert, select, update

from labelport.errors import NotFoundError
from labelport.store.jobs import SECRET_KEYS, aware, now
from labelport.store.tables import export_schedules


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleInfo:
    id: int
    project_id: int
    name: str
    request: dict[str, Any]
    interval_seconds: int | None
    cron: str | None
    delta: bool
    enabled: bool
    runs: int
    last_release: str | None
    next_run_at: datetime
    last_run_at: datetime | None
    created_by: int | None

    def public_request(self) -> dict[str, Any]:
        return {k: v for k, v in self.request.items() if k not in SECRET_KEYS}


class ScheduleStore:
    """The export schedules of a store (``store.schedules``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, project_id: int, name: str, request: Mapping[str, Any], *,
               next_run_at: datetime, interval_seconds: int | None = None,
               cron: str | None = None, delta: bool = False,
               created_by: int | None = None) -> int:
        with self.engine.begin() as conn:
            key = conn.execute(insert(export_schedules).values(
                project_id=project_id, name=name, request=orjson.dumps(dict(request)).decode(),
                interval_seconds=interval_seconds, cron=cron, delta=delta, enabled=True,
                runs=0, next_run_at=next_run_at, created_by=created_by,
                created_at=now())).inserted_primary_key
        assert key is not None
        return int(key[0])

    def get(self, schedule_id: int, *, project_id: int | None = None) -> ScheduleInfo:
        with self.engine.connect() as conn:
            row = conn.execute(select(export_schedules)
                               .where(export_schedules.c.id == schedule_id)).first()
        if row is None or (project_id is not None and row.project_id != project_id):
            raise NotFoundError(f"no export schedule with id {schedule_id}")
        return _info(row)

    def of_project(self, project_id: int) -> list[ScheduleInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(export_schedules)
                                .where(export_schedules.c.project_id == project_id)
                                .order_by(export_schedules.c.id))
            return [_info(row) for row in rows]

    def delete(self, schedule_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(export_schedules).where(export_schedules.c.id == schedule_id))

    def set_enabled(self, schedule_id: int, enabled: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(export_schedules).where(export_schedules.c.id == schedule_id)
                         .values(enabled=enabled))

    def due(self, at: datetime) -> list[ScheduleInfo]:
        """Enabled schedules whose next run is at or before ``at``."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(export_schedules).where(
                export_schedules.c.enabled.is_(True), export_schedules.c.next_run_at <= at)
                .order_by(export_schedules.c.next_run_at))
            return [_info(row) for row in rows]

    def take_run(self, schedule: ScheduleInfo, next_run_at: datetime) -> bool:
        """Claim the run ``schedule`` was due for and plan the next; False when another
        scheduler took it first."""
        with self.engine.begin() as conn:
            taken = conn.execute(update(export_schedules).where(
                export_schedules.c.id == schedule.id, export_schedules.c.runs == schedule.runs,
            ).values(next_run_at=next_run_at, last_run_at=now(),
                     runs=export_schedules.c.runs + 1))
            return taken.rowcount == 1

    def record_release(self, schedule_id: int, release: str) -> None:
        """A delta run completed: the next one exports what changed since ``release``."""
        with self.engine.begin() as conn:
            conn.execute(update(export_schedules).where(export_schedules.c.id == schedule_id)
                         .values(last_release=release))


def _info(row: Row[Any]) -> ScheduleInfo:
    return ScheduleInfo(
        id=row.id, project_id=row.project_id, name=row.name, request=orjson.loads(row.request),
        interval_seconds=row.interval_seconds, cron=row.cron, delta=row.delta,
        enabled=row.enabled, runs=row.runs, last_release=row.last_release,
        next_run_at=aware(row.next_run_at) or now(), last_run_at=aware(row.last_run_at),
        created_by=row.created_by)
