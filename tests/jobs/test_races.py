"""Races that workers and tickers run for real, on SQLite and PostgreSQL: contenders in threads,
each with a store (and so connections) of its own, released together by a barrier so their
statements meet in the database. Exactly one worker claims a job; a schedule due once fires
once however many tickers look at the same moment. A claim that reads the status and then
writes it (the mistake these tests exist to catch) is shown to let two workers through."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, update

from labelport.jobs.schedules import create_schedule, fire_due
from labelport.store import Store, open_store
from labelport.store.jobs import JobStatus
from labelport.store.tables import export_jobs

T = TypeVar("T")
CONTENDERS = 4
ROUNDS = 12


@pytest.fixture
def stores(db_url: str, sample_store: Store) -> Iterator[list[Store]]:
    """One store per contender, each with its own engine and connections."""
    opened = [open_store(db_url) for _ in range(CONTENDERS)]
    try:
        yield opened
    finally:
        for store in opened:
            store.close()


def race(stores: list[Store], attempt: Callable[[Store, int], T]) -> list[T]:
    """Run ``attempt(store, index)`` in one thread per store, all released at once."""
    barrier = threading.Barrier(len(stores))

    def contender(index: int) -> T:
        barrier.wait(timeout=10)
        return attempt(stores[index], index)

    with ThreadPoolExecutor(len(stores)) as pool:
        return list(pool.map(contender, range(len(stores))))


def test_exactly_one_worker_claims_a_job(sample_store: Store, project_id: int,
                                         stores: list[Store]) -> None:
    for _ in range(ROUNDS):
        job_id = sample_store.jobs.create(project_id, {"format": "coco"})
        claims = race(stores, lambda store, i, job=job_id: store.jobs.claim(job, f"w{i}"))
        winners = [c for c in claims if c is not None]
        assert len(winners) == 1, claims
        job = sample_store.jobs.get(job_id)
        assert job.status is JobStatus.RUNNING and job.attempt == 1
        assert job.worker == winners[0].worker


def _claim_by_reading_first(store: Store, job_id: int, worker: str,
                            read: threading.Barrier) -> bool:
    """The broken claim: check the status, then write it unconditionally."""
    with store.engine.connect() as conn:
        status = conn.execute(select(export_jobs.c.status)
                              .where(export_jobs.c.id == job_id)).scalar_one()
    read.wait(timeout=10)  # every contender has read "queued" before any writes
    if status != JobStatus.QUEUED:
        return False
    with store.engine.begin() as conn:
        conn.execute(update(export_jobs).where(export_jobs.c.id == job_id)
                     .values(status=JobStatus.RUNNING, worker=worker))
    return True


def test_the_race_catches_a_claim_that_reads_then_writes(
        sample_store: Store, project_id: int, stores: list[Store]) -> None:
    job_id = sample_store.jobs.create(project_id, {"format": "coco"})
    read = threading.Barrier(len(stores))
    claims: list[Any] = race(stores, lambda store, i: _claim_by_reading_first(
        store, job_id, f"w{i}", read))
    assert sum(claims) == len(stores)  # every contender believes it has the job


def test_a_schedule_fires_once_with_tickers_at_the_same_moment(
        sample_store: Store, project_id: int, stores: list[Store]) -> None:
    ids = [create_schedule(sample_store, project_id, f"every-{n}", {"format": "coco"},
                           interval_seconds=3600) for n in range(ROUNDS)]
    due = max(sample_store.schedules.get(i).next_run_at for i in ids) + timedelta(seconds=1)
    submitted: list[list[int]] = [[] for _ in stores]
    created = race(stores, lambda store, i: fire_due(store, submitted[i].append, due))
    jobs = [job_id for fired in created for job_id in fired]
    assert sorted(jobs) == sorted(j for s in submitted for j in s)
    assert len(jobs) == len(ids), created  # each schedule once, whoever fired it
    assert sorted(sample_store.jobs.get(j).schedule_id for j in jobs) == sorted(ids)
    assert all(sample_store.schedules.get(i).runs == 1 for i in ids)
