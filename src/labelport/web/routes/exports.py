"""The Exports tab: the "New export" dialog (every option of the CLI, parsed by the API's own
parser), its preview, the jobs table with live progress, download, re-run and delete, and an
export's page with its manifest in words and Verify. All of it needs the project's export role,
as the API's export routes do."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from labelport.api.deps import ProjectAccess, StoreDep, require_export
from labelport.api.routers import exports as api_exports
from labelport.errors import InputError, LabelportError
from labelport.export.preview import preview
from labelport.export.request import ExportOptions
from labelport.export.splits import SplitStrategy
from labelport.formats.registry import all_formats
from labelport.jobs import service
from labelport.jobs.artifacts import ArtifactStorage
from labelport.jobs.config import JobSettings
from labelport.store import Store
from labelport.store.browse import has_videos, names_of
from labelport.store.jobs import JobInfo
from labelport.web.charts import bars
from labelport.web.deps import ProjectPage
from labelport.web.export_form import field_of, request_from_form
from labelport.web.templating import render
from labelport.web.verify import check_password, read_manifest, verify_sample

router = APIRouter()


def export_page(access: ProjectPage) -> ProjectAccess:
    return require_export(access)


Exporter = Annotated[ProjectAccess, Depends(export_page)]


def _rows(store: Store, access: ProjectAccess) -> dict[str, Any]:
    """The jobs table: the project's latest exports, who made each, whether any still runs."""
    jobs = store.jobs.history(access.id, limit=50)
    return {"access": access, "jobs": jobs, "polling": any(not j.status.finished for j in jobs),
            "who": {u.id: u.name for u in store.users.list_users()}}


@router.get("/projects/{project}/exports")
def exports_page(request: Request, access: Exporter, store: StoreDep) -> Response:
    return render(request, "exports.html", tab="exports", may_export=True,
                  **_rows(store, access))


@router.get("/projects/{project}/exports/rows")
def export_rows(request: Request, access: Exporter, store: StoreDep) -> Response:
    """The jobs table's rows, polled by htmx while an export is running."""
    return render(request, "_export_rows.html", **_rows(store, access))


def _dialog(request: Request, access: ProjectAccess, store: Store, values: dict[str, Any],
            *, error: str | None = None, status: int = 200) -> Response:
    videos = has_videos(store.engine, access.id)
    formats = [(spec, None if spec.images or videos else
                "writes videos only, and this project has none")
               for spec in all_formats() if spec.writer is not None]
    return render(request, "export_new.html", status=status, access=access, tab="exports",
                  may_export=True, formats=formats, names=names_of(store.engine, access.id),
                  releases=store.list_releases(access.name), values=values, error=error,
                  error_field=field_of(error) if error else None,
                  strategies=[s.value for s in SplitStrategy])


@router.get("/projects/{project}/exports/new")
def new_export(request: Request, access: Exporter, store: StoreDep) -> Response:
    """The dialog; ``ids`` (the items page's checkboxes) preselects items."""
    ids = request.query_params.getlist("ids")
    query = request.query_params
    values = {"format": query.get("format", "coco"), "ids": " ".join(ids), "package": "zip",
              "split_strategy": "random", "release": query.get("release"),
              "since_release": query.get("since_release")}
    return _dialog(request, access, store, values)


async def _form_values(request: Request) -> tuple[Any, dict[str, Any]]:
    form = await request.form()
    values: dict[str, Any] = {key: form.get(key) for key in form}
    for key in ("datasets", "statuses", "labels", "drop_class"):
        values[key] = form.getlist(key)
    values.pop("password", None)  # never shown back in the page
    return form, values


@router.post("/projects/{project}/exports/preview")
async def preview_export(request: Request, access: Exporter, store: StoreDep) -> Response:
    """What the export would hold and what the format would convert or drop (htmx fragment)."""
    form, _values = await _form_values(request)
    try:
        options = ExportOptions.from_json(request_from_form(form))
        shown = preview(store, access.name, options,
                        media_access=_jobs(request).media_access(access.id))
    except LabelportError as exc:
        return render(request, "_preview.html", status=400, error=str(exc), preview=None)
    return render(request, "_preview.html", error=None, preview=shown)


