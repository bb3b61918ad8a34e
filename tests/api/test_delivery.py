"""Delivery through the API: ``deliver_to`` and ``webhook`` outside what the operator allows
are a 422 naming the option (exports and schedules, no job made); an allowed export is
delivered and its GET shows what delivery did."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from labelport import Client
from labelport.client import ApiError
from tests.webhook_listener import Listener, webhook_listener

from .conftest import Api


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite only: the store is not what these tests are about (tests/jobs runs both)."""
    return sqlite_url


@pytest.fixture(autouse=True)
def listener(request: pytest.FixtureRequest, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Listener]:
    """The operator allows ``tmp_path/drop`` and the listener's ``/hooks/`` (nothing when
    the test parametrizes ``listener`` with False)."""
    with webhook_listener() as started:
        monkeypatch.setenv("LABELPORT_ARTIFACTS", str(tmp_path / "artifacts"))
        monkeypatch.setenv("LABELPORT_RUNNER", "local")
        monkeypatch.delenv("LABELPORT_DELIVERY_ROOTS", raising=False)
        monkeypatch.delenv("LABELPORT_WEBHOOK_URLS", raising=False)
        if getattr(request, "param", True):
            monkeypatch.setenv("LABELPORT_DELIVERY_ROOTS", str(tmp_path / "drop"))
            monkeypatch.setenv("LABELPORT_WEBHOOK_URLS", f"{started.url}/hooks/")
        yield started


@pytest.mark.parametrize(("option", "value", "allowed"), [
    ("deliver_to", "{tmp}/elsewhere", "{tmp}/drop"),
    ("deliver_to", "{tmp}/drop/../elsewhere", "{tmp}/drop"),
    ("deliver_to", "s3://bucket/x/", "{tmp}/drop"),
    ("webhook", "{url}/other", "{url}/hooks/"),
    ("webhook", "{url}/hooks/../admin", "{url}/hooks/"),
])
def test_outside_the_allowed_is_a_422_naming_the_option(
        api: Api, listener: Listener, tmp_path: Path, option: str, value: str,
        allowed: str) -> None:
    def fill(text: str) -> str:
        return text.format(tmp=tmp_path, url=listener.url)

    exports = f"/api/projects/{api.project}/exports"
    response = api.call("alice", "POST", exports, json={"format": "coco", option: fill(value)})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "not_allowed"
    assert f"`{option}`" in error["message"] and fill(allowed) in error["message"]
    schedule = api.call("alice", "POST", f"/api/projects/{api.project}/export-schedules",
                        json={"name": "s", "interval_seconds": 60,
                              "export": {"format": "coco", option: fill(value)}})
    assert schedule.status_code == 422, schedule.text
    assert api.ok("alice", "GET", exports)["count"] == 0
    assert api.ok("alice", "GET", f"/api/projects/{api.project}/export-schedules") == []


@pytest.mark.parametrize("listener", [False], indirect=True)
def test_nothing_allowed_when_the_operator_allows_nothing(api: Api, listener: Listener,
                                                          tmp_path: Path) -> None:
    exports = f"/api/projects/{api.project}/exports"
    for option, value, setting in (
            ("deliver_to", str(tmp_path / "drop"), "LABELPORT_DELIVERY_ROOTS"),
            ("webhook", f"{listener.url}/hooks/", "LABELPORT_WEBHOOK_URLS")):
        response = api.call("alice", "POST", exports, json={"format": "coco", option: value})
        assert response.status_code == 422
        assert setting in response.json()["error"]["message"]


def test_allowed_export_is_delivered_and_shown(api: Api, listener: Listener,
                                               tmp_path: Path) -> None:
    exports = f"/api/projects/{api.project}/exports"
    created = api.ok("alice", "POST", exports, 202, json={
        "format": "yolo", "name": "to drop", "deliver_to": str(tmp_path / "drop" / "yolo"),
        "webhook": f"{listener.url}/hooks/done"})
    done = api.wait_export("alice", api.project, created["id"])
    assert done["status"] == "completed"
    deadline = time.monotonic() + 30  # delivery runs once the job is completed
    while (done["delivery"] or {}).get("webhook", {}).get("status") in (None, "pending"):
        assert time.monotonic() < deadline, done
        time.sleep(0.05)
        done = api.ok("alice", "GET", f"{exports}/{created['id']}")
    delivery = done["delivery"]
    assert delivery["destination"]["status"] == "delivered"
    assert delivery["destination"]["artifact"] == str(tmp_path / "drop" / "yolo" / "to drop.zip")
    assert delivery["webhook"]["status"] == "delivered"
    assert delivery["webhook"]["status_code"] == 200
    download = api.call("alice", "GET", done["artifact"]["download_url"])
    assert (tmp_path / "drop" / "yolo" / "to drop.zip").read_bytes() == download.content
    assert len(listener.received) == 1


