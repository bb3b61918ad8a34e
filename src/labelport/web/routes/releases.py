"""The Releases and Schedules tabs: releases made from a selection (the API's own route does
it), listed, diffed, exported whole or as the changes since one; export schedules created,
paused, resumed and deleted, with their last runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from labelport.api.deps import ProjectAccess, StoreDep, require_role
from labelport.api.routers import exports as api_exports
from labelport.api.routers import releases as api_releases
from labelport.api.schemas import ExportCreate, ReleaseCreate, ScheduleCreate
from labelport.errors import InputError, LabelportError
from labelport.formats.registry import all_formats
from labelport.store import Store
from labelport.store.browse import names_of
from labelport.store.users import Role
from labelport.web.deps import ProjectPage, may_export
from labelport.web.export_form import request_from_form
from labelport.web.routes.exports import Exporter
from labelport.web.templating import render

router = APIRouter()


def _releases(request: Request, access: ProjectAccess, store: Store, *, status: int = 200,
              error: str | None = None, diff: Any = None) -> Response:
    return render(request, "releases.html", status=status, access=access, tab="releases",
                  may_export=may_export(access), may_manage=access.role.allows(Role.MANAGER),
                  releases=store.list_releases(access.name),
                  names=names_of(store.engine, access.id), error=error, diff=diff)


@router.get("/projects/{project}/releases")
def releases_page(request: Request, access: ProjectPage, store: StoreDep) -> Response:
    return _releases(request, access, store)


@router.post("/projects/{project}/releases")
async def create_release(request: Request, access: ProjectPage, store: StoreDep) -> Response:
    """Freeze the selection the form describes (managers, as in the API)."""
    require_role(Role.MANAGER)(access)
    form = await request.form()
    try:
        selection = request_from_form(form).get("selection", {})
        body = ReleaseCreate(name=str(form.get("name") or ""),
                             description=str(form.get("description") or ""),
                             selection=selection)
        api_releases.create_release(body, access, store)
    except ValidationError as exc:
        return _releases(request, access, store, status=400, error=_pydantic(exc))
    except LabelportError as exc:
        return _releases(request, access, store, status=400, error=str(exc))
    return RedirectResponse(f"/projects/{access.id}/releases", status_code=303)


@router.get("/projects/{project}/releases/diff")
def diff_releases(request: Request, access: ProjectPage, store: StoreDep, a: str = "",
                  b: str = "") -> Response:
    try:
        diff = store.release_diff(access.name, a, b)
    except LabelportError as exc:
        return _releases(request, access, store, status=400, error=str(exc))
    return _releases(request, access, store, diff=diff)


def _pydantic(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def _schedules(request: Request, access: ProjectAccess, store: Store, *, status: int = 200,
               error: str | None = None, values: dict[str, Any] | None = None) -> Response:
    schedules = store.schedules.of_project(access.id)
    runs = {s.id: [j for j in store.jobs.history(access.id, limit=200)
                   if j.schedule_id == s.id][:3] for s in schedules}
    return render(request, "schedules.html", status=status, access=access, tab="schedules",
                  may_export=True, schedules=schedules, runs=runs, error=error,
                  formats=[f for f in all_formats() if f.writer is not None],
                  values=values or {"package": "zip"})


@router.get("/projects/{project}/schedules")
def schedules_page(request: Request, access: Exporter, store: StoreDep) -> Response:
    return _schedules(request, access, store)


@router.post("/projects/{project}/schedules")
async def create_schedule(request: Request, access: Exporter, store: StoreDep) -> Response:
    """A schedule of the export the form describes, every N minutes or on a cron line."""
    form = await request.form()
    values = {k: form.get(k) for k in form if k != "password"}
    try:
        minutes = str(form.get("every_minutes") or "").strip()
        if minutes and not minutes.isdigit():
            raise InputError(f"`every_minutes`: {minutes!r} is not a whole number")
        body = ScheduleCreate(
            name=str(form.get("name") or ""),
            export=ExportCreate(**request_from_form(form)),
            interval_seconds=int(minutes) * 60 if minutes else None,
            cron=str(form.get("cron") or "").strip() or None,
            delta=bool(form.get("delta")))
        api_exports.create_export_schedule(body, access, store, request)
    except ValidationError as exc:
        return _schedules(request, access, store, status=400, error=_pydantic(exc),
                          values=values)
    except LabelportError as exc:
        return _schedules(request, access, store, status=400, error=str(exc), values=values)
    return RedirectResponse(f"/projects/{access.id}/schedules", status_code=303)


@router.post("/projects/{project}/schedules/{schedule_id}/{action}")
def change_schedule(schedule_id: int, action: str, access: Exporter,
                    store: StoreDep) -> Response:
    """Pause, resume or delete a schedule of this project."""
    store.schedules.get(schedule_id, project_id=access.id)
    if action == "delete":
        store.schedules.delete(schedule_id)
    elif action in ("pause", "resume"):
        store.schedules.set_enabled(schedule_id, action == "resume")
    else:
        raise InputError(f"unknown action {action!r}: pause, resume or delete")
    return RedirectResponse(f"/projects/{access.id}/schedules", status_code=303)
