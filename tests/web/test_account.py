"""Signing in and out: the cookie's flags, CSRF on every changing form, a wrong password, the
redirect to sign in, and the settings page's tokens (shown once, usable on the API)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from labelport.web.session import COOKIE
from tests.web.conftest import CSRF, PASSWORD, Web


def test_pages_need_sign_in_and_redirect_back(web: Web) -> None:
    client = web.client()
    response = client.get(f"/projects/{web.project}?tab=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fprojects%2F{web.project}%3Ftab%3D1"
    login = client.get(response.headers["location"])
    assert 'name="next" value="/projects/' in login.text
    token = CSRF.search(login.text)
    assert token
    signed = client.post("/login", data={"name": "alice", "password": PASSWORD,
                                         "csrftoken": token.group(1),
                                         "next": f"/projects/{web.project}"},
                         follow_redirects=False)
    assert signed.headers["location"] == f"/projects/{web.project}"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get(f"/projects/{web.project}").status_code == 200


def test_cookie_is_secure_over_https(web: Web) -> None:
    client = TestClient(web.app, base_url="https://testserver")
    assert "Secure" in client.get("/login").headers["set-cookie"]


def test_wrong_password_and_open_redirect_refused(web: Web) -> None:
    client = web.client()
    token = CSRF.search(client.get("/login").text)
    assert token
    wrong = client.post("/login", data={"name": "alice", "password": "nope nope",
                                        "csrftoken": token.group(1)})
    assert wrong.status_code == 400 and "wrong name or password" in wrong.text
    outside = client.post("/login", data={"name": "alice", "password": PASSWORD,
                                          "csrftoken": token.group(1),
                                          "next": "//evil.example/"}, follow_redirects=False)
    assert outside.headers["location"] == "/"


def test_post_without_csrf_is_refused(web: Web) -> None:
    client = web.client()
    no_token = client.post("/login", data={"name": "alice", "password": PASSWORD})
    assert no_token.status_code == 403 and "reload the page" in no_token.text
    alice = web.sign_in("alice")
    refused = alice.client.post("/projects", data={"name": "sneaky"})
    assert refused.status_code == 403
    forged = alice.client.post("/projects", data={"name": "sneaky", "csrftoken": "x" * 43})
    assert forged.status_code == 403
    assert all(p.name != "sneaky" for p in web.store.list_projects())


def test_sign_out_ends_the_session(web: Web) -> None:
    alice = web.sign_in("alice")
    alice.post("/logout")
    assert alice.client.get("/", follow_redirects=False).status_code == 303


def test_a_session_cookie_cannot_be_forged(web: Web) -> None:
    client = web.client()
    client.cookies.set(COOKIE, "eyJ1aWQiOjEsImNzcmYiOiJ4In0.forged.signature")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_tokens_are_shown_once_and_revoked(web: Web) -> None:
    alice = web.sign_in("alice")
    page = alice.post("/settings/tokens", status=201).text
    token = page.split('id="new-token" class="token" readonly value="')[1].split('"')[0]
    api = web.client()
    headers = {"Authorization": f"Token {token}"}
    assert api.get("/api/projects", headers=headers).status_code == 200
    assert token not in alice.get("/settings").text
    [info] = web.store.users.tokens(web.store.users.user("alice").id)
    bob = web.sign_in("bob")
    assert bob.post(f"/settings/tokens/{info.id}/revoke", status=404)
    alice.post(f"/settings/tokens/{info.id}/revoke")
    assert api.get("/api/projects", headers=headers).status_code == 401


def test_docs_are_served_without_a_cdn(web: Web) -> None:
    client = web.client()
    docs = client.get("/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"]
    assert client.get("/api/projects").status_code == 401  # the API keeps its tokens


def test_a_visitor_not_signed_in_is_sent_to_sign_in_before_an_upload(web: Web) -> None:
    client = web.client()
    response = client.post(f"/projects/{web.project}/import", data={"format": "coco"},
                           files={"file": ("x.json", b"{}")}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
