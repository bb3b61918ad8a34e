"""What the API (and the CLI) call to work with export jobs: submit after checking the
request, cancel or remove, find the artifact to download, and the small synchronous export.

Checks that need no data run before a job is created, so a wrong format, option or packaging
is a 400 at once instead of a failed job later.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labelport.errors import ConflictError, InputError
from labelport.export import package as packager
from labelport.export.media_access import MediaAccess
from labelport.export.package import PackageKind, artifact_path
from labelport.export.pipeline import run_pipeline
from labelport.export.request import ExportOptions, convert_options, plan_export
from labelport.formats.registry import get_format
from labelport.jobs import delivery
from labelport.jobs.artifacts import ArtifactStorage
from labelport.jobs.config import JobSettings
from labelport.jobs.runner import Runner
from labelport.store.jobs import JobInfo, JobStatus
from labelport.store.repository import Store


def check_request(request: Mapping[str, Any]) -> ExportOptions:
    """The request's options, refused (`InputError`) when no export could run them."""
    options = ExportOptions.from_json(request, default_package=PackageKind.ZIP)
    spec = get_format(options.format)
    if spec.writer is None:
        raise InputError(f"format {spec.name!r} can be read but not written")
    convert_options(spec, options.options)
    if options.package is PackageKind.DIR:
        raise InputError("an export job is downloaded as one file: choose package zip or "
                         "tar.gz, not dir")
    packager.refuse_impossible(options.package, media=options.media, paths=options.paths,
                               password=options.password)
    return options


def submit_export(store: Store, runner: Runner, project_id: int, request: Mapping[str, Any],
                  *, created_by: int | None = None) -> JobInfo:
    """Check ``request`` (and its delivery against the operator's settings), queue it as a
    job and dispatch it."""
    check_request(request)
    delivery.refuse_disallowed(request, runner.settings)
    job_id = store.jobs.create(project_id, dict(request), created_by=created_by)
    runner.submit(job_id)
    return store.jobs.get(job_id)


def remove_export(store: Store, runner: Runner, settings: JobSettings, job: JobInfo) -> None:
    """Cancel a queued or running export; remove a finished one with its artifact, once its
    delivery has ended: its webhook is called, whatever the job became, before the job can go
    (a `ConflictError` until then: a cancel followed at once by a removal would lose it)."""
    if not job.status.finished and runner.cancel(job.id):
        return
    if store.jobs.owes_delivery(job.id):
        raise ConflictError(f"export {job.id} is still being delivered (its copy to its "
                            "destination or its webhook call); remove it once its delivery "
                            "has ended")
    storage = ArtifactStorage(settings.artifacts)
    for uri in store.jobs.delete(job.id):
        storage.delete(uri)


def downloadable(job: JobInfo) -> str:
    """The artifact URI of a completed export; a `ConflictError` saying why there is none."""
    if job.status is not JobStatus.COMPLETED:
        detail = f": {job.error}" if job.error else ""
        raise ConflictError(f"export {job.id} is {job.status.value}{detail}; it can be "
                            "downloaded once completed")
    if job.artifact_uri is None:
        raise ConflictError(f"export {job.id} expired; create a new export")
    return job.artifact_uri


def export_now(store: Store, project: str, request: Mapping[str, Any], *, limit: int,
               folder: Path, media_access: MediaAccess) -> Path:
    """Export at once into ``folder`` (a project of at most ``limit`` items); the archive.
    ``media_access``: what the export may read (`JobSettings.media_access`)."""
    options = check_request(request)
    planned = plan_export(store, project, options, media_access=media_access)
    if len(planned.source) > limit:
        raise ConflictError(
            f"project {project!r} has {len(planned.source)} items, over the {limit} a direct "
            f"export answers; create an export job: POST /api/projects/<id>/exports")
    out = artifact_path(folder, options.name or f"{project}-{planned.spec.name}",
                        options.package)
    run_pipeline(planned.source, planned.request, out, extra_selection=planned.extra_selection)
    return out


def temporary_folder() -> Path:
    """A folder for one direct export; the caller removes it after sending the file."""
    return Path(tempfile.mkdtemp(prefix="labelport-direct-"))


def make_runner(store: Store, settings: JobSettings) -> Runner:
    """The runner ``settings.runner`` names: ``local`` or ``celery``."""
    if settings.runner == "local":
        from labelport.jobs.local import LocalRunner

        return LocalRunner(store, settings)
    if settings.runner == "celery":
        from labelport.jobs.celery_app import CeleryRunner

        return CeleryRunner(store, settings)
    raise InputError(f"unknown runner {settings.runner!r}; valid runners: local, celery")
