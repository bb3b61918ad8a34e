"""Export jobs as rows: the one place their state lives, whichever runner (local pool or Celery
workers on other machines) runs them.

Every change of status is one UPDATE whose WHERE names the status (and for a running job the
worker) it expects, so two workers never both claim a job, a cancelled job is never marked
completed, and a worker that lost its job (recovered as stale, then claimed by another) cannot
write over the new run. A running job proves it is alive by its heartbeat; `JobStore.recover`
re-queues (or, after ``max_attempts``, fails) jobs whose heartbeat went stale.

A job that finishes with a delivery to make (`labelport.jobs.delivery`: a completed export's
copy and webhook call, a failed or cancelled one's call) owes it from the same UPDATE that
finishes it (``delivery_heartbeat_at`` set); whoever delivers claims it first
(`JobStore.claim_delivery`, or `JobStore.complete` for the worker that completed it) and beats
while delivering, so an owed delivery whose claimer went silent is claimed again by the same
rule as a stale running job.

Timestamps are written by Python in UTC (not by the database's clock) and read back aware.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, Row, and_, delete, exists, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from labelport.domain.moments import assume_utc
from labelport.errors import NotFoundError
from labelport.store.tables import export_jobs, projects

SECRET_KEYS = ("password",)
"""Request keys kept in the row only while the job can still run, and never shown."""
DESTINATION = "deliver_to"
WEBHOOK = "webhook"
"""Request keys asking for delivery: where the artifact is copied, which URL is called."""


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobInfo:
    """One export job as the API shows it; ``request`` never holds the password."""

    id: int
    project_id: int
    project: str
    request: dict[str, Any]
    status: JobStatus
    done: int
    total: int | None
    counts: dict[str, Any] | None
    error: str | None
    created_by: int | None
    schedule_id: int | None
    parent_id: int | None
    shard: int | None
    shards: int
    attempt: int
    worker: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    artifact_uri: str | None
    artifact_name: str | None
    artifact_sha256: str | None
    artifact_size: int | None
    delivery: dict[str, Any] | None = None
    """What delivering the artifact and calling the webhook did (`labelport.jobs.delivery`)."""

    @property
    def downloadable(self) -> bool:
        return self.status is JobStatus.COMPLETED and self.artifact_uri is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Artifact:
    """Where a finished export was uploaded, and what it is."""

    uri: str
    name: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Recovered:
    """What `JobStore.recover` did: jobs queued again, jobs failed for good."""

    requeued: list[int]
    failed: list[int]


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; every stored time is UTC."""
    return None if value is None else assume_utc(value)


