"""Delivery of an export and its webhook (`labelport.jobs.delivery`): what each attempt did,
recorded on the job as one JSON object.

Revision ID: 0007_delivery
Revises: 0006_video
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_delivery"
down_revision = "0006_video"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("export_jobs") as batch:
        batch.add_column(sa.Column("delivery", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_jobs") as batch:
        batch.drop_column("delivery")
