"""Who delivers a finished export's outcome, and whether they are alive
(`labelport.jobs.delivery`): ``delivery_heartbeat_at`` is set while the outcome (a copy to
``deliver_to``, a webhook call) is owed, first when the job finished, then by the delivering
worker's heartbeat; ``delivery_worker`` is that worker. Set only by jobs finishing from now on:
an outcome owed before (a cancelled job, a delivery left pending) is not called on upgrade.

Revision ID: 0009_delivery_claim
Revises: 0008_annotation_defaults
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_delivery_claim"
down_revision = "0008_annotation_defaults"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("export_jobs") as batch:
        batch.add_column(sa.Column("delivery_worker", sa.String(255), nullable=True))
        batch.add_column(sa.Column("delivery_heartbeat_at", sa.DateTime(timezone=True),
                                   nullable=True))
    op.create_index("ix_export_jobs_delivery_heartbeat_at", "export_jobs",
                    ["delivery_heartbeat_at"])


def downgrade() -> None:
    op.drop_index("ix_export_jobs_delivery_heartbeat_at", table_name="export_jobs")
    with op.batch_alter_table("export_jobs") as batch:
        batch.drop_column("delivery_heartbeat_at")
        batch.drop_column("delivery_worker")
