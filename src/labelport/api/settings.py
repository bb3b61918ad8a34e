"""What the service is configured with (command-line options of `labelport serve`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    db: str | None = None
    """The store: a SQLite path or a database URL (see `labelport.store.db.database_url`)."""
    media_dir: Path = Path("labelport-media")
    """Where uploaded images are kept, one folder per project and dataset."""
