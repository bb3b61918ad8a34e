"""A partial index of the items that are videos, by project: whether a project holds a video
(`StreamSource.videos`, asked each time an export opens its source) is found without reading
every item of the project.

Revision ID: 0010_items_videos
Revises: 0009_delivery_claim
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_items_videos"
down_revision = "0009_delivery_claim"
branch_labels = None
depends_on = None

_VIDEOS = sa.text("frame_count IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_items_videos", "items", ["project_id"], sqlite_where=_VIDEOS,
                    postgresql_where=_VIDEOS)


def downgrade() -> None:
    op.drop_index("ix_items_videos", table_name="items")