class JobStore:
    """The export jobs of a store (``store.jobs``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, project_id: int, request: Mapping[str, Any], *,
               created_by: int | None = None, schedule_id: int | None = None,
               parent_id: int | None = None, shard: int | None = None) -> int:
        """A queued job; ``request`` is the export's options as JSON."""
        with self.engine.begin() as conn:
            return _insert(conn, project_id, request, created_by=created_by,
                           schedule_id=schedule_id, parent_id=parent_id, shard=shard)

    def get(self, job_id: int, *, project_id: int | None = None) -> JobInfo:
        """The job (of ``project_id`` when given); a `NotFoundError` otherwise."""
        with self.engine.connect() as conn:
            row = conn.execute(_select().where(export_jobs.c.id == job_id)).first()
            if row is None or (project_id is not None and row.project_id != project_id):
                raise NotFoundError(f"no export job with id {job_id}")
            return _info(row, _shard_progress(conn, row))

    def request(self, job_id: int) -> dict[str, Any]:
        """The job's request with its secrets, for the worker that runs it."""
        with self.engine.connect() as conn:
            text = conn.execute(select(export_jobs.c.request)
                                .where(export_jobs.c.id == job_id)).scalar_one()
        decoded: dict[str, Any] = orjson.loads(text)
        return decoded

    def history(self, project_id: int, *, limit: int = 100, offset: int = 0) -> list[JobInfo]:
        """The project's export history, newest first (shards are not listed)."""
        query = (_select().where(export_jobs.c.project_id == project_id,
                                 export_jobs.c.parent_id.is_(None))
                 .order_by(export_jobs.c.id.desc()).limit(limit).offset(offset))
        with self.engine.connect() as conn:
            return [_info(row, _shard_progress(conn, row)) for row in conn.execute(query)]

    def count(self, project_id: int) -> int:
        query = select(func.count()).select_from(export_jobs).where(
            export_jobs.c.project_id == project_id, export_jobs.c.parent_id.is_(None))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def shards(self, parent_id: int) -> list[JobInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(_select().where(export_jobs.c.parent_id == parent_id)
                                .order_by(export_jobs.c.shard))
            return [_info(row, None) for row in rows]

    def claim(self, job_id: int, worker: str) -> JobInfo | None:
        """queued -> running for ``worker``; None when the job is not queued (another worker
        has it, or it was cancelled or removed)."""
        at = now()
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(export_jobs)
                .where(export_jobs.c.id == job_id, export_jobs.c.status == JobStatus.QUEUED)
                .values(status=JobStatus.RUNNING, worker=worker, heartbeat_at=at,
                        started_at=at, attempt=export_jobs.c.attempt + 1, done=0, error=None))
            if claimed.rowcount != 1:
                return None
            row = conn.execute(_select().where(export_jobs.c.id == job_id)).one()
            return _info(row, None)

    def heartbeat(self, job_id: int, worker: str, *, done: int, total: int | None) -> bool:
        """Record progress and that ``worker`` is alive; False when the job is no longer this
        worker's to run (cancelled, failed, or recovered and claimed again): stop then."""
        at = now()
        with self.engine.begin() as conn:
            touched = conn.execute(
                update(export_jobs).where(*_owned(job_id, worker))
                .values(done=done, total=total, heartbeat_at=at))
            if touched.rowcount != 1:
                return False
            parent = conn.execute(select(export_jobs.c.parent_id)
                                  .where(export_jobs.c.id == job_id)).scalar_one()
            if parent is not None:  # a parent waiting on its shards is alive while they are
                conn.execute(update(export_jobs).where(export_jobs.c.id == parent,
                                                       export_jobs.c.status == JobStatus.RUNNING)
                             .values(heartbeat_at=at))
            return True

    def complete(self, job_id: int, worker: str, *, artifact: Artifact,
                 counts: Mapping[str, Any], expires_at: datetime | None) -> bool:
        """running -> completed with its uploaded artifact; False when the job stopped being
        this worker's meanwhile (the caller then removes the artifact). A delivery it owes is
        claimed by ``worker`` at once."""
        finishing = self._finishing(job_id, JobStatus.COMPLETED)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(export_jobs).where(*_owned(job_id, worker))
                .values(status=JobStatus.COMPLETED, finished_at=now(), heartbeat_at=now(),
                        counts=orjson.dumps(dict(counts)).decode(), expires_at=expires_at,
                        artifact_uri=artifact.uri, artifact_name=artifact.name,
                        artifact_sha256=artifact.sha256, artifact_size=artifact.size,
                        done=func.coalesce(export_jobs.c.total, export_jobs.c.done),
                        delivery_worker=worker if finishing["delivery_heartbeat_at"] else None,
                        **finishing))
            return done.rowcount == 1

    def fail(self, job_id: int, message: str, *, worker: str | None = None) -> bool:
        """queued or running -> failed with ``message`` (only if still ``worker``'s job when
        given); a parent's other shards are cancelled."""
        condition = (_owned(job_id, worker) if worker is not None
                     else (export_jobs.c.id == job_id, export_jobs.c.status.in_(ACTIVE)))
        return self._finish(job_id, condition, JobStatus.FAILED, message)

    def cancel(self, job_id: int) -> bool:
        """queued or running -> cancelled; a running worker notices at its next heartbeat."""
        return self._finish(job_id, (export_jobs.c.id == job_id,
                                     export_jobs.c.status.in_(ACTIVE)),
                            JobStatus.CANCELLED, None)

    def _finish(self, job_id: int, condition: tuple[ColumnElement[bool], ...],
                status: JobStatus, message: str | None) -> bool:
        finishing = self._finishing(job_id, status)
        with self.engine.begin() as conn:
            done = conn.execute(update(export_jobs).where(*condition).values(
                status=status, error=message, finished_at=now(), **finishing))
            if done.rowcount != 1:
                return False
            conn.execute(update(export_jobs).where(export_jobs.c.parent_id == job_id,
                                                   export_jobs.c.status.in_(ACTIVE))
                         .values(status=JobStatus.CANCELLED, finished_at=now()))
            parent, shard = conn.execute(select(export_jobs.c.parent_id, export_jobs.c.shard)
                                         .where(export_jobs.c.id == job_id)).one()
        if parent is not None and status is JobStatus.FAILED:  # a shard fails its export
            self.fail(parent, f"shard {shard} failed: {message}")
        return True

    def owes_delivery(self, job_id: int) -> bool:
        """Whether ``job_id``'s destination copy or webhook call is still to be made (or being
        made): set by the UPDATE that finished the job, cleared when the delivery ends."""
        with self.engine.connect() as conn:
            return conn.execute(select(export_jobs.c.id).where(
                export_jobs.c.id == job_id, _owing())).first() is not None

    def delete(self, job_id: int) -> list[str]:
        """Remove a finished job and its shards; the artifact URIs the caller must delete."""
        with self.engine.connect() as conn:  # reads apart: SQLite cannot upgrade to a writer
            uris = list(conn.execute(
                select(export_jobs.c.artifact_uri).where(
                    (export_jobs.c.id == job_id) | (export_jobs.c.parent_id == job_id),
                    export_jobs.c.artifact_uri.is_not(None))).scalars())
        with self.engine.begin() as conn:
            conn.execute(delete(export_jobs).where(export_jobs.c.parent_id == job_id))
            conn.execute(delete(export_jobs).where(export_jobs.c.id == job_id))
        return [uri for uri in uris if uri]

    def split(self, parent_id: int, worker: str, requests: list[dict[str, Any]]) -> list[int]:
        """Turn the running ``parent_id`` into a parent of one queued shard per request; the
        parent stays running, without a worker, until `release_parent`."""
        with self.engine.begin() as conn:
            project_id = conn.execute(
                update(export_jobs).where(*_owned(parent_id, worker))
                .values(worker=None, shards=len(requests), heartbeat_at=now())
                .returning(export_jobs.c.project_id)).scalar_one()
            return [_insert(conn, project_id, request, parent_id=parent_id, shard=index)
                    for index, request in enumerate(requests)]

    def release_parent(self, parent_id: int) -> bool:
        """running -> queued for a parent whose shards all completed, so one worker claims
        it and merges them; True for the one caller that did it."""
        pending = exists().where(export_jobs.c.parent_id == parent_id,
                                 export_jobs.c.status != JobStatus.COMPLETED)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(export_jobs)
                .where(export_jobs.c.id == parent_id, export_jobs.c.status == JobStatus.RUNNING,
                       export_jobs.c.shards > 0, ~pending)
                .values(status=JobStatus.QUEUED, worker=None, heartbeat_at=now()))
            return done.rowcount == 1

    def recover(self, *, stale_before: datetime, max_attempts: int) -> Recovered:
        """Running jobs whose heartbeat is older than ``stale_before`` (their worker died)
        are queued again, or failed once they have had ``max_attempts`` runs. A parent with
        shards still queued or running is waiting, not stale (its shards are recovered
        themselves): taken again, it would merge shards that are not written."""
        requeued: list[int] = []
        failed: list[int] = []
        shard = export_jobs.alias("shard")
        unfinished = exists().where(shard.c.parent_id == export_jobs.c.id,
                                    shard.c.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
        with self.engine.begin() as conn:
            stale = conn.execute(
                select(export_jobs.c.id, export_jobs.c.attempt, export_jobs.c.heartbeat_at)
                .where(export_jobs.c.status == JobStatus.RUNNING,
                       export_jobs.c.heartbeat_at < stale_before, ~unfinished)).all()
        for job_id, attempt, heartbeat_at in stale:
            still_stale = (export_jobs.c.id == job_id,
                           export_jobs.c.status == JobStatus.RUNNING,
                           export_jobs.c.heartbeat_at == heartbeat_at)
            if attempt < max_attempts:
                with self.engine.begin() as conn:
                    moved = conn.execute(update(export_jobs).where(*still_stale).values(
                        status=JobStatus.QUEUED, worker=None, heartbeat_at=now()))
                if moved.rowcount == 1:
                    requeued.append(job_id)
            elif self._finish(job_id, still_stale, JobStatus.FAILED,
                              f"the worker running this export stopped responding "
                              f"({attempt} attempts)"):
                failed.append(job_id)
        return Recovered(requeued=requeued, failed=failed)

    def waiting(self, *, touched_before: datetime | None = None) -> list[int]:
        """Queued jobs, oldest first: all of them, or those not dispatched since
        ``touched_before`` (their message may be lost), which are marked as dispatched now."""
        query = select(export_jobs.c.id).where(export_jobs.c.status == JobStatus.QUEUED)
        if touched_before is not None:
            query = query.where(func.coalesce(export_jobs.c.heartbeat_at,
                                              export_jobs.c.created_at) < touched_before)
        with self.engine.connect() as conn:
            ids = list(conn.execute(query.order_by(export_jobs.c.id)).scalars())
        if ids and touched_before is not None:
            with self.engine.begin() as conn:
                conn.execute(update(export_jobs).where(export_jobs.c.id.in_(ids),
                                                       export_jobs.c.status == JobStatus.QUEUED)
                             .values(heartbeat_at=now()))
        return ids

    def expired(self, at: datetime) -> list[tuple[int, str]]:
        """Completed jobs whose artifact expired before ``at``: (id, artifact URI)."""
        query = select(export_jobs.c.id, export_jobs.c.artifact_uri).where(
            export_jobs.c.artifact_uri.is_not(None), export_jobs.c.expires_at < at)
        with self.engine.connect() as conn:
            return [(job_id, uri) for job_id, uri in conn.execute(query)]

    def deliveries_due(self, *, stale_before: datetime, limit: int) -> list[int]:
        """The first ``limit`` finished jobs owing a delivery that nobody delivers: not claimed
        yet, or claimed by a worker whose delivery heartbeat is older than ``stale_before``
        (it died)."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(export_jobs.c.id)
                                     .where(*_delivery_free(stale_before))
                                     .order_by(export_jobs.c.id).limit(limit)).scalars())

    def claim_delivery(self, job_id: int, worker: str, *, stale_before: datetime) -> bool:
        """Make ``worker`` the one delivering ``job_id``'s outcome when it is owed and free
        (`deliveries_due`); False for every other caller, so it is delivered by one."""
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(export_jobs)
                .where(export_jobs.c.id == job_id, *_delivery_free(stale_before))
                .values(delivery_worker=worker, delivery_heartbeat_at=now()))
            return claimed.rowcount == 1

    def delivery_heartbeat(self, job_id: int, worker: str) -> bool:
        """``worker`` is alive and still delivering ``job_id``'s outcome; False when it is not
        (nothing owed, or claimed away from it after its heartbeat went stale): stop then."""
        with self.engine.begin() as conn:
            touched = conn.execute(update(export_jobs).where(*_delivering(job_id, worker))
                                   .values(delivery_heartbeat_at=now()))
            return touched.rowcount == 1

    def record_delivery(self, job_id: int, delivery: Mapping[str, Any], *, worker: str,
                        done: bool = False) -> bool:
        """Record what ``worker``'s delivery did so far (with ``done``, all it will do: the
        delivery is owed no more); False when the delivery is no longer ``worker``'s."""
        with self.engine.begin() as conn:
            saved = conn.execute(update(export_jobs).where(*_delivering(job_id, worker)).values(
                delivery=orjson.dumps(dict(delivery)).decode(),
                delivery_heartbeat_at=None if done else now()))
            return saved.rowcount == 1

    def _finishing(self, job_id: int, status: JobStatus) -> dict[str, Any]:
        """What the UPDATE finishing ``job_id`` as ``status`` writes besides: its request
        without secrets, and since when it owes a delivery (None: nothing to deliver; a shard
        never does, its export delivers). Read before the writing transaction: SQLite cannot
        turn a reader into a writer while another connection writes ("database is locked")."""
        with self.engine.connect() as conn:
            row = conn.execute(select(export_jobs.c.request, export_jobs.c.parent_id)
                               .where(export_jobs.c.id == job_id)).first()
        if row is None:
            return {"request": None, "delivery_heartbeat_at": None}
        request = orjson.loads(row.request)
        owed = row.parent_id is None and bool(
            request.get(WEBHOOK) or (status is JobStatus.COMPLETED and request.get(DESTINATION)))
        return {"request": orjson.dumps({k: v for k, v in request.items()
                                         if k not in SECRET_KEYS}).decode(),
                "delivery_heartbeat_at": now() if owed else None}

    def forget_artifact(self, job_id: int) -> None:
        """The artifact was removed: the job stays in the history, not downloadable."""
        with self.engine.begin() as conn:
            conn.execute(update(export_jobs).where(export_jobs.c.id == job_id)
                         .values(artifact_uri=None))


