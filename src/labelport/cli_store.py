"""The store as the CLI's commands open it: imported when a command needs it, because SQLAlchemy
and Alembic are most of the CLI's start-up and ``convert``, ``formats`` or ``--help`` never
touch the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from labelport.errors import LabelportError

if TYPE_CHECKING:
    from labelport.store.repository import Store

DEFAULT_DB = "./labelport.db"
"""`labelport.store.db.DEFAULT_DB`, for the ``--db`` help (a test checks they agree)."""


def open_store(url_or_path: str | None = None, *, create: bool = False) -> Store:
    """`labelport.store.open_store`; a SQLite file that does not exist is created only with
    ``create`` (``labelport init`` and ``labelport demo``), so a mistyped ``--db`` is an error
    instead of a new empty store."""
    from sqlalchemy import make_url

    from labelport.store.db import database_url
    from labelport.store.db import open_store as open_

    url = database_url(url_or_path)
    parsed = make_url(url)
    if not create and parsed.get_backend_name() == "sqlite" and parsed.database not in (
            None, "", ":memory:") and not Path(parsed.database).exists():
        raise LabelportError(f"no store at {parsed.database}; run labelport init")
    return open_(url)
