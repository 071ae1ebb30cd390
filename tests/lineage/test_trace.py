"""Lineage of every task kind, checked against hand-written expectations (no Spark)."""

from __future__ import annotations

import sqlglot
from sqlglot.optimizer.scope import build_scope

from catalog.lineage import TaskLineage
from generators.compile import config_hash
from generators.lineage import task_lineage
from tests.lineage.conftest import example_paths

EV, USERS, ORDERS, PRODUCTS = "app.client_events", "app.users", "shop.orders", "shop.products"


def shape(lineage: TaskLineage) -> dict[str | None, set[str]]:
    """target column (None: the whole output) -> {'kind table.column'}"""
    found: dict[str | None, set[str]] = {}
    for e in lineage.edges:
        assert e.task == lineage.task and e.target_table == lineage.target_table
        found.setdefault(e.target_column, set()).add(f"{e.kind} {e.source_table}.{e.source_column}")
    return found


def cols(kind: str, table: str, *names: str) -> set[str]:
    return {f"{kind} {table}.{n}" for n in names}


def test_sync_copies_renames_and_casts(lineage_of) -> None:
    lin = lineage_of("users_copy")
    assert (lin.task, lin.target_table, lin.reads, lin.engine) == ("users_copy", "mart.users_copy", [USERS], "spark")
    assert shape(lin) == {
        "user_id": cols("copied", USERS, "user_id"),
        "signup_day": cols("copied", USERS, "signup_date"),  # renamed: still a copy
        "country_code": cols("copied", USERS, "country"),
        "age_band": cols("copied", USERS, "age_band"),
        "vip_flag": cols("transformed", USERS, "is_vip"),  # CAST(is_vip AS INT)
    }
    assert lin.complete and (lin.owner, lin.priority) == ("crm-data", "P3")
    assert lin.output_columns[1] == ("signup_day", "date")


def test_upsert_unions_new_rows_with_the_current_target(lineage_of) -> None:
    lin = lineage_of("users_upsert")
    assert lin.reads == [USERS, "mart.users_copy"]
    got = shape(lin)
    assert got["vip_flag"] == cols("transformed", USERS, "is_vip") | cols("copied", "mart.users_copy", "vip_flag")
    assert got["signup_day"] == cols("copied", USERS, "signup_date") | cols("copied", "mart.users_copy", "signup_day")
    assert got[None] == (cols("filtered_by", USERS, "signup_date", "user_id")  # WHERE + anti-join IS NULL
                         | cols("joined_on", USERS, "user_id") | cols("joined_on", "mart.users_copy", "user_id"))


def test_aggregate_with_expressions_filters_and_conditional_metrics(lineage_of) -> None:
    assert shape(lineage_of("order_metrics")) == {
        "product_id": cols("copied", ORDERS, "product_id"),
        "units": cols("aggregated", ORDERS, "quantity"),
        "gross_revenue": cols("aggregated", ORDERS, "price", "quantity", "discount"),
        # SUM(...) FILTER (WHERE status = 'paid'): status decides which rows this one column sums
        "net_revenue": cols("aggregated", ORDERS, "price", "quantity", "discount")
        | cols("filtered_by", ORDERS, "status"),
        "refunded_orders": cols("filtered_by", ORDERS, "status"),
        "avg_discount": cols("aggregated", ORDERS, "discount"),
        None: cols("filtered_by", ORDERS, "ds", "status"),  # WHERE; HAVING COUNT(*) >= 3 reads no column
    }  # `orders` is COUNT(*): derived from rows only, no column edge


def test_aggregate_with_time_grain(lineage_of) -> None:
    assert shape(lineage_of("event_counts")) == {
        "event_hour": cols("transformed", EV, "event_ts"),  # DATE_TRUNC('HOUR', event_ts)
        "event": cols("copied", EV, "event"),
        "platform": cols("copied", EV, "platform"),
        "users": cols("aggregated", EV, "user_id"),
        None: cols("filtered_by", EV, "ds"),
    }


def test_aggregate_with_count_distinct_and_percentile(lineage_of) -> None:
    got = shape(lineage_of("daily_active_users"))
    assert got["dau"] == cols("aggregated", EV, "user_id")
    assert got["plays"] == cols("filtered_by", EV, "event")
    assert got["p90_play_ms"] == cols("aggregated", EV, "duration_ms") | cols("filtered_by", EV, "event")
    assert got[None] == cols("filtered_by", EV, "ds")


