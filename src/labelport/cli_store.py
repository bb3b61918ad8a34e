"""The store as the CLI's commands open it: imported when a command needs it, because SQLAlchemy
and Alembic are most of the CLI's start-up and ``convert``, ``formats`` or ``--help`` never
touch the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labelport.store.repository import Store

DEFAULT_DB = "./labelport.db"
"""`labelport.store.db.DEFAULT_DB`, for the ``--db`` help (a test checks they agree)."""


def open_store(url_or_path: str | None = None) -> Store:
    """`labelport.store.open_store`."""
    from labelport.store.db import open_store as open_

    return open_(url_or_path)
