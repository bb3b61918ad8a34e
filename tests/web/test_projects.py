"""The projects list, the create form (class names or schema JSON, errors next to the form),
the Overview tab's charts and members, and escaping of whatever a page shows."""

from __future__ import annotations

from tests.web.conftest import Web


def test_projects_list_shows_counts_and_role(web: Web) -> None:
    alice = web.sign_in("alice")
    page = alice.get("/").text
    assert f'href="/projects/{web.project}">sample</a>' in page and "owner" in page
    assert "viewer" in web.sign_in("vera").get("/").text
    assert "sample" not in web.sign_in("bob").get("/").text.split("<h2>New project")[0]


def test_create_project_from_class_names_and_from_json(web: Web) -> None:
    alice = web.sign_in("alice")
    made = alice.post("/projects", {"name": "cars", "classes": "car\ntruck\n"})
    page = alice.get(made.headers["location"]).text
    assert "Objects per class" in page and ">car<" in page and ">truck<" in page
    alice.post("/projects", {"name": "json", "schema_text": '{"classes": [{"name": "a"}]}'})
    assert web.store.project_schema("json").classes[0].name == "a"


def test_create_form_errors_are_shown_not_raised(web: Web) -> None:
    alice = web.sign_in("alice")
    bad = alice.post("/projects", {"name": "x", "schema_text": '{"classes": ['}, status=400)
    assert "schema JSON, line 1" in bad.text and 'value="x"' in bad.text
    taken = alice.post("/projects", {"name": "sample"}, status=400)
    assert "already exists" in taken.text or "sample" in taken.text


def test_names_are_escaped(web: Web) -> None:
    alice = web.sign_in("alice")
    made = alice.post("/projects", {"name": "<b>bold</b>", "classes": "<script>alert(1)</script>"})
    page = alice.get(made.headers["location"]).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


def test_overview_charts_and_members(web: Web) -> None:
    alice = web.sign_in("alice")
    page = alice.get(f"/projects/{web.project}").text
    assert page.count('class="bar"') >= 5 and "Tasks per status" in page
    alice.post(f"/projects/{web.project}/members", {"user": "bob", "role": "annotator"})
    assert web.store.users.role(web.project, web.store.users.user("bob").id) == "annotator"
    unknown = alice.post(f"/projects/{web.project}/members", {"user": "nobody",
                                                              "role": "viewer"}, status=400)
    assert "no user named" in unknown.text
    alice.post(f"/projects/{web.project}/members/bob/remove")
    assert web.store.users.role(web.project, web.store.users.user("bob").id) is None


def test_viewer_cannot_manage_members_and_strangers_get_404(web: Web) -> None:
    vera = web.sign_in("vera")
    page = vera.get(f"/projects/{web.project}").text
    assert "Add or change" not in page and "Remove" not in page
    vera.post(f"/projects/{web.project}/members", {"user": "bob", "role": "owner"},
              status=403)
    bob = web.sign_in("bob")
    bob.get(f"/projects/{web.project}", status=404)
    bob.get("/projects/99999", status=404)
