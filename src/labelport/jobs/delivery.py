"""Delivery of a finished export (SATIn's "automatic export to ML training systems"): an export
job (or a schedule's) may copy its artifact to a destination and call a webhook when it ends.

Both are the operator's to allow (`JobSettings`): a destination lies under one of
``$LABELPORT_DELIVERY_ROOTS`` (folders, fsspec URL prefixes such as ``s3://bucket/exports/``),
a webhook under one of ``$LABELPORT_WEBHOOK_URLS`` (http(s) prefixes); none listed, none
allowed. URLs are compared part by part after parsing (`labelport.export.media_access`'s
prefixes: scheme, host, port, path segments; credentials, ``..``, ``::`` chaining refused) and,
here, refused when they hold a ``%`` escape (S3 keys are literal, so ``a%2Fb`` is not ``a/b``)
or a destination holds a query. A request is checked when it is made (`refuse_disallowed`, a
422 naming the option) and again when the job delivers.

Once the job is published (`deliver`): ``{name}.manifest.json`` (the manifest inside the
archive, byte for byte; not for a password-protected zip, whose manifest stays encrypted) and
``{name}{.zip|.tar.gz}`` are uploaded under the destination, each under a temporary name then
moved; then the webhook gets the outcome as JSON (`payload`), signed with HMAC-SHA256 when
the operator set a secret. A failed or cancelled job calls the webhook too. Connection
errors, 5xx and 429 are retried with exponential backoff; any other answer is final (a
redirect is not followed). Every attempt is recorded on the job (`JobInfo.delivery`). A failed
delivery leaves the export published and the job completed: the artifact is whole and
downloadable, and the job's ``delivery`` says what did not arrive.

Exactly one process delivers an outcome: the job's row says it is owed from the UPDATE that
finished the job, and a deliverer claims it (`JobStore.claim_delivery`) and beats while it
works. The worker that completes a job delivers it; a failed job's worker calls its webhook;
a cancelled job's (queued jobs have no worker) is called by the process that cancelled it, off
the request, or by the next tick (`deliver_due`), which also resumes a delivery whose worker
died (its heartbeat stale, as for a running job), from the stored artifact.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import orjson

from labelport.errors import NotAllowedError, NotFoundError
from labelport.export.manifest import archive_manifest
from labelport.export.media_access import MediaAccess, MediaDeniedError, split_entries
from labelport.jobs.artifacts import ArtifactStorage
from labelport.jobs.config import JobSettings
from labelport.jobs.liveness import Beating, worker_name
from labelport.store.jobs import DESTINATION, WEBHOOK, JobInfo, JobStatus, now
from labelport.store.repository import Store

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Labelport-Signature-256"
"""``sha256=<hex HMAC-SHA256 of the body>`` under ``$LABELPORT_WEBHOOK_SECRET`` (GitHub's
``X-Hub-Signature-256`` scheme)."""
EVENT_HEADER = "X-Labelport-Event"
EVENT = "export.finished"
WEBHOOK_TIMEOUT_SECONDS = 10.0
"""How long a webhook call may take, from connecting (TLS included) to the end of the answer
(each read waiting less than that is not enough: a listener sending a byte now and then is
cut)."""
DUE_PER_TICK = 8
"""Owed deliveries one tick starts at most, each on a thread."""
ERROR_LIMIT = 500
"""Characters of an attempt's error kept in the job's record (a listener's status line or
reason phrase, quoted in it, may be 64 KiB)."""
MANIFEST_SUFFIX = ".manifest.json"
OUTCOMES = {JobStatus.COMPLETED: "succeeded", JobStatus.FAILED: "failed",
            JobStatus.CANCELLED: "cancelled"}
"""The webhook's ``status`` for each way a job ends."""

Record = dict[str, Any]


