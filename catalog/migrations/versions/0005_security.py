"""Accounts, API tokens, grants and the append-only audit log.

Revision ID: 0005_security
Revises: 0004_scheduler

The audit log refuses UPDATE and DELETE through triggers, one spelling per backend.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005_security"
down_revision = "0004_scheduler"
branch_labels = None
depends_on = None

DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

_APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER sec_audit_no_update BEFORE UPDATE ON sec_audit "
        "BEGIN SELECT RAISE(ABORT, 'sec_audit is append-only'); END",
        "CREATE TRIGGER sec_audit_no_delete BEFORE DELETE ON sec_audit "
        "BEGIN SELECT RAISE(ABORT, 'sec_audit is append-only'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION sec_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'sec_audit is append-only'; END $$",
        "CREATE TRIGGER sec_audit_no_change BEFORE UPDATE OR DELETE ON sec_audit "
        "FOR EACH ROW EXECUTE FUNCTION sec_audit_append_only()",
        "CREATE TRIGGER sec_audit_no_truncate BEFORE TRUNCATE ON sec_audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION sec_audit_append_only()",
    ],
    "mysql": [
        "CREATE TRIGGER sec_audit_no_update BEFORE UPDATE ON sec_audit FOR EACH ROW "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'sec_audit is append-only'",
        "CREATE TRIGGER sec_audit_no_delete BEFORE DELETE ON sec_audit FOR EACH ROW "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'sec_audit is append-only'",
    ],
}


def _backend() -> str:
    name = op.get_bind().dialect.name
    return "mysql" if name == "mariadb" else name


def upgrade() -> None:
    op.create_table(
        "sec_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("disabled_at", DATETIME, nullable=True),
        sa.Column("password_changed_at", DATETIME, nullable=True),
        sa.CheckConstraint("role IN ('viewer', 'developer', 'approver', 'operator', 'admin')",
                           name=op.f("ck_sec_accounts_role")),
        sa.CheckConstraint("kind IN ('user', 'service')", name=op.f("ck_sec_accounts_kind")),
        sa.PrimaryKeyConstraint("id", name="pk_sec_accounts"),
        sa.UniqueConstraint("name", name="uq_sec_accounts_name"),
        sa.UniqueConstraint("email", name="uq_sec_accounts_email"),
    )
    op.create_table(
        "sec_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("expires_at", DATETIME, nullable=False),
        sa.Column("last_used_at", DATETIME, nullable=True),
        sa.Column("revoked_at", DATETIME, nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.CheckConstraint("kind IN ('api', 'login', 'session')", name=op.f("ck_sec_tokens_kind")),
        sa.ForeignKeyConstraint(["account_id"], ["sec_accounts.id"], name="fk_sec_tokens_account_id_sec_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_sec_tokens"),
        sa.UniqueConstraint("token_id", name="uq_sec_tokens_token_id"),
    )
    op.create_index("ix_sec_tokens_account_id", "sec_tokens", ["account_id"])
    op.create_table(
        "sec_grants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("privilege", sa.String(16), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("table_name", sa.String(255), nullable=False),
        sa.Column("env", sa.String(32), nullable=False),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.Column("granted_at", DATETIME, nullable=False),
        sa.CheckConstraint("privilege IN ('read', 'write', 'deploy', 'approve', 'operate')",
                           name=op.f("ck_sec_grants_privilege")),
        sa.ForeignKeyConstraint(["account_id"], ["sec_accounts.id"], name="fk_sec_grants_account_id_sec_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_sec_grants"),
        sa.UniqueConstraint("account_id", "privilege", "namespace", "table_name", "env",
                            name="uq_sec_grants_account_id_privilege_namespace_table_name_env"),
    )
    op.create_table(
        "sec_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", DATETIME, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("env", sa.String(32), nullable=True),
        sa.Column("version_hash", sa.String(128), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.CheckConstraint("outcome IN ('ok', 'denied', 'failed')", name=op.f("ck_sec_audit_outcome")),
        sa.PrimaryKeyConstraint("id", name="pk_sec_audit"),
    )
    op.create_index("ix_sec_audit_at", "sec_audit", ["at"])
    op.create_index("ix_sec_audit_actor", "sec_audit", ["actor"])
    op.create_index("ix_sec_audit_action", "sec_audit", ["action"])
    for statement in _APPEND_ONLY[_backend()]:
        op.execute(statement)


def downgrade() -> None:
    backend = _backend()
    if backend == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS sec_audit_no_truncate ON sec_audit")
        op.execute("DROP TRIGGER IF EXISTS sec_audit_no_change ON sec_audit")
        op.execute("DROP FUNCTION IF EXISTS sec_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS sec_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS sec_audit_no_delete")
    op.drop_index("ix_sec_audit_action", table_name="sec_audit")
    op.drop_index("ix_sec_audit_actor", table_name="sec_audit")
    op.drop_index("ix_sec_audit_at", table_name="sec_audit")
    op.drop_table("sec_audit")
    op.drop_table("sec_grants")
    op.drop_index("ix_sec_tokens_account_id", table_name="sec_tokens")
    op.drop_table("sec_tokens")
    op.drop_table("sec_accounts")
