"""Moments in time: labelport's times are UTC, and a naive datetime (SQLite gives them back,
older files hold them) is taken to be UTC already."""

from __future__ import annotations

from datetime import UTC, datetime


def assume_utc(moment: datetime) -> datetime:
    """``moment``, aware: a naive one taken as UTC, an aware one as it is."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
