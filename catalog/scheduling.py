"""Tables of versions and scheduler state (created by migration 0004_scheduler).

They are declared on the catalog's `Base.metadata` (`catalog.base`), so that `catalog.schema` holds
the migrated schema and the models as one; the scheduler in `app/scheduler` uses them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from catalog.base import NAME_LEN, Base, UtcDateTime

INSTANCE_STATES = ("waiting", "ready", "retrying", "running", "succeeded", "failed")
TERMINAL_STATES = ("succeeded", "failed")
VERSION_STATUSES = ("pending", "approved")
ALERT_CONDITIONS = ("sla_risk", "sla_missed")

metadata = Base.metadata

task_versions = Table(
    "task_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task", String(NAME_LEN), nullable=False),
    Column("version", Integer, nullable=False),
    Column("config", JSON, nullable=False),
    Column("config_hash", String(128), nullable=False),
    Column("engine", String(16), nullable=False),
    Column("priority", String(8), nullable=False),
    Column("schedule", String(128), nullable=True),
    Column("target_table", String(NAME_LEN), nullable=False),
    Column("reads", JSON, nullable=False),
    Column("rendered", JSON, nullable=False),  # {engine: {env: script}}
    Column("author", String(NAME_LEN), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("approved_by", String(NAME_LEN), nullable=True),
    Column("approved_at", UtcDateTime, nullable=True),
    Column("rollback_of", Integer, nullable=True),
    UniqueConstraint("task", "version"),
    CheckConstraint("status IN ('pending', 'approved')", name="status"),
)

task_deployments = Table(
    "task_deployments", metadata,
    Column("task", String(NAME_LEN), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("deployed_by", String(NAME_LEN), nullable=False),
    Column("deployed_at", UtcDateTime, nullable=False),
)

sched_task_options = Table(
    "sched_task_options", metadata,
    Column("task", String(NAME_LEN), primary_key=True),
    Column("depends_on", JSON, nullable=False),
    Column("pool", String(64), nullable=False),
    Column("retries", Integer, nullable=False),
    Column("retry_delay_s", Float, nullable=False),
    Column("timeout_s", Float, nullable=True),
    Column("paused", Boolean, nullable=False),
)

sched_meta = Table(
    "sched_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

sched_cursors = Table(
    "sched_cursors", metadata,
    Column("task", String(NAME_LEN), primary_key=True),
    Column("last_fire_at", UtcDateTime, nullable=False),
)

sched_instances = Table(
    "sched_instances", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task", String(NAME_LEN), nullable=False),
    Column("logical_key", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("pool", String(64), nullable=False),
    Column("scheduled_at", UtcDateTime, nullable=False),
    Column("deadline_at", UtcDateTime, nullable=True),
    Column("ready_at", UtcDateTime, nullable=True),
    Column("next_try_at", UtcDateTime, nullable=True),
    Column("started_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("lost", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("predicted_finish", UtcDateTime, nullable=True),
    Column("error", Text, nullable=True),
    Column("run_id", String(64), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("task", "logical_key"),
    Index(None, "state"),
    CheckConstraint(
        "state IN ('waiting', 'ready', 'retrying', 'running', 'succeeded', 'failed')", name="state"
    ),
)

sched_attempts = Table(
    "sched_attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("sched_instances.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("owner", String(128), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("status", String(16), nullable=False),  # running | succeeded | failed | lost | recovered
    Column("error", Text, nullable=True),
    Column("run_id", String(64), nullable=True),
    UniqueConstraint("instance_id", "attempt"),
)

sched_alerts = Table(
    "sched_alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("sched_instances.id", ondelete="CASCADE"), nullable=False),
    Column("task", String(NAME_LEN), nullable=False),
    Column("logical_key", String(64), nullable=False),
    Column("condition", String(16), nullable=False),
    Column("raised_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("deadline_at", UtcDateTime, nullable=False),
    Column("predicted_finish", UtcDateTime, nullable=True),
    Column("message", Text, nullable=False),
    UniqueConstraint("instance_id", "condition"),
)
