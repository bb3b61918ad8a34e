"""Run one export job, wherever it runs (a local pool thread, a Celery worker process).

`execute` claims the job (queued -> running), rebuilds the export from the job's JSON options,
runs the pipeline into a temporary folder with a heartbeat thread proving it is alive, uploads
the artifact and marks the job completed with its counts; a user error marks it failed with
its message. A cancel (or the job being recovered away from this worker) is noticed at the
next progress report: the export stops, and nothing is uploaded or recorded.

A job over `JobSettings.shard_items` items of a shardable format is split into shard jobs
(`labelport.jobs.shards`); the last shard to complete queues the parent again, and the worker
that claims it merges the shards.
"""

from __future__ import annotations

import logging
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from labelport.errors import LabelportError
from labelport.export.package import (
    PackageKind,
    artifact_path,
    export_name,
    owner,
    remove_leftovers,
)
from labelport.export.pipeline import prepare, run_pipeline
from labelport.export.request import ExportOptions, plan_export
from labelport.export.stage import size_bound
from labelport.jobs import delivery, shards
from labelport.jobs.artifacts import ArtifactStorage
from labelport.jobs.config import JobSettings
from labelport.jobs.liveness import Beating, worker_name
from labelport.store.jobs import JobInfo, now
from labelport.store.repository import Store

log = logging.getLogger(__name__)

Submit = Callable[[int], None]


class Cancelled(Exception):  # noqa: N818 - a stop signal, not an error
    """Raised from the progress callback when the job is no longer this worker's to run."""


def execute(store: Store, job_id: int, settings: JobSettings, submit: Submit) -> None:
    """Run the job ``job_id`` if it is still queued; ``submit`` dispatches jobs it creates
    (shards, or a parent ready to merge)."""
    worker = worker_name()
    job = store.jobs.claim(job_id, worker)
    if job is None:
        return
    try:
        with Heartbeat(store, job_id, worker, settings.heartbeat_seconds) as beat:
            if job.shards:
                _merge(store, job, settings, beat)
            else:
                _export(store, job, settings, beat, submit)
    except Cancelled:
        log.info("export job %s stopped: cancelled or taken over", job_id)
    except LabelportError as exc:
        _fail(store, job, str(exc), worker, settings)
    except Exception as exc:
        log.error("export job %s failed:\n%s", job_id, traceback.format_exc())
        # the exception's text stays in the log: it may name the server's paths or hosts,
        # which the job's error (the API, the web page, the webhook) shows to its users
        _fail(store, job, f"internal error ({type(exc).__name__}); the worker's log has the "
                          f"details (export job {job_id})", worker, settings)


def _fail(store: Store, job: JobInfo, message: str, worker: str,
          settings: JobSettings) -> None:
    """Fail ``job`` if it is still ``worker``'s, then call the webhook its export (a shard's
    parent, failed with it) owes."""
    if store.jobs.fail(job.id, message, worker=worker):
        delivery.deliver_owed(store, job.parent_id or job.id, settings)


class Heartbeat:
    """Writes the job's progress and heartbeat every ``every`` seconds from a thread, so long
    stages without progress reports (a split's first pass, packaging, upload) keep the job
    alive; `progress` raises `Cancelled` once a heartbeat finds the job is not ours."""

    def __init__(self, store: Store, job_id: int, worker: str, every: float) -> None:
        self.store, self.job_id, self.worker = store, job_id, worker
        self.done = 0
        self.total: int | None = None
        self.lost = False
        self._beating = Beating(every, self.beat, name=f"heartbeat-{job_id}")

    def __enter__(self) -> Heartbeat:
        self._beating.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """No more beats (again at the block's end does nothing): the run has ended."""
        self._beating.__exit__()

    def beat(self) -> None:
        if not self.store.jobs.heartbeat(self.job_id, self.worker, done=self.done,
                                         total=self.total):
            self.lost = True

    def progress(self, done: int) -> None:
        self.done = done
        if self.lost:
            raise Cancelled

    def check(self) -> None:
        """Before publishing: one synchronous heartbeat, so a cancel is not missed."""
        self.beat()
        if self.lost:
            raise Cancelled


def _options(store: Store, job: JobInfo) -> tuple[ExportOptions, dict[str, Any]]:
    """The job's options (with secrets) and its raw request; a retry of a job that froze its
    release already exports that release instead of freezing it again."""
    raw = store.jobs.request(job.id)
    shard_keys = {k: raw.pop(k) for k in shards.SHARD_KEYS if k in raw}
    options = ExportOptions.from_json(raw, default_package=PackageKind.ZIP)
    frozen = options.freeze_release
    if frozen is not None and frozen in {r.name for r in store.list_releases(job.project)}:
        options = replace(options, release=frozen, freeze_release=None)
    return options, {**raw, **shard_keys}


