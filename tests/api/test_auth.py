"""Authentication and authorisation: every /api route refuses a missing or wrong token with
401 and answers 404 for a project the user is not a member of; roles gate writes."""

from __future__ import annotations

import re
from typing import Any

from labelport.store import tables as t
from labelport.store.users import token_digest
from tests.api.conftest import Api


def _api_routes(api: Api) -> list[tuple[str, str]]:
    """(method, path) of every route under /api in ``app.routes``. FastAPI 0.12x lists
    `APIRoute`s there; later versions list included routers, whose effective routes carry the
    full path."""
    found: list[tuple[str, str]] = []

    def visit(routes: list[Any]) -> None:
        for route in routes:
            if hasattr(route, "effective_route_contexts"):
                visit(list(route.effective_route_contexts()))
            elif isinstance(getattr(route, "path", None), str) and getattr(route, "methods", None):
                found.extend((m, route.path) for m in sorted(route.methods) if m != "HEAD")

    visit(api.client.app.routes)  # type: ignore[attr-defined]
    return sorted(r for r in set(found) if r[1].startswith("/api/"))


def _fill(path: str, project: int) -> str:
    return re.sub(r"{(\w+)}", lambda m: str(project) if m[1] == "project" else "1", path)


def test_every_api_route_needs_a_valid_token_and_hides_other_projects(api: Api) -> None:
    routes = _api_routes(api)
    assert len(routes) > 30
    for method, path in routes:
        url = _fill(path, api.project)
        for headers in ({}, {"Authorization": "Token wrong"}, {"Authorization": "Bearer "},
                        {"Authorization": "Basic " + api.tokens["alice"]}):
            response = api.client.request(method, url, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.json()["error"]["code"] == "not_authenticated"
        if "{project}" in path:
            response = api.call("bob", method, url)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"]["message"] == f"no project with id {api.project}"


def test_a_missing_project_and_a_foreign_one_answer_alike(api: Api) -> None:
    foreign = api.call("bob", "GET", f"/api/projects/{api.project}").json()
    missing = api.call("bob", "GET", "/api/projects/999999").json()
    assert foreign["error"]["code"] == missing["error"]["code"] == "not_found"
    assert api.ok("bob", "GET", "/api/projects")["count"] == 0


def test_token_and_bearer_schemes_and_hashed_storage(api: Api) -> None:
    for scheme in ("Token", "Bearer", "token"):
        response = api.client.get("/api/users/me", headers=api.headers("alice", scheme))
        assert response.json()["name"] == "alice"
    with api.store.engine.connect() as conn:
        digests = set(conn.execute(t.api_tokens.select().with_only_columns(
            t.api_tokens.c.digest)).scalars())
    assert api.tokens["alice"] not in digests
    assert token_digest(api.tokens["alice"]) in digests


def test_admin_sees_every_project(api: Api) -> None:
    listed = api.ok("root", "GET", "/api/projects")
    assert [p["id"] for p in listed["results"]] == [api.project]
    assert api.ok("root", "GET", f"/api/projects/{api.project}")["role"] == "owner"


def test_roles_gate_writes(api: Api) -> None:
    base = f"/api/projects/{api.project}"
    for name, role in (("vic", "viewer"), ("ann", "annotator"), ("rev", "reviewer"),
                       ("max", "manager")):
        api.add_user(name, role)
    item = api.ok("alice", "GET", f"{base}/items?page_size=1")["results"][0]["id"]
    box = {"item": item, "label": "car", "geometry": {"kind": "box", "x": 1, "y": 1, "w": 2,
                                                        "h": 2}}
    assert api.call("vic", "GET", f"{base}/annotations").status_code == 200
    denied = api.call("vic", "POST", f"{base}/annotations", json=box)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "permission_denied"
    for writer in ("ann", "rev", "max"):
        api.ok(writer, "POST", f"{base}/annotations", 201, json=box)
    for name in ("ann", "rev"):
        assert api.call(name, "PUT", f"{base}/schema", json={"classes": []}).status_code == 403
        assert api.call(name, "POST", f"{base}/datasets", json={"name": "d"}).status_code == 403
        assert api.call(name, "POST", f"{base}/members",
                        json={"user": "bob", "role": "viewer"}).status_code == 403
    api.ok("max", "POST", f"{base}/datasets", 201, json={"name": "d"})
    api.ok("max", "POST", f"{base}/members", 201, json={"user": "bob", "role": "viewer"})
    assert api.call("max", "DELETE", base).status_code == 403  # owners only
    # only an owner grants or removes the owner role
    assert api.call("max", "PATCH", f"{base}/members/vic",
                    json={"role": "owner"}).status_code == 403
    assert api.call("max", "DELETE", f"{base}/members/alice").status_code == 403


def test_members_keep_an_owner_and_see_their_projects(api: Api) -> None:
    base = f"/api/projects/{api.project}"
    api.ok("alice", "POST", f"{base}/members", 201, json={"user": "bob", "role": "annotator"})
    listed = api.ok("bob", "GET", "/api/projects")["results"]
    assert [(p["id"], p["role"]) for p in listed] == [(api.project, "annotator")]
    members = api.ok("alice", "GET", f"{base}/members")
    assert [(m["user"]["name"], m["role"]) for m in members] == [("alice", "owner"),
                                                                  ("bob", "annotator")]
    last = api.call("alice", "PATCH", f"{base}/members/alice", json={"role": "manager"})
    assert last.status_code == 409
    api.ok("alice", "PATCH", f"{base}/members/bob", json={"role": "owner"})
    api.ok("alice", "DELETE", f"{base}/members/alice", 204)
    assert api.call("alice", "GET", base).status_code == 404
    assert api.call("alice", "POST", f"{base}/members",
                    json={"user": "nobody", "role": "viewer"}).status_code == 404


def test_export_role_setting(api: Api) -> None:
    base = f"/api/projects/{api.project}"
    assert api.ok("alice", "GET", base)["export_role"] == "manager"
    assert api.ok("alice", "PATCH", base, json={"export_role": "viewer"})["export_role"] == \
        "viewer"
    bad = api.call("alice", "PATCH", base, json={"export_role": "god"})
    assert bad.status_code == 422