def destination(text: str, settings: JobSettings) -> str:
    """Where ``deliver_to`` writes: the folder (resolved) or URL (scheme and host in lower
    case, as compared) it names, refused with a `NotAllowedError` unless under a root the
    operator allows and outside the service's own storage."""
    roots, refusal = _allowed(DESTINATION, text, settings.delivery_roots,
                              "LABELPORT_DELIVERY_ROOTS", kind="destination")
    access = MediaAccess.service(roots)
    try:
        if "://" in text and not text.startswith("file://"):
            parts = _split(text, refusal)
            if "%" in text or parts.query or parts.fragment or text.endswith("#"):
                raise refusal
            access.check_url(text, what=f"`{DESTINATION}`")
            target = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "",
                                 "")).rstrip("/")
        else:
            path = (Path(unquote(_split(text, refusal).path)) if text.startswith("file://")
                    else Path(text))
            if not path.is_absolute():
                raise refusal
            target = str(access.local_file(path, what=f"`{DESTINATION}`"))
    except MediaDeniedError:
        raise refusal from None
    if _in_own_storage(target, settings):
        raise NotAllowedError(f"`{DESTINATION}` {text!r} lies in the service's own storage "
                              "(LABELPORT_ARTIFACTS, LABELPORT_MEDIA_DIR), where it could "
                              "replace another export's artifact or a project's images")
    return target


def _in_own_storage(target: str, settings: JobSettings) -> bool:
    """Whether the checked ``target`` lies under the artifacts or the uploaded media (an
    fsspec URL that is no plain prefix, ``abfs://box@account/``, holds no checked target)."""
    for place in (settings.artifacts, settings.media_dir):
        try:
            own = MediaAccess.service([place])
            if "://" in target:
                own.check_url(target, what=DESTINATION)
            else:
                own.local_file(Path(target), what=DESTINATION)
        except MediaDeniedError:  # not a prefix, or the target is not under it
            continue
        return True
    return False


def webhook_access(url: str, settings: JobSettings) -> MediaAccess:
    """What may be connected to for the webhook ``url``; a `NotAllowedError` unless under a
    prefix the operator allows."""
    prefixes, refusal = _allowed(WEBHOOK, url, settings.webhook_urls, "LABELPORT_WEBHOOK_URLS",
                                 kind="webhook URL")
    parts = _split(url, refusal)
    if (parts.scheme.lower() not in ("http", "https") or "%" in parts.path or parts.fragment
            or not url.isascii() or any(c <= " " or c == "\x7f" for c in url)):
        raise refusal  # the last two: what http.client refuses to send
    access = MediaAccess.service(prefixes, networks=split_entries(settings.webhook_networks),
                                 networks_setting="LABELPORT_WEBHOOK_NETWORKS")
    try:
        access.check_url(url, what=f"`{WEBHOOK}`")
    except MediaDeniedError:
        raise refusal from None
    return access


def _allowed(option: str, text: str, setting: str, variable: str, *,
             kind: str) -> tuple[list[str], NotAllowedError]:
    """The operator's entries for ``option`` and the refusal of ``text`` that lists them;
    refused at once when the operator listed none."""
    entries = split_entries(setting)
    if not entries:
        raise NotAllowedError(f"`{option}`: the operator of this service allows no {kind} "
                              f"({variable}), so none is used")
    return entries, NotAllowedError(f"`{option}` {text!r} is not under a {kind} the operator "
                                    f"allows: {', '.join(entries)}")


def _split(url: str, refusal: NotAllowedError) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError:  # a malformed host ("s3://[x")
        raise refusal from None


def refuse_disallowed(request: Mapping[str, Any], settings: JobSettings) -> None:
    """Refuse (`NotAllowedError`, a 422) a request whose destination or webhook the operator
    does not allow, before any job is made."""
    if isinstance(request.get(DESTINATION), str):
        destination(request[DESTINATION], settings)
    if isinstance(request.get(WEBHOOK), str):
        webhook_access(request[WEBHOOK], settings)


