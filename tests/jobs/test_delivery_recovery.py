"""Deliveries nobody is left to make (`labelport.jobs.delivery`): a cancelled export's webhook
(called off the cancelling request, or by the tick when the canceller is gone) and a delivery
whose worker died (resumed by the tick from the stored artifact). Each is made once, however
many processes look; a real HTTP listener is the webhook, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import fsspec
import orjson
import pytest
from sqlalchemy import update

from labelport.jobs import delivery
from labelport.jobs.config import JobSettings
from labelport.jobs.execute import execute
from labelport.jobs.local import LocalRunner
from labelport.store import Store
from labelport.store.jobs import JobInfo, JobStatus, now
from labelport.store.tables import export_jobs
from tests.webhook_listener import Listener, webhook_listener

from .conftest import wait_for
from .test_delivery import body_of, delivering, run

DEAD = "dead-host:1:1"


def hook_done(job: JobInfo) -> bool:
    return (job.delivery or {}).get("webhook", {}).get("status") in ("delivered", "failed")


@pytest.fixture
def runner(sample_store: Store, settings: JobSettings) -> Iterator[LocalRunner]:
    """A runner whose pool runs nothing unless told (never started: no ticker of its own)."""
    made = LocalRunner(sample_store, settings)
    try:
        yield made
    finally:
        made.stop()


def test_a_cancelled_queued_export_calls_its_webhook_once_off_the_request(
        sample_store: Store, project_id: int, settings: JobSettings) -> None:
    """No worker will ever claim the job: the cancel calls its webhook from a thread (the
    cancel returns before the listener has answered: its first answer is a 503, retried
    after a second), signed and recorded like the others; a later tick calls nothing."""
    with webhook_listener(503) as listener:
        settings = replace(delivering(settings, hooks=listener.url),
                           delivery_backoff_seconds=1.0)
        job_id = sample_store.jobs.create(project_id, {"format": "yolo",
                                                       "webhook": f"{listener.url}/x"})
        runner = LocalRunner(sample_store, settings)
        try:
            started = time.monotonic()
            assert runner.cancel(job_id)
            assert time.monotonic() - started < 0.5
            job = wait_for(sample_store, job_id, hook_done, timeout=10)
            assert delivery.deliver_due(sample_store, settings) == []
        finally:
            runner.stop()
    assert job.status is JobStatus.CANCELLED
    hook = (job.delivery or {})["webhook"]
    assert hook["status"] == "delivered" and [a["status_code"] for a in hook["attempts"]] == [
        503, 200]
    assert len(listener.received) == 2
    assert listener.received[0].body == listener.received[1].body
    body = body_of(listener, 1)
    assert body["status"] == "cancelled" and body["export_id"] == job_id
    assert body["error"] is None and body["download_path"] is None and body["counts"] is None


def test_a_cancel_whose_process_died_is_called_by_the_tick_once(
        sample_store: Store, project_id: int, settings: JobSettings,
        runner: LocalRunner) -> None:
    """Cancelled in the store only (the canceller died before its thread ran): the next
    tick of any process calls the webhook; two tickers at once call it once."""
    with webhook_listener() as listener:
        settings = delivering(settings, hooks=listener.url)
        runner.settings = settings
        job_id = sample_store.jobs.create(project_id, {"format": "coco",
                                                       "webhook": f"{listener.url}/x"})
        assert sample_store.jobs.cancel(job_id)
        tickers = [threading.Thread(target=runner.recover) for _ in range(2)]
        for ticker in tickers:
            ticker.start()
        for ticker in tickers:
            ticker.join()
        job = wait_for(sample_store, job_id, hook_done, timeout=10)
        assert delivery.deliver_due(sample_store, settings) == []
    assert len(listener.received) == 1 and body_of(listener)["status"] == "cancelled"
    assert (job.delivery or {})["webhook"]["status"] == "delivered"


def test_a_cancelled_sharded_export_calls_its_webhook_once_for_its_shards(
        sample_store: Store, project_id: int, settings: JobSettings) -> None:
    """A parent running while its shards wait in the queue is cancelled: its shards are
    cancelled with it, and the export's webhook is called once, by the parent."""
    with webhook_listener() as listener:
        settings = replace(delivering(settings, hooks=listener.url), shard_items=3)
        job_id = sample_store.jobs.create(project_id, {"format": "yolo",
                                                       "webhook": f"{listener.url}/x"})
        shards: list[int] = []
        execute(sample_store, job_id, settings, shards.append)
        assert len(shards) == 3
        runner = LocalRunner(sample_store, settings)
        try:
            assert runner.cancel(job_id)
            job = wait_for(sample_store, job_id, hook_done, timeout=10)
            for shard in shards:  # their messages arrive late: nothing runs, nothing is called
                execute(sample_store, shard, settings, shards.append)
            assert delivery.deliver_due(sample_store, settings) == []
        finally:
            runner.stop()
    assert job.status is JobStatus.CANCELLED
    assert [p.status for p in sample_store.jobs.shards(job_id)] == [JobStatus.CANCELLED] * 3
    assert all(p.delivery is None for p in sample_store.jobs.shards(job_id))
    assert len(listener.received) == 1
    body = body_of(listener)
    assert body["status"] == "cancelled" and body["export_id"] == job_id


