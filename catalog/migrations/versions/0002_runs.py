"""Task runs recorded by the app's runners; index tables by namespace for namespace listings.

Revision ID: 0002_runs
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002_runs"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("config_hash", sa.String(128), nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("env", sa.String(32), nullable=False),
        sa.Column("logical_date", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", DATETIME, nullable=False),
        sa.Column("ended_at", DATETIME, nullable=True),
        sa.Column("rows_written", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'cancelled')", name=op.f("ck_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_task_started_at", "runs", ["task", "started_at"])
    op.create_index("ix_tables_namespace", "tables", ["namespace"])


def downgrade() -> None:
    op.drop_index("ix_tables_namespace", table_name="tables")
    op.drop_index("ix_runs_task_started_at", table_name="runs")
    op.drop_table("runs")
