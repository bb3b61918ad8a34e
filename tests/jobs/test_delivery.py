"""Delivery of export jobs (`labelport.jobs.delivery`) against real parts: moto's S3 server as
the destination, a local HTTP listener as the webhook. Jobs run in the test's thread
(`execute`), shards included; backoff is kept tiny by the settings."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import zipfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from labelport.errors import InputError, NotAllowedError
from labelport.export.manifest import MANIFEST_NAME
from labelport.jobs import delivery
from labelport.jobs.artifacts import ArtifactStorage
from labelport.jobs.config import JobSettings
from labelport.jobs.delivery import SIGNATURE_HEADER, destination, webhook_access
from labelport.jobs.execute import execute
from labelport.jobs.local import LocalRunner
from labelport.jobs.schedules import create_schedule, fire_due
from labelport.store import Store
from labelport.store.jobs import JobInfo, JobStatus
from tests.s3_server import make_bucket, s3_endpoint_fixture, s3_env_fixture  # noqa: F401
from tests.webhook_listener import Listener, trickling_listener, webhook_listener

from .conftest import wait_for

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
SECRET = "hook-secret"


def delivering(settings: JobSettings, *, roots: str = "", hooks: str = "") -> JobSettings:
    return replace(settings, delivery_roots=roots, webhook_urls=hooks, webhook_secret=SECRET,
                   delivery_retries=3, delivery_backoff_seconds=0.02)


def run(store: Store, job_id: int, settings: JobSettings) -> JobInfo:
    """Run the job and every job it submits (shards, then the merge), here."""
    queue = [job_id]
    while queue:
        execute(store, queue.pop(0), settings, queue.append)
    return store.jobs.get(job_id)


def artifact_bytes(job: JobInfo, settings: JobSettings) -> bytes:
    path = ArtifactStorage(settings.artifacts).local_path(job.artifact_uri or "")
    assert path is not None
    return path.read_bytes()


def body_of(listener: Listener, index: int = 0) -> dict:
    """The JSON of a webhook call, its signature checked with the operator's secret."""
    call = listener.received[index]
    expected = hmac.new(SECRET.encode(), call.body, hashlib.sha256).hexdigest()
    assert call.headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert call.headers["Content-Type"] == "application/json"
    body: dict = orjson.loads(call.body)
    return body


@sqlite_only
def test_artifact_and_manifest_delivered_to_s3_then_webhook_called(
        s3_env: str, sample_store: Store, project_id: int, settings: JobSettings,
        tmp_path: Path) -> None:
    import fsspec

    make_bucket("lp-deliveries")
    with webhook_listener() as listener:
        settings = delivering(settings, roots="s3://lp-deliveries/training/",
                              hooks=f"{listener.url}/hooks/")
        job_id = sample_store.jobs.create(project_id, {
            "format": "coco", "name": "weekly", "deliver_to": "s3://lp-deliveries/training/coco",
            "webhook": f"{listener.url}/hooks/done"})
        job = run(sample_store, job_id, settings)
    assert job.status is JobStatus.COMPLETED, job.error
    s3 = fsspec.filesystem("s3")
    s3.invalidate_cache()
    artifact = artifact_bytes(job, settings)
    assert s3.cat_file("lp-deliveries/training/coco/weekly.zip") == artifact
    with zipfile.ZipFile(ArtifactStorage(settings.artifacts).local_path(job.artifact_uri or "")
                         or "") as zf:
        inside = zf.read(MANIFEST_NAME)
    assert s3.cat_file("lp-deliveries/training/coco/weekly.manifest.json") == inside
    assert sorted(p.rpartition("/")[2] for p in s3.find("lp-deliveries")) == [
        "weekly.manifest.json", "weekly.zip"]  # no temporary name left

    assert len(listener.received) == 1 and listener.received[0].path == "/hooks/done"
    body = body_of(listener)
    assert job.counts is not None
    assert body["export_id"] == job_id and body["status"] == "succeeded"
    assert body["project"] == "sample" and body["format"] == "coco" and body["error"] is None
    assert body["manifest_hash"] == job.counts["content_hash"]
    assert body["manifest_hash"] == orjson.loads(inside)["content_hash"]
    assert body["counts"]["items"] == 8 and body["artifact"] == "weekly.zip"
    assert body["locations"] == {"artifact": "s3://lp-deliveries/training/coco/weekly.zip",
                                 "manifest": "s3://lp-deliveries/training/coco/"
                                             "weekly.manifest.json"}
    assert body["delivery"] == {"status": "delivered", "error": None}

    recorded = job.delivery or {}
    assert recorded["destination"]["status"] == "delivered"
    assert recorded["destination"]["artifact"] == body["locations"]["artifact"]
    assert len(recorded["destination"]["attempts"]) == 1
    hook = recorded["webhook"]
    assert hook["status"] == "delivered" and hook["status_code"] == 200
    assert [a["status_code"] for a in hook["attempts"]] == [200]


