"""How export jobs run: where artifacts go, which runner, how long things may take. Every
setting has an environment variable, so `labelport serve` and `labelport worker` on several
machines read the same configuration."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from labelport.errors import InputError
from labelport.export.media_access import MediaAccess, split_entries, uploads_folder

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSettings:
    artifacts: str = "labelport-artifacts"
    """Where finished exports are kept: a local folder, or an fsspec URL (``s3://bucket/x``)
    that every server and worker reaches ($LABELPORT_ARTIFACTS)."""
    runner: str = "local"
    """``local`` (a pool inside the server) or ``celery`` ($LABELPORT_RUNNER)."""
    workers: int = 2
    """Threads of the local runner ($LABELPORT_WORKERS)."""
    broker: str = DEFAULT_REDIS
    """Celery's broker ($LABELPORT_REDIS_URL)."""
    queue: str = "labelport"
    """Celery queue the exports are sent to ($LABELPORT_QUEUE)."""
    expire_hours: float = 24 * 7
    """How long a finished export stays downloadable ($LABELPORT_EXPIRE_HOURS)."""
    heartbeat_seconds: float = 2.0
    """How often a running job proves it is alive ($LABELPORT_HEARTBEAT_SECONDS)."""
    stale_seconds: float = 30.0
    """A running job silent this long lost its worker ($LABELPORT_STALE_SECONDS)."""
    max_attempts: int = 3
    """Runs a job gets before a lost worker fails it ($LABELPORT_MAX_ATTEMPTS)."""
    shard_items: int = 0
    """Split exports of more items than this into shards of this many items, written in
    parallel (0: never) ($LABELPORT_SHARD_ITEMS)."""
    sync_export_limit: int = 1000
    """Largest project the synchronous Label Studio export answers ($LABELPORT_SYNC_LIMIT)."""
    tick_seconds: float = 5.0
    """How often schedules and stale jobs are looked at ($LABELPORT_TICK_SECONDS)."""
    media_roots: str = ""
    """Comma-separated folders and URL prefixes exports may read media from
    ($LABELPORT_MEDIA_ROOTS; see `labelport.export.media_access`); nothing else is read."""
    media_networks: str = ""
    """Comma-separated non-public networks http(s) media may come from
    ($LABELPORT_MEDIA_NETWORKS)."""
    media_dir: str = "labelport-media"
    """Where the service keeps uploaded images ($LABELPORT_MEDIA_DIR, ``serve --media-dir``):
    a project's exports may read its own uploads there."""

    delivery_roots: str = ""
    """Comma-separated folders and fsspec URL prefixes (``s3://bucket/exports/``) an export
    may be delivered under ($LABELPORT_DELIVERY_ROOTS; none: no delivery at all)."""
    webhook_urls: str = ""
    """Comma-separated http(s) URL prefixes an export's webhook may call
    ($LABELPORT_WEBHOOK_URLS; none: no webhook at all)."""
    webhook_networks: str = ""
    """Comma-separated non-public networks a webhook host may resolve to
    ($LABELPORT_WEBHOOK_NETWORKS; a prefix naming an address allows that address)."""
    webhook_secret: str = field(default="", repr=False)
    """Key of the body's HMAC-SHA256 signature header ($LABELPORT_WEBHOOK_SECRET; none: the
    body is not signed)."""
    delivery_retries: int = 4
    """Retries of a delivery or webhook call that failed in a way worth retrying
    ($LABELPORT_DELIVERY_RETRIES)."""
    delivery_backoff_seconds: float = 2.0
    """Wait before the first retry, doubled before each next one
    ($LABELPORT_DELIVERY_BACKOFF_SECONDS)."""

    def __post_init__(self) -> None:
        """Refuse negative delivery retries (the last attempt would never come: retried
        forever) and waits (`time.sleep` fails)."""
        for name in ("delivery_retries", "delivery_backoff_seconds"):
            if getattr(self, name) < 0:
                variable = next(var for field_name, var, _ in _ENV if field_name == name)
                raise InputError(f"{variable} is {getattr(self, name)}: it may not be negative")

    def media_access(self, project_id: int) -> MediaAccess:
        """What an export of project ``project_id`` may read: the media roots and the project's
        own uploads, nothing else."""
        access = MediaAccess.service(split_entries(self.media_roots),
                                     networks=split_entries(self.media_networks))
        return access.with_folders(uploads_folder(Path(self.media_dir), project_id))

    @classmethod
    def from_env(cls, **overrides: object) -> JobSettings:
        """Defaults, then the environment, then ``overrides`` (command-line options)."""
        env = os.environ
        values: dict[str, object] = {}
        for name, var, kind in _ENV:
            if var in env:
                values[name] = kind(env[var])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


_ENV: tuple[tuple[str, str, type], ...] = (
    ("artifacts", "LABELPORT_ARTIFACTS", str), ("runner", "LABELPORT_RUNNER", str),
    ("workers", "LABELPORT_WORKERS", int), ("broker", "LABELPORT_REDIS_URL", str),
    ("queue", "LABELPORT_QUEUE", str), ("expire_hours", "LABELPORT_EXPIRE_HOURS", float),
    ("heartbeat_seconds", "LABELPORT_HEARTBEAT_SECONDS", float),
    ("stale_seconds", "LABELPORT_STALE_SECONDS", float),
    ("max_attempts", "LABELPORT_MAX_ATTEMPTS", int),
    ("shard_items", "LABELPORT_SHARD_ITEMS", int),
    ("sync_export_limit", "LABELPORT_SYNC_LIMIT", int),
    ("tick_seconds", "LABELPORT_TICK_SECONDS", float),
    ("media_roots", "LABELPORT_MEDIA_ROOTS", str),
    ("media_networks", "LABELPORT_MEDIA_NETWORKS", str),
    ("media_dir", "LABELPORT_MEDIA_DIR", str),
    ("delivery_roots", "LABELPORT_DELIVERY_ROOTS", str),
    ("webhook_urls", "LABELPORT_WEBHOOK_URLS", str),
    ("webhook_networks", "LABELPORT_WEBHOOK_NETWORKS", str),
    ("webhook_secret", "LABELPORT_WEBHOOK_SECRET", str),
    ("delivery_retries", "LABELPORT_DELIVERY_RETRIES", int),
    ("delivery_backoff_seconds", "LABELPORT_DELIVERY_BACKOFF_SECONDS", float),
)