def test_dedup_row_number_filter_reaches_its_partition_and_order_columns(lineage_of) -> None:
    lin = lineage_of("latest_user_events")
    got = shape(lin)
    assert got.pop(None) == cols("filtered_by", EV, "ds", "event_id", "event_ts")
    assert got == {c: cols("copied", EV, c) for c, _ in lin.output_columns}
    assert "__fc_row" not in {c for c, _ in lin.output_columns}


def test_topn_rank_column_and_filter(lineage_of) -> None:
    got = shape(lineage_of("top_videos"))
    ranked = ("country", "plays", "viewers", "video_id")
    assert got["rank_in_country"] == cols("transformed", "mart.video_plays", *ranked)
    assert got["watch_ms"] == cols("copied", "mart.video_plays", "watch_ms")
    assert got[None] == cols("filtered_by", "mart.video_plays", "ds", *ranked)


def test_derive_expressions(lineage_of) -> None:
    got = shape(lineage_of("clean_events"))
    assert got["duration_s"] == cols("transformed", EV, "duration_ms")
    assert got["engagement"] == cols("transformed", EV, "event")
    assert got["is_latest_version"] == cols("transformed", EV, "app_version")
    assert got["event_ts"] == cols("copied", EV, "event_ts")
    assert got[None] == cols("filtered_by", EV, "ds", "event")


def test_enrich_with_six_tables_and_chained_join_keys(lineage_of) -> None:
    lin = lineage_of("orders_enriched")
    assert lin.reads == ["app.creators", "app.users", "app.videos", "ref.countries", ORDERS, PRODUCTS]
    got = shape(lin)
    assert got["buyer_country"] == cols("copied", USERS, "country")  # prefixed: a rename
    assert got["country_name"] == cols("copied", "ref.countries", "country_name")
    assert got["video_category"] == cols("copied", "app.videos", "category")
    assert got["tier"] == cols("copied", "app.creators", "tier")
    assert got["ds"] == cols("copied", ORDERS, "ds")
    assert got[None] == (
        cols("filtered_by", ORDERS, "ds")
        | cols("joined_on", ORDERS, "user_id", "product_id", "video_id")
        | cols("joined_on", USERS, "user_id", "country")  # countries join on the users join's column
        | cols("joined_on", "ref.countries", "country_code")
        | cols("joined_on", PRODUCTS, "product_id")
        | cols("joined_on", "app.videos", "video_id", "creator_id")
        | cols("joined_on", "app.creators", "creator_id")
    )
    assert len(got) == len(lin.output_columns) + 1


def test_chained_steps_trace_through_ctes(lineage_of) -> None:
    lin = lineage_of("category_revenue_share")
    assert lin.reads == [ORDERS, PRODUCTS]
    revenue = cols("aggregated", ORDERS, "price", "quantity", "discount")
    assert shape(lin) == {
        "category": cols("copied", PRODUCTS, "category"),
        "revenue": revenue,  # SUM in step 2, CAST to the target's decimal at the end: aggregated
        "revenue_share": revenue,  # revenue / SUM(revenue) OVER ()
        # step 1's WHERE and join; step 3's ORDER BY revenue_share LIMIT 10 keeps the top rows
        None: cols("filtered_by", ORDERS, "ds", "status", "price", "quantity", "discount")
        | cols("joined_on", ORDERS, "product_id") | cols("joined_on", PRODUCTS, "product_id"),
    }


def test_flink_window_aggregate_resolves_through_the_window_tvf(lineage_of) -> None:
    lin = lineage_of("plays_per_window")
    assert lin.engine == "flink" and lin.reads == [EV] and lin.complete
    assert shape(lin) == {
        "window_start": cols("transformed", EV, "event_ts"),  # from DESCRIPTOR(event_ts)
        "window_end": cols("transformed", EV, "event_ts"),
        "country": cols("copied", EV, "country"),
        "viewers": cols("aggregated", EV, "user_id"),
        None: cols("filtered_by", EV, "event", "ds"),
    }


def test_sql_task(lineage_of) -> None:
    lin = lineage_of("funnel_sql")
    both = cols("aggregated", EV, "event", "user_id")  # COUNT(DISTINCT CASE WHEN event = .. THEN user_id END)
    assert shape(lin) == {"platform": cols("copied", EV, "platform"), "opened": both, "played": both,
                          "engaged": both, "purchased": both, None: cols("filtered_by", EV, "ds")}
    assert lin.config_hash and lin.complete


