"""The local runner end to end on SQLite and PostgreSQL: submit, progress, complete, the
artifact, cancel, failure messages, recovery of a job whose worker died, sharded exports."""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from labelport.jobs import execute as execute_module
from labelport.jobs.artifacts import ArtifactStorage, cleanup_expired
from labelport.jobs.config import JobSettings
from labelport.jobs.local import LocalRunner
from labelport.store import Store
from labelport.store.jobs import JobStatus, now

from .conftest import finished, wait_for

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""For what does not depend on the database (the store's moves run on both elsewhere here)."""


@pytest.fixture
def runner(sample_store: Store, settings: JobSettings) -> Iterator[LocalRunner]:
    started = LocalRunner(sample_store, settings)
    started.start()
    try:
        yield started
    finally:
        started.stop()


def manifest_of(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return orjson.loads(zf.read("labelport-export.json"))


def test_job_completes_with_a_checksummed_zip(sample_store: Store, project_id: int,
                                              runner: LocalRunner, settings: JobSettings
                                              ) -> None:
    job_id = sample_store.jobs.create(project_id, {"format": "coco", "name": "first"})
    assert sample_store.jobs.get(job_id).status is JobStatus.QUEUED
    runner.submit(job_id)
    job = wait_for(sample_store, job_id, finished)
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.done == job.total == 8  # the skipped image is not exported by default
    assert job.counts is not None and job.counts["items"] == 8
    assert job.attempt == 1 and job.started_at and job.finished_at and job.expires_at
    assert job.artifact_name == "first.zip" and job.downloadable
    path = ArtifactStorage(settings.artifacts).local_path(job.artifact_uri or "")
    assert path is not None and path.stat().st_size == job.artifact_size
    from labelport.export.manifest import sha256_file

    assert sha256_file(path) == job.artifact_sha256
    manifest = manifest_of(path)
    assert manifest["format"] == "coco" and manifest["counts"]["items"] == 8
    assert manifest["selection"]["project"] == "sample"


@sqlite_only
def test_bad_options_fail_with_the_message(sample_store: Store, project_id: int,
                                           runner: LocalRunner) -> None:
    job_id = sample_store.jobs.create(project_id, {"format": "coco",
                                                   "options": {"nope": 1}})
    runner.submit(job_id)
    job = wait_for(sample_store, job_id, finished)
    assert job.status is JobStatus.FAILED
    assert "has no option 'nope'" in (job.error or "")
    assert not job.downloadable and job.artifact_uri is None


@sqlite_only
def test_an_internal_error_keeps_its_details_in_the_log(
        sample_store: Store, project_id: int, runner: LocalRunner,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_: object, **__: object) -> None:
        raise OSError("[Errno 5] Input/output error: '/srv/labelport/secret/store.db'")

    monkeypatch.setattr(execute_module, "run_pipeline", broken)
    job_id = sample_store.jobs.create(project_id, {"format": "coco"})
    runner.submit(job_id)
    job = wait_for(sample_store, job_id, finished)
    assert job.status is JobStatus.FAILED
    assert job.error == (f"internal error (OSError); the worker's log has the details "
                         f"(export job {job_id})")
    assert "/srv/labelport/secret/store.db" in caplog.text


@sqlite_only
def test_password_is_never_kept_once_finished(sample_store: Store, project_id: int,
                                              runner: LocalRunner) -> None:
    job_id = sample_store.jobs.create(project_id, {"format": "yolo", "password": "s3cret"})
    assert "password" not in sample_store.jobs.get(job_id).request
    runner.submit(job_id)
    job = wait_for(sample_store, job_id, finished)
    assert job.status is JobStatus.COMPLETED, job.error
    assert "password" not in sample_store.jobs.request(job_id)


@sqlite_only
def test_cancel_stops_at_the_next_progress_and_leaves_nothing(
        sample_store: Store, project_id: int, settings: JobSettings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer blocks on its first progress report until the job is cancelled."""
    reached, release = threading.Event(), threading.Event()
    progress = execute_module.Heartbeat.progress

    def slow_progress(self: execute_module.Heartbeat, done: int) -> None:
        reached.set()
        release.wait(10)
        self.beat()
        progress(self, done)

    monkeypatch.setattr(execute_module.Heartbeat, "progress", slow_progress)
    runner = LocalRunner(sample_store, settings)
    runner.start()
    try:
        job_id = sample_store.jobs.create(project_id, {"format": "voc"})
        runner.submit(job_id)
        assert reached.wait(10)
        assert wait_for(sample_store, job_id, lambda j: j.status is JobStatus.RUNNING)
        assert runner.cancel(job_id)
        release.set()
    finally:
        runner.stop()
    job = sample_store.jobs.get(job_id)
    assert job.status is JobStatus.CANCELLED and job.artifact_uri is None
    assert not runner.cancel(job_id)  # finished already
    assert not list(Path(settings.artifacts).rglob("*.zip"))


def test_stale_running_job_is_requeued_then_failed(sample_store: Store, project_id: int,
                                                   settings: JobSettings) -> None:
    """A job claimed by a worker that then died: recovery queues it again until it has had
    ``max_attempts`` runs, then fails it; it is never left running."""
    job_id = sample_store.jobs.create(project_id, {"format": "coco"})
    dead = "dead-host:1:1"
    for _ in range(settings.max_attempts):
        assert sample_store.jobs.claim(job_id, dead) is not None
        recovered = sample_store.jobs.recover(stale_before=now() + timedelta(seconds=1),
                                              max_attempts=settings.max_attempts)
        if recovered.failed:
            break
        assert recovered.requeued == [job_id]
        assert sample_store.jobs.get(job_id).status is JobStatus.QUEUED
    job = sample_store.jobs.get(job_id)
    assert job.status is JobStatus.FAILED and "stopped responding" in (job.error or "")
    assert not sample_store.jobs.heartbeat(job_id, dead, done=1, total=9)


def test_a_parent_waiting_on_queued_shards_is_not_stale(sample_store: Store, project_id: int,
                                                        settings: JobSettings) -> None:
    """Every worker busy elsewhere, a sharded export's shards wait in the queue and nothing
    beats for its parent: recovery leaves the parent waiting (taken again, it would merge
    shards not yet written), and recovers it once its shards are done."""
    parent = sample_store.jobs.create(project_id, {"format": "yolo"})
    assert sample_store.jobs.claim(parent, "host:1:1") is not None
    shards = sample_store.jobs.split(parent, "host:1:1", [{"format": "yolo"}] * 2)
    later = now() + timedelta(seconds=1)
    assert sample_store.jobs.recover(stale_before=later, max_attempts=3).requeued == []
    assert sample_store.jobs.get(parent).status is JobStatus.RUNNING
    for shard in shards:
        assert sample_store.jobs.cancel(shard)
    assert sample_store.jobs.recover(stale_before=later, max_attempts=3).requeued == [parent]


def test_runner_recovers_a_job_left_running(sample_store: Store, project_id: int,
                                            settings: JobSettings) -> None:
    """The server died while running a job: the restarted runner's ticker re-queues it once
    its heartbeat is stale and runs it to completion."""
    job_id = sample_store.jobs.create(project_id, {"format": "yolo"})
    assert sample_store.jobs.claim(job_id, "old-server:1:1") is not None
    runner = LocalRunner(sample_store, settings)
    runner.start()
    try:
        job = wait_for(sample_store, job_id, finished)
    finally:
        runner.stop()
    assert job.status is JobStatus.COMPLETED and job.attempt == 2


@sqlite_only
def test_expired_artifacts_are_removed(sample_store: Store, project_id: int,
                                       runner: LocalRunner, settings: JobSettings) -> None:
    job_id = sample_store.jobs.create(project_id, {"format": "kitti"})
    runner.submit(job_id)
    job = wait_for(sample_store, job_id, finished)
    storage = ArtifactStorage(settings.artifacts)
    assert job.artifact_uri and storage.exists(job.artifact_uri)
    assert cleanup_expired(sample_store, storage, now()) == 0
    assert cleanup_expired(sample_store, storage,
                           now() + timedelta(hours=settings.expire_hours + 1)) == 1
    assert not storage.exists(job.artifact_uri)
    after = sample_store.jobs.get(job_id)
    assert after.status is JobStatus.COMPLETED and not after.downloadable


@sqlite_only
@pytest.mark.parametrize("format", ["voc", "yolo"])
def test_sharded_export_equals_the_whole_one(sample_store: Store, project_id: int,
                                             settings: JobSettings, format: str) -> None:
    """Shards of 3 items written by the pool's threads and merged give the files, counts and
    content hash of the export done in one piece."""
    from dataclasses import replace

    whole = LocalRunner(sample_store, settings)
    sharded = LocalRunner(sample_store, replace(settings, shard_items=3))
    for runner in (whole, sharded):
        runner.start()
    try:
        ids = [sample_store.jobs.create(project_id, {"format": format, "name": "x"})
               for _ in range(2)]
        whole.submit(ids[0])
        sharded.submit(ids[1])
        jobs = [wait_for(sample_store, job_id, finished) for job_id in ids]
    finally:
        for runner in (whole, sharded):
            runner.stop()
    assert [j.status for j in jobs] == [JobStatus.COMPLETED] * 2, [j.error for j in jobs]
    assert jobs[0].shards == 0 and jobs[1].shards == 3
    assert jobs[1].done == jobs[1].total == 8
    storage = ArtifactStorage(settings.artifacts)
    one, merged = (manifest_of(storage.local_path(j.artifact_uri or "") or Path())
                   for j in jobs)
    assert merged["files"] == one["files"]
    assert merged["content_hash"] == one["content_hash"]
    assert merged["counts"] == one["counts"] and merged["shards"] == 3
    assert all(not s.downloadable for s in sample_store.jobs.shards(ids[1]))
