"""A web session lasts only as long as the password it was opened with: when a person's password
changes (`labelport user set-password`, say after it leaked), every session opened with the old
one ends, also one whose cookie was copied to another browser."""

from __future__ import annotations

from tests.web.conftest import Web


def test_changing_the_password_ends_every_session(web: Web) -> None:
    alice = web.sign_in("alice")
    copied = web.client()
    copied.cookies.update(alice.client.cookies)
    assert copied.get("/settings", follow_redirects=False).status_code == 200
    web.store.users.set_password("alice", "a new password after the leak")
    for client in (alice.client, copied):
        response = client.get("/settings", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


def test_the_cookie_does_not_carry_the_password_hash(web: Web) -> None:
    alice = web.sign_in("alice")
    cookie = alice.client.cookies["labelport_session"]
    assert "argon2" not in cookie and "$" not in cookie
