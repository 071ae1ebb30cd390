"""The audit log on SQLite, PostgreSQL and MariaDB refuses UPDATE and DELETE (the migration's triggers;
on PostgreSQL TRUNCATE too - MariaDB's TRUNCATE fires no trigger: the catalog's user needs no DROP right)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.security import audit
from catalog.security import sec_audit
from catalog.store import Catalog
from tests.accounts import admin


def test_the_audit_log_is_append_only(catalog: Catalog) -> None:
    principal = admin(catalog)
    audit.record(catalog, principal, "deploy", "task t v1", env="prod", version_hash="h1")
    before = [(e.actor, e.action, e.target) for e in audit.entries(catalog)]
    assert ("admin", "deploy", "task t v1") in before
    for statement in (sa.update(sec_audit).values(actor="someone-else"), sa.delete(sec_audit)):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), catalog.engine.begin() as conn:
            conn.execute(statement)
    if catalog.dialect == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), catalog.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE sec_audit"))
    assert [(e.actor, e.action, e.target) for e in audit.entries(catalog)] == before
