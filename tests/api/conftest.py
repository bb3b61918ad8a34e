"""The service on a fresh store (SQLite and PostgreSQL through ``db_url``): three users with
tokens (``alice`` owns a project filled with the sample, ``bob`` is in no project, ``root`` is
an admin) and a TestClient."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from labelport.api.app import create_app
from labelport.api.settings import Settings
from labelport.sample import build_sample
from labelport.store import Store


@dataclass
class Api:
    client: TestClient
    store: Store
    tokens: dict[str, str]
    project: int
    """alice's project, holding the sample."""
    media: Path

    def headers(self, user: str, scheme: str = "Token") -> dict[str, str]:
        return {"Authorization": f"{scheme} {self.tokens[user]}"}

    def call(self, user: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, headers=self.headers(user), **kwargs)

    def ok(self, user: str, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(user, method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def wait_export(self, user: str, project: int, export_id: int,
                    timeout: float = 30) -> dict[str, Any]:
        """Poll an export job until it is finished; fails the test after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            data: dict[str, Any] = self.ok(user, "GET",
                                           f"/api/projects/{project}/exports/{export_id}")
            if data["status"] in ("completed", "failed", "cancelled"):
                return data
            assert time.monotonic() < deadline, data
            time.sleep(0.05)

    def add_user(self, name: str, role: str | None = None) -> None:
        """Create ``name`` with a token, as a member of the project with ``role``."""
        self.store.users.create_user(name)
        self.tokens[name] = self.store.users.create_token(name)
        if role is not None:
            self.ok("alice", "POST", f"/api/projects/{self.project}/members", 201,
                    json={"user": name, "role": role})


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    app = create_app(Settings(db=db_url, media_dir=tmp_path / "media"))
    store: Store = app.state.store
    tokens = {}
    for name, admin in (("alice", False), ("bob", False), ("root", True)):
        store.users.create_user(name, admin=admin)
        tokens[name] = store.users.create_token(name)
    with TestClient(app) as client:
        api = Api(client=client, store=store, tokens=tokens, project=0, media=tmp_path)
        api.project = api.ok("alice", "POST", "/api/projects", 201,
                             json={"name": "sample"})["id"]
        store.import_source("sample", build_sample(tmp_path / "sample-media"))
        yield api
