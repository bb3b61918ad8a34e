"""Errors are JSON ``{"error": {"code", "message"}}`` with a 4xx, never a 500, for bad input."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Errors are shaped above the store: SQLite only, to keep the suite fast."""
    return sqlite_url


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), [
    ("POST", "/api/projects", {"content": b"{not json",
                               "headers": {"content-type": "application/json"}},
     422, "validation_error"),
    ("POST", "/api/projects", {"json": {"name": ""}}, 422, "validation_error"),
    ("POST", "/api/projects", {"json": {"name": "x", "extra": 1}}, 422, "validation_error"),
    ("POST", "/api/projects", {"json": {"name": "x", "schema": {"classes": [{"name": 3}]}}},
     400, "invalid_input"),
    ("POST", "/api/projects", {"json": {"name": "x", "schema": {"classes": [
        {"name": "a", "geometry": "blob"}]}}}, 400, "invalid_input"),
    ("GET", "/api/formats/nope", {}, 404, "not_found"),
    ("GET", "/api/nowhere", {}, 404, "not_found"),
    ("DELETE", "/api/formats", {}, 405, "method_not_allowed"),
    ("GET", "/api/projects/abc", {}, 422, "validation_error"),
    ("GET", "/api/projects?page=0", {}, 422, "validation_error"),
])
def test_bad_requests(api: Api, method: str, path: str, kwargs: dict[str, object],
                      status: int, code: str) -> None:
    given = dict(kwargs)
    headers = {**api.headers("alice"), **given.pop("headers", {})}  # type: ignore[dict-item]
    response = api.client.request(method, path, headers=headers,
                                  **given)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


@pytest.mark.parametrize("geometry", [
    {"kind": "box", "x": 1, "y": 1, "w": 1},
    {"kind": "box", "x": "a", "y": 1, "w": 1, "h": 1},
    {"kind": "box", "x": True, "y": 1, "w": 1, "h": 1},
    {"kind": "circle"},
    {"kind": "polygon", "parts": [{"outer": [0, 0, 1]}]},
    {"kind": "polygon", "parts": "x"},
    {"kind": "keypoints", "points": [1, 2, 7]},
    {"kind": "mask", "counts": 3, "size": [1, 1]},
    {},
])
def test_bad_geometry_is_a_400(api: Api, geometry: dict[str, object]) -> None:
    base = f"/api/projects/{api.project}"
    item = api.ok("alice", "GET", f"{base}/items?page_size=1")["results"][0]["id"]
    response = api.call("alice", "POST", f"{base}/annotations",
                        json={"item": item, "label": "car", "geometry": geometry})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    assert "geometry" in response.json()["error"]["message"]


@pytest.mark.parametrize("number", [b"1e400", b"NaN", b"-Infinity"])
def test_non_finite_coordinates_are_a_400(api: Api, number: bytes) -> None:
    base = f"/api/projects/{api.project}"
    item = api.ok("alice", "GET", f"{base}/items?page_size=1")["results"][0]["id"]
    body = (b'{"item": %d, "label": "car", "geometry": {"kind": "box", "x": %s, "y": 0, '
            b'"w": 1, "h": 1}}') % (item, number)
    response = api.client.post(f"{base}/annotations", content=body, headers={
        **api.headers("alice"), "content-type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["code"] in ("invalid_input", "validation_error")
