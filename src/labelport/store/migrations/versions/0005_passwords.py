"""Passwords for people signing in to the web app: an argon2 hash per user (none for users who
only use API tokens).

Revision ID: 0005_passwords
Revises: 0004_jobs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_passwords"
down_revision = "0004_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
