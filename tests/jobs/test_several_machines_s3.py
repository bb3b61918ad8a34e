"""The README's several-machines commands, run as written against real services: PostgreSQL,
Redis, a ``labelport worker`` process, artifacts on an S3 API (moto's server, `tests.s3_server`)
and ``labelport artifacts cleanup``. The API (Celery runner) queues an export, the worker
writes its artifact to ``s3://``, the API serves it, and the cleanup removes it once expired."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from labelport.api.app import create_app
from labelport.api.settings import Settings
from labelport.store import Store
from labelport.store.jobs import JobStatus
from tests.required import unavailable
from tests.s3_server import make_bucket, s3_endpoint_fixture, s3_env_fixture  # noqa: F401

from .conftest import finished, wait_for
from .test_celery import redis_answers

pytestmark = pytest.mark.postgres
ARTIFACTS = "s3://lp-machines/exports"
LABELPORT = str(Path(sys.executable).with_name("labelport"))


@pytest.fixture
def db_url(postgres_url: str) -> str:
    """PostgreSQL: the database several machines share."""
    return postgres_url


@pytest.fixture
def environment(s3_env: str, db_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every machine's environment, as the README sets it (plus the test's own queue)."""
    if not redis_answers():
        unavailable("Redis not reachable at 127.0.0.1:6379")
    make_bucket("lp-machines")
    for name, value in (("LABELPORT_DB", db_url), ("LABELPORT_ARTIFACTS", ARTIFACTS),
                        ("LABELPORT_RUNNER", "celery"),
                        ("LABELPORT_QUEUE", f"labelport-test-{uuid.uuid4().hex[:10]}")):
        monkeypatch.setenv(name, value)
    return dict(os.environ)


@pytest.fixture
def worker(environment: dict[str, str], sample_store: Store, tmp_path: Path
           ) -> Iterator[subprocess.Popen[bytes]]:
    """``labelport worker --concurrency 2``, in its own process group."""
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen([LABELPORT, "worker", "--concurrency", "2", "--loglevel",
                                "warning"], env=environment, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_readme_commands_with_artifacts_on_s3(sample_store: Store, project_id: int,
                                              worker: subprocess.Popen[bytes],
                                              environment: dict[str, str], db_url: str,
                                              tmp_path: Path) -> None:
    sample_store.users.create_user("admin", admin=True)
    headers = {"Authorization": f"Token {sample_store.users.create_token('admin')}"}
    app = create_app(Settings(db=db_url, media_dir=tmp_path / "uploads"))
    exports = f"/api/projects/{project_id}/exports"
    with TestClient(app) as client:
        created = client.post(exports, headers=headers, json={"format": "coco", "name": "c"})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        job = wait_for(sample_store, job_id, finished, timeout=90)
        download = client.get(f"{exports}/{job_id}/download", headers=headers)
    log = (tmp_path / "worker.log").read_text(errors="replace")[-2000:]
    assert job.status is JobStatus.COMPLETED, (job.error, log)
    assert job.worker is not None and int(job.worker.split(":")[1]) != os.getpid()
    assert job.artifact_uri is not None and job.artifact_uri.startswith(f"{ARTIFACTS}/")
    s3 = fsspec.filesystem("s3")
    assert download.status_code == 200
    assert download.content == s3.cat_file(job.artifact_uri)
    assert hashlib.sha256(download.content).hexdigest() == download.headers["x-checksum-sha256"]

    with sample_store.engine.begin() as conn:
        conn.execute(text("UPDATE export_jobs SET expires_at = now() - interval '1 day' "
                          "WHERE id = :id"), {"id": job_id})
    cleanup = subprocess.run([LABELPORT, "artifacts", "cleanup"], env=environment,
                             capture_output=True, text=True, timeout=120)
    assert cleanup.returncode == 0, cleanup.stderr
    assert "removed 1 expired and 0 partial artifacts" in cleanup.stdout
    s3.invalidate_cache()
    assert not s3.exists(job.artifact_uri)
