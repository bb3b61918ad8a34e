"""Initial schema: projects, label classes, datasets, labelsets, items, tasks, annotations.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
Name = sa.String(255)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", Name, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("classifications", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.UniqueConstraint("name", name="uq_projects_name"),
    )
    op.create_table(
        "label_classes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", Name, nullable=False),
        sa.Column("geometry", sa.String(20), nullable=False),
        sa.Column("parent", Name, nullable=True),
        sa.Column("color", sa.String(32), nullable=True),
        sa.Column("spec", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name="fk_label_classes_project_id_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_label_classes"),
        sa.UniqueConstraint("project_id", "name", name="uq_label_classes_project_id_name"),
        sa.UniqueConstraint("project_id", "local_id", name="uq_label_classes_project_id_local_id"),
    )
    for table in ("datasets", "labelsets"):
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("project_id", sa.Integer(), nullable=False),
            sa.Column("name", Name, nullable=False),
            sa.Column("description", sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                    name=f"fk_{table}_project_id_projects"),
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
            sa.UniqueConstraint("project_id", "name", name=f"uq_{table}_project_id_name"),
        )
    op.create_table(
        "items",
        sa.Column("id", BigId, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("media_uri", sa.Text(), nullable=True),
        sa.Column("frame_count", sa.Integer(), nullable=True),
        sa.Column("channels", sa.Integer(), nullable=True),
        sa.Column("bit_depth", sa.Integer(), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"],
                                name="fk_items_dataset_id_datasets"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name="fk_items_project_id_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
        sa.UniqueConstraint("dataset_id", "path", name="uq_items_dataset_id_path"),
    )
    op.create_index("ix_items_project_id_id", "items", ["project_id", "id"])
    op.create_table(
        "tasks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("labelset_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("assignee", Name, nullable=True),
        sa.Column("reviewer", Name, nullable=True),
        sa.Column("classifications", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=True),
        sa.Column("updated_at", Timestamp, nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_tasks_item_id_items"),
        sa.ForeignKeyConstraint(["labelset_id"], ["labelsets.id"],
                                name="fk_tasks_labelset_id_labelsets"),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.UniqueConstraint("item_id", "labelset_id", name="uq_tasks_item_id_labelset_id"),
    )
    op.create_table(
        "annotations",
        sa.Column("id", BigId, nullable=False),
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("labelset_id", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("extras", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.Column("instance_id", sa.BigInteger(), nullable=True),
        sa.Column("frame", sa.Integer(), nullable=True),
        sa.Column("z_order", sa.Integer(), nullable=False),
        sa.Column("crowd", sa.Boolean(), nullable=False),
        sa.Column("annotator", Name, nullable=True),
        sa.Column("lead_time_s", sa.Float(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=True),
        sa.Column("updated_at", Timestamp, nullable=True),
        sa.ForeignKeyConstraint(["class_id"], ["label_classes.id"],
                                name="fk_annotations_class_id_label_classes"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_annotations_item_id_items"),
        sa.ForeignKeyConstraint(["labelset_id"], ["labelsets.id"],
                                name="fk_annotations_labelset_id_labelsets"),
        sa.PrimaryKeyConstraint("id", name="pk_annotations"),
    )
    op.create_index("ix_annotations_item_id_labelset_id_id", "annotations",
                    ["item_id", "labelset_id", "id"])
    op.create_index("ix_annotations_class_id", "annotations", ["class_id"])


def downgrade() -> None:
    op.drop_index("ix_annotations_class_id", table_name="annotations")
    op.drop_index("ix_annotations_item_id_labelset_id_id", table_name="annotations")
    op.drop_table("annotations")
    op.drop_table("tasks")
    op.drop_index("ix_items_project_id_id", table_name="items")
    for table in ("items", "labelsets", "datasets", "label_classes", "projects"):
        op.drop_table(table)