def _sql_task(sql: str, target: str = "mart.funnel_daily") -> dict:
    return {"name": "hand_sql", "kind": "sql", "owner": "o", "priority": "P0",
            "target": {"table": target, "partition": {"ds": "{{ ds }}"}}, "sql": sql}


def test_sql_task_with_union_subquery_and_correlated_filter(lineage_of) -> None:
    sql = """
    SELECT g.platform, g.opened, 0 AS played, 0 AS engaged,
           (SELECT COUNT(*) FROM {{ ref('app.users') }} u WHERE u.is_vip) AS purchased
    FROM (
      SELECT platform, COUNT(DISTINCT user_id) AS opened
      FROM (
        SELECT platform, user_id FROM {{ ref('app.client_events') }} WHERE ds = '{{ ds }}'
        UNION ALL
        SELECT country AS platform, user_id FROM {{ ref('app.users') }}
      ) AS t
      WHERE user_id IN (SELECT user_id FROM {{ ref('shop.orders') }} WHERE status = 'paid')
      GROUP BY platform
    ) AS g"""
    lin = lineage_of(_sql_task(sql))
    got = shape(lin)
    assert got["platform"] == cols("copied", EV, "platform") | cols("copied", USERS, "country")  # by position
    assert got["opened"] == cols("aggregated", EV, "user_id") | cols("aggregated", USERS, "user_id")
    assert got["purchased"] == cols("filtered_by", USERS, "is_vip")  # a scalar subquery's filter
    assert "played" not in got  # a constant
    # sqlglot unnests `user_id IN (SELECT ...)` into LEFT JOIN _u_0 ... WHERE _u_0.user_id IS NOT NULL
    assert got[None] == (cols("filtered_by", EV, "ds") | cols("filtered_by", ORDERS, "user_id", "status")
                         | cols("joined_on", EV, "user_id") | cols("joined_on", USERS, "user_id")
                         | cols("joined_on", ORDERS, "user_id"))
    assert lin.reads == [EV, USERS, ORDERS] and lin.complete


def test_udtf_is_traced_to_its_arguments_and_reported_incomplete(lineage_of) -> None:
    sql = """
    SELECT platform, COUNT(*) AS opened, COUNT(*) AS played, COUNT(*) AS engaged, COUNT(DISTINCT part) AS purchased
    FROM {{ ref('app.client_events') }} LATERAL VIEW explode(split(app_version, '[.]')) v AS part
    WHERE ds = '{{ ds }}'
    GROUP BY platform"""
    lin = lineage_of(_sql_task(sql))
    assert shape(lin)["purchased"] == cols("aggregated", EV, "app_version")
    assert not lin.complete
    assert any("table function" in note and "part" in note for note in lin.incomplete)


def test_parsing_the_logical_query_gives_the_same_lineage(compile_config, example) -> None:
    for name in ("category_revenue_share", "plays_per_window", "users_upsert"):
        compiled = compile_config(example(name))
        direct = task_lineage(compiled)
        # As if compiled elsewhere: the printed SQL, parsed again, gives the same lineage.
        compiled.logical_ast = sqlglot.parse_one(compiled.logical_query, read=compiled.engine)
        assert task_lineage(compiled).edges == direct.edges


def test_lineage_does_not_mutate_the_compiled_ast(compile_config, example) -> None:
    compiled = compile_config(example("orders_enriched"))
    before = compiled.logical_ast.sql(dialect="spark")
    task_lineage(compiled)
    assert compiled.logical_ast.sql(dialect="spark") == before == sqlglot.parse_one(
        compiled.logical_query, read="spark").sql(dialect="spark")
    assert build_scope(compiled.logical_ast) is not None


def test_every_example_is_complete_and_covers_its_outputs(lineage_of) -> None:
    for path in example_paths():
        lin = lineage_of(path.stem)
        assert lin.complete, (path.stem, lin.incomplete)
        assert lin.config_hash and len(lin.config_hash) == 16
        names = {c for c, _ in lin.output_columns}
        assert {e.target_column for e in lin.edges} - {None} <= names
        assert lin.reads and lin.target_table.startswith("mart.")


def test_config_hash_is_the_compilers(compile_config, example) -> None:
    compiled = compile_config(example("video_plays"))
    assert task_lineage(compiled).config_hash == config_hash(compiled.task)
