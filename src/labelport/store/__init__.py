"""Persistence: SQLAlchemy 2 tables, Alembic migrations, queries that stream records.

Open a store with `open_store` (a SQLite path or a database URL); everything else goes through
the `Store` it returns."""

from labelport.store.db import open_store
from labelport.store.importer import ImportSummary
from labelport.store.projects import ProjectStats, ProjectSummary
from labelport.store.repository import Store

__all__ = ["ImportSummary", "ProjectStats", "ProjectSummary", "Store", "open_store"]
