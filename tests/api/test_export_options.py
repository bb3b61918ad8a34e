"""Export options a job takes from the service's JSON: ``verify`` (the artifact read back
before it is published) and ``export_type`` (images and annotations by dataset)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from .conftest import Api
from .test_exports import exports, job_settings, manifest, wait

__all__ = ["job_settings"]  # the job settings fixture of the export tests, used here too


@pytest.fixture(autouse=True)
def media_roots(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The sample's images are under the test's folder: the operator allows it."""
    monkeypatch.setenv("LABELPORT_MEDIA_ROOTS", str(tmp_path))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_job_verifies_and_writes_both(api: Api) -> None:
    created = api.ok("alice", "POST", exports(api), 202, json={
        "format": "coco", "verify": True, "export_type": "both"})
    done = wait(api, created["id"])
    assert done["status"] == "completed", done["error"]
    content = api.call("alice", "GET", f"{exports(api)}/{created['id']}/download").content
    shown = manifest(content)
    assert shown["verification"]["verified"] is True
    assert shown["verification"]["items"] == shown["counts"]["items"] > 0
    assert shown["options"]["export_type"] == "both"
    with zipfile.ZipFile(io.BytesIO(content)) as zipped:
        names = zipped.namelist()
    assert any(n.startswith("datasets/") for n in names)
    assert any(n.startswith("annotations/") and n.endswith(".json") for n in names)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("body", "message"), [
    ({"format": "coco", "verify": "yes"}, "verify"),
    ({"format": "coco", "export_type": "datasets", "verify": True}, "has none"),
])
def test_bad_options_are_refused(api: Api, body: dict[str, object], message: str) -> None:
    response = api.call("alice", "POST", exports(api), json=body)
    assert response.status_code in (400, 422), response.text
    assert message in response.text
