"""Releases: immutable, versioned snapshots of a project's selection, and their items.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
Name = sa.String(255)


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", Name, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("selection", sa.Text(), nullable=True),
        sa.Column("header", sa.Text(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("annotation_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", Timestamp, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name="fk_releases_project_id_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
        sa.UniqueConstraint("project_id", "name", name="uq_releases_project_id_name"),
        sa.UniqueConstraint("project_id", "version", name="uq_releases_project_id_version"),
    )
    op.create_table(
        "release_items",
        sa.Column("id", BigId, nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"],
                                name="fk_release_items_release_id_releases"),
        sa.PrimaryKeyConstraint("id", name="pk_release_items"),
        sa.UniqueConstraint("release_id", "key", name="uq_release_items_release_id_key"),
    )
    op.create_index("ix_release_items_release_id_id", "release_items", ["release_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_release_items_release_id_id", table_name="release_items")
    op.drop_table("release_items")
    op.drop_table("releases")