def leave_as_a_dead_worker(store: Store, job_id: int, record: dict[str, Any] | None, *,
                           seconds_ago: float) -> None:
    """What a worker that died while delivering leaves: the delivery still owed, claimed by
    it, its last heartbeat ``seconds_ago``, and what it recorded so far."""
    with store.jobs.engine.begin() as conn:
        conn.execute(update(export_jobs).where(export_jobs.c.id == job_id).values(
            delivery=None if record is None else orjson.dumps(record).decode(),
            delivery_worker=DEAD,
            delivery_heartbeat_at=now() - timedelta(seconds=seconds_ago)))


@pytest.fixture(params=["on disk", "elsewhere"])
def artifacts_kept(request: pytest.FixtureRequest,
                   settings: JobSettings) -> Iterator[JobSettings]:
    """Artifacts in the test's folder, or in fsspec's memory filesystem: not on this
    machine's disk, so a resumed delivery downloads the stored artifact."""
    if request.param == "on disk":
        yield settings
        return
    root = f"memory://lp-{uuid.uuid4().hex[:8]}"
    try:
        yield replace(settings, artifacts=f"{root}/artifacts")
    finally:
        memory = fsspec.filesystem("memory")
        if memory.exists(root):
            memory.rm(root, recursive=True)


def completed_with_delivery(store: Store, project_id: int, settings: JobSettings,
                            drop: Path, listener: Listener) -> JobInfo:
    """A completed export delivered to ``drop`` and its webhook; then the drop and the
    listener emptied, as if none of it had happened."""
    job_id = store.jobs.create(project_id, {"format": "yolo", "name": "resumed",
                                            "deliver_to": str(drop),
                                            "webhook": f"{listener.url}/x"})
    job = run(store, job_id, settings)
    assert hook_done(job) and job.downloadable, job.delivery
    for path in drop.iterdir():
        path.unlink()
    listener.received.clear()
    return job


@pytest.mark.parametrize("left", ["nothing recorded", "copy pending"])
def test_a_delivery_whose_worker_died_is_resumed_once_from_the_stored_artifact(
        sample_store: Store, project_id: int, artifacts_kept: JobSettings,
        tmp_path: Path, runner: LocalRunner, left: str) -> None:
    drop = tmp_path / "drop"
    with webhook_listener() as listener:
        settings = delivering(artifacts_kept, roots=str(drop), hooks=listener.url)
        runner.settings = settings
        job = completed_with_delivery(sample_store, project_id, settings, drop, listener)
        record = None if left == "nothing recorded" else {"runs": 1, "destination": {
            "to": str(drop), "status": "pending", "attempts": [{"at": now().isoformat()}]}}
        leave_as_a_dead_worker(sample_store, job.id, record, seconds_ago=60)
        tickers = [threading.Thread(target=runner.recover) for _ in range(2)]
        for ticker in tickers:
            ticker.start()
        for ticker in tickers:
            ticker.join()
        resumed = wait_for(sample_store, job.id, hook_done, timeout=10)
        assert delivery.deliver_due(sample_store, settings) == []
    assert resumed.status is JobStatus.COMPLETED
    assert sorted(p.name for p in drop.iterdir()) == ["resumed.manifest.json", "resumed.zip"]
    with fsspec.open(resumed.artifact_uri or "", "rb") as stored:
        assert (drop / "resumed.zip").read_bytes() == stored.read()
    recorded = resumed.delivery or {}
    assert recorded["runs"] == (1 if record is None else 2)
    assert recorded["destination"]["status"] == "delivered"
    assert len(recorded["destination"]["attempts"]) == (1 if record is None else 2)
    assert len(listener.received) == 1
    body = body_of(listener)
    assert body["status"] == "succeeded" and body["artifact"] == "resumed.zip"
    assert body["locations"]["artifact"] == str(drop / "resumed.zip")