@router.post("/projects/{project}/exports")
async def run_export(request: Request, access: Exporter, store: StoreDep) -> Response:
    form, values = await _form_values(request)
    try:
        service.submit_export(store, request.app.state.runner, access.id,
                              request_from_form(form), created_by=access.user.id)
    except LabelportError as exc:
        return _dialog(request, access, store, values, error=str(exc), status=400)
    return RedirectResponse(f"/projects/{access.id}/exports", status_code=303)


@router.get("/projects/{project}/exports/{export_id}")
def export_detail(request: Request, export_id: int, access: Exporter,
                  store: StoreDep) -> Response:
    job = store.jobs.get(export_id, project_id=access.id)
    return render(request, "export.html",
                  **_export_context(access, job, read_manifest(_jobs(request), job)),
                  verified=None)


def _jobs(request: Request) -> JobSettings:
    settings: JobSettings = request.app.state.settings.jobs
    return settings


def _export_context(access: ProjectAccess, job: JobInfo,
                    manifest: dict[str, Any] | None) -> dict[str, Any]:
    """The export page: the job, what its manifest counted (the artifact's manifest when it
    could be read), a chart of objects per class."""
    counts = job.counts or {}
    per_class = {row["label"]: row["objects"] for row in counts.get("per_class", [])}
    return {"access": access, "tab": "exports", "may_export": True, "job": job,
            "counts": counts, "manifest": manifest, "manifest_bars": bars(per_class)}


@router.post("/projects/{project}/exports/{export_id}/verify")
def verify_export(request: Request, export_id: int, access: Exporter, store: StoreDep,
                  password: Annotated[str, Form()] = "") -> Response:
    """Read a sample of the artifact back with labelport's reader, beside the stored items."""
    job = store.jobs.get(export_id, project_id=access.id)
    manifest = read_manifest(_jobs(request), job, password or None)
    try:
        result = verify_sample(store, _jobs(request), job, access.name,
                               password=password or None)
    except InputError as exc:
        return render(request, "export.html", status=400,
                      **_export_context(access, job, manifest), verified=None,
                      verify_error=str(exc))
    return render(request, "export.html", **_export_context(access, job, manifest),
                  verified=result)


@router.get("/projects/{project}/exports/{export_id}/download")
def download(request: Request, export_id: int, access: Exporter, store: StoreDep) -> Response:
    return api_exports.download_export(export_id, access, store, request)


@router.post("/projects/{project}/exports/{export_id}/rerun")
def rerun(request: Request, export_id: int, access: Exporter, store: StoreDep,
          password: Annotated[str, Form()] = "") -> Response:
    """The same export again, with the same options. A password-protected export's password
    was forgotten when it finished: the person types it again (it must open the artifact),
    else the export page asks for it."""
    job = store.jobs.get(export_id, project_id=access.id)
    again = store.jobs.request(job.id)
    encrypted = bool((job.counts or {}).get("encrypted"))  # what the job recorded
    try:
        if job.artifact_uri is not None:
            with ArtifactStorage(_jobs(request).artifacts).open(job.artifact_uri) as artifact:
                encrypted = check_password(artifact, password or None, to="to re-run it")
        elif encrypted and not password:
            raise InputError("this export was a password-protected zip and labelport does "
                             "not keep passwords: type a password for the new zip")
    except InputError as exc:
        return render(request, "export.html", status=400,
                      **_export_context(access, job, read_manifest(_jobs(request), job)),
                      verified=None, rerun_error=str(exc))
    if encrypted:
        again["password"] = password
    service.submit_export(store, request.app.state.runner, access.id, again,
                          created_by=access.user.id)
    return RedirectResponse(f"/projects/{access.id}/exports", status_code=303)


@router.post("/projects/{project}/exports/{export_id}/delete")
def delete(request: Request, export_id: int, access: Exporter, store: StoreDep) -> Response:
    job = store.jobs.get(export_id, project_id=access.id)
    service.remove_export(store, request.app.state.runner,
                          _jobs(request), job)
    return RedirectResponse(f"/projects/{access.id}/exports", status_code=303)
