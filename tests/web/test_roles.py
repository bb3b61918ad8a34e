"""The role x action matrix of the web pages (issues 10 and 13, point 6): a viewer, annotator,
reviewer, manager, owner and a non-member try every page and form; each is allowed exactly from
the role the API asks for the same thing (`labelport.api.deps.require_role`, `require_export`,
the owner rule of `labelport.api.routers.members`), refused with 403 below it, and a
non-member gets 404 on every page of the project. Where the API has the same action, it is
called too with the person's token, and must agree with the page."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from labelport.store.users import Role
from tests.web.conftest import CSRF, PASSWORD, Web
from tests.web.test_exports import _run

ROLES = ("viewer", "annotator", "reviewer", "manager", "owner")
EXPORT_ROLE = "manager"
"""A project's default ``export_role`` (`labelport.api.deps.require_export`)."""
ANYONE = "anyone"
"""Pages outside a project: every signed-in person."""
RANK = {role: n for n, role in enumerate(ROLES)}
REFUSED_EXPORT = {"format": "coco", "media": "link", "package": "zip"}
"""Export options the service refuses (linked media cannot be packaged): allowed, it is a 400
and nothing runs."""
COCO = {"images": [{"id": 1, "file_name": "new.jpg", "width": 10, "height": 10}],
        "annotations": [], "categories": [{"id": 1, "name": "car"}]}


@dataclass
class Caller:
    """One person, signed in on the pages and holding an API token."""

    name: str
    web: Web
    token: str

    def __post_init__(self) -> None:
        self.client = self.web.client()
        page = self.client.get("/login").text
        token = CSRF.search(page)
        assert token
        signed = self.client.post("/login", data={"name": self.name, "password": PASSWORD,
                                                  "csrftoken": token.group(1), "next": "/"},
                                  follow_redirects=False)
        assert signed.status_code == 303, signed.text

    def page(self, method: str, path: str, data: dict[str, Any] | None = None,
             **kwargs: Any) -> httpx.Response:
        if method == "GET":
            return self.client.get(path, follow_redirects=False)
        csrf = CSRF.search(self.client.get("/settings").text)
        assert csrf
        return self.client.post(path, data={"csrftoken": csrf.group(1), **(data or {})},
                                follow_redirects=False, **kwargs)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, f"/api{path}", headers={
            "Authorization": f"Bearer {self.token}"}, **kwargs)


Call = Callable[[Caller], httpx.Response]


@dataclass(frozen=True)
class Action:
    least: str
    """The least role allowed (or `ANYONE`)."""
    page: Call
    api: Call | None = None
    """The same thing through the API, when it has it."""


