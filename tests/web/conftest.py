"""The web app on a fresh SQLite store: ``alice`` owns the project ``sample`` (the sample
project), ``vera`` is a viewer in it, ``bob`` is in no project; each has a password and a
browser-like client (`Person`) that keeps its cookies."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from labelport.api.app import create_app
from labelport.api.settings import Settings
from labelport.domain.schema import LabelSchema
from labelport.jobs.config import JobSettings
from labelport.sample import build_sample
from labelport.store import Store, open_store
from labelport.store.users import Role

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrftoken" value="([^"]+)"')


@dataclass
class Person:
    """A signed-in browser: its client keeps the session cookie."""

    client: TestClient

    def csrf(self, page: str = "/settings") -> str:
        match = CSRF.search(self.client.get(page).text)
        assert match, f"no CSRF token on {page}"
        return match.group(1)

    def get(self, path: str, status: int = 200, **kwargs: Any) -> httpx.Response:
        response = self.client.get(path, **kwargs)
        assert response.status_code == status, response.text[-2000:]
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, status: int = 303,
             **kwargs: Any) -> httpx.Response:
        """POST a form with the session's CSRF token (redirects are not followed)."""
        form = {"csrftoken": self.csrf(), **(data or {})}
        response = self.client.post(path, data=form, follow_redirects=False, **kwargs)
        assert response.status_code == status, response.text[-2000:]
        return response


@dataclass
class Web:
    app: Any
    store: Store
    project: int
    media: Path

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://testserver")

    def sign_in(self, name: str) -> Person:
        client = self.client()
        token = CSRF.search(client.get("/login").text)
        assert token
        response = client.post("/login", data={"name": name, "password": PASSWORD,
                                               "csrftoken": token.group(1), "next": "/"},
                               follow_redirects=False)
        assert response.status_code == 303, response.text
        return Person(client=client)


@dataclass(frozen=True)
class Template:
    db: Path
    sample_media: Path
    project: int


@pytest.fixture(scope="session")
def web_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The store every test starts from, built once (migrations, the sample, three argon2
    hashes) and copied per test."""
    folder = tmp_path_factory.mktemp("web-template")
    store = open_store(str(folder / "web.db"))
    try:
        for name in ("alice", "vera", "bob"):
            store.users.create_user(name)
            store.users.set_password(name, PASSWORD)
        alice = store.users.user("alice")
        project = store.project_settings.create("sample", LabelSchema(), description="",
                                                owner_id=alice.id)
        store.import_source("sample", build_sample(folder / "sample-media"))
        store.users.set_member(project.id, "vera", Role.VIEWER)
    finally:
        store.close()
    return Template(db=folder / "web.db", sample_media=folder / "sample-media",
                    project=project.id)


@pytest.fixture
def web(tmp_path: Path, web_template: Template) -> Iterator[Web]:
    shutil.copyfile(web_template.db, tmp_path / "web.db")
    jobs = JobSettings.from_env(artifacts=str(tmp_path / "artifacts"), runner="local",
                                media_roots=str(web_template.sample_media))
    app = create_app(Settings(db=str(tmp_path / "web.db"), media_dir=tmp_path / "media",
                              jobs=jobs))
    with TestClient(app):  # runs the lifespan: the job runner
        yield Web(app=app, store=app.state.store, project=web_template.project,
                  media=tmp_path)