def test_a_live_slow_delivery_is_not_taken_over(
        sample_store: Store, project_id: int, settings: JobSettings, tmp_path: Path,
        runner: LocalRunner) -> None:
    drop = tmp_path / "drop"
    with webhook_listener() as listener:
        settings = delivering(settings, roots=str(drop), hooks=listener.url)
        runner.settings = settings
        job = completed_with_delivery(sample_store, project_id, settings, drop, listener)
        record = {"runs": 1, "destination": {"to": str(drop), "status": "pending",
                                             "attempts": []}}
        leave_as_a_dead_worker(sample_store, job.id, record, seconds_ago=0)
        runner.recover()
        assert delivery.deliver_due(sample_store, settings) == []
    assert (sample_store.jobs.get(job.id).delivery or {}) == record
    assert list(drop.iterdir()) == [] and listener.received == []
    assert not sample_store.jobs.claim_delivery(job.id, "other:1:1",
                                                stale_before=now() - timedelta(seconds=30))
    assert sample_store.jobs.delivery_heartbeat(job.id, DEAD)  # still the live worker's


def test_a_delivery_whose_workers_kept_dying_is_given_up_and_announced(
        sample_store: Store, project_id: int, settings: JobSettings, tmp_path: Path,
        runner: LocalRunner) -> None:
    """After the job's ``max_attempts`` runs of its delivery, the copy is failed with a
    message saying why and the webhook still says how the export ended."""
    drop = tmp_path / "drop"
    with webhook_listener() as listener:
        settings = delivering(settings, roots=str(drop), hooks=listener.url)
        runner.settings = settings
        job = completed_with_delivery(sample_store, project_id, settings, drop, listener)
        record = {"runs": settings.max_attempts, "destination": {
            "to": str(drop), "status": "pending", "attempts": [{"at": now().isoformat()}]}}
        leave_as_a_dead_worker(sample_store, job.id, record, seconds_ago=60)
        runner.recover()
        ended = wait_for(sample_store, job.id, hook_done, timeout=10)
    assert ended.status is JobStatus.COMPLETED and ended.downloadable
    copy = (ended.delivery or {})["destination"]
    assert copy["status"] == "failed" and len(copy["attempts"]) == 1
    assert copy["last_error"] == (f"the worker delivering this export stopped responding "
                                  f"({settings.max_attempts} runs)")
    assert list(drop.iterdir()) == []
    body = body_of(listener)
    assert body["status"] == "succeeded" and body["locations"] is None
    assert body["delivery"] == {"status": "failed", "error": copy["last_error"]}
    assert delivery.deliver_due(sample_store, settings) == []


def test_a_delivery_claimed_away_stops_its_old_worker(
        sample_store: Store, project_id: int, settings: JobSettings) -> None:
    """A worker thought dead (its heartbeat stale) but alive: once another claimed the
    delivery, the old one may neither beat nor record."""
    job_id = sample_store.jobs.create(project_id, {"format": "yolo", "webhook": "http://x/"})
    assert sample_store.jobs.cancel(job_id)
    later = now() + timedelta(seconds=1)
    assert sample_store.jobs.claim_delivery(job_id, DEAD, stale_before=later)
    assert sample_store.jobs.claim_delivery(job_id, "new:1:1", stale_before=later)
    assert not sample_store.jobs.delivery_heartbeat(job_id, DEAD)
    assert not sample_store.jobs.record_delivery(job_id, {"runs": 1}, worker=DEAD)
    assert sample_store.jobs.record_delivery(job_id, {"runs": 1}, worker="new:1:1", done=True)
    assert sample_store.jobs.deliveries_due(stale_before=later, limit=10) == []


class _Died(BaseException):
    """The process delivering was killed mid-copy: nothing after it runs, not even a save."""


