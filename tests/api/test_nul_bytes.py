"""A NUL byte in any text a request stores (a name, a path, a description) is a 400 naming the
problem, on SQLite and PostgreSQL alike: PostgreSQL refuses NUL in text, which was a 500 with a
traceback (and SQLite stored it, so one store took what the other refused). A NUL inside JSON
metadata is JSON's ``\\u0000`` in the store and round-trips."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

NUL = "a\u0000b"


def _item(**changes: Any) -> list[dict[str, Any]]:
    return [{"dataset": "d", "path": "p.png", "width": 1, "height": 1, **changes}]


def test_text_with_a_nul_byte_is_refused(api: Api) -> None:
    base = f"/api/projects/{api.project}"
    before = api.ok("alice", "GET", f"{base}/items")["count"]
    for method, route, body in [
        ("POST", "/items", _item(path=NUL)), ("POST", "/items", _item(dataset=NUL)),
        ("PATCH", "", {"description": NUL}), ("POST", "/datasets", {"name": NUL}),
        ("POST", "/labelsets", {"name": NUL}), ("POST", "/releases", {"name": NUL}),
    ]:
        response = api.call("alice", method, base + route, json=body)
        assert response.status_code == 400, (route, response.text)
        assert "NUL byte" in response.json()["error"]["message"]
    assert api.call("alice", "POST", "/api/projects", json={"name": NUL}).status_code == 400
    assert api.ok("alice", "GET", f"{base}/items")["count"] == before


def test_a_nul_byte_in_json_metadata_round_trips(api: Api) -> None:
    base = f"/api/projects/{api.project}"
    created = api.ok("alice", "POST", f"{base}/items", 201,
                     json=_item(metadata={NUL: NUL}))["ids"][0]
    assert api.ok("alice", "GET", f"{base}/items/{created}")["metadata"] == {NUL: NUL}
