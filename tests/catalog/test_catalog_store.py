"""Catalog store behaviour, run against SQLite, PostgreSQL and MariaDB (see conftest.scratch)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

import catalog.store as store_module
from catalog.errors import CatalogError
from catalog.models import BindingRow, ColumnRow
from catalog.spec import TableSpec
from catalog.store import Catalog, current_revision, head_revision


def make_spec(name: str = "app.client_events", **overrides: object) -> TableSpec:
    data: dict[str, object] = {
        "name": name,
        "description": "One row per client event.",
        "owner": "growth-data",
        "columns": [
            {"name": "event_id", "type": "string", "nullable": False, "description": "uuid"},
            {"name": "user_id", "type": "long"},
            {"name": "event_ts", "type": "timestamp"},
            {"name": "amount", "type": "decimal(10,2)"},
            {"name": "tags", "type": "array<string>"},
            {"name": "ds", "type": "string"},
        ],
        "primary_key": ["event_id"],
        "partition_by": ["ds"],
        "event_time": {"column": "event_ts", "watermark_delay": "5 seconds"},
        "bindings": {
            "spark": {
                "dev": {
                    "kind": "file",
                    "path": "data/dev/events",
                    "format": "csv",
                    "options": {"header": "true"},
                },
                "prod": {"kind": "table", "table": "warehouse.events", "format": "parquet"},
            },
            "flink": {
                "dev": {"kind": "datagen", "rows_per_second": 10},
                "prod": {"kind": "kafka", "topic": "client_events", "bootstrap_servers": "k1:9092,k2:9092"},
                "test": {"kind": "print"},
            },
        },
    }
    data.update(overrides)
    return TableSpec.model_validate(data)


def simple_spec(name: str, description: str = "", columns: tuple[str, ...] = ("id",)) -> TableSpec:
    return TableSpec.model_validate(
        {
            "name": name,
            "description": description,
            "columns": [{"name": c, "type": "bigint"} for c in columns],
        }
    )


def count_rows(catalog: Catalog, model: type) -> int:
    with catalog._engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def test_schema_is_migrated_to_head(catalog: Catalog) -> None:
    with catalog._engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        names = set(sa.inspect(conn).get_table_names())
    assert {"tables", "columns", "bindings", "runs", "alembic_version"} <= names


def test_register_and_get_round_trip(catalog: Catalog, scratch) -> None:
    spec = make_spec()
    catalog.register(spec)
    assert catalog.get_table("app.client_events") == spec
    assert catalog.get_table("APP.Client_Events") == spec
    assert catalog.get_table("app.missing") is None
    with Catalog.open(scratch.url) as fresh:  # from the database, not this instance's cache
        loaded = fresh.get_table("app.client_events")
    assert loaded == spec
    assert loaded is not None
    assert [c.type for c in loaded.columns] == [
        "string",
        "bigint",
        "timestamp",
        "decimal(10, 2)",
        "array<string>",
        "string",
    ]
    assert loaded.columns[0].nullable is False and loaded.columns[0].description == "uuid"
    assert loaded.event_time is not None and loaded.event_time.watermark_delay == "5 seconds"
    assert loaded.binding("flink", "prod").physical_id() == "kafka:k1:9092,k2:9092#client_events"
    assert loaded.binding("spark", "dev").options == {"header": "true"}
    assert loaded.binding("flink", "test").kind == "print"


def test_table_without_event_time_or_bindings(catalog: Catalog) -> None:
    spec = simple_spec("ns.plain")
    catalog.register(spec)
    catalog.refresh()
    loaded = catalog.get_table("ns.plain")
    assert loaded == spec
    assert loaded is not None and loaded.event_time is None and loaded.bindings == {}


def test_names_list_and_search(catalog: Catalog) -> None:
    catalog.register_many(
        [
            simple_spec("sales.orders", "Customer orders", ("order_id", "customer_id")),
            simple_spec("sales.refunds", "Money back", ("refund_id",)),
            simple_spec("web.page_views", "Clicks and views", ("view_id", "customer_id")),
            simple_spec("web.sessions", "100% of sessions", ("session_id",)),
        ]
    )
    assert catalog.table_names() == ["sales.orders", "sales.refunds", "web.page_views", "web.sessions"]
    assert [t.name for t in catalog.list_tables()] == catalog.table_names()
    assert [t.name for t in catalog.list_tables(namespace="web")] == ["web.page_views", "web.sessions"]
    assert [t.name for t in catalog.list_tables(namespace="WEB")] == ["web.page_views", "web.sessions"]
    # column name, description, table name; case-insensitive
    assert [t.name for t in catalog.list_tables(search="CUSTOMER_ID")] == ["sales.orders", "web.page_views"]
    assert [t.name for t in catalog.list_tables(search="money")] == ["sales.refunds"]
    assert [t.name for t in catalog.list_tables(search="refunds")] == ["sales.refunds"]
    assert [t.name for t in catalog.list_tables(namespace="sales", search="customer")] == ["sales.orders"]
    # LIKE wildcards are literal
    assert [t.name for t in catalog.list_tables(search="100%")] == ["web.sessions"]
    assert catalog.list_tables(search="%%") == []
    assert catalog.list_tables(namespace="nope") == []
    found = catalog.list_tables(search="views")[0]
    assert [c.name for c in found.columns] == ["view_id", "customer_id"]


def test_drop_table_removes_columns_and_bindings(catalog: Catalog) -> None:
    catalog.register(make_spec())
    catalog.register(simple_spec("app.other"))
    assert count_rows(catalog, ColumnRow) == 7
    assert catalog.get_table("app.client_events") is not None  # now cached
    assert catalog.drop_table("APP.client_events") is True
    assert catalog.get_table("app.client_events") is None
    assert catalog.drop_table("app.client_events") is False
    assert catalog.table_names() == ["app.other"]
    assert count_rows(catalog, ColumnRow) == 1  # ON DELETE CASCADE is really on (SQLite: PRAGMA)
    assert count_rows(catalog, BindingRow) == 0


def test_replace_updates_definition(catalog: Catalog, scratch) -> None:
    catalog.register(make_spec())
    changed = make_spec(
        description="v2",
        columns=[{"name": "event_id", "type": "string"}, {"name": "ds", "type": "date"}],
        event_time=None,
        bindings={"spark": {"prod": {"kind": "table", "table": "warehouse.events_v2"}}},
    )
    catalog.register(changed)
    assert catalog.get_table("app.client_events") == changed
    with Catalog.open(scratch.url) as fresh:
        assert fresh.get_table("app.client_events") == changed
    assert count_rows(catalog, ColumnRow) == 2
    assert count_rows(catalog, BindingRow) == 1


def test_register_without_replace_refuses_and_keeps_old(catalog: Catalog) -> None:
    catalog.register(make_spec())
    with pytest.raises(CatalogError, match=r"already registered: app\.client_events"):
        catalog.register(make_spec(description="other"), replace=False)
    assert catalog.get_table("app.client_events") == make_spec()


def test_failed_replace_leaves_previous_definition(catalog: Catalog, scratch, monkeypatch) -> None:
    original = make_spec()
    catalog.register(original)

    def exploding_child_rows(table_id: int, spec: TableSpec) -> tuple[list, list]:
        raise RuntimeError("disk full")  # after the old columns and bindings were deleted

    monkeypatch.setattr(store_module, "_child_rows", exploding_child_rows)
    with pytest.raises(RuntimeError, match="disk full"):
        catalog.register(
            make_spec(
                description="v2",
                columns=[{"name": "x", "type": "int"}],
                primary_key=[],
                partition_by=[],
                event_time=None,
            )
        )
    monkeypatch.undo()
    assert catalog.get_table("app.client_events") == original
    with Catalog.open(scratch.url) as fresh:
        assert fresh.get_table("app.client_events") == original
    assert count_rows(catalog, ColumnRow) == 6


def test_register_many_is_all_or_nothing(catalog: Catalog) -> None:
    catalog.register(simple_spec("a.existing"))
    with pytest.raises(CatalogError, match=r"already registered: a\.existing"):
        catalog.register_many([simple_spec("a.new"), simple_spec("a.existing", "changed")], replace=False)
    assert catalog.table_names() == ["a.existing"]
    assert catalog.get_table("a.new") is None

    with pytest.raises(CatalogError) as err:
        catalog.register_many([simple_spec("a.dup"), simple_spec("a.other"), simple_spec("A.Dup")])
    assert [(p.path, p.message) for p in err.value.problems] == [
        ("tables[2]", "table 'a.dup' is given twice")
    ]
    assert catalog.table_names() == ["a.existing"]

    catalog.register_many([simple_spec("a.new"), simple_spec("a.existing", "changed")])
    assert catalog.table_names() == ["a.existing", "a.new"]
    assert catalog.get_table("a.existing").description == "changed"


def test_name_longer_than_the_column_is_a_catalog_error(catalog: Catalog) -> None:
    with pytest.raises(CatalogError, match=r"name: is 304 characters; at most 255 are stored"):
        catalog.register(simple_spec("n." + "x" * 302))
    assert catalog.table_names() == []


def test_get_table_cache_and_load_all(catalog: Catalog, scratch) -> None:
    specs = [simple_spec(f"ns{i % 3}.t{i}", columns=("id", f"c{i}")) for i in range(30)]
    catalog.register_many(specs)
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    with Catalog.open(scratch.url) as reader:
        sa.event.listen(reader._engine, "before_cursor_execute", record)
        first = reader.get_table("ns1.t1")
        assert first == specs[1]
        assert len(statements) == 3  # table, columns, bindings
        assert reader.get_table("NS1.T1") is first  # served from the cache
        assert len(statements) == 3

        statements.clear()
        everything = reader.load_all()
        assert len(statements) == 3  # not one query per table
        assert sorted(everything) == sorted(s.name for s in specs)
        assert everything["ns2.t5"] == specs[5]
        statements.clear()
        assert [reader.get_table(s.name) for s in specs] == specs
        assert reader.get_table("ns0.unknown") is None
        assert statements == []  # complete cache: even misses need no query

        # A write by another instance is not seen until refresh(); one by this instance is.
        catalog.register(simple_spec("ns0.t0", "changed elsewhere"))
        assert reader.get_table("ns0.t0").description == ""
        reader.refresh()
        assert reader.get_table("ns0.t0").description == "changed elsewhere"
        reader.load_all()
        reader.register(simple_spec("ns9.added"))
        assert reader.get_table("ns9.added") == simple_spec("ns9.added")
        assert reader.drop_table("ns1.t1") is True
        assert reader.get_table("ns1.t1") is None


def test_cached_spec_is_not_the_callers_object(catalog: Catalog) -> None:
    spec = simple_spec("a.b", "before")
    catalog.register(spec)
    spec.description = "mutated by the caller after registering"
    assert catalog.get_table("a.b").description == "before"


def test_runs_are_recorded(catalog: Catalog) -> None:
    first = catalog.start_run("daily_revenue", "hash1", "spark", "dev", date(2024, 1, 1), "mart.revenue")
    second = catalog.start_run(
        "hourly", "hash2", "flink", "prod", datetime(2024, 1, 1, 5), None, details={"job": "j-1"}
    )
    third = catalog.start_run("daily_revenue", "hash1", "spark", "dev", "2024-01-02", "mart.revenue")
    assert len({first, second, third}) == 3 and len(first) == 36

    running = catalog.get_run(first)
    assert running is not None
    assert (running.status, running.ended_at, running.duration_seconds) == ("running", None, None)
    assert running.logical_date == "2024-01-01"
    assert running.started_at.tzinfo is not None
    assert abs((datetime.now(UTC) - running.started_at).total_seconds()) < 120

    catalog.finish_run(first, "succeeded", rows_written=2**40, details={"partitions": ["2024-01-01"]})
    catalog.finish_run(second, "failed", error="Boom\nstack trace", details={"attempt": 2})
    done = catalog.get_run(first)
    assert (done.status, done.rows_written, done.error, done.target) == (
        "succeeded",
        2**40,
        None,
        "mart.revenue",
    )
    assert done.details == {"partitions": ["2024-01-01"]}
    assert done.ended_at is not None and done.ended_at >= done.started_at
    failed = catalog.get_run(second)
    assert (failed.status, failed.error, failed.logical_date) == (
        "failed",
        "Boom\nstack trace",
        "2024-01-01T05:00:00",
    )
    assert failed.details == {"job": "j-1", "attempt": 2}  # merged with those given at start

    assert [r.id for r in catalog.runs()] == [third, second, first]  # newest first
    assert [r.id for r in catalog.runs(task="daily_revenue")] == [third, first]
    assert [r.id for r in catalog.runs(limit=1)] == [third]
    assert catalog.runs(task="nope") == []
    assert catalog.get_run("00000000-0000-0000-0000-000000000000") is None


def test_finish_run_errors(catalog: Catalog) -> None:
    run_id = catalog.start_run("t", "h", "spark", "dev", None, None)
    with pytest.raises(
        CatalogError, match="run status 'done' is not valid: use succeeded, failed, cancelled"
    ):
        catalog.finish_run(run_id, "done")
    with pytest.raises(CatalogError, match="no run with id 'missing'"):
        catalog.finish_run("missing", "failed")
    catalog.finish_run(run_id, "cancelled")
    with pytest.raises(CatalogError, match="already finished with status 'cancelled'"):
        catalog.finish_run(run_id, "succeeded")
    assert catalog.get_run(run_id).status == "cancelled"


def test_reopening_does_not_migrate_again(scratch) -> None:
    with Catalog.open(scratch.url) as first:
        first.register(simple_spec("a.b"))
    with Catalog.open(scratch.url) as second:
        assert second.table_names() == ["a.b"]


def test_closed_catalog_refuses_work(catalog: Catalog) -> None:
    catalog.close()
    with pytest.raises(CatalogError, match="the catalog is closed"):
        catalog.table_names()


def test_concurrent_first_opens_migrate_once(scratch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def open_and_register(i: int) -> list[str]:
        with Catalog.open(scratch.url) as opened:
            opened.register(simple_spec(f"t.n{i}"))
            return opened.table_names()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(open_and_register, range(4)))
    assert all(len(names) >= 1 for names in results)
    with Catalog.open(scratch.url) as catalog, catalog._engine.connect() as conn:
        assert catalog.table_names() == ["t.n0", "t.n1", "t.n2", "t.n3"]
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