def _export(store: Store, job: JobInfo, settings: JobSettings, beat: Heartbeat,
            submit: Submit) -> None:
    options, raw = _options(store, job)
    if options.package is PackageKind.DIR:
        raise LabelportError("an export job is downloaded as one file: choose package zip "
                             "or tar.gz, not dir")
    planned = plan_export(store, job.project, options,
                          media_access=settings.media_access(job.project_id))
    source = planned.source
    storage = ArtifactStorage(settings.artifacts)
    unsharded = None
    if job.shard is None and shards.should_split(planned, settings):
        try:
            requests = shards.shard_requests(raw, planned, settings.shard_items,
                                             storage=storage,
                                             key=f"{job.project_id}/{job.id}-{job.attempt}")
        except shards.Unshardable as exc:
            unsharded = str(exc)
        else:
            for shard_id in store.jobs.split(job.id, beat.worker, requests):
                submit(shard_id)
            return
    kind: PackageKind = options.package
    plan = None
    stored: tuple[str, ...] = ()
    if job.shard is not None:
        source = shards.slice_source(source, raw[shards.RANGE_KEY])
        plan = shards.load_plan(storage, raw)
        kind = shards.SHARD_PACKAGE
        stored = shards.rewritten(planned.spec)
    prepared = prepare(source, planned.request, split_plan=plan)
    if unsharded is not None:
        prepared.report.warn(unsharded)
    beat.total = size_bound(prepared.source)
    remove_leftovers(Path(tempfile.gettempdir()), jobs=True)  # of killed jobs on this machine
    with tempfile.TemporaryDirectory(prefix=f"labelport-job-{job.id}-{owner()}-") as tmp:
        name = options.name or f"{job.project}-{planned.spec.name}-{job.id}"
        out = artifact_path(Path(tmp), name, kind)
        result = run_pipeline(source, replace(planned.request, package=kind), out,
                              extra_selection=planned.extra_selection, prepared=prepared,
                              stored=stored, progress=beat.progress)
        beat.done = beat.total = result.counts.items  # the total was a bound (`size_bound`)
        counts = {**result.manifest["counts"], "report": result.manifest["report"]["counts"],
                  "content_hash": result.manifest["content_hash"],
                  "encrypted": result.manifest["options"]["encrypted"]}
        _publish(store, job, settings, beat, out, counts)
    if job.schedule_id is not None and raw.get("freeze_release"):
        store.schedules.record_release(job.schedule_id, planned.extra_selection["release"])
    if job.parent_id is not None and store.jobs.release_parent(job.parent_id):
        submit(job.parent_id)


def _merge(store: Store, job: JobInfo, settings: JobSettings, beat: Heartbeat) -> None:
    options, _ = _options(store, job)
    parts = store.jobs.shards(job.id)
    storage = ArtifactStorage(settings.artifacts)
    first = store.jobs.request(parts[0].id) if parts else {}
    plan = shards.load_plan(storage, first)
    planned = plan_export(store, job.project, replace(options, freeze_release=None,
                                                      release=first.get("release")),
                          media_access=settings.media_access(job.project_id))
    with tempfile.TemporaryDirectory(prefix=f"labelport-merge-{job.id}-{owner()}-") as tmp:
        name = export_name(options.name or f"{job.project}-{options.format}-{job.id}")
        out = artifact_path(Path(tmp), name, options.package)
        counts = shards.merge(storage, parts, Path(tmp) / "work", out,
                              spec=planned.spec, plan=plan,
                              schema_counts=shards.schema_counts(planned),
                              package=options.package, password=options.password,
                              name=options.name)
        beat.done = sum(p.done for p in parts)
        _publish(store, job, settings, beat, out, counts)
    for part in parts:  # the merged artifact replaces them
        if part.artifact_uri:
            storage.delete(part.artifact_uri)
            store.jobs.forget_artifact(part.id)
    if shards.PLAN_KEY in first:
        storage.delete(first[shards.PLAN_KEY])


def _publish(store: Store, job: JobInfo, settings: JobSettings, beat: Heartbeat, out: Path,
             counts: dict[str, Any]) -> None:
    """Upload, then record: the job points at its artifact only once the upload is whole;
    then deliver it where the request asks (the job stays completed whatever delivery does;
    completing claimed the delivery for this worker)."""
    beat.check()
    storage = ArtifactStorage(settings.artifacts)
    artifact = storage.upload(out, f"{job.project_id}/{job.id}-{job.attempt}/{out.name}")
    expires = now() + timedelta(hours=settings.expire_hours)
    if not store.jobs.complete(job.id, beat.worker, artifact=artifact, counts=counts,
                               expires_at=expires):
        storage.delete(artifact.uri)  # cancelled while uploading
        raise Cancelled
    beat.stop()  # the job is completed: its delivery beats on its own, for as long as it takes
    delivery.deliver(store, job.id, settings, beat.worker, out=out)