@pytest.mark.parametrize(("answers", "codes", "status", "error"), [
    ((503, 503), [503, 503, 200], "delivered", "HTTP 503"),
    ((429, 404), [429, 404], "failed", "HTTP 404"),
    ((302,), [302], "failed", "redirects are not followed"),
    ((500, 500, 500, 500), [500, 500, 500, 500], "failed", "HTTP 500"),
])
def test_webhook_retries_5xx_and_429_with_backoff(
        sample_store: Store, project_id: int, settings: JobSettings, answers: tuple[int, ...],
        codes: list[int], status: str, error: str) -> None:
    with webhook_listener(*answers) as listener:
        settings = delivering(settings, hooks=f"{listener.url}/")
        job_id = sample_store.jobs.create(project_id, {"format": "yolo",
                                                       "webhook": f"{listener.url}/x"})
        job = run(sample_store, job_id, settings)
    assert job.status is JobStatus.COMPLETED, job.error  # a failed delivery unpublishes nothing
    assert job.downloadable
    hook = (job.delivery or {})["webhook"]
    assert [a["status_code"] for a in hook["attempts"]] == codes
    assert hook["status"] == status and error in hook["last_error"]
    times = [call.at for call in listener.received]
    assert len(times) == len(codes)
    waits = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    for number, waited in enumerate(waits):  # 0.02 s, then doubled
        assert waited >= 0.02 * 2 ** number * 0.9
    assert all(orjson.loads(call.body) == orjson.loads(listener.received[0].body)
               for call in listener.received)


@sqlite_only
def test_destination_and_webhook_outside_the_allowed_are_refused_when_the_job_runs(
        sample_store: Store, project_id: int, settings: JobSettings, tmp_path: Path) -> None:
    allowed, elsewhere = tmp_path / "drop", tmp_path / "elsewhere"
    with webhook_listener() as listener:
        settings = delivering(settings, roots=str(allowed), hooks=f"{listener.url}/allowed/")
        job_id = sample_store.jobs.create(project_id, {  # as if the settings changed since
            "format": "yolo", "deliver_to": str(allowed / ".." / "elsewhere"),
            "webhook": f"{listener.url}/other"})
        job = run(sample_store, job_id, settings)
        unconfigured = run(sample_store, sample_store.jobs.create(project_id, {
            "format": "yolo", "deliver_to": str(allowed), "webhook": f"{listener.url}/allowed/"}),
            replace(settings, delivery_roots="", webhook_urls=""))
    assert job.status is JobStatus.COMPLETED and job.downloadable
    assert listener.received == [] and not elsewhere.exists() and not allowed.exists()
    recorded = job.delivery or {}
    assert recorded["destination"]["status"] == "failed"
    assert "is not under a destination the operator allows" in recorded["destination"][
        "last_error"]
    assert len(recorded["destination"]["attempts"]) == 1  # a refusal is not retried
    assert recorded["webhook"]["status"] == "failed"
    assert "is not under a webhook URL the operator allows" in recorded["webhook"]["last_error"]
    nothing = unconfigured.delivery or {}
    assert "LABELPORT_DELIVERY_ROOTS" in nothing["destination"]["last_error"]
    assert "LABELPORT_WEBHOOK_URLS" in nothing["webhook"]["last_error"]