def _insert(conn: Connection, project_id: int, request: Mapping[str, Any], *,
            created_by: int | None = None, schedule_id: int | None = None,
            parent_id: int | None = None, shard: int | None = None) -> int:
    key = conn.execute(insert(export_jobs).values(
        project_id=project_id, request=orjson.dumps(dict(request)).decode(),
        status=JobStatus.QUEUED, done=0, shards=0, attempt=0, created_at=now(),
        created_by=created_by, schedule_id=schedule_id, parent_id=parent_id,
        shard=shard)).inserted_primary_key
    assert key is not None
    return int(key[0])


def owing_deliveries(conn: Connection, project_id: int) -> list[int]:
    """The project's jobs whose delivery is still to be made (`JobStore.owes_delivery`): the
    project cannot be removed before it ends."""
    return list(conn.execute(select(export_jobs.c.id).where(
        export_jobs.c.project_id == project_id, _owing())).scalars())


def _owing() -> ColumnElement[bool]:
    return export_jobs.c.delivery_heartbeat_at.is_not(None)


def _owned(job_id: int, worker: str) -> tuple[ColumnElement[bool], ...]:
    return (export_jobs.c.id == job_id, export_jobs.c.status == JobStatus.RUNNING,
            export_jobs.c.worker == worker)


def _delivery_free(stale_before: datetime) -> tuple[ColumnElement[bool], ...]:
    """An owed delivery nobody alive makes."""
    return (_owing(), export_jobs.c.delivery_worker.is_(None)
            | (export_jobs.c.delivery_heartbeat_at < stale_before))


