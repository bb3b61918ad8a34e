"""The Celery runner against this machine's Redis with two real worker processes: jobs are
shared between them (both take some), a worker killed (SIGKILL) mid-export leaves its job
retried by the other (never running forever, nothing downloadable meanwhile), and a sharded
export is written by both and merged; the service with the Celery runner queues an export
that a worker runs and the API serves. A kill lands where the test chose: the worker holds after
a given record and says so (tests/jobs/slow_worker.py); work is submitted once the workers say
they are ready. Each test run uses its own queue name. Skipped when Redis does not answer (a
failure when CI is set). They run on PostgreSQL, what several machines share."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from labelport.api.app import create_app
from labelport.api.settings import Settings
from labelport.jobs.celery_app import CeleryRunner
from labelport.jobs.config import DEFAULT_REDIS, JobSettings
from labelport.jobs.local import LocalRunner
from labelport.store import Store
from labelport.store.jobs import JobStatus
from tests.required import unavailable

from .conftest import artifact_files, finished, wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(DEFAULT_REDIS, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module", autouse=True)
def needs_redis() -> None:
    if not redis_answers():
        unavailable("Redis not reachable at 127.0.0.1:6379")


class Workers:
    """``celery worker`` processes on one queue, each in its own process group."""

    def __init__(self, db_url: str, settings: JobSettings, tmp: Path) -> None:
        self.env = {**os.environ, "LABELPORT_DB": db_url, "LABELPORT_QUEUE": settings.queue,
                    "LABELPORT_ARTIFACTS": settings.artifacts,
                    "LABELPORT_HEARTBEAT_SECONDS": str(settings.heartbeat_seconds),
                    "LABELPORT_STALE_SECONDS": str(settings.stale_seconds),
                    "LABELPORT_TICK_SECONDS": str(settings.tick_seconds),
                    "LABELPORT_MAX_ATTEMPTS": str(settings.max_attempts),
                    "LABELPORT_SHARD_ITEMS": str(settings.shard_items),
                    "PYTHONPATH": str(ROOT)}
        self.tmp = tmp
        self.events = tmp / "events"
        self.events.mkdir(exist_ok=True)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[int, Path] = {}

    def start(self, name: str, *, delay: float = 0.0,
              hold_after: int = 0) -> subprocess.Popen[bytes]:
        """A worker slowed by ``delay`` s a record, holding after record ``hold_after``."""
        log_path = self.tmp / f"{name}.log"
        log = log_path.open("wb")
        env = {**self.env, "LABELPORT_TEST_RECORD_DELAY": str(delay),
               "LABELPORT_TEST_HOLD_AFTER": str(hold_after),
               "LABELPORT_TEST_EVENTS": str(self.events)}
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.jobs.slow_worker", "worker",
             "--pool", "threads", "--concurrency", "2", "-Q", self.env["LABELPORT_QUEUE"],
             "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        self.logs[process.pid] = log_path
        return process

    def reached(self, event: str, process: subprocess.Popen[bytes],
                timeout: float = 60) -> None:
        """Wait until ``process`` marks ``event`` (``ready``, ``held``)."""
        mark = self.events / f"{event}-{process.pid}"
        deadline = time.monotonic() + timeout
        while not mark.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                log = self.logs[process.pid].read_text(errors="replace")[-3000:]
                pytest.fail(f"worker {process.pid} never reached {event!r} (exit code "
                            f"{process.poll()}); its log:\n{log}")
            time.sleep(0.02)

    def kill(self, pid: int) -> None:
        os.killpg(pid, signal.SIGKILL)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def db_url(postgres_url: str) -> str:
    """PostgreSQL only: the database of a deployment with workers on several machines."""
    return postgres_url


@pytest.fixture
def celery_settings(settings: JobSettings) -> JobSettings:
    return replace(settings, runner="celery", queue=f"labelport-test-{uuid.uuid4().hex[:10]}",
                   stale_seconds=2.0, tick_seconds=0.5)


@pytest.fixture
def workers(db_url: str, celery_settings: JobSettings, tmp_path: Path,
            sample_store: Store) -> Iterator[Workers]:
    started = Workers(db_url, celery_settings, tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def runner(sample_store: Store, celery_settings: JobSettings) -> CeleryRunner:
    return CeleryRunner(sample_store, celery_settings)


def pid_of(worker: str | None) -> int:
    assert worker is not None
    return int(worker.split(":")[1])


def test_two_workers_share_the_jobs(sample_store: Store, project_id: int, workers: Workers,
                                    runner: CeleryRunner) -> None:
    for process in [workers.start(name, delay=0.05) for name in ("a", "b")]:
        workers.reached("ready", process)
    ids = [sample_store.jobs.create(project_id, {"format": f, "name": f"{f}-{i}"})
           for i in range(4) for f in ("coco", "yolo")]
    for job_id in ids:
        runner.submit(job_id)
    jobs = [wait_for(sample_store, job_id, finished, timeout=60) for job_id in ids]
    assert {j.status for j in jobs} == {JobStatus.COMPLETED}, [j.error for j in jobs]
    assert all(j.downloadable and j.counts and j.counts["items"] == 8 for j in jobs)
    pids = {w.pid for w in workers.processes.values()}
    assert {pid_of(j.worker) for j in jobs} == pids  # both took some


def test_worker_killed_mid_export_is_retried_by_the_other(
        sample_store: Store, project_id: int, workers: Workers, runner: CeleryRunner) -> None:
    """SIGKILL the worker running a job after its third record: the job is not downloadable,
    its heartbeat goes stale, the surviving worker's ticker queues it again and runs it
    (attempt 2)."""
    first = workers.start("doomed", hold_after=3)
    job_id = sample_store.jobs.create(project_id, {"format": "voc"})
    runner.submit(job_id)
    workers.reached("held", first)
    running = sample_store.jobs.get(job_id)
    assert running.status is JobStatus.RUNNING and pid_of(running.worker) == first.pid
    workers.kill(first.pid)
    first.wait(10)
    workers.start("survivor", delay=0.0)
    assert not sample_store.jobs.get(job_id).downloadable
    job = wait_for(sample_store, job_id, finished, timeout=40)
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.attempt == 2 and pid_of(job.worker) != first.pid
    assert job.downloadable and job.counts and job.counts["items"] == 8


def test_worker_killed_on_the_last_attempt_fails_the_job(
        sample_store: Store, project_id: int, celery_settings: JobSettings, db_url: str,
        tmp_path: Path) -> None:
    """With one attempt allowed, a killed worker's job ends failed, with nothing to download."""
    settings = replace(celery_settings, max_attempts=1)
    workers = Workers(db_url, settings, tmp_path)
    try:
        first = workers.start("doomed", hold_after=3)
        job_id = sample_store.jobs.create(project_id, {"format": "kitti"})
        CeleryRunner(sample_store, settings).submit(job_id)
        workers.reached("held", first)
        workers.kill(first.pid)
        workers.start("survivor")
        job = wait_for(sample_store, job_id, finished, timeout=40)
    finally:
        workers.stop()
    assert job.status is JobStatus.FAILED and "stopped responding" in (job.error or "")
    assert not job.downloadable