def test_failed_export_calls_the_webhook_with_its_error(
        sample_store: Store, project_id: int, settings: JobSettings) -> None:
    with webhook_listener() as listener:
        settings = delivering(settings, hooks=f"{listener.url}/")
        job_id = sample_store.jobs.create(project_id, {"format": "coco", "options": {"nope": 1},
                                                       "webhook": f"{listener.url}/failed"})
        job = run(sample_store, job_id, settings)
    assert job.status is JobStatus.FAILED
    body = body_of(listener)
    assert body["status"] == "failed" and body["export_id"] == job_id
    assert "has no option 'nope'" in body["error"]
    assert body["manifest_hash"] is None and body["locations"] is None
    assert (job.delivery or {})["webhook"]["status"] == "delivered"


@sqlite_only
def test_schedule_delivers_each_run(sample_store: Store, project_id: int,
                                    settings: JobSettings, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    with webhook_listener() as listener:
        settings = delivering(settings, roots=f"file://{drop}", hooks=f"{listener.url}/")
        schedule_id = create_schedule(
            sample_store, project_id, "nightly",
            {"format": "yolo", "deliver_to": str(drop / "yolo"), "webhook": listener.url},
            interval_seconds=3600)
        due = sample_store.schedules.get(schedule_id).next_run_at + timedelta(seconds=1)
        [job_id] = fire_due(sample_store, lambda _: None, due)
        job = run(sample_store, job_id, settings)
    assert job.status is JobStatus.COMPLETED, job.error
    name = job.artifact_name or ""
    assert (drop / "yolo" / name).read_bytes() == artifact_bytes(job, settings)
    assert (drop / "yolo" / name.replace(".zip", ".manifest.json")).is_file()
    body = body_of(listener)
    assert body["schedule_id"] == schedule_id and body["export_id"] == job_id
    assert body["locations"]["artifact"] == str(drop / "yolo" / name)


@sqlite_only
def test_sharded_export_is_delivered_once_by_its_merge(
        sample_store: Store, project_id: int, settings: JobSettings, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    with webhook_listener() as listener:
        settings = replace(delivering(settings, roots=str(drop), hooks=listener.url),
                           shard_items=3)
        job_id = sample_store.jobs.create(project_id, {
            "format": "yolo", "name": "sharded", "deliver_to": str(drop),
            "webhook": f"{listener.url}/x"})
        job = run(sample_store, job_id, settings)
    assert job.status is JobStatus.COMPLETED and job.shards == 3, job.error
    assert sorted(p.name for p in drop.iterdir()) == ["sharded.manifest.json", "sharded.zip"]
    assert (drop / "sharded.zip").read_bytes() == artifact_bytes(job, settings)
    assert len(listener.received) == 1
    assert all(part.delivery is None for part in sample_store.jobs.shards(job_id))


@sqlite_only
def test_password_protected_export_is_delivered_without_a_plain_manifest(
        sample_store: Store, project_id: int, settings: JobSettings, tmp_path: Path) -> None:
    settings = delivering(settings, roots=str(tmp_path))
    job_id = sample_store.jobs.create(project_id, {"format": "yolo", "name": "secret",
                                                   "password": "pw", "deliver_to": str(tmp_path)})
    job = run(sample_store, job_id, settings)
    assert (tmp_path / "secret.zip").read_bytes() == artifact_bytes(job, settings)
    assert not (tmp_path / "secret.manifest.json").exists()
    assert (job.delivery or {})["destination"]["status"] == "delivered"


ROOTS = "s3://lp-bucket/exports/, /srv/drop"
HOOKS = "https://hooks.example.com/ml/"


@pytest.mark.parametrize("text", [
    "s3://lp-bucket/exports/../secret", "s3://lp-bucket/exportsX/a", "s3://lp-bucket/export",
    "s3://lp-bucket/exports%2F..%2Fsecret", "s3://lp-bucket/expo%72ts/a",
    "s3://key@lp-bucket/exports/", "s3://lp-bucket/exports/a?versionId=1",
    "s3://lp-bucket/exports/a#b", "s3://other/exports/", "gs://lp-bucket/exports/",
    "s3://lp-bucket/exports/a::file:///etc", "/srv/drop/../etc", "/srv/dropped",
    "relative/drop", "file:///srv/drop/../etc", "s3://[lp-bucket/exports/", "", "/srv/drop\0x"])
def test_destinations_outside_the_roots_are_refused(text: str) -> None:
    settings = JobSettings(delivery_roots=ROOTS)
    with pytest.raises(NotAllowedError, match="`deliver_to`.*s3://lp-bucket/exports/, /srv/drop"):
        destination(text, settings)


def test_destinations_under_the_roots_are_allowed() -> None:
    settings = JobSettings(delivery_roots=ROOTS)
    assert destination("s3://lp-bucket/exports/", settings) == "s3://lp-bucket/exports"
    assert destination("s3://lp-bucket/exports/team/a/", settings) == (
        "s3://lp-bucket/exports/team/a")
    assert destination("/srv/drop/team", settings) == str(Path("/srv/drop/team").resolve())


@pytest.mark.parametrize("url", [
    "https://hooks.example.com.evil.org/ml/", "https://hooks.example.com:444/ml/",
    "http://hooks.example.com/ml/", "https://hooks.example.com/ml/../admin",
    "https://user@hooks.example.com/ml/", "https://hooks.example.com/ml%2F..%2Fadmin",
    "https://hooks.example.com/mlx", "https://hooks.example.com/ml/a#frag",
    "ftp://hooks.example.com/ml/", "https://[hooks.example.com/ml/", "",
    "https://hooks.example.com/ml/a?b c", "https://hooks.example.com/ml/\x7f",
    "https://hooks.example.com/ml/\u2025", "https://hooks.example.com/ml/?\u00e9"])
def test_webhooks_outside_the_prefixes_are_refused(url: str) -> None:
    with pytest.raises(NotAllowedError, match=f"`webhook`.*{HOOKS}"):
        webhook_access(url, JobSettings(webhook_urls=HOOKS))


def test_webhooks_under_the_prefixes_are_allowed() -> None:
    settings = JobSettings(webhook_urls=HOOKS)
    for url in ("https://hooks.example.com/ml/run?token=1", "https://HOOKS.example.com:443/ml/"):
        webhook_access(url, settings)


@sqlite_only
def test_attempts_are_recorded_while_retrying(sample_store: Store, project_id: int,
                                              settings: JobSettings) -> None:
    with webhook_listener(503) as listener:
        settings = replace(delivering(settings, hooks=listener.url),
                           delivery_backoff_seconds=1.0)
        job_id = sample_store.jobs.create(project_id, {"format": "yolo",
                                                       "webhook": f"{listener.url}/x"})
        worker = threading.Thread(target=run, args=(sample_store, job_id, settings))
        worker.start()
        deadline = time.monotonic() + 20
        while not (sample_store.jobs.get(job_id).delivery or {}).get("webhook", {}).get(
                "attempts"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        job = sample_store.jobs.get(job_id)
        worker.join(20)
    during = (job.delivery or {})["webhook"]
    assert during["status"] == "pending" and during["attempts"][0]["status_code"] == 503
    assert job.status is JobStatus.COMPLETED and job.downloadable  # before delivery ends
    after = (sample_store.jobs.get(job_id).delivery or {})["webhook"]
    assert after["status"] == "delivered" and len(after["attempts"]) == 2


@sqlite_only
@pytest.mark.parametrize(("scheme", "start"), [
    ("http", b"HTTP/1.1 200 OK\r\nX-Slow: "),
    ("https", b"\x16\x03\x03\x40\x00"),  # a TLS handshake record of 16 KiB, to come
])
def test_a_webhook_answering_slowly_is_cut_at_the_timeout(
        sample_store: Store, project_id: int, settings: JobSettings,
        monkeypatch: pytest.MonkeyPatch, scheme: str, start: bytes) -> None:
    """Every read of the answer (or of the TLS handshake) is quick, the answer never ends:
    the attempt ends at the timeout all the same, so a listener cannot hold a worker."""
    monkeypatch.setattr(delivery, "WEBHOOK_TIMEOUT_SECONDS", 0.5)
    with trickling_listener(every=0.1, start=start) as address:
        url = f"{scheme}://{address}"
        settings = replace(delivering(settings, hooks=url), delivery_retries=1)
        job_id = sample_store.jobs.create(project_id, {"format": "yolo", "webhook": f"{url}/x"})
        worker = threading.Thread(target=run, args=(sample_store, job_id, settings))
        worker.start()
        worker.join(15)
        assert not worker.is_alive(), "the webhook holds the worker"
    hook = (sample_store.jobs.get(job_id).delivery or {})["webhook"]
    assert hook["status"] == "failed" and len(hook["attempts"]) == 2
    assert "no whole answer within 0.5 s" in hook["last_error"]
    assert all(0.4 < attempt["seconds"] < 3 for attempt in hook["attempts"])


@sqlite_only
def test_destination_is_written_as_it_was_checked(
        sample_store: Store, project_id: int, settings: JobSettings) -> None:
    """Scheme and host are compared in lower case, so they are written in lower case: with
    fsspec's memory filesystem the host is a folder, and ``MEM`` is not ``mem``."""
    import fsspec

    memory = fsspec.filesystem("memory")
    settings = delivering(settings, roots="memory://mem/ok/")
    assert destination("MEMORY://MEM/ok/x/", settings) == "memory://mem/ok/x"
    job_id = sample_store.jobs.create(project_id, {"format": "yolo", "name": "case",
                                                   "deliver_to": "memory://MEM/ok/x"})
    try:
        job = run(sample_store, job_id, settings)
        assert (job.delivery or {})["destination"]["status"] == "delivered", job.delivery
        assert memory.cat_file("/mem/ok/x/case.zip") == artifact_bytes(job, settings)
        assert not memory.exists("/MEM")
    finally:
        for folder in ("/mem", "/MEM"):
            if memory.exists(folder):
                memory.rm(folder, recursive=True)


@sqlite_only
def test_names_with_glob_characters_are_delivered_to_s3_as_named(
        s3_env: str, sample_store: Store, project_id: int, settings: JobSettings) -> None:
    """fsspec's ``mv`` reads ``[``, ``*`` and ``?`` as a pattern: an upload moves its
    temporary object by its literal name."""
    import fsspec

    make_bucket("lp-globs")
    settings = replace(delivering(settings, roots="s3://lp-globs/"),
                       artifacts="s3://lp-globs/artifacts")
    s3 = fsspec.filesystem("s3")
    for name in ("run[1]", "a*b?"):
        job_id = sample_store.jobs.create(project_id, {"format": "yolo", "name": name,
                                                       "deliver_to": "s3://lp-globs/out"})
        job = run(sample_store, job_id, settings)
        assert job.status is JobStatus.COMPLETED, job.error
        assert (job.delivery or {})["destination"]["status"] == "delivered", job.delivery
        s3.invalidate_cache()
        artifact = ArtifactStorage(settings.artifacts)
        with artifact.open(job.artifact_uri or "") as stored:
            assert s3.cat_file(f"lp-globs/out/{name}.zip") == stored.read()
    assert sorted(p.removeprefix("lp-globs/out/") for p in s3.find("lp-globs/out")) == [
        "a*b?.manifest.json", "a*b?.zip", "run[1].manifest.json", "run[1].zip"]


def test_destination_in_the_services_own_storage_is_refused(tmp_path: Path) -> None:
    """A root above the artifacts or the uploads does not let an export overwrite another
    project's artifact or images."""
    settings = JobSettings(delivery_roots=str(tmp_path), artifacts=str(tmp_path / "artifacts"),
                           media_dir=str(tmp_path / "media"))
    for inside in ("artifacts", "artifacts/7/42-1", "media/project-3"):
        with pytest.raises(NotAllowedError, match="the service's own storage"):
            destination(str(tmp_path / inside), settings)
    assert destination(str(tmp_path / "drop"), settings) == str(tmp_path / "drop")
    for artifacts in ("abfs://box@account.dfs.core.windows.net/art", "simplecache::s3://b/art"):
        elsewhere = JobSettings(delivery_roots="s3://b/x/", artifacts=artifacts)
        assert destination("s3://b/x/y", elsewhere) == "s3://b/x/y"  # no prefix: nothing in it


def test_webhook_to_the_ipv6_address_a_prefix_names(
        sample_store: Store, project_id: int, settings: JobSettings) -> None:
    """``http://[::1]:port/`` is an address, not fsspec chaining (``::``); a name resolving
    to loopback is refused naming the webhooks' own setting."""
    with webhook_listener(host="::1") as listener:
        settings = delivering(settings, hooks=f"{listener.url}/hooks/")
        job_id = sample_store.jobs.create(project_id, {"format": "yolo",
                                                       "webhook": f"{listener.url}/hooks/v6"})
        hook = (run(sample_store, job_id, settings).delivery or {})["webhook"]
        assert hook["status"] == "delivered", hook
        assert [call.path for call in listener.received] == ["/hooks/v6"]
        by_name = listener.url.replace("[::1]", "localhost")
        settings = delivering(settings, hooks=f"{by_name}/hooks/")
        job_id = sample_store.jobs.create(project_id, {"format": "yolo",
                                                       "webhook": f"{by_name}/hooks/name"})
        hook = (run(sample_store, job_id, settings).delivery or {})["webhook"]
    assert hook["status"] == "failed" and len(listener.received) == 1
    assert "loopback" in hook["last_error"] and "LABELPORT_WEBHOOK_NETWORKS" in hook["last_error"]


@sqlite_only
def test_a_folder_in_the_way_of_the_archive_fails_the_delivery(
        sample_store: Store, project_id: int, settings: JobSettings, tmp_path: Path) -> None:
    """A rename onto a folder is refused, not moved inside it and reported delivered."""
    drop = tmp_path / "drop"
    (drop / "inway.zip").mkdir(parents=True)
    settings = replace(delivering(settings, roots=str(drop)), delivery_retries=0)
    job_id = sample_store.jobs.create(project_id, {"format": "yolo", "name": "inway",
                                                   "deliver_to": str(drop)})
    part = (run(sample_store, job_id, settings).delivery or {})["destination"]
    assert part["status"] == "failed" and "IsADirectoryError" in part["last_error"]
    assert list((drop / "inway.zip").iterdir()) == []


@sqlite_only
def test_an_export_failed_by_the_stale_job_recovery_calls_its_webhook(
        sample_store: Store, project_id: int, settings: JobSettings) -> None:
    with webhook_listener() as listener:
        settings = replace(delivering(settings, hooks=listener.url), max_attempts=1,
                           stale_seconds=0.0)
        job_id = sample_store.jobs.create(project_id, {"format": "yolo",
                                                       "webhook": f"{listener.url}/x"})
        assert sample_store.jobs.claim(job_id, "dead-host:1:1") is not None
        runner = LocalRunner(sample_store, settings)
        try:
            assert runner.recover().failed == [job_id]
            job = wait_for(sample_store, job_id, lambda j: (j.delivery or {}).get(
                "webhook", {}).get("status") == "delivered", timeout=10)
        finally:
            runner.stop()
    body = body_of(listener)
    assert body["status"] == "failed" and "stopped responding" in body["error"]
    assert job.status is JobStatus.FAILED and len(listener.received) == 1


@pytest.mark.parametrize(("variable", "value"), [
    ("LABELPORT_DELIVERY_RETRIES", "-1"), ("LABELPORT_DELIVERY_BACKOFF_SECONDS", "-2")])
def test_negative_retries_or_backoff_are_refused(monkeypatch: pytest.MonkeyPatch,
                                                 variable: str, value: str) -> None:
    """-1 retries never reached the last attempt (retried forever), a negative wait failed
    ``time.sleep`` outside the record."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(InputError, match=f"{variable}.*{value}"):
        JobSettings.from_env()


@sqlite_only
def test_a_listener_cannot_fill_the_record_with_its_answer(
        sample_store: Store, project_id: int, settings: JobSettings) -> None:
    """A 60 KB status line (http.client quotes it whole in its error) or reason phrase is
    cut in the job's record."""
    with trickling_listener(start=b"X" * 60_000 + b"\r\n") as address:
        settings = replace(delivering(settings, hooks=f"http://{address}/"), delivery_retries=1)
        job_id = sample_store.jobs.create(project_id, {"format": "yolo",
                                                       "webhook": f"http://{address}/x"})
        hook = (run(sample_store, job_id, settings).delivery or {})["webhook"]
    assert hook["status"] == "failed" and len(hook["attempts"]) == 2
    assert hook["last_error"].startswith("BadStatusLine: XXX")
    assert all(len(attempt["error"]) <= delivery.ERROR_LIMIT for attempt in hook["attempts"])