def deliver(store: Store, job_id: int, settings: JobSettings, worker: str, *,
            out: Path | None = None) -> None:
    """Deliver the outcome of the finished ``job_id`` as its request asks, when ``worker``
    has claimed it: copy the artifact (``out``, or the stored one) to its destination, then
    call its webhook. A run after the worker of an earlier one died goes on where that one
    stopped; past the job's ``max_attempts`` runs the copy is given up as failed (the webhook
    gets one run more, to say so)."""
    try:
        job = store.jobs.get(job_id)
    except NotFoundError:  # removed since it was claimed: nothing is owed any more
        log.info("export job %s was removed before its delivery", job_id)
        return
    record: Record = dict(job.delivery or {})
    record["runs"] = runs = int(record.get("runs", 0)) + 1
    # counted before any work: a run killed mid-copy still counts towards giving up
    if not store.jobs.record_delivery(job_id, record, worker=worker):
        return  # nothing owed, or not this worker's to deliver
    stopped = f"the worker delivering this export stopped responding ({runs - 1} runs)"
    target, hook = job.request.get(DESTINATION), job.request.get(WEBHOOK)

    def save() -> None:
        if not store.jobs.record_delivery(job_id, record, worker=worker):
            raise _Lost

    try:
        with Beating(settings.heartbeat_seconds,
                     lambda: store.jobs.delivery_heartbeat(job_id, worker),
                     name=f"delivery-{job_id}"):
            if target and job.status is JobStatus.COMPLETED and _owed(record, "destination"):
                if runs > settings.max_attempts:
                    _give_up(_part(record, "destination", to=str(target)), stopped)
                else:
                    _copy(job, out, str(target), settings, record, save)
            if hook and _owed(record, "webhook"):
                if runs > settings.max_attempts + 1:
                    _give_up(_part(record, "webhook", url=str(hook)), stopped)
                else:
                    body = payload(job, destination=record.get("destination"))
                    _call(str(hook), body, settings, record, save)
    except _Lost:
        log.warning("delivery of export job %s stopped: taken over by another worker, or the "
                    "job was removed", job_id)
        return
    store.jobs.record_delivery(job_id, record, worker=worker, done=True)


def deliver_owed(store: Store, job_id: int, settings: JobSettings) -> None:
    """Deliver ``job_id``'s outcome here if it is owed and nobody alive delivers it (a job
    just failed or cancelled); nothing otherwise (another process does, or nothing is owed)."""
    worker = worker_name()
    if store.jobs.claim_delivery(job_id, worker, stale_before=_stale_before(settings)):
        deliver(store, job_id, settings, worker)


def deliver_due(store: Store, settings: JobSettings) -> list[int]:
    """Claim owed deliveries nobody alive makes (a cancelled job's webhook whose canceller
    died, a delivery whose worker died), at most `DUE_PER_TICK` (after an outage, the next
    ticks take the rest), and make each on a thread of its own, so a slow listener holds no
    tick; the jobs claimed."""
    worker = worker_name()
    stale_before = _stale_before(settings)
    due = store.jobs.deliveries_due(stale_before=stale_before, limit=DUE_PER_TICK)
    claimed = [job_id for job_id in due
               if store.jobs.claim_delivery(job_id, worker, stale_before=stale_before)]
    for job_id in claimed:
        threading.Thread(target=deliver, args=(store, job_id, settings, worker), daemon=True,
                         name=f"delivery-{job_id}").start()
    return claimed


def _stale_before(settings: JobSettings) -> datetime:
    """A delivery silent since then lost its worker: the rule of a running job."""
    return now() - timedelta(seconds=settings.stale_seconds)


def _part(record: Record, name: str, **where: str) -> Record:
    """The record of ``name`` (``destination``, ``webhook``), kept from an earlier run."""
    part: Record = record.setdefault(name, {})
    part.update(where)
    return part


def _owed(record: Record, name: str) -> bool:
    return record.get(name, {}).get("status") in (None, "pending")


def _give_up(part: Record, message: str) -> None:
    part.update(status="failed", last_error=message, finished_at=now().isoformat())


