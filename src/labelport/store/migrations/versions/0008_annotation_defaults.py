"""Server defaults for the annotation columns a plain annotation leaves at their defaults
(``extras``, ``source``, ``z_order``, ``crowd``; ``outside`` has one already), so a bulk import
inserts such a row with its first columns only (`labelport.store.rows.ANNOTATION_PLAIN_FIELDS`).
Rows stored before keep their values; nothing is rewritten but the table's definition.

Revision ID: 0008_annotation_defaults
Revises: 0007_delivery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_annotation_defaults"
down_revision = "0007_delivery"
branch_labels = None
depends_on = None

_DEFAULTS = (("extras", sa.Boolean(), sa.false()), ("source", sa.String(10), "human"),
             ("z_order", sa.Integer(), "0"), ("crowd", sa.Boolean(), sa.false()))


def upgrade() -> None:
    with op.batch_alter_table("annotations") as batch:
        for name, type_, default in _DEFAULTS:
            batch.alter_column(name, existing_type=type_, existing_nullable=False,
                               server_default=default)


def downgrade() -> None:
    with op.batch_alter_table("annotations") as batch:
        for name, type_, _ in _DEFAULTS:
            batch.alter_column(name, existing_type=type_, existing_nullable=False,
                               server_default=None)
