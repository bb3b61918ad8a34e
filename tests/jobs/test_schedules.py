"""Schedules: the cron parser from a table, and runs taken once however many tickers look."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from labelport.errors import InputError
from labelport.jobs.cron import Cron
from labelport.jobs.schedules import create_schedule, fire_due
from labelport.store import Store
from labelport.store.jobs import JobStatus

MONDAY = datetime(2024, 5, 6, 10, 17, 30, tzinfo=UTC)


@pytest.mark.parametrize(("expression", "expected"), [
    ("* * * * *", datetime(2024, 5, 6, 10, 18, tzinfo=UTC)),
    ("*/15 * * * *", datetime(2024, 5, 6, 10, 30, tzinfo=UTC)),
    ("0 3 * * *", datetime(2024, 5, 7, 3, 0, tzinfo=UTC)),
    ("30 2 1 * *", datetime(2024, 6, 1, 2, 30, tzinfo=UTC)),
    ("0 9 * * 1-5", datetime(2024, 5, 7, 9, 0, tzinfo=UTC)),
    ("0 9 * * 0", datetime(2024, 5, 12, 9, 0, tzinfo=UTC)),
    ("0 9 * * 7", datetime(2024, 5, 12, 9, 0, tzinfo=UTC)),
    ("0 12 13 * 5", datetime(2024, 5, 10, 12, 0, tzinfo=UTC)),  # the 13th or a Friday
    ("0 0 29 2 *", datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
    ("5,35 8-9 * 5 *", datetime(2024, 5, 7, 8, 5, tzinfo=UTC)),
    ("0 0 1 1 *", datetime(2025, 1, 1, 0, 0, tzinfo=UTC)),
])
def test_cron_next_run(expression: str, expected: datetime) -> None:
    assert Cron.parse(expression).next_after(MONDAY) == expected


@pytest.mark.parametrize("expression", ["* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
                                        "* * * 13 *", "*/0 * * * *", "a * * * *",
                                        "5-1 * * * *", "0 0 31 2 *"])
def test_cron_refuses(expression: str) -> None:
    with pytest.raises(InputError, match="cron"):
        Cron.parse(expression).next_after(MONDAY)


def test_a_due_run_is_taken_once(sample_store: Store, project_id: int) -> None:
    schedule_id = create_schedule(sample_store, project_id, "hourly", {"format": "coco"},
                                  cron="0 * * * *", delta=True)
    schedule = sample_store.schedules.get(schedule_id)
    later = schedule.next_run_at + timedelta(seconds=1)
    submitted: list[int] = []
    first = fire_due(sample_store, submitted.append, later)
    assert fire_due(sample_store, submitted.append, later) == []  # a second ticker
    assert submitted == first and len(first) == 1
    job = sample_store.jobs.get(first[0])
    assert job.status is JobStatus.QUEUED and job.schedule_id == schedule_id
    assert job.request["freeze_release"] == "hourly-0001"
    assert job.request["since_release"] is None
    after = sample_store.schedules.get(schedule_id)
    assert after.runs == 1 and after.next_run_at == schedule.next_run_at + timedelta(hours=1)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # refused before the store
@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "either interval_seconds or cron"),
    ({"interval_seconds": 5, "cron": "* * * * *"}, "either interval_seconds or cron"),
    ({"interval_seconds": 0}, "at least 1"),
    ({"cron": "* * *"}, "5 fields"),
    ({"interval_seconds": 5, "delta": True, "request": {"format": "coco", "release": "r"}},
     "delta schedule"),
])
def test_schedules_refuse(sample_store: Store, project_id: int, kwargs: dict,
                          message: str) -> None:
    given = dict(kwargs)  # shared by both backends' runs
    request = given.pop("request", {"format": "coco"})
    with pytest.raises(InputError, match=message):
        create_schedule(sample_store, project_id, "s", request, **given)