def payload(job: JobInfo, *, destination: Record | None = None) -> dict[str, Any]:
    """The webhook's JSON body: which export, how it ended, what it holds and where it is."""
    status = OUTCOMES[job.status]
    counts = job.counts or {}
    return {
        "event": EVENT, "export_id": job.id, "project_id": job.project_id,
        "project": job.project, "schedule_id": job.schedule_id, "status": status,
        "error": job.error if status == "failed" else None, "format": job.request.get("format"),
        "artifact": job.artifact_name, "manifest_hash": counts.get("content_hash"),
        "counts": {k: v for k, v in counts.items() if k != "content_hash"} or None,
        "download_path": (f"/api/projects/{job.project_id}/exports/{job.id}/download"
                          if status == "succeeded" else None),
        "locations": _locations(destination),
        "delivery": None if destination is None else {
            "status": destination["status"], "error": destination.get("last_error")},
        "finished_at": (job.finished_at or now()).isoformat()}  # the job's: calls may be late


def _locations(destination: Record | None) -> dict[str, str] | None:
    if destination is None or destination["status"] != "delivered":
        return None
    return {k: destination[k] for k in ("artifact", "manifest") if destination.get(k)}


class _Retry(Exception):  # noqa: N818 - a signal to try again, carrying what went wrong
    """An attempt failed in a way worth retrying (a 5xx or 429 answer)."""


class _Final(Exception):  # noqa: N818 - a signal to stop, carrying what went wrong
    """An attempt got an answer that retrying would not change (a 4xx, a redirect)."""


class _Lost(Exception):  # noqa: N818 - a stop signal, not an error
    """The delivery was claimed by another worker (this one's heartbeat went stale)."""


def _attempts(part: Record, step: Callable[[Record], None], settings: JobSettings,
              save: Callable[[], None]) -> None:
    """Run ``step`` until it succeeds, fails for good or the retries are spent, waiting
    ``backoff * 2**n`` before retry n+1; each attempt goes into ``part`` (after those of an
    earlier run), saved on the job."""
    part["status"] = "pending"
    part.setdefault("attempts", [])
    number = 0
    while part["status"] == "pending":
        if number:
            time.sleep(settings.delivery_backoff_seconds * 2 ** (number - 1))
        attempt: Record = {"at": now().isoformat()}
        part["attempts"].append(attempt)
        started = time.monotonic()
        retry = False
        error: str | None = None
        try:
            step(attempt)
        except (_Retry, OSError, http.client.HTTPException) as failure:
            retry = True
            error = (str(failure) if isinstance(failure, _Retry)
                     else f"{type(failure).__name__}: {failure}")
        except (_Final, NotAllowedError) as failure:
            error = str(failure)
        except Exception as failure:  # a storage library's own error: recorded, not retried
            log.exception("delivery attempt of %s failed", part)
            error = f"{type(failure).__name__}: {failure}"
        attempt["seconds"] = round(time.monotonic() - started, 3)
        if error is None:
            part["status"] = "delivered"
        else:
            attempt["error"] = part["last_error"] = error[:ERROR_LIMIT]
            if not retry or number == settings.delivery_retries:
                part["status"] = "failed"
        if part["status"] != "pending":
            part["finished_at"] = now().isoformat()
        save()
        number += 1


def _copy(job: JobInfo, out: Path | None, target: str, settings: JobSettings,
          record: Record, save: Callable[[], None]) -> None:
    """Upload the artifact (``out``, else the stored one) and its manifest under ``target``,
    checked again now; recorded as ``record["destination"]``."""
    part = _part(record, "destination", to=target)
    encrypted = (job.counts or {}).get("encrypted")
    with tempfile.TemporaryDirectory(prefix=f"labelport-delivery-{job.id}-") as tmp:
        def step(attempt: Record) -> None:
            storage = ArtifactStorage(destination(target, settings))
            archive = out or _stored(job, settings, Path(tmp))
            if not encrypted:
                manifest = _manifest_file(archive, Path(tmp))
                part["manifest"] = storage.upload(manifest, manifest.name).uri
            part["artifact"] = storage.upload(archive, archive.name).uri

        _attempts(part, step, settings, save)


