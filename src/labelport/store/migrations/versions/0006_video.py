"""Video items and tracks: an item's probed video facts (frame rate, duration, rotation, codec)
as the codec's JSON, and a track keyframe's ``outside`` flag.

Revision ID: 0006_video
Revises: 0005_passwords
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_video"
down_revision = "0005_passwords"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("video", sa.Text(), nullable=True))
    with op.batch_alter_table("annotations") as batch:
        batch.add_column(sa.Column("outside", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("annotations") as batch:
        batch.drop_column("outside")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("video")
