"""The export dialog's delivery fields: a destination outside the operator's roots is shown
next to its field; an allowed one is delivered and the export page shows what delivery did."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webhook_listener import Listener, webhook_listener

from .conftest import Web


@pytest.fixture(autouse=True)
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Listener]:
    """The operator allows ``tmp_path/drop`` and the listener's ``/hooks/``."""
    with webhook_listener() as started:
        monkeypatch.setenv("LABELPORT_DELIVERY_ROOTS", str(tmp_path / "drop"))
        monkeypatch.setenv("LABELPORT_WEBHOOK_URLS", f"{started.url}/hooks/")
        yield started


def test_delivery_fields_refused_then_delivered_and_shown(web: Web, listener: Listener,
                                                          tmp_path: Path) -> None:
    alice = web.sign_in("alice")
    exports = f"/projects/{web.project}/exports"
    dialog = alice.get(f"{exports}/new").text
    assert 'name="deliver_to"' in dialog and 'name="webhook"' in dialog
    refused = alice.post(exports, {"format": "coco", "package": "zip",
                                   "deliver_to": str(tmp_path / "elsewhere")}, status=400).text
    assert 'class="field-error"' in refused and "is not under a destination" in refused
    assert f'name="deliver_to" value="{tmp_path / "elsewhere"}"' in refused  # kept to correct
    alice.post(exports, {"format": "coco", "package": "zip", "name": "web",
                         "deliver_to": str(tmp_path / "drop"),
                         "webhook": f"{listener.url}/hooks/web"})
    [job] = web.store.jobs.history(web.project, limit=1)
    deadline = time.monotonic() + 30
    while not (job.status.finished and job.delivery and "webhook" in job.delivery
               and job.delivery["webhook"]["status"] != "pending"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = web.store.jobs.get(job.id)
    assert job.status.value == "completed", job.error
    assert (tmp_path / "drop" / "web.zip").is_file()
    page = alice.get(f"{exports}/{job.id}").text
    assert 'id="delivery"' in page and "HTTP 200" in page
    assert str(tmp_path / "drop" / "web.zip") in page and "web.manifest.json" in page
    assert page.count(">delivered<") == 2


def test_schedule_form_carries_delivery(web: Web, listener: Listener, tmp_path: Path) -> None:
    alice = web.sign_in("alice")
    base = f"/projects/{web.project}/schedules"
    assert 'name="deliver_to"' in alice.get(base).text
    refused = alice.post(base, {"name": "bad", "format": "yolo", "every_minutes": "60",
                                "webhook": f"{listener.url}/elsewhere"}, status=400).text
    assert "is not under a webhook URL the operator allows" in refused
    alice.post(base, {"name": "nightly", "format": "yolo", "every_minutes": "60",
                      "deliver_to": str(tmp_path / "drop")})
    [schedule] = web.store.schedules.of_project(web.project)
    assert schedule.request["deliver_to"] == str(tmp_path / "drop")
