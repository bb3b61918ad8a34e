"""The role x action matrix of the API (issue 13, point 6): every role (and a non-member) tries
every kind of write and a few reads; each is allowed exactly from its documented role up
(`labelport.api.permissions`, `labelport.api.deps.require_role`), refused with 403 below it,
and a non-member gets 404 everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api

ROLES = ("viewer", "annotator", "reviewer", "manager", "owner")
BOX = {"kind": "box", "x": 1, "y": 1, "w": 2, "h": 2}

Action = Callable[[Api, str], httpx.Response]


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


class Matrix:
    """Targets the actions work on, set up afresh by the owner (alice) before each call."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.base = f"/api/projects/{api.project}"
        items = api.ok("alice", "GET", f"{self.base}/items", params={"page_size": 2})
        self.item = items["results"][0]["id"]
        tasks = api.ok("alice", "GET", f"{self.base}/tasks",
                       params={"item": self.item, "labelset": "ground-truth"})
        self.task = tasks["results"][0]["id"]

    def annotation(self, annotator: str) -> int:
        created = self.api.ok("alice", "POST", f"{self.base}/annotations", 201, json={
            "item": self.item, "label": "car", "geometry": BOX, "annotator": annotator})
        return int(created["id"])

    def task_as(self, status: str, assignee: str) -> str:
        self.api.ok("alice", "PATCH", f"{self.base}/tasks/{self.task}",
                    json={"status": status, "assignee": assignee})
        return f"{self.base}/tasks/{self.task}"


def _actions(m: Matrix) -> dict[str, tuple[str, Action]]:
    """Action name -> (the least role allowed, the call)."""
    b = m.base

    def call(method: str, path: str, **kwargs: Any) -> Action:
        return lambda api, user: api.call(user, method, path, **kwargs)

    return {
        "read items": ("viewer", call("GET", f"{b}/items")),
        "read annotations": ("viewer", call("GET", f"{b}/annotations")),
        "read tasks": ("viewer", call("GET", f"{b}/tasks")),
        "create annotation": ("annotator", lambda api, user: api.call(
            user, "POST", f"{b}/annotations",
            json={"item": m.item, "label": "car", "geometry": BOX})),
        "create annotation in another's name": ("reviewer", lambda api, user: api.call(
            user, "POST", f"{b}/annotations/bulk",
            json=[{"item": m.item, "label": "car", "geometry": BOX, "annotator": "zed"}])),
        "change own annotation": ("annotator", lambda api, user: api.call(
            user, "PATCH", f"{b}/annotations/{m.annotation(user)}", json={"tags": ["x"]})),
        "change another's annotation": ("reviewer", lambda api, user: api.call(
            user, "PATCH", f"{b}/annotations/{m.annotation('zed')}", json={"tags": ["x"]})),
        "delete own annotation": ("annotator", lambda api, user: api.call(
            user, "DELETE", f"{b}/annotations/{m.annotation(user)}")),
        "delete another's annotation": ("reviewer", lambda api, user: api.call(
            user, "DELETE", f"{b}/annotations/{m.annotation('zed')}")),
        "label a task assigned to them": ("annotator", lambda api, user: api.call(
            user, "PATCH", m.task_as("in_progress", user), json={"status": "labeled"})),
        "answer a task assigned to them": ("annotator", lambda api, user: api.call(
            user, "PATCH", m.task_as("new", user), json={"classifications": []})),
        "label a task assigned to another": ("reviewer", lambda api, user: api.call(
            user, "PATCH", m.task_as("in_progress", "zed"), json={"status": "labeled"})),
        "label an unassigned task": ("reviewer", lambda api, user: api.call(
            user, "PATCH", m.task_as("in_progress", ""), json={"status": "labeled"})),
        "set reviewed": ("reviewer", lambda api, user: api.call(
            user, "PATCH", m.task_as("labeled", user), json={"status": "reviewed"})),
        "set rejected": ("reviewer", lambda api, user: api.call(
            user, "PATCH", m.task_as("labeled", user), json={"status": "rejected"})),
        "reopen a reviewed task": ("reviewer", lambda api, user: api.call(
            user, "PATCH", m.task_as("reviewed", user), json={"status": "in_progress"})),
        "rework a rejected task": ("annotator", lambda api, user: api.call(
            user, "PATCH", m.task_as("rejected", user), json={"status": "in_progress"})),
        "assign a task": ("manager", lambda api, user: api.call(
            user, "PATCH", m.task_as("new", user), json={"assignee": "zed"})),
        "choose a task's reviewer": ("manager", lambda api, user: api.call(
            user, "PATCH", m.task_as("new", user), json={"reviewer": "zed"})),
        "create items": ("manager", lambda api, user: api.call(
            user, "POST", f"{b}/items",
            json=[{"dataset": "new", "path": f"{user}.png", "width": 2, "height": 2}])),
        "create a dataset": ("manager", lambda api, user: api.call(
            user, "POST", f"{b}/datasets", json={"name": f"d-{user}"})),
        "add a member": ("manager", call("POST", f"{b}/members",
                                         json={"user": "zed", "role": "viewer"})),
        "rename the project": ("manager", call("PATCH", b, json={"description": "x"})),
        "freeze a release": ("manager", lambda api, user: api.call(
            user, "POST", f"{b}/releases", json={"name": f"r-{user}"})),
        "list exports": ("manager", call("GET", f"{b}/exports")),
    }


def test_every_role_may_do_exactly_what_its_rank_allows(api: Api) -> None:
    for role in ROLES:
        if role != "owner":
            api.add_user(role, role)
    api.add_user("zed", "annotator")
    api.add_user("outsider")
    api.tokens["owner"] = api.tokens["alice"]
    matrix = Matrix(api)
    wrong = []
    if api.call("outsider", "GET", f"{matrix.base}/items").status_code != 404:
        wrong.append("an outsider sees the project")
    for name, (least, action) in _actions(matrix).items():
        for role in ROLES:
            response = action(api, role)
            allowed = ROLES.index(role) >= ROLES.index(least)
            if (response.status_code < 300) is not allowed or \
                    (not allowed and response.status_code != 403):
                wrong.append(f"{name} as {role}: {response.status_code} {response.text[:120]}")
        outside = action(api, "outsider")
        if outside.status_code != 404:
            wrong.append(f"{name} as a non-member: {outside.status_code}")
    assert not wrong, "\n".join(wrong)


def test_deleting_the_project_is_the_owners(api: Api) -> None:
    for role in ROLES[:-1]:
        api.add_user(role, role)
        assert api.call(role, "DELETE", f"/api/projects/{api.project}").status_code == 403
    api.ok("alice", "DELETE", f"/api/projects/{api.project}", 204)