def test_a_delivery_whose_workers_die_mid_copy_is_still_given_up(
        sample_store: Store, project_id: int, settings: JobSettings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed during its first copy attempt (before it recorded anything) still
    counts its run, so a delivery that kills every worker is given up after ``max_attempts``
    runs instead of being resumed by every tick for ever."""
    drop = tmp_path / "drop"
    with webhook_listener() as listener:
        settings = delivering(settings, roots=str(drop), hooks=listener.url)
        job = completed_with_delivery(sample_store, project_id, settings, drop, listener)
        leave_as_a_dead_worker(sample_store, job.id, None, seconds_ago=60)

        def killed(*args: object, **kwargs: object) -> None:
            raise _Died

        with monkeypatch.context() as patched:
            patched.setattr(delivery.ArtifactStorage, "upload", killed)
            for run_number in range(1, settings.max_attempts + 1):
                worker = f"doomed:{run_number}:1"
                assert sample_store.jobs.claim_delivery(job.id, worker,
                                                        stale_before=now() + timedelta(1))
                with pytest.raises(_Died):
                    delivery.deliver(sample_store, job.id, settings, worker)
                assert (sample_store.jobs.get(job.id).delivery or {}).get("runs") == run_number
        assert sample_store.jobs.claim_delivery(job.id, "last:1:1",
                                                stale_before=now() + timedelta(1))
        delivery.deliver(sample_store, job.id, settings, "last:1:1")
        ended = sample_store.jobs.get(job.id)
    copy = (ended.delivery or {})["destination"]
    assert copy["status"] == "failed" and copy["last_error"] == (
        f"the worker delivering this export stopped responding ({settings.max_attempts} runs)")
    assert list(drop.iterdir()) == []
    assert len(listener.received) == 1 and body_of(listener)["delivery"]["status"] == "failed"


def test_a_webhook_called_late_says_when_the_export_finished(
        sample_store: Store, project_id: int, settings: JobSettings) -> None:
    """A call made by a later tick (the canceller died an hour ago) carries the job's own
    ``finished_at``, not the moment of the call: every call of one outcome says the same."""
    with webhook_listener() as listener:
        settings = delivering(settings, hooks=listener.url)
        job_id = sample_store.jobs.create(project_id, {"format": "yolo",
                                                       "webhook": f"{listener.url}/x"})
        assert sample_store.jobs.cancel(job_id)
        with sample_store.jobs.engine.begin() as conn:
            conn.execute(update(export_jobs).where(export_jobs.c.id == job_id).values(
                finished_at=now() - timedelta(hours=1)))
        assert delivery.deliver_due(sample_store, settings) == [job_id]
        job = wait_for(sample_store, job_id, hook_done, timeout=10)
    assert job.finished_at is not None
    assert body_of(listener)["finished_at"] == job.finished_at.isoformat()


def test_a_tick_starts_a_bounded_number_of_owed_deliveries(
        sample_store: Store, project_id: int, settings: JobSettings) -> None:
    """After an outage many deliveries may be owed: a tick starts `DUE_PER_TICK` threads, the
    next tick the rest, and each outcome is called once."""
    with webhook_listener() as listener:
        settings = delivering(settings, hooks=listener.url)
        ids = [sample_store.jobs.create(project_id, {"format": "yolo",
                                                     "webhook": f"{listener.url}/x"})
               for _ in range(delivery.DUE_PER_TICK + 2)]
        for job_id in ids:
            assert sample_store.jobs.cancel(job_id)
        assert delivery.deliver_due(sample_store, settings) == ids[:delivery.DUE_PER_TICK]
        assert delivery.deliver_due(sample_store, settings) == ids[delivery.DUE_PER_TICK:]
        for job_id in ids:
            wait_for(sample_store, job_id, hook_done, timeout=30)
    assert sorted(orjson.loads(r.body)["export_id"] for r in listener.received) == ids


def test_a_job_removed_after_its_delivery_was_claimed_ends_quietly(
        sample_store: Store, project_id: int, settings: JobSettings) -> None:
    """The job is gone by the time its deliverer reads it (removed through the API): nothing
    is owed, nothing raised on the delivering thread."""
    job_id = sample_store.jobs.create(project_id, {"format": "yolo",
                                                   "webhook": "http://127.0.0.1:9/x"})
    assert sample_store.jobs.cancel(job_id)
    assert sample_store.jobs.claim_delivery(job_id, "w:1:1", stale_before=now())
    sample_store.jobs.delete(job_id)
    delivery.deliver(sample_store, job_id, settings, "w:1:1")
