"""Fixtures for export jobs: a store holding the sample project, and job settings writing
artifacts under the test's folder with short heartbeats."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from labelport.domain.schema import LabelSchema
from labelport.export.manifest import MANIFEST_NAME
from labelport.jobs.artifacts import ArtifactStorage
from labelport.jobs.config import JobSettings
from labelport.sample import build_sample
from labelport.store import Store, open_store
from labelport.store.jobs import JobInfo, JobStatus

PROJECT = "sample"


@pytest.fixture
def sample_store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    """A store with the sample project (9 images); its id is ``store.project_id``."""
    store = open_store(db_url)
    source = build_sample(tmp_path / "media")
    store.create_project(PROJECT, LabelSchema(), description=source.project.description)
    store.import_source(PROJECT, source)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def project_id(sample_store: Store) -> int:
    return next(p.id for p in sample_store.list_projects() if p.name == PROJECT)


@pytest.fixture
def settings(tmp_path: Path) -> JobSettings:
    return JobSettings(artifacts=str(tmp_path / "artifacts"), workers=2,
                       heartbeat_seconds=0.2, stale_seconds=1.0, tick_seconds=0.3,
                       max_attempts=2)


def wait_for(store: Store, job_id: int, done: Callable[[JobInfo], bool],
             timeout: float = 30.0) -> JobInfo:
    """Poll the job until ``done`` says so; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        job = store.jobs.get(job_id)
        if done(job):
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} still {job.status} after {timeout}s: {job}")
        time.sleep(0.05)


def finished(job: JobInfo) -> bool:
    return job.status.finished


def artifact_files(settings: JobSettings, job: JobInfo) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every file of a completed job's zip but the manifest, and the manifest."""
    assert job.status is JobStatus.COMPLETED, job.error
    path = ArtifactStorage(settings.artifacts).local_path(job.artifact_uri or "")
    assert path is not None
    with zipfile.ZipFile(path) as zf:
        found = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    return found, orjson.loads(found.pop(MANIFEST_NAME))
