"""Deployed task versions and the scheduler's state: instances, attempts, cursors, SLA alerts.

Revision ID: 0004_scheduler
Revises: 0003_lineage
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004_scheduler"
down_revision = "0003_lineage"
branch_labels = None
depends_on = None

DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "task_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("config_hash", sa.String(128), nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("schedule", sa.String(128), nullable=True),
        sa.Column("target_table", sa.String(255), nullable=False),
        sa.Column("reads", sa.JSON(), nullable=False),
        sa.Column("rendered", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approved_by", sa.String(255), nullable=True),
        sa.Column("approved_at", DATETIME, nullable=True),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved')", name=op.f("ck_task_versions_status")),
        sa.PrimaryKeyConstraint("id", name="pk_task_versions"),
        sa.UniqueConstraint("task", "version", name="uq_task_versions_task_version"),
    )
    op.create_table(
        "task_deployments",
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deployed_by", sa.String(255), nullable=False),
        sa.Column("deployed_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("task", name="pk_task_deployments"),
    )
    op.create_table(
        "sched_task_options",
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("depends_on", sa.JSON(), nullable=False),
        sa.Column("pool", sa.String(64), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("retry_delay_s", sa.Float(), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("task", name="pk_sched_task_options"),
    )
    op.create_table(
        "sched_meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_sched_meta"),
    )
    op.create_table(
        "sched_cursors",
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("last_fire_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("task", name="pk_sched_cursors"),
    )
    op.create_table(
        "sched_instances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("logical_key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(64), nullable=False),
        sa.Column("scheduled_at", DATETIME, nullable=False),
        sa.Column("deadline_at", DATETIME, nullable=True),
        sa.Column("ready_at", DATETIME, nullable=True),
        sa.Column("next_try_at", DATETIME, nullable=True),
        sa.Column("started_at", DATETIME, nullable=True),
        sa.Column("ended_at", DATETIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lost", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_until", DATETIME, nullable=True),
        sa.Column("predicted_finish", DATETIME, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("updated_at", DATETIME, nullable=False),
        sa.CheckConstraint(
            "state IN ('waiting', 'ready', 'retrying', 'running', 'succeeded', 'failed')",
            name=op.f("ck_sched_instances_state"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sched_instances"),
        sa.UniqueConstraint("task", "logical_key", name="uq_sched_instances_task_logical_key"),
    )
    op.create_index("ix_sched_instances_state", "sched_instances", ["state"])
    op.create_table(
        "sched_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("started_at", DATETIME, nullable=False),
        sa.Column("ended_at", DATETIME, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["sched_instances.id"],
                                name="fk_sched_attempts_instance_id_sched_instances", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_sched_attempts"),
        sa.UniqueConstraint("instance_id", "attempt", name="uq_sched_attempts_instance_id_attempt"),
    )
    op.create_table(
        "sched_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("logical_key", sa.String(64), nullable=False),
        sa.Column("condition", sa.String(16), nullable=False),
        sa.Column("raised_at", DATETIME, nullable=False),
        sa.Column("resolved_at", DATETIME, nullable=True),
        sa.Column("deadline_at", DATETIME, nullable=False),
        sa.Column("predicted_finish", DATETIME, nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["sched_instances.id"],
                                name="fk_sched_alerts_instance_id_sched_instances", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_sched_alerts"),
        sa.UniqueConstraint("instance_id", "condition", name="uq_sched_alerts_instance_id_condition"),
    )


def downgrade() -> None:
    op.drop_table("sched_alerts")
    op.drop_table("sched_attempts")
    op.drop_index("ix_sched_instances_state", table_name="sched_instances")
    op.drop_table("sched_instances")
    op.drop_table("sched_cursors")
    op.drop_table("sched_meta")
    op.drop_table("sched_task_options")
    op.drop_table("task_deployments")
    op.drop_table("task_versions")