def test_sharded_export_across_two_workers(sample_store: Store, project_id: int,
                                           celery_settings: JobSettings, db_url: str,
                                           tmp_path: Path) -> None:
    """YOLO, and COCO with a stratified split, written in shards by both workers and merged:
    the COCO artifact holds the bytes of the same export written whole by the local runner."""
    settings = replace(celery_settings, shard_items=2)
    coco = {"format": "coco", "name": "c",
            "split": {"fractions": {"train": 0.6, "val": 0.4}, "strategy": "stratified"}}
    workers = Workers(db_url, settings, tmp_path)
    try:
        for process in [workers.start(name, delay=0.1) for name in ("a", "b")]:
            workers.reached("ready", process)
        job_ids = [sample_store.jobs.create(project_id, request)
                   for request in ({"format": "yolo"}, coco)]
        for job_id in job_ids:
            CeleryRunner(sample_store, settings).submit(job_id)
        job, sharded_coco = (wait_for(sample_store, j, finished, timeout=60) for j in job_ids)
    finally:
        workers.stop()
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.shards == 5 and job.counts and job.counts["items"] == 8
    shards = sample_store.jobs.shards(job.id)
    assert {s.status for s in shards} == {JobStatus.COMPLETED}
    pids = {w.pid for w in workers.processes.values()}
    assert {pid_of(s.worker) for s in shards} == pids  # both wrote shards
    assert sharded_coco.shards == 5
    assert {pid_of(s.worker) for s in sample_store.jobs.shards(sharded_coco.id)} == pids
    whole = LocalRunner(sample_store, replace(settings, runner="local", shard_items=0))
    whole.start()
    try:
        whole_id = sample_store.jobs.create(project_id, coco)
        whole.submit(whole_id)
        one = wait_for(sample_store, whole_id, finished, timeout=60)
    finally:
        whole.stop()
    assert artifact_files(settings, sharded_coco)[0] == artifact_files(settings, one)[0]


def test_the_api_runs_exports_on_celery_workers(
        sample_store: Store, project_id: int, workers: Workers, celery_settings: JobSettings,
        db_url: str, tmp_path: Path) -> None:
    """The service with the Celery runner, end to end: the request is queued on Redis, a
    worker process runs it, the API shows its progress and serves its artifact."""
    worker = workers.start("worker")
    workers.reached("ready", worker)
    sample_store.users.create_user("admin", admin=True)
    headers = {"Authorization": f"Token {sample_store.users.create_token('admin')}"}
    app = create_app(Settings(db=db_url, media_dir=tmp_path / "uploads", jobs=celery_settings))
    exports = f"/api/projects/{project_id}/exports"
    with TestClient(app) as client:
        assert isinstance(app.state.runner, CeleryRunner)
        created = client.post(exports, headers=headers, json={"format": "coco", "name": "c"})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        job = wait_for(sample_store, job_id, finished, timeout=60)
        shown = client.get(f"{exports}/{job_id}", headers=headers).json()
        download = client.get(f"{exports}/{job_id}/download", headers=headers)
    assert job.status is JobStatus.COMPLETED, job.error
    assert pid_of(job.worker) == worker.pid  # not the API's process
    assert shown["status"] == "completed" and shown["counts"]["items"] == 8
    assert download.status_code == 200
    assert download.headers["x-checksum-sha256"] == shown["artifact"]["sha256"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as zf:
        assert orjson.loads(zf.read("labelport-export.json"))["format"] == "coco"


def test_workers_read_media_only_under_the_roots(sample_store: Store, project_id: int,
                                                 workers: Workers, runner: CeleryRunner,
                                                 tmp_path: Path) -> None:
    """A Celery worker applies the media access policy as the server does: the sample's
    images (under ``tmp_path/media``) are refused when the operator did not list them."""
    workers.env["LABELPORT_MEDIA_ROOTS"] = str(tmp_path / "elsewhere")
    workers.reached("ready", workers.start("strict"))
    denied = sample_store.jobs.create(project_id, {"format": "coco", "media": "copy"})
    runner.submit(denied)
    job = wait_for(sample_store, denied, finished, timeout=60)
    assert job.status is JobStatus.FAILED and "is not under a media root" in (job.error or "")
    assert not job.downloadable  # (the same export under the roots: tests/api/test_media_access)
