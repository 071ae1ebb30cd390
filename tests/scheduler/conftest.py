"""Scheduler fixtures: a seeded demo home (one per session), catalog DBs on SQLite and PostgreSQL,
and helpers that deploy minimal versions directly (for tests whose executor ignores the SQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import insert

from catalog import scheduling as s
from catalog.db import bump_generation, engine_of, transaction
from catalog.store import Catalog

SESSION = f"fcs_{uuid.uuid4().hex[:8]}"
PG_URL = os.environ.get("FORMCAST_TEST_PG_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"



@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FORMCAST_HOME with the demo data and catalog (dev + prod), seeded once; accounts alice (developer),
    bob (approver), oscar (operator) and the service account scheduler, with tests/accounts.py's grants."""
    from app.demo.seed import register_demo, seed_demo
    from tests.accounts import ensure_account

    home = tmp_path_factory.mktemp("demo_home")
    info = seed_demo(home, days=3)
    with Catalog.open(f"sqlite:///{home / 'catalog.db'}") as store:
        register_demo(store, info)
        for name, role in (("alice", "developer"), ("bob", "approver"), ("oscar", "operator")):
            ensure_account(store, name, role)
        ensure_account(store, "scheduler", "operator", kind="service")
    return home


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[sa.Engine | None]:
    engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError:
        engine.dispose()
        yield None
        return
    yield engine
    with engine.connect() as conn:
        for name in list(conn.execute(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"),
                                      {"p": f"{SESSION}%"}).scalars()):
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty catalog database: SQLite file, or a unique PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    admin = request.getfixturevalue("pg_admin")
    if admin is None:
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}")
    schema = f"{SESSION}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.engine.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    with Catalog.open(catalog_url) as opened:
        yield opened


def put_version(catalog: Any, name: str, *, schedule: str | None = "0 2 * * *", reads: tuple[str, ...] = (),
                target: str | None = None, priority: str = "P2", sla: dict[str, str] | None = None,
                version: int = 1, retries: int = 2, retry_delay: float = 1.0, pool: str = "default",
                depends_on: tuple[str, ...] = ()) -> None:
    """Deploy a minimal version row (no compile): for executors that do not read the SQL."""
    config: dict[str, Any] = {"name": name, "kind": "sql", "priority": priority, "schedule": schedule,
                              "sql": "SELECT 1", "target": {"table": target or f"mart.{name}"}}
    if sla:
        config["sla"] = sla
    now = datetime.now(UTC)
    with transaction(engine_of(catalog), write=True) as conn:
        conn.execute(insert(s.task_versions).values(
            task=name, version=version, config=config, config_hash=f"h{version}", engine="spark", priority=priority,
            schedule=schedule, target_table=target or f"mart.{name}", reads=list(reads), rendered={}, author="t",
            created_at=now, status="approved"))
        t = s.task_deployments
        if not conn.execute(sa.update(t).where(t.c.task == name).values(version=version)).rowcount:
            conn.execute(insert(t).values(task=name, version=version, deployed_by="t", deployed_at=now))
        o = s.sched_task_options
        conn.execute(sa.delete(o).where(o.c.task == name))
        conn.execute(insert(o).values(task=name, depends_on=list(depends_on), pool=pool, retries=retries,
                                      retry_delay_s=retry_delay, timeout_s=None, paused=False))
        bump_generation(conn)


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()
