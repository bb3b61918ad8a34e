"""What the service is configured with (command-line options of `labelport serve`)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from labelport.api.limits import RequestLimits
from labelport.jobs.config import JobSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    db: str | None = None
    """The store: a SQLite path or a database URL (see `labelport.store.db.database_url`)."""
    media_dir: Path = Path("labelport-media")
    """Where uploaded images are kept, one folder per project and dataset."""
    jobs: JobSettings = field(default_factory=JobSettings.from_env)
    """Export jobs: runner, artifact storage, expiry (see `labelport.jobs.config`)."""
    limits: RequestLimits = field(default_factory=RequestLimits.from_env)
    """What one request may cost: body and upload sizes, archives (`labelport.api.limits`)."""
    secret_key: str = field(default_factory=lambda: os.environ.get("LABELPORT_SECRET_KEY")
                            or secrets.token_urlsafe(32))
    """Signs the web app's session cookies: ``$LABELPORT_SECRET_KEY``, the same on every
    server behind one address; without it each start makes a new one (people sign in again)."""
