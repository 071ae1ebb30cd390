"""Validation at the field: every problem of a config is reported at once, each at its JSON path."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from generators.compile import CompiledTask
from generators.diagnostics import Diagnostic
from generators.loading import parse_task, parse_task_text
from generators.tasks import KINDS

DS = "ds = '{{ ds }}'"


def triples(items: list[Diagnostic]) -> set[tuple[str, str, str]]:
    return {(d.path, d.rule, d.severity) for d in items}


def at(items: list[Diagnostic], path: str, rule: str) -> Diagnostic:
    found = [d for d in items if d.path == path and d.rule == rule]
    assert len(found) == 1, f"expected one {rule} at {path}, got: " + "\n".join(str(d) for d in items)
    return found[0]


def parse_errors(config: dict[str, Any]) -> list[Diagnostic]:
    task, problems = parse_task(config)
    assert task is None
    return problems


# --- compile-time validation ----------------------------------------------------------------------


def test_aggregate_with_many_problems_reports_all_at_their_fields(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "bad", "kind": "aggregate", "source": "app.events", "target": {"table": "mart.daily_salez"},
        "filter": "count(*) > 1",
        "dimensions": [{"expr": "app_version"}, {"expr": "upper(country_code)"}],
        "metrics": [
            {"name": "n", "agg": "count"},
            {"name": "u", "agg": "count_distinct", "expr": "usr_id"},
            {"name": "s", "agg": "sum", "expr": "event"},
            {"name": "m", "agg": "max", "expr": "sum(duration_ms)"},
        ],
        "having": "nope > 1",
    })
    assert not result.ok
    assert result.script == ""
    assert triples(result.diagnostics) == {
        ("target.table", "unknown-table", "error"),
        ("dimensions[1].alias", "invalid-config", "error"),
        ("metrics[1].expr", "unknown-column", "error"),
        ("metrics[2].expr", "type-mismatch", "error"),
        ("metrics[3].expr", "non-aggregated-column", "error"),
        ("having", "unknown-column", "error"),
        ("filter", "non-aggregated-column", "error"),
    }
    items = result.diagnostics
    assert at(items, "target.table", "unknown-table").hint == "did you mean 'mart.daily_sales'?"
    unknown = at(items, "metrics[1].expr", "unknown-column")
    assert "'usr_id'" in unknown.message
    assert unknown.hint == "did you mean 'user_id'?"
    assert "sum needs a numeric expression" in at(items, "metrics[2].expr", "type-mismatch").message
    assert "'event' is string" in at(items, "metrics[2].expr", "type-mismatch").message
    assert "aggregate" in at(items, "filter", "non-aggregated-column").message
    assert "'nope'" in at(items, "having", "unknown-column").message


def test_enrich_with_many_problems(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "bad", "kind": "enrich", "source": "app.events", "target": {"table": "mart.events_enriched"},
        "joins": [
            {"table": "shop.user", "on": [{"left": "user_id", "right": "user_id"}], "columns": ["name"]},
            {"table": "media.videos", "alias": "v", "on": [], "columns": ["title"]},
            {"table": "media.creators", "alias": "c", "on": [{"left": "v.creatr_id", "right": "creator_id"}],
             "columns": ["name"], "prefix": "creator_"},
            {"table": "ref.countries", "alias": "x", "on": [{"left": "event_id", "right": "code"}],
             "columns": ["region"]},
        ],
    })
    assert triples(result.diagnostics) == {
        ("joins[0].table", "unknown-table", "error"),
        ("joins[1].on", "cartesian-join", "error"),
        ("joins[2].on[0].left", "unknown-column", "error"),
        ("joins[3].on[0]", "type-mismatch", "error"),
        ("filter", "missing-partition-filter", "warning"),
    }
    assert at(result.diagnostics, "joins[0].table", "unknown-table").hint == "did you mean 'shop.users'?"
    assert at(result.diagnostics, "joins[2].on[0].left", "unknown-column").hint == "did you mean 'creator_id'?"
    assert "event_id is bigint, code is string" in at(result.diagnostics, "joins[3].on[0]", "type-mismatch").message


def test_unknown_source_table_suggests(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "t", "kind": "sync", "source": "app.event", "target": {"table": "mart.event_log"}})
    assert triples(result.diagnostics) == {("source", "unknown-table", "error")}
    assert result.diagnostics[0].hint == "did you mean 'app.events'?"


def test_chained_step_problems_are_located_in_their_step(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "c", "kind": "chained", "source": "shop.orders", "target": {"table": "mart.user_orders"},
        "steps": [
            {"name": "a", "kind": "derive", "filter": "ds = '{{ dss }}'"},
            {"name": "b", "kind": "aggregate", "input": "nowhere", "metrics": [{"name": "n", "agg": "count"}]},
            {"name": "c", "kind": "aggregate", "input": "a", "dimensions": [{"expr": "user_idd"}],
             "metrics": [{"name": "orders", "agg": "sum", "expr": "status"}]},
        ],
    })
    assert triples(result.diagnostics) == {
        ("steps[0].filter", "template-error", "error"),
        ("steps[1].input", "unknown-table", "error"),
        ("steps[2].dimensions[0].expr", "unknown-column", "error"),
        ("steps[2].metrics[0].expr", "type-mismatch", "error"),
    }
    assert at(result.diagnostics, "steps[1].input", "unknown-table").hint == "earlier steps: a"
    assert at(result.diagnostics, "steps[2].dimensions[0].expr", "unknown-column").hint == "did you mean 'user_id'?"


@pytest.mark.parametrize(("lint", "expected"), [
    ({}, {("filter", "missing-partition-filter", "warning")}),
    ({"missing-partition-filter": "off"}, set()),
    ({"missing-partition-filter": "error"}, {("filter", "missing-partition-filter", "error")}),
    ({"missing-partition-filter": "warn"}, {("filter", "missing-partition-filter", "warning")}),
])
def test_missing_partition_filter_severity_is_configurable(
    compile_config: Callable[..., CompiledTask], lint: dict[str, str], expected: set[tuple[str, str, str]]
) -> None:
    config = {"name": "p", "kind": "sync", "source": "app.events", "lint": lint,
              "target": {"table": "mart.event_log", "write_mode": "append"}}
    result = compile_config(config)
    assert triples(result.diagnostics) == expected
    assert result.ok == (lint.get("missing-partition-filter") != "error")
    assert bool(result.script) == result.ok
    if expected:
        assert "add e.g. ds = '{{ ds }}'" in result.diagnostics[0].hint


def test_partition_filter_in_a_filter_silences_the_warning(compile_config: Callable[..., CompiledTask]) -> None:
    config = {"name": "p", "kind": "sync", "source": "app.events", "filter": "event = 'play' AND ds >= '2024-01-01'",
              "target": {"table": "mart.event_log", "write_mode": "append"}}
    assert compile_config(config).diagnostics == []


def test_select_star_in_sql_task_warns(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "s", "kind": "sql", "target": {"table": "mart.event_log", "write_mode": "append"},
                             "sql": "SELECT * FROM {{ ref('mart.event_log') }}"})
    assert triples(result.diagnostics) == {("sql", "select-star-into-sink", "warning")}
    assert result.ok


def test_non_aggregated_column_in_sql_group_by(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "s", "kind": "sql", "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "sql": "SELECT user_id, status, COUNT(*) AS orders FROM {{ ref('shop.orders') }} "
               "WHERE ds = '{{ ds }}' GROUP BY user_id",
    })
    assert ("sql", "non-aggregated-column", "error") in triples(result.diagnostics)
    assert "'status'" in at(result.diagnostics, "sql", "non-aggregated-column").message


def test_group_by_ordinal_is_accepted(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "s", "kind": "sql", "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "sql": "SELECT user_id, COUNT(*) AS orders FROM {{ ref('shop.orders') }} WHERE ds = '{{ ds }}' GROUP BY 1",
    })
    assert result.diagnostics == []


def test_sql_join_without_on_is_a_cartesian_join(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "s", "kind": "sql", "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "sql": "SELECT o.user_id, COUNT(*) AS orders FROM {{ ref('shop.orders') }} o JOIN {{ ref('shop.users') }} u "
               "WHERE o.ds = '{{ ds }}' GROUP BY o.user_id",
    })
    assert ("sql", "cartesian-join", "error") in triples(result.diagnostics)


def test_sql_task_reading_a_table_without_ref(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "s", "kind": "sql", "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "sql": "SELECT user_id, COUNT(*) AS orders FROM shop.orders WHERE ds = '{{ ds }}' GROUP BY user_id",
    })
    found = at(result.diagnostics, "sql", "unknown-table")
    assert found.hint == "write {{ ref('shop.orders') }}"
    assert not result.ok


def test_sql_task_with_two_statements_is_forbidden(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "s", "kind": "sql", "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "sql": "SELECT user_id, COUNT(*) AS orders FROM {{ ref('shop.orders') }} GROUP BY user_id; DROP TABLE x",
    })
    assert triples(result.diagnostics) == {("sql", "forbidden-expression", "error")}


def test_sql_task_unknown_ref_suggests(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "s", "kind": "sql", "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "sql": "SELECT user_id, COUNT(*) AS orders FROM {{ ref('shop.order') }} WHERE ds = '{{ ds }}' GROUP BY user_id",
    })
    assert triples(result.diagnostics) == {("sql", "unknown-table", "error")}
    assert result.diagnostics[0].hint == "did you mean 'shop.orders'?"


def test_target_schema_mismatch_missing_extra_and_incompatible(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "s", "kind": "sync", "source": "shop.users", "target": {"table": "mart.strict_target"},
        "columns": [{"source": "user_id"}, {"source": "segment", "target": "flag"},
                    {"source": "name", "target": "extra_col"}, {"source": "signup_date", "target": "label"}],
    })
    mismatches = [d for d in result.diagnostics if d.rule == "target-schema-mismatch"]
    assert {(d.path, d.severity) for d in mismatches} == {("target.table", "error")}
    messages = sorted(d.message for d in mismatches)
    assert messages == [
        "column 'flag' is string but mart.strict_target stores boolean",
        "mart.strict_target has no column(s) extra_col",
        "the result has no column 'required_total', which mart.strict_target requires",
    ]
    assert len(result.diagnostics) == 3


def test_missing_nullable_target_column_is_a_warning(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "s", "kind": "sync", "source": "shop.users", "target": {"table": "mart.user_dim_nopk"},
        "columns": [{"source": "user_id"}, {"source": "name"}, {"source": "country_code"}],
    })
    assert triples(result.diagnostics) == {("target.table", "missing-target-column", "warning")}
    assert "CAST(NULL AS STRING) AS `segment`" in result.query


def test_upsert_without_primary_key(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "s", "kind": "sync", "source": "shop.users",
                             "target": {"table": "mart.user_dim_nopk", "write_mode": "upsert"}})
    assert triples(result.diagnostics) == {("target.write_mode", "upsert-needs-primary-key", "error")}
    assert "mart.user_dim_nopk" in result.diagnostics[0].message


def test_dev_target_at_a_prod_location_is_refused(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "s", "kind": "sync", "source": "shop.users", "target": {"table": "mart.leaky"}})
    assert triples(result.diagnostics) == {("target.table", "env-isolation", "error")}
    assert result.diagnostics[0].message == (
        "the dev location of mart.leaky is the prod location of shop.users (/data/prod/shop/users, spark)")
    assert result.script == ""


@pytest.mark.parametrize(("config", "path"), [
    ({"source": "shop.users", "target": {"table": "mart.prod_only"}}, "target.table"),
    ({"source": "mart.prod_only", "target": {"table": "mart.leaky"}}, "source"),
])
def test_missing_binding_for_env(compile_config: Callable[..., CompiledTask], config: dict[str, Any], path: str
                                 ) -> None:
    result = compile_config({"name": "s", "kind": "sync", **config})
    assert ("missing-binding" in {d.rule for d in result.diagnostics})
    found = at(result.diagnostics, path, "missing-binding")
    assert found.severity == "error"
    assert found.message == "mart.prod_only has no spark binding for env 'dev'"
    assert found.hint == "add bindings.spark.dev to the table in the catalog (it has: spark/prod)"


def test_prod_binding_compiles_in_prod(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "s", "kind": "sync", "source": "shop.users",
                             "target": {"table": "mart.prod_only"}}, env="prod")
    assert result.diagnostics == []
    assert "LOCATION '/data/prod/mart/prod_only'" in result.script
    assert "'path' = '/data/prod/shop/users'" in result.script
    assert "/data/dev" not in result.script


@pytest.mark.parametrize(("text", "rule", "message"), [
    ("status = 'x'; DROP TABLE t", "forbidden-expression", "one expression only"),
    ("user_id IN (SELECT user_id FROM shop.users)", "forbidden-expression", "subquery is not allowed"),
    ("EXISTS (SELECT 1)", "forbidden-expression", "select is not allowed"),
    ("1) OR (1=1", "invalid-expression", "cannot parse '1) OR (1=1'"),
    ("status = 'x' OR (SELECT 1) = 1", "forbidden-expression", "not a plain expression"),
])
def test_forbidden_expressions_in_a_filter(
    compile_config: Callable[..., CompiledTask], text: str, rule: str, message: str
) -> None:
    result = compile_config({"name": "f", "kind": "sync", "source": "app.events", "filter": text,
                             "target": {"table": "mart.event_log", "write_mode": "append"}})
    assert triples(result.diagnostics) == {("filter", rule, "error")}
    assert message in result.diagnostics[0].message
    assert result.script == ""


@pytest.mark.parametrize("expr", ["user_id; DROP TABLE t", "(SELECT max(user_id) FROM shop.users)", "*"])
def test_forbidden_expressions_in_a_metric(compile_config: Callable[..., CompiledTask], expr: str) -> None:
    result = compile_config({"name": "f", "kind": "aggregate", "source": "app.events", "filter": DS,
                             "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
                             "dimensions": [{"expr": "user_id"}],
                             "metrics": [{"name": "orders", "agg": "max", "expr": expr}]})
    assert triples(result.diagnostics) == {("metrics[0].expr", "forbidden-expression", "error")}


def test_comments_in_a_filter_never_reach_the_sql(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "f", "kind": "sync", "source": "app.events",
                             "filter": "ds = '{{ ds }}' /* hidden */ AND event = 'play' -- trailing",
                             "target": {"table": "mart.event_log", "write_mode": "append"}})
    assert result.diagnostics == []
    assert "hidden" not in result.script and "trailing" not in result.script
    assert "`events`.`ds` = '2024-06-02' AND `events`.`event` = 'play'" in result.query


def test_undefined_variable_in_filter_names_the_available_ones(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "f", "kind": "sync", "source": "app.events", "filter": "ds = '{{ dss }}'",
                             "target": {"table": "mart.event_log", "write_mode": "append"}})
    found = at(result.diagnostics, "filter", "template-error")
    assert found.severity == "error"
    assert "'dss' is undefined" in found.message
    assert found.hint == ("available variables: ds, ds_month, ds_nodash, ds_year, next_ds, params, prev_ds, ts, "
                          "ts_nodash")


def test_undefined_variable_in_partition_value(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "f", "kind": "sync", "source": "shop.orders", "filter": DS,
                             "target": {"table": "mart.orders_copy", "partition": {"ds": "{{ day }}"}},
                             "columns": [{"source": "order_id"}, {"source": "user_id"},
                                         {"source": "price", "target": "amount"}, {"source": "status"}]})
    found = at(result.diagnostics, "target.partition.ds", "template-error")
    assert "'day' is undefined" in found.message
    assert "available variables: ds," in found.hint


def test_bad_partition_value_reports_only_itself(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "f", "kind": "sync", "source": "shop.orders", "filter": DS,
                             "target": {"table": "mart.orders_copy", "partition": {"ds": "{{ day }}"}},
                             "columns": [{"source": "order_id"}, {"source": "user_id"},
                                         {"source": "price", "target": "amount"}, {"source": "status"}]})
    assert triples(result.diagnostics) == {("target.partition.ds", "template-error", "error")}


def test_undefined_variable_in_sql_task(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "s", "kind": "sql", "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "sql": "SELECT user_id, COUNT(*) AS orders FROM {{ ref('shop.orders') }} WHERE ds = '{{ day }}' "
               "GROUP BY user_id",
    })
    assert triples(result.diagnostics) == {("sql", "template-error", "error")}
    assert "'day' is undefined" in result.diagnostics[0].message


def test_undefined_variable_in_sql_task_names_the_available_ones(compile_config: Callable[..., CompiledTask]
                                                                  ) -> None:
    result = compile_config({
        "name": "s", "kind": "sql", "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "sql": "SELECT user_id, COUNT(*) AS orders FROM {{ ref('shop.orders') }} WHERE ds = '{{ day }}' "
               "GROUP BY user_id",
    })
    assert "prev_ds" in result.diagnostics[0].hint


def test_params_are_template_variables(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "f", "kind": "sync", "source": "app.events", "params": {"kind": "play"},
                             "filter": "ds = '{{ ds }}' AND event = '{{ params.kind }}'",
                             "target": {"table": "mart.event_log", "write_mode": "append"}})
    assert result.diagnostics == []
    assert "`events`.`event` = 'play'" in result.query


def test_unknown_lint_severity_is_a_config_error() -> None:
    problems = parse_errors({"name": "f", "kind": "sync", "source": "a.b", "target": {"table": "a.c"},
                             "lint": {"missing-partition-filter": "loud"}})
    assert triples(problems) == {("lint.missing-partition-filter", "invalid-config", "error")}


# --- config parsing ---------------------------------------------------------------------------------


def test_unknown_keys_everywhere_including_chained_steps() -> None:
    problems = parse_errors({
        "name": "Bad Name", "kind": "chained", "source": "shop.orders", "schedule": "0 2 * *", "colour": "red",
        "target": {"table": "mart.user_orders", "partiton": {}},
        "steps": [
            {"name": "a", "kind": "derive", "columns": [{"name": "x", "expr": "1", "typo": 1}]},
            {"name": "b", "kind": "aggregate", "metrics": [{"name": "n", "agg": "count", "filtr": "x"}],
             "dimension": []},
            {"name": "c", "kind": "nosuch"},
        ],
    })
    assert triples(problems) == {
        ("name", "invalid-config", "error"),
        ("schedule", "invalid-config", "error"),
        ("colour", "invalid-config", "error"),
        ("target.partiton", "invalid-config", "error"),
        ("steps[0].columns[0].typo", "invalid-config", "error"),
        ("steps[1].metrics[0].filtr", "invalid-config", "error"),
        ("steps[1].dimension", "invalid-config", "error"),
        ("steps[2].kind", "invalid-config", "error"),
    }
    by_path = {p.path: p for p in problems}
    assert by_path["colour"].message == "unknown field"
    assert by_path["steps[1].dimension"].hint == "remove it, or check its spelling against `formcast schema`"
    assert by_path["steps[2].kind"].message == "unknown kind 'nosuch'"
    assert "'0 2 * *' is not a five-field cron expression" in by_path["schedule"].message
    assert by_path["name"].hint == "must match ^[a-z][a-z0-9_]{0,62}$"


def test_unknown_kind() -> None:
    problems = parse_errors({"name": "x", "kind": "pivot", "source": "a.b", "target": {"table": "a.b"}})
    assert triples(problems) == {("kind", "invalid-config", "error")}
    assert problems[0].message == "unknown kind 'pivot'"
    assert problems[0].hint == "one of: " + ", ".join(KINDS)
    assert problems[0].hint.startswith("one of: sync, aggregate, ")


def test_missing_kind() -> None:
    problems = parse_errors({"name": "x", "source": "a.b", "target": {"table": "a.b"}})
    assert [(p.path, p.message) for p in problems] == [("", "'kind' is missing")]


@pytest.mark.parametrize("cron", ["61 * * * *", "0 2 * *", "every day", "0 2 * * * *"])
def test_bad_cron(cron: str) -> None:
    problems = parse_errors({"name": "x", "kind": "sync", "source": "a.b", "target": {"table": "a.b"},
                             "schedule": cron})
    assert triples(problems) == {("schedule", "invalid-config", "error")}
    assert f"'{cron}' is not a five-field cron expression" in problems[0].message


@pytest.mark.parametrize("name", ["Daily", "1st", "my-task", "a b", "x" * 64, ""])
def test_bad_task_name(name: str) -> None:
    problems = parse_errors({"name": name, "kind": "sync", "source": "a.b", "target": {"table": "a.b"}})
    assert triples(problems) == {("name", "invalid-config", "error")}


def test_missing_required_fields_are_named() -> None:
    problems = parse_errors({"name": "x", "kind": "aggregate", "source": "a.b", "target": {}})
    assert {(p.path, p.message) for p in problems} == {
        ("target.table", "required field is missing"), ("metrics", "required field is missing")}


def test_metric_argument_rules() -> None:
    problems = parse_errors({"name": "x", "kind": "aggregate", "source": "a.b", "target": {"table": "a.c"},
                             "metrics": [{"name": "a", "agg": "sum"}, {"name": "b", "agg": "percentile", "expr": "x"},
                                         {"name": "c", "agg": "count", "percentile": 0.5}]})
    assert {(p.path, p.message) for p in problems} == {
        ("metrics[0]", "sum needs a column or expression in 'expr'"),
        ("metrics[1]", "percentile needs 'percentile' between 0 and 1, e.g. 0.5"),
        ("metrics[2]", "'percentile' is only used with agg = percentile"),
    }


def test_duplicate_step_names() -> None:
    problems = parse_errors({"name": "x", "kind": "chained", "source": "a.b", "target": {"table": "a.c"},
                             "steps": [{"name": "s", "kind": "derive"}, {"name": "s", "kind": "derive"}]})
    assert [p.message for p in problems] == ["two steps are named 's'; step names must be unique"]


def test_invalid_json_has_line_and_column() -> None:
    task, problems = parse_task_text('{\n  "name": "x",\n  "kind": "sync",,\n}', "task.json")
    assert task is None
    assert [(p.path, p.rule, p.severity) for p in problems] == [("", "invalid-json", "error")]
    assert problems[0].message == (
        "task.json is not valid JSON: Expecting property name enclosed in double quotes at line 3, column 18")


@pytest.mark.parametrize("text", ["[1, 2]", '"sync"', "null"])
def test_json_that_is_not_an_object(text: str) -> None:
    task, problems = parse_task_text(text)
    assert task is None
    assert [(p.rule, p.message) for p in problems] == [("invalid-config", "a task config is a JSON object")]


def test_parse_task_text_round_trips_a_case() -> None:
    config = {"name": "x", "kind": "topn", "source": "a.b", "target": {"table": "a.c"}, "n": 3,
              "order_by": [{"expr": "y", "direction": "desc"}]}
    task, problems = parse_task_text(json.dumps(config))
    assert problems == [] and task is not None
    assert task.kind == "topn" and task.n == 3 and task.order_by[0].direction == "desc"


def test_static_partition_on_a_column_that_is_not_a_partition(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "f", "kind": "sync", "source": "shop.orders", "filter": DS,
                             "target": {"table": "mart.orders_copy", "partition": {"region": "eu"}},
                             "columns": [{"source": "order_id"}, {"source": "user_id"},
                                         {"source": "price", "target": "amount"}, {"source": "status"},
                                         {"source": "ds"}]})
    assert triples(result.diagnostics) == {("target.partition.region", "target-schema-mismatch", "error")}
    assert result.diagnostics[0].hint == "partition columns: ds"


def test_static_partition_value_must_fit_the_column_type(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "f", "kind": "sync", "source": "shop.orders", "filter": DS,
                             "target": {"table": "mart.orders_copy", "partition": {"ds": "not-a-date"}},
                             "columns": [{"source": "order_id"}, {"source": "user_id"},
                                         {"source": "price", "target": "amount"}, {"source": "status"}]})
    assert ("target.partition.ds", "type-mismatch", "error") in triples(result.diagnostics)


def test_sql_task_reading_a_partitioned_table_without_filter_warns(compile_config: Callable[..., CompiledTask]
                                                                   ) -> None:
    result = compile_config({
        "name": "s", "kind": "sql", "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "sql": "SELECT user_id, COUNT(*) AS orders FROM {{ ref('shop.orders') }} GROUP BY user_id",
    })
    assert ("sql", "missing-partition-filter", "warning") in triples(result.diagnostics)