def _actions(web: Web, export: int, schedule: int, item: int) -> dict[str, Action]:
    p = web.project
    b = f"/projects/{p}"

    def page(method: str, path: str, data: dict[str, Any] | None = None,
             **kwargs: Any) -> Call:
        return lambda c: c.page(method, path, data, **kwargs)

    def api(method: str, path: str, **kwargs: Any) -> Call:
        return lambda c: c.api(method, path, **kwargs)

    def upload(c: Caller) -> httpx.Response:
        return c.page("POST", f"{b}/import", {"format": "coco", "dataset": f"in-{c.name}"},
                      files={"file": ("labels.json", io.BytesIO(json.dumps(COCO).encode()),
                                      "application/json")})

    return {
        "list projects": Action(ANYONE, page("GET", "/"), api("GET", "/projects")),
        "create a project": Action(ANYONE, lambda c: c.page(
            "POST", "/projects", {"name": f"web-{c.name}", "classes": "car"}), lambda c: c.api(
            "POST", "/projects", json={"name": f"api-{c.name}"})),
        "settings": Action(ANYONE, page("GET", "/settings"), api("GET", "/users/me")),
        "create a token": Action(ANYONE, page("POST", "/settings/tokens")),
        "overview": Action("viewer", page("GET", b), api("GET", b)),
        "quality csv": Action("viewer", page("GET", f"{b}/quality.csv"),
                              api("GET", f"{b}/quality")),
        "quality json": Action("viewer", page("GET", f"{b}/quality.json")),
        "items": Action("viewer", page("GET", f"{b}/items"), api("GET", f"{b}/items")),
        "item": Action("viewer", page("GET", f"{b}/items/{item}"),
                       api("GET", f"{b}/items/{item}")),
        "item image": Action("viewer", page("GET", f"{b}/items/{item}/image?size=large")),
        "item thumbnail": Action("viewer", page("GET", f"{b}/items/{item}/image?size=thumb")),
        "releases": Action("viewer", page("GET", f"{b}/releases"),
                           api("GET", f"{b}/releases")),
        "diff releases": Action("viewer", page("GET", f"{b}/releases/diff?a=&b=")),
        "create a release": Action("manager", lambda c: c.page(
            "POST", f"{b}/releases", {"name": f"web-{c.name}"}), lambda c: c.api(
            "POST", f"{b}/releases", json={"name": f"api-{c.name}"})),
        "add a member": Action("manager", page(
            "POST", f"{b}/members", {"user": "carl", "role": "annotator"}), api(
            "POST", f"{b}/members", json={"user": "dora", "role": "annotator"})),
        "grant the owner role": Action("owner", page(
            "POST", f"{b}/members", {"user": "carl", "role": "owner"}), api(
            "POST", f"{b}/members", json={"user": "dora", "role": "owner"})),
        "remove a member": Action("manager", page("POST", f"{b}/members/vera/remove"),
                                  api("DELETE", f"{b}/members/dora")),
        "import page": Action("manager", page("GET", f"{b}/import")),
        "import": Action("manager", upload),
        "exports": Action(EXPORT_ROLE, page("GET", f"{b}/exports"),
                          api("GET", f"{b}/exports")),
        "export rows": Action(EXPORT_ROLE, page("GET", f"{b}/exports/rows")),
        "new export dialog": Action(EXPORT_ROLE, page("GET", f"{b}/exports/new")),
        "preview": Action(EXPORT_ROLE, page("POST", f"{b}/exports/preview",
                                            {"format": "voc"})),
        "run an export (refused option)": Action(EXPORT_ROLE, page(
            "POST", f"{b}/exports", REFUSED_EXPORT), api("POST", f"{b}/exports",
                                                         json=REFUSED_EXPORT)),
        "export page": Action(EXPORT_ROLE, page("GET", f"{b}/exports/{export}"),
                              api("GET", f"{b}/exports/{export}")),
        "download": Action(EXPORT_ROLE, page("GET", f"{b}/exports/{export}/download"),
                           api("GET", f"{b}/exports/{export}/download")),
        "verify": Action(EXPORT_ROLE, page("POST", f"{b}/exports/{export}/verify")),
        "schedules": Action(EXPORT_ROLE, page("GET", f"{b}/schedules"),
                            api("GET", f"{b}/export-schedules")),
        "create a schedule (refused option)": Action(EXPORT_ROLE, page(
            "POST", f"{b}/schedules", {"name": "x", "format": "coco", "every_minutes": "x"})),
        "pause a schedule": Action(EXPORT_ROLE, page(
            "POST", f"{b}/schedules/{schedule}/pause")),
        "resume a schedule": Action(EXPORT_ROLE, page(
            "POST", f"{b}/schedules/{schedule}/resume")),
        "delete a schedule": Action(EXPORT_ROLE, page(
            "POST", f"{b}/schedules/{schedule}/delete")),
        "re-run an export": Action(EXPORT_ROLE, page("POST", f"{b}/exports/{export}/rerun")),
        "delete an export": Action(EXPORT_ROLE, page("POST", f"{b}/exports/{export}/delete")),
        "sign out": Action(ANYONE, page("POST", "/logout")),
    }


def _allowed(response: httpx.Response) -> bool:
    assert response.status_code < 500, response.text[-2000:]
    return response.status_code not in (401, 403, 404)


@pytest.mark.parametrize("role", [*ROLES, None], ids=[*ROLES, "non-member"])
def test_every_page_and_form_by_role(web: Web, role: str | None) -> None:
    users = web.store.users
    name = "bob" if role is None else f"{role}-1"
    if role is not None:
        users.create_user(name)
        users.set_password(name, PASSWORD)
        users.set_member(web.project, name, Role(role))
    for other in ("carl", "dora"):
        users.create_user(other)
    export = _run(web.sign_in("alice"), web, {"format": "coco", "package": "zip"}).id
    schedule = web.store.schedules.create(
        web.project, "nightly", {"format": "coco"}, interval_seconds=3600,
        next_run_at=datetime.now(UTC) + timedelta(days=1))
    item = next(iter(web.store.source("sample").records())).item.id  # type: ignore[misc]
    assert item is not None
    caller = Caller(name, web, users.create_token(name))
    wrong: list[str] = []
    for what, action in _actions(web, export, schedule, item).items():
        response = action.page(caller)
        if action.least == ANYONE:
            expected = 200 if response.request.method == "GET" else None
            allowed = _allowed(response)
            if not allowed or (expected and response.status_code != expected):
                wrong.append(f"{what}: page {response.status_code}, expected allowed")
        elif role is None:
            if response.status_code != 404:
                wrong.append(f"{what}: page {response.status_code} for a non-member, not 404")
        elif RANK[role] >= RANK[action.least]:
            if not _allowed(response):
                wrong.append(f"{what}: page {response.status_code}, expected allowed")
        elif response.status_code != 403:
            wrong.append(f"{what}: page {response.status_code}, expected 403")
        if action.api is not None:
            answer = action.api(caller)
            if _allowed(answer) != _allowed(response):
                wrong.append(f"{what}: page {response.status_code} but API "
                             f"{answer.status_code}")
    assert not wrong, f"{name} ({role or 'non-member'}):\n" + "\n".join(wrong)
