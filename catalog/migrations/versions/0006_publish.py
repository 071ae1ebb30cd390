"""Run records can end `lost` (their process died; closed by recovery); running runs are found by status.

Revision ID: 0006_publish
Revises: 0004_scheduler
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_publish"
down_revision = "0005_security"
branch_labels = None
depends_on = None

OLD = "status IN ('running', 'succeeded', 'failed', 'cancelled')"
NEW = "status IN ('running', 'succeeded', 'failed', 'cancelled', 'lost')"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("ck_runs_status"), type_="check")
        batch.create_check_constraint("status", NEW)
    op.create_index("ix_runs_status", "runs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_runs_status", table_name="runs")
    op.execute(sa.text("UPDATE runs SET status = 'failed' WHERE status = 'lost'"))
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("ck_runs_status"), type_="check")
        batch.create_check_constraint("status", OLD)