def _delivering(job_id: int, worker: str) -> tuple[ColumnElement[bool], ...]:
    return (export_jobs.c.id == job_id, _owing(), export_jobs.c.delivery_worker == worker)


def _select() -> Any:
    return (select(export_jobs, projects.c.name.label("project"))
            .join(projects, projects.c.id == export_jobs.c.project_id))


def _shard_progress(conn: Connection, row: Row[Any]) -> tuple[int, int | None] | None:
    """A sharded job's progress is its shards' progress."""
    if not row.shards:
        return None
    done, total = conn.execute(
        select(func.coalesce(func.sum(export_jobs.c.done), 0),
               func.sum(export_jobs.c.total))
        .where(and_(export_jobs.c.parent_id == row.id))).one()
    return int(done), None if total is None else int(total)


def _info(row: Row[Any], progress: tuple[int, int | None] | None) -> JobInfo:
    done, total = progress if progress is not None else (row.done, row.total)
    request = orjson.loads(row.request)
    return JobInfo(
        id=row.id, project_id=row.project_id, project=row.project,
        request={k: v for k, v in request.items() if k not in SECRET_KEYS},
        status=JobStatus(row.status), done=done, total=total,
        counts=orjson.loads(row.counts) if row.counts else None, error=row.error,
        created_by=row.created_by, schedule_id=row.schedule_id, parent_id=row.parent_id,
        shard=row.shard, shards=row.shards, attempt=row.attempt, worker=row.worker,
        heartbeat_at=aware(row.heartbeat_at), created_at=aware(row.created_at) or now(),
        started_at=aware(row.started_at), finished_at=aware(row.finished_at),
        expires_at=aware(row.expires_at), artifact_uri=row.artifact_uri,
        artifact_name=row.artifact_name, artifact_sha256=row.artifact_sha256,
        artifact_size=row.artifact_size,
        delivery=orjson.loads(row.delivery) if row.delivery else None)
