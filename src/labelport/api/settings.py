"""What the service is configured with (command-line options of `labelport serve`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labelport.jobs.config import JobSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    db: str | None = None
    """The store: a SQLite path or a database URL (see `labelport.store.db.database_url`)."""
    media_dir: Path = Path("labelport-media")
    """Where uploaded images are kept, one folder per project and dataset."""
    jobs: JobSettings = field(default_factory=JobSettings.from_env)
    """Export jobs: runner, artifact storage, expiry (see `labelport.jobs.config`)."""
