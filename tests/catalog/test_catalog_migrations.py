"""Alembic migrations: the committed first-release fixture opens with today's code."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from catalog.spec import TableSpec
from catalog.store import (
    Catalog,
    alembic_config,
    create_catalog_engine,
    current_revision,
    head_revision,
    migrate,
    resolve_url,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "catalog_v1.sqlite"


def test_fixture_really_is_the_first_release() -> None:
    with sqlite3.connect(f"file:{FIXTURE}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001_initial",)]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"alembic_version", "tables", "columns", "bindings"}


def test_v1_catalog_is_migrated_and_intact(tmp_path) -> None:
    copy = tmp_path / "catalog.db"
    shutil.copy(FIXTURE, copy)
    with Catalog.open(f"sqlite:///{copy}") as catalog:
        assert catalog.table_names() == ["app.client_events", "dim.users"]
        events = catalog.get_table("app.client_events")
        users = catalog.get_table("dim.users")
        run_id = catalog.start_run("t", "h", "spark", "dev", "2024-01-01", "app.client_events")
        assert catalog.get_run(run_id).status == "running"
        with catalog._engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            inspector = sa.inspect(conn)
            assert "runs" in inspector.get_table_names()
            assert "ix_tables_namespace" in {ix["name"] for ix in inspector.get_indexes("tables")}

    assert events == TableSpec.model_validate(
        {
            "name": "app.client_events",
            "description": "One row per client event.",
            "owner": "growth-data",
            "columns": [
                {"name": "event_id", "type": "string", "nullable": False},
                {"name": "user_id", "type": "bigint"},
                {"name": "event_ts", "type": "timestamp"},
                {"name": "amount", "type": "decimal(10,2)"},
                {"name": "ds", "type": "string"},
            ],
            "primary_key": ["event_id"],
            "partition_by": ["ds"],
            "event_time": {"column": "event_ts", "watermark_delay": "5 seconds"},
            "bindings": {
                "spark": {"dev": {"kind": "file", "path": "data/dev/events", "format": "parquet"}},
                "flink": {
                    "prod": {"kind": "kafka", "topic": "client_events", "bootstrap_servers": "kafka:9092"}
                },
            },
        }
    )
    assert users is not None and users.event_time is None
    assert users.binding("spark", "dev").password_env == "SHOP_DB_PASSWORD"
    assert [c.name for c in users.columns] == ["user_id", "country"]


def test_upgrade_is_one_transaction_on_sqlite(tmp_path) -> None:
    """A failing migration leaves the database as it was (SQLite emits BEGIN for DDL here)."""
    copy = tmp_path / "catalog.db"
    shutil.copy(FIXTURE, copy)
    engine = create_catalog_engine(resolve_url(f"sqlite:///{copy}"))
    with pytest.raises(RuntimeError, match="interrupted"), engine.connect() as conn:
        conn.execution_options(formcast_write=True)
        with conn.begin():
            migrate(conn)
            assert "runs" in sa.inspect(conn).get_table_names()
            raise RuntimeError("interrupted")
    with engine.connect() as conn:
        assert current_revision(conn) == "0001_initial"
        assert "runs" not in sa.inspect(conn).get_table_names()
    engine.dispose()


def test_downgrade_and_upgrade_again(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    Catalog.open(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001_initial")
        assert "runs" not in sa.inspect(conn).get_table_names()
        command.downgrade(alembic_config(conn), "base")
        assert sa.inspect(conn).get_table_names() == ["alembic_version"]
    engine.dispose()
    with Catalog.open(url) as catalog:
        assert catalog.table_names() == []
        assert catalog.runs() == []


def test_models_match_the_migrated_schema(catalog) -> None:
    """The ORM (head) and the migrations must describe the same schema on every backend."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from catalog.schema import metadata

    with catalog._engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
