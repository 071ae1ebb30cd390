"""Tables of accounts, API tokens, grants and the audit log (created by migration 0005_security).

They are declared on the catalog's `Base.metadata` (`catalog.base`) like `catalog.scheduling`;
`app/security` owns what they mean. The audit log is append-only: the migration adds triggers that
refuse UPDATE and DELETE on every backend (triggers are not part of this metadata).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from catalog.base import ENV_LEN, NAME_LEN, Base, UtcDateTime

ACCOUNT_NAME_LEN = 64
ROLES = ("viewer", "developer", "approver", "operator", "admin")
ACCOUNT_KINDS = ("user", "service")
PRIVILEGES = ("read", "write", "deploy", "approve", "operate")
TOKEN_KINDS = ("api", "login", "session")

metadata = Base.metadata

sec_accounts = Table(
    "sec_accounts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(ACCOUNT_NAME_LEN), nullable=False, unique=True),
    Column("display_name", String(NAME_LEN), nullable=True),
    Column("email", String(NAME_LEN), nullable=True, unique=True),
    Column("role", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("password_hash", String(255), nullable=True),  # argon2id; NULL: signs in with tokens only
    Column("disabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(ACCOUNT_NAME_LEN), nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("password_changed_at", UtcDateTime, nullable=True),
    CheckConstraint("role IN ('viewer', 'developer', 'approver', 'operator', 'admin')", name="role"),
    CheckConstraint("kind IN ('user', 'service')", name="kind"),
)

sec_tokens = Table(
    "sec_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_id", String(32), nullable=False, unique=True),  # the public half, printed in listings
    Column("account_id", Integer, ForeignKey("sec_accounts.id"), nullable=False),
    Column("secret_hash", String(128), nullable=False),  # sha256 of the secret half
    Column("kind", String(16), nullable=False),
    Column("label", String(NAME_LEN), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("revoked_by", String(ACCOUNT_NAME_LEN), nullable=True),
    Index(None, "account_id"),
    CheckConstraint("kind IN ('api', 'login', 'session')", name="kind"),
)

sec_grants = Table(
    "sec_grants", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("sec_accounts.id"), nullable=False),
    Column("privilege", String(16), nullable=False),
    Column("namespace", String(NAME_LEN), nullable=False),  # '*': every namespace
    Column("table_name", String(NAME_LEN), nullable=False),  # '*': every table of the namespace
    Column("env", String(ENV_LEN), nullable=False),  # '*': every environment
    Column("granted_by", String(ACCOUNT_NAME_LEN), nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "privilege", "namespace", "table_name", "env"),
    CheckConstraint("privilege IN ('read', 'write', 'deploy', 'approve', 'operate')", name="privilege"),
)

sec_audit = Table(
    "sec_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(ACCOUNT_NAME_LEN), nullable=False),  # account name, or what was typed at a failed sign-in
    Column("actor_id", Integer, nullable=True),  # no foreign key: the log outlives and never blocks anything
    Column("action", String(32), nullable=False),
    Column("target", String(NAME_LEN), nullable=False),
    Column("env", String(ENV_LEN), nullable=True),
    Column("version_hash", String(128), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=True),
    Column("origin", String(NAME_LEN), nullable=False),
    Index(None, "at"),
    Index(None, "actor"),
    Index(None, "action"),
    CheckConstraint("outcome IN ('ok', 'denied', 'failed')", name="outcome"),
)
