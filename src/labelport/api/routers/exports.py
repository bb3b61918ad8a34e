"""Exports as background jobs (Label Studio's export snapshots), the synchronous export of
small projects in Label Studio's shape, and export schedules. All need the project's export
role (manager unless the project allows more)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from labelport.api.deps import Exporter, StoreDep
from labelport.api.pagination import Page, PageParams, page_params, paginate
from labelport.api.schemas import (
    ArtifactPublic,
    ExportCreate,
    ExportProgress,
    ExportPublic,
    Id,
    ScheduleCreate,
    SchedulePublic,
)
from labelport.jobs import delivery, service
from labelport.jobs.artifacts import ArtifactStorage
from labelport.jobs.runner import Runner
from labelport.jobs.schedules import create_schedule
from labelport.store.jobs import JobInfo
from labelport.store.schedules import ScheduleInfo

router = APIRouter(tags=["exports"])

LABEL_STUDIO_TYPES = {"JSON": "labelstudio", "COCO": "coco", "VOC": "voc", "YOLO": "yolo",
                      "CSV": "csv", "TSV": "tsv"}
"""Label Studio's ``exportType`` names; any labelport format name is taken too."""


def get_runner(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


RunnerDep = Annotated[Runner, Depends(get_runner)]


def _public(job: JobInfo, request: Request) -> ExportPublic:
    artifact = None
    if job.downloadable:
        url = request.url_for("download_export", project=str(job.project_id),
                              export_id=str(job.id))
        artifact = ArtifactPublic(name=job.artifact_name or "", size=job.artifact_size or 0,
                                  sha256=job.artifact_sha256 or "", download_url=str(url))
    return ExportPublic(
        id=job.id, project=job.project_id, status=job.status.value,
        progress=ExportProgress(done=job.done, total=job.total), counts=job.counts,
        error=job.error, request=job.request, attempt=job.attempt, shards=job.shards,
        schedule_id=job.schedule_id, created_at=job.created_at, started_at=job.started_at,
        finished_at=job.finished_at, expires_at=job.expires_at, artifact=artifact,
        delivery=job.delivery)


@router.post("/projects/{project}/exports", response_model=ExportPublic, status_code=202)
def create_export(body: ExportCreate, access: Exporter, store: StoreDep, runner: RunnerDep,
                  request: Request) -> ExportPublic:
    """Queue an export; poll it, then download it once `completed`."""
    job = service.submit_export(store, runner, access.id, body.to_request(),
                                created_by=access.user.id)
    return _public(job, request)


@router.get("/projects/{project}/exports", response_model=Page[ExportPublic])
def list_exports(access: Exporter, store: StoreDep, request: Request,
                 page: Annotated[PageParams, Depends(page_params)]) -> Page[ExportPublic]:
    """The project's exports, newest first."""
    jobs = store.jobs.history(access.id, limit=page.page_size, offset=page.offset)
    return paginate(request, page, store.jobs.count(access.id),
                    [_public(job, request) for job in jobs])


@router.get("/projects/{project}/exports/{export_id}", response_model=ExportPublic)
def get_export(export_id: Id, access: Exporter, store: StoreDep,
               request: Request) -> ExportPublic:
    return _public(store.jobs.get(export_id, project_id=access.id), request)


@router.get("/projects/{project}/exports/{export_id}/download", name="download_export",
            response_class=Response, responses={200: {"content": {"application/zip": {}}},
                                                409: {"description": "Not completed yet."}})
def download_export(export_id: Id, access: Exporter, store: StoreDep,
                    request: Request) -> Response:
    """The export's archive (409 until it is completed)."""
    job = store.jobs.get(export_id, project_id=access.id)
    uri = service.downloadable(job)
    storage = ArtifactStorage(request.app.state.settings.jobs.artifacts)
    name = job.artifact_name or f"export-{job.id}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"',
               "X-Checksum-SHA256": job.artifact_sha256 or ""}
    local = storage.local_path(uri)
    if local is not None:
        return FileResponse(local, filename=name, headers=headers)

    def chunks() -> Iterator[bytes]:
        with storage.open(uri) as f:
            while chunk := f.read(1 << 20):
                yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream", headers=headers)


@router.delete("/projects/{project}/exports/{export_id}", status_code=204)
def delete_export(export_id: Id, access: Exporter, store: StoreDep, runner: RunnerDep,
                  request: Request) -> Response:
    """Cancel a queued or running export; remove a finished one and its archive."""
    job = store.jobs.get(export_id, project_id=access.id)
    service.remove_export(store, runner, request.app.state.settings.jobs, job)
    return Response(status_code=204)


@router.get("/projects/{project}/export", response_class=Response,
            responses={200: {"content": {"application/zip": {}}},
                       409: {"description": "Too large: use an export job."}})
def export_directly(
        access: Exporter, store: StoreDep, request: Request,
        export_type: Annotated[str, Query(alias="exportType",
                                          description="COCO, VOC, YOLO, JSON, CSV, TSV or a "
                                                      "labelport format name.")] = "JSON",
        download_all_tasks: bool = False) -> Response:
    """Label Studio's synchronous export of a small project as a zip; only labeled items
    unless ``download_all_tasks``. Larger projects answer 409: create an export job."""
    request_json: dict[str, Any] = {
        "format": LABEL_STUDIO_TYPES.get(export_type.upper(), export_type)}
    if not download_all_tasks:
        request_json["selection"] = {"only_annotated": True}
    folder = service.temporary_folder()
    try:
        jobs = request.app.state.settings.jobs
        path = service.export_now(store, access.name, request_json, folder=folder,
                                  limit=jobs.sync_export_limit,
                                  media_access=jobs.media_access(access.id))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(path, filename=path.name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


def _schedule_public(schedule: ScheduleInfo) -> SchedulePublic:
    return SchedulePublic(
        id=schedule.id, project=schedule.project_id, name=schedule.name,
        export=schedule.public_request(), interval_seconds=schedule.interval_seconds,
        cron=schedule.cron, delta=schedule.delta, enabled=schedule.enabled,
        runs=schedule.runs, last_release=schedule.last_release,
        next_run_at=schedule.next_run_at, last_run_at=schedule.last_run_at)


@router.post("/projects/{project}/export-schedules", response_model=SchedulePublic,
             status_code=201)
def create_export_schedule(body: ScheduleCreate, access: Exporter, store: StoreDep,
                           request: Request) -> SchedulePublic:
    """Export the project every ``interval_seconds`` or on ``cron`` (UTC), optionally as
    delta exports since the previous run (each delivered as its ``deliver_to`` and
    ``webhook`` ask)."""
    service.check_request(body.export.to_request())
    delivery.refuse_disallowed(body.export.to_request(), request.app.state.settings.jobs)
    schedule_id = create_schedule(store, access.id, body.name, body.export.to_request(),
                                  interval_seconds=body.interval_seconds, cron=body.cron,
                                  delta=body.delta, created_by=access.user.id)
    return _schedule_public(store.schedules.get(schedule_id))


@router.get("/projects/{project}/export-schedules", response_model=list[SchedulePublic])
def list_export_schedules(access: Exporter, store: StoreDep) -> list[SchedulePublic]:
    return [_schedule_public(s) for s in store.schedules.of_project(access.id)]


@router.delete("/projects/{project}/export-schedules/{schedule_id}", status_code=204)
def delete_export_schedule(schedule_id: Id, access: Exporter, store: StoreDep) -> Response:
    store.schedules.get(schedule_id, project_id=access.id)
    store.schedules.delete(schedule_id)
    return Response(status_code=204)
