"""The projects list and create form, and a project's Overview tab: counts as bar charts,
per-annotator quality, and the members (managed by managers, by the API's rules)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from labelport.api.deps import ProjectAccess, StoreDep, require_role
from labelport.api.errors import PermissionDeniedError
from labelport.api.routers.members import _check_owner_change
from labelport.api.routers.projects import schema_with_ids
from labelport.errors import InputError, LabelportError, NotFoundError
from labelport.store import Store
from labelport.store.quality import annotator_quality, to_csv, to_json
from labelport.store.users import Role, User, parse_role
from labelport.web.charts import bars
from labelport.web.deps import PersonDep, ProjectPage, may_export
from labelport.web.templating import render

router = APIRouter()


@router.get("/")
def projects_page(request: Request, person: PersonDep, store: StoreDep) -> Response:
    return render(request, "projects.html", projects=_listed(person, store), form={},
                  error=None)


def _listed(person: User, store: Store) -> list[dict[str, Any]]:
    """The projects the person is a member of (an admin: all), with counts, their role and
    the last export."""
    summaries = store.list_projects()
    roles = ({s.id: Role.OWNER for s in summaries} if person.is_admin
             else store.users.memberships(person.id))
    listed = []
    for summary in summaries:
        if summary.id not in roles:
            continue
        stats = store.project_stats(summary.name)
        last = store.jobs.history(summary.id, limit=1)
        listed.append({"id": summary.id, "name": summary.name, "items": stats.items,
                       "objects": stats.annotations, "role": roles[summary.id].value,
                       "last_export": last[0] if last else None})
    return listed


@router.post("/projects")
def create_project(request: Request, person: PersonDep, store: StoreDep,
                   name: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
                   classes: Annotated[str, Form()] = "",
                   schema_text: Annotated[str, Form()] = "") -> Response:
    """A project from a schema given as JSON, or as class names one per line."""
    form = {"name": name, "description": description, "classes": classes,
            "schema_text": schema_text}
    try:
        document = _schema_document(classes, schema_text)
        schema = schema_with_ids(list(document.get("classes") or []),
                                 list(document.get("classifications") or []))
        project = store.project_settings.create(name.strip(), schema,
                                                description=description, owner_id=person.id)
    except LabelportError as exc:
        return render(request, "projects.html", status=400, projects=_listed(person, store),
                      form=form, error=str(exc))
    return RedirectResponse(f"/projects/{project.id}", status_code=303)


def _schema_document(classes: str, schema_text: str) -> dict[str, Any]:
    if schema_text.strip():
        try:
            document = json.loads(schema_text)
        except json.JSONDecodeError as exc:
            raise InputError(f"schema JSON, line {exc.lineno} column {exc.colno}: "
                             f"{exc.msg}") from None
        if not isinstance(document, dict):
            raise InputError("schema JSON: expected an object with `classes`")
        return document
    names = [line.strip() for line in classes.splitlines() if line.strip()]
    return {"classes": [{"name": n} for n in names]}


@router.get("/projects/{project}")
def overview(request: Request, access: ProjectPage, store: StoreDep) -> Response:
    return render(request, "overview.html", **_overview(access, store), error=None)


def _overview(access: ProjectAccess, store: Store) -> dict[str, Any]:
    stats = store.project_stats(access.name)
    return {"access": access, "tab": "overview", "may_export": may_export(access),
            "may_manage": access.role.allows(Role.MANAGER),
            "charts": [("Items per dataset", bars(stats.items_per_dataset)),
                       ("Objects per class", bars(stats.annotations_per_class)),
                       ("Tasks per status", bars(stats.tasks_per_status))],
            "members": store.users.members(access.id), "roles": [r.value for r in Role],
            "quality": annotator_quality(store.engine, access.id)}


@router.get("/projects/{project}/quality.{kind}")
def quality_download(kind: str, access: ProjectPage, store: StoreDep) -> Response:
    """The Overview's quality metrics as CSV or JSON (as the API and the CLI give them)."""
    rows = annotator_quality(store.engine, access.id)
    if kind == "csv":
        return Response(to_csv(rows), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="quality-{access.id}.csv"'})
    if kind == "json":
        return JSONResponse(to_json(rows))
    raise NotFoundError("quality metrics come as .csv or .json")


@router.post("/projects/{project}/members")
def set_member(request: Request, access: ProjectPage, store: StoreDep,
               user: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "") -> Response:
    """Add a member or change their role (managers; only an owner grants or takes away the
    owner role, as in the API)."""
    require_role(Role.MANAGER)(access)
    try:
        new_role = parse_role(role)
        found = store.users.user(user.strip())
        _check_owner_change(access, store.users.role(access.id, found.id), new_role)
        store.users.set_member(access.id, found.name, new_role)
    except PermissionDeniedError:
        raise
    except LabelportError as exc:
        return render(request, "overview.html", status=400, **_overview(access, store),
                      error=str(exc))
    return RedirectResponse(f"/projects/{access.id}#members", status_code=303)


@router.post("/projects/{project}/members/{user}/remove")
def remove_member(user: str, access: ProjectPage, store: StoreDep) -> Response:
    require_role(Role.MANAGER)(access)
    found = store.users.user(user)
    _check_owner_change(access, store.users.role(access.id, found.id), Role.VIEWER)
    store.users.remove_member(access.id, user)
    return RedirectResponse(f"/projects/{access.id}#members", status_code=303)
