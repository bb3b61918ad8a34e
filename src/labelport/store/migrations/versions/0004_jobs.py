"""Export jobs (with their shards) and export schedules.

Revision ID: 0004_jobs
Revises: 0003_auth
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_jobs"
down_revision = "0003_auth"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
Name = sa.String(255)


def upgrade() -> None:
    op.create_table(
        "export_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", Name, nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=True),
        sa.Column("cron", sa.String(255), nullable=True),
        sa.Column("delta", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("last_release", Name, nullable=True),
        sa.Column("next_run_at", Timestamp, nullable=False),
        sa.Column("last_run_at", Timestamp, nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", Timestamp, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name="fk_export_schedules_project_id_projects"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL",
                                name="fk_export_schedules_created_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_export_schedules"),
    )
    op.create_index("ix_export_schedules_project_id", "export_schedules", ["project_id"])
    op.create_index("ix_export_schedules_next_run_at", "export_schedules", ["next_run_at"])
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("done", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("counts", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("shard", sa.Integer(), nullable=True),
        sa.Column("shards", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("heartbeat_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", Timestamp, nullable=True),
        sa.Column("finished_at", Timestamp, nullable=True),
        sa.Column("expires_at", Timestamp, nullable=True),
        sa.Column("artifact_uri", sa.Text(), nullable=True),
        sa.Column("artifact_name", sa.Text(), nullable=True),
        sa.Column("artifact_sha256", sa.String(64), nullable=True),
        sa.Column("artifact_size", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name="fk_export_jobs_project_id_projects"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL",
                                name="fk_export_jobs_created_by_users"),
        sa.ForeignKeyConstraint(["schedule_id"], ["export_schedules.id"], ondelete="SET NULL",
                                name="fk_export_jobs_schedule_id_export_schedules"),
        sa.ForeignKeyConstraint(["parent_id"], ["export_jobs.id"], ondelete="CASCADE",
                                name="fk_export_jobs_parent_id_export_jobs"),
        sa.PrimaryKeyConstraint("id", name="pk_export_jobs"),
    )
    op.create_index("ix_export_jobs_project_id_id", "export_jobs", ["project_id", "id"])
    op.create_index("ix_export_jobs_status_heartbeat_at", "export_jobs",
                    ["status", "heartbeat_at"])
    op.create_index("ix_export_jobs_parent_id", "export_jobs", ["parent_id"])


def downgrade() -> None:
    op.drop_index("ix_export_jobs_parent_id", table_name="export_jobs")
    op.drop_index("ix_export_jobs_status_heartbeat_at", table_name="export_jobs")
    op.drop_index("ix_export_jobs_project_id_id", table_name="export_jobs")
    op.drop_table("export_jobs")
    op.drop_index("ix_export_schedules_next_run_at", table_name="export_schedules")
    op.drop_index("ix_export_schedules_project_id", table_name="export_schedules")
    op.drop_table("export_schedules")
