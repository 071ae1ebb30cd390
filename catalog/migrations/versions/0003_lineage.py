"""Column-level lineage per task version: the task's reads, outputs and header, and its edges.

Revision ID: 0003_lineage
Revises: 0002_runs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003_lineage"
down_revision = "0002_runs"
branch_labels = None
depends_on = None

DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "lineage_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("config_hash", sa.String(128), nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("target_table", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("reads", sa.JSON(), nullable=False),
        sa.Column("output_columns", sa.JSON(), nullable=False),
        sa.Column("incomplete", sa.JSON(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("computed_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lineage_tasks"),
        sa.UniqueConstraint("task", "config_hash", name="uq_lineage_tasks_task_config_hash"),
    )
    op.create_index("ix_lineage_tasks_task_current", "lineage_tasks", ["task", "current"])
    op.create_index("ix_lineage_tasks_target_table", "lineage_tasks", ["target_table"])
    op.create_table(
        "lineage_edges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lineage_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("config_hash", sa.String(128), nullable=False),
        sa.Column("target_table", sa.String(255), nullable=False),
        sa.Column("target_column", sa.String(128), nullable=True),
        sa.Column("source_table", sa.String(255), nullable=False),
        sa.Column("source_column", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.CheckConstraint(
            "kind IN ('copied', 'transformed', 'aggregated', 'filtered_by', 'joined_on')",
            name=op.f("ck_lineage_edges_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["lineage_id"], ["lineage_tasks.id"], name="fk_lineage_edges_lineage_id_lineage_tasks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_lineage_edges"),
    )
    op.create_index("ix_lineage_edges_lineage_id", "lineage_edges", ["lineage_id"])
    op.create_index("ix_lineage_edges_source_table", "lineage_edges", ["source_table"])
    op.create_index("ix_lineage_edges_target_table", "lineage_edges", ["target_table"])


def downgrade() -> None:
    op.drop_index("ix_lineage_edges_target_table", table_name="lineage_edges")
    op.drop_index("ix_lineage_edges_source_table", table_name="lineage_edges")
    op.drop_index("ix_lineage_edges_lineage_id", table_name="lineage_edges")
    op.drop_table("lineage_edges")
    op.drop_index("ix_lineage_tasks_target_table", table_name="lineage_tasks")
    op.drop_index("ix_lineage_tasks_task_current", table_name="lineage_tasks")
    op.drop_table("lineage_tasks")
