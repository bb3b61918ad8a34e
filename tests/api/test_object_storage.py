"""Object storage against a real S3 API (moto's server, `tests.s3_server`) through s3fs: an
export job's artifact uploaded to ``s3://``, downloaded through the API byte for byte, removed
by the expiry cleanup; media copied from ``s3://`` only under the operator's media roots."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import fsspec
import pytest

from labelport.domain.model import Item
from labelport.export.media import MediaMode, media_placer
from labelport.export.media_access import MediaAccess, MediaDeniedError
from labelport.formats.base import Report
from labelport.jobs.artifacts import ArtifactStorage, cleanup_expired
from labelport.store.jobs import now
from tests.s3_server import make_bucket, s3_endpoint_fixture, s3_env_fixture  # noqa: F401

from .conftest import Api

ARTIFACTS = "s3://lp-artifacts/exports"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite only: the store is not what these tests are about."""
    return sqlite_url


@pytest.fixture(autouse=True)
def job_settings(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs of the app under test write their artifacts to the S3 server."""
    make_bucket("lp-artifacts")
    monkeypatch.setenv("LABELPORT_ARTIFACTS", ARTIFACTS)
    monkeypatch.setenv("LABELPORT_TICK_SECONDS", "0.2")
    monkeypatch.setenv("LABELPORT_HEARTBEAT_SECONDS", "0.2")
    monkeypatch.setenv("LABELPORT_RUNNER", "local")


def test_artifact_on_s3_is_downloaded_through_the_api_then_expires(api: Api) -> None:
    exports = f"/api/projects/{api.project}/exports"
    created = api.ok("alice", "POST", exports, 202, json={"format": "yolo", "name": "on s3"})
    done = api.wait_export("alice", api.project, created["id"])
    assert done["status"] == "completed", done["error"]
    uri = api.store.jobs.get(created["id"]).artifact_uri
    assert uri is not None and uri.startswith(f"{ARTIFACTS}/") and uri.endswith("/on s3.zip")
    s3 = fsspec.filesystem("s3")
    stored = s3.cat_file(uri)
    assert [p for p in s3.find("lp-artifacts") if ".partial-" in p] == []

    response = api.call("alice", "GET", f"{exports}/{created['id']}/download")
    assert response.status_code == 200
    assert response.content == stored
    assert hashlib.sha256(stored).hexdigest() == done["artifact"]["sha256"] \
        == response.headers["x-checksum-sha256"]

    storage = ArtifactStorage(ARTIFACTS)
    assert cleanup_expired(api.store, storage, at=now() + timedelta(days=3650)) == 1
    s3.invalidate_cache()
    assert not s3.exists(uri)
    assert api.call("alice", "GET", f"{exports}/{created['id']}/download").status_code in (
        404, 409, 410)


def _item(path: str, uri: str) -> Item:
    return Item(dataset="d", path=path, width=2, height=2, media_uri=uri)


def test_media_is_copied_from_s3_only_under_the_operators_roots(s3_env: str,
                                                                tmp_path: Path) -> None:
    make_bucket("lp-media")
    s3 = fsspec.filesystem("s3")
    s3.pipe_file("lp-media/allowed/a.png", b"first image")
    s3.pipe_file("lp-media/private/b.png", b"second image")
    report = Report()
    place = media_placer(MediaMode.COPY, report, MediaAccess.service(["s3://lp-media/allowed/"]))

    place(_item("a.png", "s3://lp-media/allowed/a.png"), tmp_path / "a.png")
    place(_item("gone.png", "s3://lp-media/allowed/gone.png"), tmp_path / "gone.png")
    with pytest.raises(MediaDeniedError, match="s3://lp-media/private/b.png.*LABELPORT_MEDIA_ROOTS"):
        place(_item("b.png", "s3://lp-media/private/b.png"), tmp_path / "b.png")

    assert (tmp_path / "a.png").read_bytes() == b"first image"
    assert not (tmp_path / "gone.png").exists() and not (tmp_path / "b.png").exists()
    assert report.counts == {"media missing": 1}
