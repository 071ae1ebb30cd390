"""Every kind runs on local Spark; written rows are compared with DuckDB's answer to hand-written SQL."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from app.workflow import runs
from generators.loading import parse_task
from tests.support import DAY1, DAY2, Warehouse, approx_rows

pytestmark = pytest.mark.spark
HEADER = {"owner": "tests", "priority": "P2"}


def test_aggregate_with_grain_conditional_metric_and_percentile(warehouse: Warehouse) -> None:
    config = {
        **HEADER, "name": "dau", "kind": "aggregate", "source": "app.events",
        "filter": "ds = '{{ ds }}'",
        "dimensions": [{"expr": "app_version"}, {"expr": "platform"}],
        "metrics": [
            {"name": "active_users", "agg": "count_distinct", "expr": "user_id"},
            {"name": "plays", "agg": "count", "filter": "event = 'play'"},
            {"name": "play_seconds", "agg": "sum", "expr": "coalesce(duration_ms, 0) / 1000"},
            {"name": "p50_duration", "agg": "percentile", "expr": "duration_ms", "percentile": 0.5},
        ],
        "having": "active_users >= 1",
        "target": {"table": "mart.dau", "partition": {"ds": "{{ ds }}"}},
    }
    for day in (DAY1, DAY2):
        result = warehouse.run(config, day)
        assert result.rows_written and result.rows_written > 0
        # play_seconds is a double written into a bigint column: compiled with a warning, truncated.
        assert [d.rule for d in result.diagnostics] == ["lossy-cast"]
    expected = duckdb.sql(f"""
        SELECT app_version, platform, count(DISTINCT user_id), count(*) FILTER (WHERE event = 'play'),
               CAST(trunc(sum(coalesce(duration_ms, 0) / 1000)) AS BIGINT), quantile_cont(duration_ms, 0.5), ds
        FROM {warehouse.source('app.events')}
        GROUP BY app_version, platform, ds ORDER BY ds, app_version, platform
    """).fetchall()
    actual = warehouse.output("mart.dau", "ds, app_version, platform")
    assert approx_rows(actual) == approx_rows(expected)


def test_overwrite_partition_replaces_only_that_partition(warehouse: Warehouse) -> None:
    config = {
        **HEADER, "name": "hourly", "kind": "aggregate", "source": "app.events",
        "filter": "ds = '{{ ds }}'", "time_grain": {"column": "event_ts", "grain": "hour", "alias": "hour"},
        "dimensions": [{"expr": "event"}], "metrics": [{"name": "events", "agg": "count"}],
        "target": {"table": "mart.events_hourly", "write_mode": "append"},
    }
    warehouse.run(config, DAY1)
    warehouse.run(config, DAY2)
    warehouse.run(config, DAY2)  # append twice: day 2 counted twice
    expected = duckdb.sql(f"""
        SELECT date_trunc('hour', event_ts) AS h, event, count(*) AS n FROM {warehouse.source('app.events')}
        GROUP BY ALL ORDER BY h, event
    """).fetchall()
    actual = warehouse.output("mart.events_hourly", "hour, event")
    doubled = [row for row in expected for _ in range(1 if row[0].date() == DAY1 else 2)]
    assert actual == doubled


def test_sync_with_renames_casts_and_upsert(warehouse: Warehouse) -> None:
    base = {
        **HEADER, "name": "users_copy", "kind": "sync", "source": "app.users",
        "columns": [{"source": "user_id", "target": "id"}, {"source": "country", "target": "country_code"},
                    {"source": "is_vip", "target": "vip"}, {"source": "signup_date"}],
        "target": {"table": "mart.users_copy", "write_mode": "overwrite"},
    }
    warehouse.run({**base, "filter": "user_id <= 3"})
    assert warehouse.output("mart.users_copy", "id") == duckdb.sql(
        f"SELECT user_id, country, is_vip, signup_date FROM {warehouse.source('app.users')} "
        "WHERE user_id <= 3 ORDER BY user_id").fetchall()
    # Upsert users 3..6 with a changed country: 1-2 kept, 3 replaced, 4-6 inserted.
    upsert = {**base, "filter": "user_id >= 3",
              "columns": [{"source": "user_id", "target": "id"}, {"source": "concat(country, '-x')",
                                                                  "target": "country_code"},
                          {"source": "is_vip", "target": "vip"}, {"source": "signup_date"}],
              "target": {"table": "mart.users_copy", "write_mode": "upsert"}}
    result = warehouse.run(upsert)
    assert result.rows_written == 6
    rows = warehouse.output("mart.users_copy", "id")
    assert [(r[0], r[1]) for r in rows] == [(1, "NL"), (2, "DE"), (3, "FR-x"), (4, "NL-x"), (5, "US-x"), (6, "US-x")]


def test_failed_run_leaves_target_untouched(warehouse: Warehouse) -> None:
    good = {**HEADER, "name": "amounts", "kind": "sync", "source": "shop.orders", "filter": "order_id <= 3",
            "columns": [{"source": "order_id"}, {"source": "quantity", "target": "amount"}],
            "target": {"table": "mart.order_amounts", "write_mode": "overwrite"}}
    warehouse.run(good)
    before = warehouse.output("mart.order_amounts", "order_id")
    assert before == [(1, 1), (2, 2), (3, 1)]
    # 'oops' cannot be cast to int: Spark (ANSI mode) fails at run time, mid-write.
    bad = {**good, "filter": None, "columns": [{"source": "order_id"},
                                               {"source": "amount_text", "target": "amount", "cast": "int"}]}
    task, _ = parse_task(bad)
    assert task is not None
    result = runs.run(warehouse.compiler, task, warehouse.store, principal=warehouse.principal, logical_date=DAY1)
    assert result.status == "failed" and result.error
    assert warehouse.output("mart.order_amounts", "order_id") == before
    record = warehouse.store.get_run(result.run_id)
    assert record is not None and record.status == "failed" and record.error
    leftovers = [p for p in (warehouse.out / "mart").iterdir() if "staging" in p.name]
    assert leftovers == []


def test_dedup_keeps_last_per_key(warehouse: Warehouse) -> None:
    config = {**HEADER, "name": "latest", "kind": "dedup", "source": "app.events", "keys": ["event_id"],
              "order_by": [{"expr": "event_ts"}], "keep": "last", "filter": "ds = '{{ ds }}'",
              "target": {"table": "mart.latest_events"}}
    warehouse.run(config, DAY1)
    warehouse.run(config, DAY2)
    expected = duckdb.sql(f"""
        SELECT * FROM {warehouse.source('app.events')}
        QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_ts DESC) = 1 ORDER BY event_id
    """).fetchall()
    actual = warehouse.output("mart.latest_events", "event_id")
    assert len(actual) == 14
    assert [r[:9] for r in actual] == [r[:9] for r in expected]
    assert {r[0]: r[7] for r in actual}["e04"] == 46000


def test_enrich_joins_five_tables(warehouse: Warehouse) -> None:
    config = {
        **HEADER, "name": "orders_enriched", "kind": "enrich", "source": "shop.orders",
        "columns": ["order_id", "user_id"],
        "joins": [
            {"table": "app.users", "alias": "u", "on": [{"left": "user_id", "right": "user_id"}],
             "columns": ["age_band"]},
            {"table": "ref.countries", "alias": "c", "on": [{"left": "u.country", "right": "code"}],
             "columns": ["country_name", "region"]},
            {"table": "shop.products", "on": [{"left": "product_id", "right": "product_id"}],
             "columns": ["category", "brand"]},
            {"table": "app.videos", "alias": "v", "on": [{"left": "video_id", "right": "video_id"}],
             "columns": ["category"], "prefix": "video_"},
            {"table": "app.creators", "alias": "cr", "on": [{"left": "v.creator_id", "right": "creator_id"}],
             "columns": ["tier"], "prefix": "creator_"},
        ],
        "target": {"table": "mart.orders_enriched", "write_mode": "overwrite"},
    }
    warehouse.run(config)
    expected = duckdb.sql(f"""
        SELECT o.order_id, o.user_id, u.age_band, c.country_name, c.region, p.category, p.brand,
               v.category, cr.tier
        FROM {warehouse.source('shop.orders')} o
        LEFT JOIN {warehouse.source('app.users')} u ON o.user_id = u.user_id
        LEFT JOIN {warehouse.source('ref.countries')} c ON u.country = c.code
        LEFT JOIN {warehouse.source('shop.products')} p ON o.product_id = p.product_id
        LEFT JOIN {warehouse.source('app.videos')} v ON o.video_id = v.video_id
        LEFT JOIN {warehouse.source('app.creators')} cr ON v.creator_id = cr.creator_id
        ORDER BY o.order_id
    """).fetchall()
    actual = warehouse.output("mart.orders_enriched", "order_id")
    assert actual == expected
    assert actual[-1][2] is None  # user 9 is unknown: a left join keeps the order


def test_derive_with_window_and_chained_derived_columns(warehouse: Warehouse) -> None:
    config = {
        **HEADER, "name": "play_stats", "kind": "derive", "source": "app.events",
        "filter": "event = 'play' AND duration_ms IS NOT NULL",
        "select": ["event_id", "user_id"],
        "columns": [
            {"name": "seconds", "expr": "duration_ms / 1000.0"},
            {"name": "long_play", "expr": "seconds > 10"},
            {"name": "user_share", "expr": "duration_ms / sum(duration_ms) OVER (PARTITION BY user_id)"},
        ],
        "order_by": [{"expr": "seconds", "direction": "desc"}, {"expr": "event_id"}], "limit": 5,
        "target": {"table": "mart.play_stats", "write_mode": "overwrite"},
        "lint": {"missing-partition-filter": "off"},
    }
    warehouse.run(config)
    expected = duckdb.sql(f"""
        SELECT event_id, user_id, duration_ms / 1000.0 AS s, duration_ms / 1000.0 > 10,
               duration_ms / sum(duration_ms) OVER (PARTITION BY user_id)
        FROM {warehouse.source('app.events')} WHERE event = 'play' AND duration_ms IS NOT NULL
        ORDER BY s DESC, event_id LIMIT 5
    """).fetchall()
    actual = warehouse.output("mart.play_stats", "seconds DESC, event_id")
    assert approx_rows(actual) == approx_rows(expected)


def test_topn_per_group(warehouse: Warehouse) -> None:
    config = {**HEADER, "name": "top_plays", "kind": "topn", "source": "app.events",
              "filter": "event = 'play'", "partition_by": ["country"],
              "order_by": [{"expr": "duration_ms", "direction": "desc"}, {"expr": "event_ts"}], "n": 2,
              "rank_column": "rank", "target": {"table": "mart.top_plays"},
              "lint": {"missing-partition-filter": "off"}}
    # The target has fewer columns than the events: select them in a chained task instead.
    chained = {
        **HEADER, "name": "top_plays", "kind": "chained", "source": "app.events",
        "steps": [
            {"name": "ranked", "kind": "topn", **{k: config[k] for k in ("filter", "partition_by", "order_by", "n",
                                                                         "rank_column")}},
            {"name": "out", "kind": "derive", "select": ["country", "event_id", "duration_ms", "rank"]},
        ],
        "target": config["target"], "lint": config["lint"],
    }
    warehouse.run(chained)
    expected = duckdb.sql(f"""
        SELECT country, event_id, duration_ms, r FROM (
          SELECT *, row_number() OVER (PARTITION BY country ORDER BY duration_ms DESC, event_ts) AS r
          FROM {warehouse.source('app.events')} WHERE event = 'play') WHERE r <= 2 ORDER BY country, r
    """).fetchall()
    assert warehouse.output("mart.top_plays", "country, rank") == expected


def test_chained_revenue_share(warehouse: Warehouse) -> None:
    config = {
        **HEADER, "name": "category_share", "kind": "chained", "source": "shop.orders",
        "steps": [
            {"name": "paid", "kind": "derive", "filter": "status = 'paid'",
             "columns": [{"name": "revenue", "expr": "price * quantity * (1 - discount)"}]},
            {"name": "with_product", "kind": "enrich", "joins": [
                {"table": "shop.products", "type": "inner", "on": [{"left": "product_id", "right": "product_id"}],
                 "columns": ["category"]}]},
            {"name": "by_category", "kind": "aggregate", "dimensions": [{"expr": "category"}],
             "metrics": [{"name": "revenue", "agg": "sum", "expr": "revenue"}]},
            {"name": "share", "kind": "derive",
             "columns": [{"name": "share", "expr": "CAST(revenue AS DOUBLE) / SUM(revenue) OVER ()"}],
             "order_by": [{"expr": "share", "direction": "desc"}], "limit": 10},
        ],
        "target": {"table": "mart.category_share", "write_mode": "overwrite"},
    }
    warehouse.run(config)
    expected = duckdb.sql(f"""
        WITH r AS (
          SELECT p.category, sum(o.price * o.quantity * (1 - o.discount)) AS revenue
          FROM {warehouse.source('shop.orders')} o JOIN {warehouse.source('shop.products')} p USING (product_id)
          WHERE o.status = 'paid' GROUP BY p.category)
        SELECT category, revenue, CAST(revenue AS DOUBLE) / sum(revenue) OVER () FROM r ORDER BY category
    """).fetchall()
    actual = warehouse.output("mart.category_share", "category")
    assert approx_rows(actual) == approx_rows(expected)
    assert math.isclose(sum(r[2] for r in actual), 1.0)
    assert actual[0][1] == Decimal("27.3900")  # books: 9.99 + 7.25 * 3 * 0.8


def test_sql_task_with_ref_and_logical_date(warehouse: Warehouse) -> None:
    config = {
        **HEADER, "name": "funnel", "kind": "sql",
        "sql": "SELECT platform,\n"
               "  COUNT(DISTINCT CASE WHEN event = 'open' THEN user_id END) AS openers,\n"
               "  COUNT(DISTINCT CASE WHEN event = 'play' THEN user_id END) AS players\n"
               "FROM {{ ref('app.events') }}\nWHERE ds = '{{ ds }}'\nGROUP BY platform",
        "target": {"table": "mart.funnel", "write_mode": "overwrite"},
    }
    warehouse.run(config, DAY2)
    expected = duckdb.sql(f"""
        SELECT platform, count(DISTINCT user_id) FILTER (WHERE event = 'open'),
               count(DISTINCT user_id) FILTER (WHERE event = 'play')
        FROM {warehouse.source('app.events')} WHERE ds = DATE '2024-06-02' GROUP BY platform ORDER BY platform
    """).fetchall()
    assert warehouse.output("mart.funnel", "platform") == expected


def test_preview_writes_nothing(warehouse: Warehouse) -> None:
    config = {**HEADER, "name": "preview_only", "kind": "aggregate", "source": "app.events",
              "filter": "ds = '{{ ds }}'", "dimensions": [{"expr": "platform"}],
              "metrics": [{"name": "openers", "agg": "count_distinct", "expr": "user_id", "filter": "event = 'open'"},
                          {"name": "players", "agg": "count_distinct", "expr": "user_id", "filter": "event = 'play'"}],
              "target": {"table": "mart.funnel", "write_mode": "overwrite"}}
    task, _ = parse_task(config)
    assert task is not None
    before = sorted(str(p) for p in warehouse.out.rglob("*"))
    runs_before = len(warehouse.store.runs(limit=1000))
    result = runs.preview(warehouse.compiler, task, principal=warehouse.principal, logical_date=DAY2, limit=10)
    assert result.status == "succeeded", result.error
    assert result.columns == ["platform", "openers", "players"]
    expected = duckdb.sql(f"""
        SELECT platform, count(DISTINCT user_id) FILTER (WHERE event = 'open'),
               count(DISTINCT user_id) FILTER (WHERE event = 'play')
        FROM {warehouse.source('app.events')} WHERE ds = DATE '2024-06-02' GROUP BY platform ORDER BY platform
    """).fetchall()
    assert sorted(tuple(r.values()) for r in result.preview) == expected
    assert sorted(str(p) for p in warehouse.out.rglob("*")) == before
    assert len(warehouse.store.runs(limit=1000)) == runs_before


def test_run_emits_openlineage_events(warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events_file = tmp_path / "openlineage.jsonl"
    monkeypatch.setenv("FORMCAST_OPENLINEAGE_FILE", str(events_file))
    config = {**HEADER, "name": "users_copy_ol", "kind": "sync", "source": "app.users",
              "columns": [{"source": "user_id", "target": "id"}, {"source": "country", "target": "country_code"},
                          {"source": "is_vip", "target": "vip"}, {"source": "signup_date"}],
              "target": {"table": "mart.users_copy", "write_mode": "overwrite"}}
    result = warehouse.run(config)
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert {e["run"]["runId"] for e in events} == {result.run_id}
    output = events[1]["outputs"][0]
    assert output["name"] == "mart.users_copy"
    fields = output["facets"]["columnLineage"]["fields"]
    assert fields["country_code"]["inputFields"][0]["name"] == "app.users"
    assert fields["country_code"]["inputFields"][0]["field"] == "country"


def test_upsert_script_runs_as_printed(warehouse: Warehouse) -> None:
    """`formcast compile` output, run statement by statement as a user would, upserts correctly too."""
    from app.runners import spark as spark_runner

    base = {**HEADER, "name": "users_script", "kind": "sync", "source": "app.users",
            "columns": [{"source": "user_id", "target": "id"}, {"source": "country", "target": "country_code"},
                        {"source": "is_vip", "target": "vip"}, {"source": "signup_date"}],
            "target": {"table": "mart.users_copy", "write_mode": "overwrite"}}
    warehouse.run({**base, "filter": "user_id <= 2"})
    task, _ = parse_task({**base, "filter": "user_id >= 2",
                          "columns": [{"source": "user_id", "target": "id"},
                                      {"source": "lower(country)", "target": "country_code"},
                                      {"source": "is_vip", "target": "vip"}, {"source": "signup_date"}],
                          "target": {"table": "mart.users_copy", "write_mode": "upsert"}})
    assert task is not None
    compiled = warehouse.compiler.compile(task, logical_date=DAY1)  # no staging: the script as printed
    assert compiled.ok, [str(d) for d in compiled.diagnostics]
    spark_runner.drop_session_table("mart.users_copy")
    for statement in compiled.statements():
        spark_runner.execute(statement).collect()
    rows = warehouse.output("mart.users_copy", "id")
    assert [(r[0], r[1]) for r in rows] == [(1, "NL"), (2, "de"), (3, "fr"), (4, "nl"), (5, "us"), (6, "us")]