def _stored(job: JobInfo, settings: JobSettings, folder: Path) -> Path:
    """The job's artifact on this machine: where it is kept, or downloaded into ``folder``
    (once: a retry uses the copy)."""
    if job.artifact_uri is None or job.artifact_name is None:
        raise _Final("the artifact was removed (expired) before it was delivered")
    storage = ArtifactStorage(settings.artifacts)
    local = storage.local_path(job.artifact_uri)
    if local is not None:
        return local
    copy = folder / "artifact" / job.artifact_name
    if not copy.exists():
        copy.parent.mkdir(exist_ok=True)
        partial = folder / "downloading"
        storage.download(job.artifact_uri, partial)
        os.replace(partial, copy)
    return copy


def _manifest_file(archive: Path, folder: Path) -> Path:
    """The archive's manifest, as it is inside, copied into ``folder`` as
    ``{name}.manifest.json``."""
    stem = archive.name.removesuffix(".tar.gz").removesuffix(".zip")
    target = folder / (stem + MANIFEST_SUFFIX)
    with archive.open("rb") as stream:
        target.write_bytes(archive_manifest(stream, archive.name))
    return target


def _call(url: str, body: dict[str, Any], settings: JobSettings, record: Record,
          save: Callable[[], None]) -> None:
    """POST ``body`` to the webhook ``url``, checked again now; recorded as
    ``record["webhook"]``."""
    part = _part(record, "webhook", url=url)
    data = orjson.dumps(body)
    headers = {"Content-Type": "application/json", "User-Agent": "labelport",
               EVENT_HEADER: EVENT}
    if settings.webhook_secret:
        digest = hmac.new(settings.webhook_secret.encode(), data, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={digest}"

    def step(attempt: Record) -> None:
        access = webhook_access(url, settings)
        try:
            connection, target = access.connect(url, what=f"`{WEBHOOK}`",
                                                timeout=WEBHOOK_TIMEOUT_SECONDS)
        except MediaDeniedError as error:
            raise NotAllowedError(str(error)) from None
        response = _post(connection, target, data, headers)
        attempt["status_code"] = part["status_code"] = response.status
        if 200 <= response.status < 300:
            return
        message = f"HTTP {response.status} {response.reason}"
        if response.status == 429 or response.status >= 500:
            raise _Retry(message)
        if 300 <= response.status < 400:
            message += " (redirects are not followed)"
        raise _Final(message)

    _attempts(part, step, settings, save)


def _post(connection: http.client.HTTPConnection, target: str, data: bytes,
          headers: dict[str, str]) -> http.client.HTTPResponse:
    """Connect ``connection``, POST ``data`` and read the answer (its first 64 KiB) within
    `WEBHOOK_TIMEOUT_SECONDS`; a `TimeoutError` past it. Each read's timeout alone would let a
    listener sending a byte now and then hold the worker forever, so a timer shuts the socket
    down, which ends the read blocked on it (the TCP connect itself has that timeout)."""
    cut, finished, lock = threading.Event(), threading.Event(), threading.Lock()

    def shut() -> None:
        with lock:  # never once the exchange is over and the socket may be closed
            if not finished.is_set():
                cut.set()
                if connection.sock is not None:  # None: still in the TCP connect's own timeout
                    with suppress(OSError):  # the listener hung up already
                        socket.socket.shutdown(connection.sock, socket.SHUT_RDWR)  # TLS's too

    timer = threading.Timer(WEBHOOK_TIMEOUT_SECONDS, shut)
    timer.start()
    try:
        connection.request("POST", target, body=data, headers=headers)
        response = connection.getresponse()
        response.read(1 << 16)
    except (OSError, http.client.HTTPException):
        if not cut.is_set():
            raise
    finally:
        with lock:
            finished.set()
            timer.cancel()
        connection.close()
    if cut.is_set():  # a cut answer may look whole too: its headers end at the cut
        raise TimeoutError(f"no whole answer within {WEBHOOK_TIMEOUT_SECONDS:g} s")
    return response
