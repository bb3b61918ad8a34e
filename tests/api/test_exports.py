"""Exports through the API on SQLite and PostgreSQL: jobs (202, poll, download, 409 before
completion, cancel and remove, history), refused requests, who may export, Label Studio's
synchronous export, schedules firing (with delta runs), and the Python client against a live
uvicorn server."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn

from labelport import Client
from labelport.client import ApiError

from .conftest import Api


@pytest.fixture(autouse=True)
def job_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Jobs of the app under test: artifacts under the test's folder, quick ticks."""
    monkeypatch.setenv("LABELPORT_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("LABELPORT_TICK_SECONDS", "0.2")
    monkeypatch.setenv("LABELPORT_HEARTBEAT_SECONDS", "0.2")
    monkeypatch.setenv("LABELPORT_SYNC_LIMIT", "20")
    monkeypatch.setenv("LABELPORT_RUNNER", "local")


def exports(api: Api) -> str:
    return f"/api/projects/{api.project}/exports"


def wait(api: Api, export_id: int, user: str = "alice", timeout: float = 30) -> dict[str, Any]:
    return api.wait_export(user, api.project, export_id, timeout)


def manifest(content: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        return orjson.loads(zf.read("labelport-export.json"))


def test_export_job_from_request_to_download(api: Api) -> None:
    created = api.ok("alice", "POST", exports(api), 202, json={
        "format": "yolo", "split": "train=0.5,val=0.5", "name": "my export",
        "selection": {"datasets": ["train-pool"]}, "password": "pw"})
    assert created["status"] in ("queued", "running", "completed")
    assert "password" not in created["request"]
    done = wait(api, created["id"])
    assert done["status"] == "completed", done["error"]
    assert done["progress"]["done"] == done["progress"]["total"] == done["counts"]["items"]
    assert done["expires_at"] and done["finished_at"]
    artifact = done["artifact"]
    assert artifact["name"] == "my export.zip"
    response = api.call("alice", "GET", f"{exports(api)}/{created['id']}/download")
    assert response.status_code == 200
    assert response.headers["x-checksum-sha256"] == artifact["sha256"]
    assert len(response.content) == artifact["size"]
    import pyzipper

    with pyzipper.AESZipFile(io.BytesIO(response.content)) as zf:
        zf.setpassword(b"pw")
        shown = orjson.loads(zf.read("labelport-export.json"))
    assert shown["format"] == "yolo" and set(shown["splits"]["items"]) == {"train", "val"}
    assert shown["selection"]["datasets"] == ["train-pool"]


def test_download_is_a_conflict_until_completed(api: Api) -> None:
    job_id = api.store.jobs.create(api.project, {"format": "coco"})  # queued, not dispatched
    response = api.call("alice", "GET", f"{exports(api)}/{job_id}/download")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert "queued" in response.json()["error"]["message"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # checked before the store
@pytest.mark.parametrize(("body", "message"), [
    ({"format": "nope"}, "unknown format"),
    ({"format": "coco", "options": {"zzz": 1}}, "has no option 'zzz'"),
    ({"format": "coco", "package": "dir"}, "choose package zip"),
    ({"format": "coco", "package": "tar.gz", "password": "x"}, "needs --package zip"),
    ({"format": "coco", "selection": {"statuses": ["bogus"]}}, "bogus"),
    ({"format": "coco", "split": "train=2,val=x"}, "split"),
    ({"format": "coco", "min_box_px": 0}, "min_box_px"),
])
def test_impossible_requests_are_refused_before_a_job(api: Api, body: dict[str, Any],
                                                      message: str) -> None:
    response = api.call("alice", "POST", exports(api), json=body)
    assert response.status_code in (400, 404, 422), response.text
    assert message in response.json()["error"]["message"]
    assert api.ok("alice", "GET", exports(api))["count"] == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_min_box_px_reaches_the_degenerate_check(api: Api) -> None:
    created = api.ok("alice", "POST", exports(api), 202, json={
        "format": "coco", "min_box_px": 1000, "check": {"degenerate": "fix"}})
    done = wait(api, created["id"])
    assert done["status"] == "completed", done["error"]
    shown = manifest(api.call("alice", "GET", f"{exports(api)}/{created['id']}/download").content)
    assert shown["checks"]["min_box_px"] == 1000.0
    assert shown["report"]["counts"]["check degenerate: dropped"] > 0


def test_only_exporters_see_exports(api: Api) -> None:
    api.add_user("ann", role="annotator")
    api.add_user("meg", role="manager")
    assert api.call("bob", "POST", exports(api), json={"format": "coco"}).status_code == 404
    assert api.call("ann", "POST", exports(api), json={"format": "coco"}).status_code == 403
    assert api.call("ann", "GET", exports(api)).status_code == 403
    created = api.ok("meg", "POST", exports(api), 202, json={"format": "coco"})
    assert api.call("bob", "GET", f"{exports(api)}/{created['id']}").status_code == 404
    assert api.call("ann", "GET",
                    f"{exports(api)}/{created['id']}/download").status_code == 403
    assert api.client.get(exports(api)).status_code == 401
    assert wait(api, created["id"], user="meg")["status"] == "completed"


def test_delete_cancels_then_removes(api: Api) -> None:
    job_id = api.store.jobs.create(api.project, {"format": "coco"})
    api.ok("alice", "DELETE", f"{exports(api)}/{job_id}", 204)
    assert api.ok("alice", "GET", f"{exports(api)}/{job_id}")["status"] == "cancelled"
    done = wait(api, api.ok("alice", "POST", exports(api), 202, json={"format": "voc"})["id"])
    uri = api.store.jobs.get(done["id"]).artifact_uri
    assert uri and Path(uri).is_file()
    api.ok("alice", "DELETE", f"{exports(api)}/{done['id']}", 204)
    assert api.call("alice", "GET", f"{exports(api)}/{done['id']}").status_code == 404
    assert not Path(uri).exists()
    history = api.ok("alice", "GET", exports(api), params={"page_size": 1})
    assert history["count"] == 1 and [e["id"] for e in history["results"]] == [job_id]


def test_label_studio_synchronous_export(api: Api) -> None:
    path = f"/api/projects/{api.project}/export"
    response = api.call("alice", "GET", path,
                        params={"exportType": "COCO", "download_all_tasks": "true"})
    assert response.status_code == 200, response.text
    assert manifest(response.content)["counts"]["items"] == 8
    labeled = manifest(api.call("alice", "GET", path, params={"exportType": "YOLO"}).content)
    assert labeled["counts"]["items"] < 8 and labeled["counts"]["items_without_objects"] == 0
    app = api.client.app
    app.state.settings = replace(app.state.settings,
                                 jobs=replace(app.state.settings.jobs, sync_export_limit=3))
    refused = api.call("alice", "GET", path, params={"exportType": "COCO"})
    assert refused.status_code == 409
    assert "/exports" in refused.json()["error"]["message"]


def test_schedules_fire_delta_exports(api: Api) -> None:
    path = f"/api/projects/{api.project}/export-schedules"
    created = api.ok("alice", "POST", path, 201, json={
        "name": "nightly", "interval_seconds": 1, "delta": True,
        "export": {"format": "coco"}})
    assert created["runs"] == 0 and created["delta"]
    deadline = time.monotonic() + 20
    while True:
        jobs = [e for e in api.ok("alice", "GET", exports(api))["results"]
                if e["status"] == "completed"]
        if len(jobs) >= 2:
            break
        assert time.monotonic() < deadline, jobs
        time.sleep(0.1)
    first, second = sorted(jobs, key=lambda e: e["id"])[:2]
    assert first["schedule_id"] == created["id"]
    assert first["request"]["freeze_release"] == "nightly-0001"
    assert first["counts"]["items"] == 8
    assert second["request"]["since_release"] == "nightly-0001"
    assert second["counts"]["items"] == 0  # nothing changed between the runs
    listed = api.ok("alice", "GET", path)
    assert listed[0]["runs"] >= 2 and listed[0]["last_release"].startswith("nightly-")
    api.ok("alice", "DELETE", f"{path}/{created['id']}", 204)
    assert api.ok("alice", "GET", path) == []
    bad = api.call("alice", "POST", path, json={"name": "x", "cron": "61 * * * *",
                                                "export": {"format": "coco"}})
    assert bad.status_code == 400 and "minute" in bad.json()["error"]["message"]


def test_fifty_jobs_at_once_all_complete(api: Api) -> None:
    formats = ["coco", "yolo", "voc", "kitti", "labelport"]
    ids = [api.ok("alice", "POST", exports(api), 202,
                  json={"format": formats[i % len(formats)], "name": f"job {i}"})["id"]
           for i in range(50)]
    results = [wait(api, job_id, timeout=120) for job_id in ids]
    assert [r["status"] for r in results] == ["completed"] * 50
    for i, result in enumerate(results):
        content = api.call("alice", "GET", f"{exports(api)}/{result['id']}/download").content
        shown = manifest(content)
        assert shown["format"] == formats[i % len(formats)]
        assert shown["name"] == f"job {i}"
        assert shown["content_hash"] == result["counts"]["content_hash"]


@pytest.fixture
def server(api: Api) -> Iterator[str]:
    """The app of ``api`` served by uvicorn on a free port of 127.0.0.1, in a thread."""
    config = uvicorn.Config(api.client.app, host="127.0.0.1", port=0, log_level="warning",
                            lifespan="off")
    live = uvicorn.Server(config)
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not live.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = live.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        live.should_exit = True
        thread.join(10)


def test_client_against_a_live_server(api: Api, server: str, tmp_path: Path) -> None:
    with Client(server, token=api.tokens["alice"]) as client:
        assert [p["name"] for p in client.projects()] == ["sample"]
        assert len(client.items(api.project)) == 9
        export = client.create_export(api.project, format="coco",
                                      selection={"only_annotated": True})
        assert export.is_in_progress() or export.is_completed()
        export.wait(progress=True, timeout=30)
        assert export.is_completed() and not export.is_failed()
        saved = export.download(tmp_path)
        assert saved.name == export.data["artifact"]["name"]
        assert manifest(saved.read_bytes())["counts"]["items_without_objects"] == 0
        failed = client.create_export(api.project, format="coco",
                                      release="no-such-release").wait(timeout=30)
        assert failed.is_failed() and "no-such-release" in (failed.error or "")
        with pytest.raises(ApiError) as refused:
            failed.download(tmp_path)
        assert refused.value.status == 409
        assert [e.id for e in client.exports(api.project)] == [failed.id, export.id]
    with Client(server, token="wrong") as stranger, pytest.raises(ApiError) as denied:
        stranger.projects()
    assert denied.value.status == 401