def test_python_client_asks_for_delivery_and_reads_it(api: Api, listener: Listener,
                                                      tmp_path: Path) -> None:
    client = Client("http://testserver", token=api.tokens["alice"])
    client.http = api.client  # the app in process; its requests carry the token below
    api.client.headers["Authorization"] = f"Token {api.tokens['alice']}"
    export = client.create_export(api.project, "yolo", name="sdk",
                                  deliver_to=str(tmp_path / "drop"),
                                  webhook=f"{listener.url}/hooks/sdk")
    export.wait(timeout=30)
    deadline = time.monotonic() + 30
    while (export.delivery or {}).get("webhook", {}).get("status") in (None, "pending"):
        assert time.monotonic() < deadline, export.data
        time.sleep(0.05)
        export.refresh()
    assert export.is_completed() and (tmp_path / "drop" / "sdk.zip").is_file()
    assert (export.delivery or {})["destination"]["status"] == "delivered"
    schedule = client.create_schedule(api.project, "nightly", "coco", interval_seconds=3600,
                                      deliver_to=str(tmp_path / "drop"))
    assert schedule["export"]["deliver_to"] == str(tmp_path / "drop")
    with pytest.raises(ApiError) as refused:
        client.create_schedule(api.project, "bad", "coco", cron="0 3 * * *",
                               webhook=f"{listener.url}/elsewhere")
    assert refused.value.status == 422 and refused.value.code == "not_allowed"


def test_cancel_through_the_api_calls_the_webhook(api: Api, listener: Listener) -> None:
    """A queued export no worker will take (stored, never dispatched) cancelled by ``DELETE``:
    the answer comes at once, the webhook gets ``cancelled`` once and the GET shows it."""
    job_id = api.store.jobs.create(api.project, {"format": "coco",
                                                 "webhook": f"{listener.url}/hooks/c"})
    export = f"/api/projects/{api.project}/exports/{job_id}"
    api.ok("alice", "DELETE", export, 204)
    deadline = time.monotonic() + 30
    # the record may hold only its run count for a moment, before the call is recorded
    while (((done := api.ok("alice", "GET", export))["delivery"] or {})
           .get("webhook", {}).get("status") in (None, "pending")):
        assert time.monotonic() < deadline, done
        time.sleep(0.05)
    assert done["status"] == "cancelled"
    assert done["delivery"]["webhook"]["status"] == "delivered"
    assert [call.path for call in listener.received] == ["/hooks/c"]
    assert orjson.loads(listener.received[0].body)["status"] == "cancelled"


def test_an_export_is_removed_only_once_its_webhook_is_called(api: Api,
                                                             listener: Listener) -> None:
    """A ``DELETE`` that cancels, then one that would remove the job while its webhook is
    still retried (the listener's first answer is a 503): a 409 saying so, nothing lost;
    once the call is delivered, the removal goes through."""
    listener.statuses.append(503)
    job_id = api.store.jobs.create(api.project, {"format": "coco",
                                                 "webhook": f"{listener.url}/hooks/r"})
    export = f"/api/projects/{api.project}/exports/{job_id}"
    api.ok("alice", "DELETE", export, 204)
    deadline = time.monotonic() + 30
    while not listener.received:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    refused = api.call("alice", "DELETE", export)
    assert refused.status_code == 409, refused.text
    assert "still being delivered" in refused.json()["error"]["message"]
    while (api.ok("alice", "GET", export)["delivery"] or {}).get(
            "webhook", {}).get("status") != "delivered":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    while api.call("alice", "DELETE", export).status_code == 409:  # the record, then done
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert api.call("alice", "GET", export).status_code == 404
    assert [orjson.loads(call.body)["status"] for call in listener.received] == [
        "cancelled", "cancelled"]  # the 503, then the retry that was delivered


def test_a_project_is_not_deleted_while_an_export_of_it_owes_a_webhook(
        api: Api, listener: Listener) -> None:
    """A cancelled export whose webhook nobody has called yet (its canceller died: the tick
    calls it) keeps its project: deleting it is a 409, as removing the export is; the
    project goes once the call is made."""
    job_id = api.store.jobs.create(api.project, {"format": "coco",
                                                 "webhook": f"{listener.url}/hooks/p"})
    assert api.store.jobs.cancel(job_id)  # the store's: no thread calls the webhook
    refused = api.call("alice", "DELETE", f"/api/projects/{api.project}")
    assert refused.status_code == 409, refused.text
    assert "still being delivered" in refused.json()["error"]["message"]
    assert api.store.jobs.get(job_id).status.value == "cancelled"
    deadline = time.monotonic() + 30
    while api.store.jobs.owes_delivery(job_id):  # the tick calls it
        assert time.monotonic() < deadline
        time.sleep(0.05)
    api.ok("alice", "DELETE", f"/api/projects/{api.project}", 204)
    assert [orjson.loads(call.body)["status"] for call in listener.received] == ["cancelled"]
