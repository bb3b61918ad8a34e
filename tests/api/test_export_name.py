"""An export name with nothing left once made safe ("..", "/", "") is refused when the export is
asked for (400), not accepted and then failed by the job; a name with separators is made safe
and stays inside the artifacts folder."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

from .test_exports import job_settings

__all__ = ["job_settings"]


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def test_an_export_name_that_is_only_dots_or_separators_is_refused_at_once(api: Api) -> None:
    base = f"/api/projects/{api.project}/exports"
    before = len(api.ok("alice", "GET", base)["results"])
    for name in ("..", "/", " . ", "\u200b"):
        response = api.call("alice", "POST", base, json={"format": "coco", "name": name})
        assert response.status_code == 400, (name, response.text)
        assert "export name" in response.json()["error"]["message"]
    assert len(api.ok("alice", "GET", base)["results"]) == before
