"""The function allow-list: engine functions pass, code execution, UDFs and file readers are located errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from generators.compile import CompiledTask
from generators.functions import DENIED, FUNCTIONS_DIR, allowed_functions, catalog_functions
from generators.loading import parse_task

REFLECT = "reflect('org.apache.hadoop.fs.FileUtil', 'symLink', '/etc/passwd', '/tmp/formcast-pwned')"


def sync(**extra: Any) -> dict[str, Any]:
    return {"name": "f", "kind": "sync", "source": "app.events",
            "target": {"table": "mart.event_log", "write_mode": "append"}, **extra}


def errors(result: CompiledTask) -> set[tuple[str, str]]:
    return {(d.path, d.rule) for d in result.errors}


@pytest.mark.parametrize("call", [REFLECT, "java_method('java.lang.System', 'getProperty', 'user.name')",
                                  "TRY_REFLECT('java.lang.Runtime', 'getRuntime')", "`reflect`('a', 'b')",
                                  "from_protobuf(event, 'M', '/etc/passwd')"])
def test_escapes_in_a_filter_are_refused_at_the_field(compile_config: Callable[..., CompiledTask], call: str) -> None:
    result = compile_config(sync(filter=f"event = {call}"))
    assert errors(result) == {("filter", "forbidden-function")}
    assert "is not allowed" in result.errors[0].message
    assert result.script == "" and result.query == ""


def test_every_expression_field_is_checked(compile_config: Callable[..., CompiledTask]) -> None:
    config = {
        "name": "a", "kind": "aggregate", "source": "app.events",
        "filter": f"ds = '{{{{ ds }}}}' AND {REFLECT} IS NULL",
        "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "dimensions": [{"expr": "user_id"}],
        "metrics": [{"name": "orders", "agg": "count", "filter": "java_method('a', 'b') = 'x'"}],
        "having": "orders > length(reflect('a', 'b'))",
    }
    result = compile_config(config)
    assert errors(result) == {("filter", "forbidden-function"), ("metrics[0].filter", "forbidden-function"),
                              ("having", "forbidden-function")}


def test_a_sql_task_is_checked(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "s", "kind": "sql", "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "sql": "SELECT user_id, COUNT(*) AS orders FROM {{ ref('shop.orders') }} "
               "WHERE ds = '{{ ds }}' AND java_method('java.lang.System', 'exit', 1) IS NULL GROUP BY user_id",
    })
    assert errors(result) == {("sql", "forbidden-function")}


@pytest.mark.parametrize("sql", [
    "CREATE FUNCTION evil AS 'com.evil.Udf'", "ADD JAR '/tmp/evil.jar'", "LOAD DATA LOCAL INPATH '/etc' INTO TABLE t",
    "SELECT 1; ADD JAR '/tmp/evil.jar'",
])
def test_registering_code_or_loading_files_is_not_a_query(compile_config: Callable[..., CompiledTask],
                                                          sql: str) -> None:
    result = compile_config({"name": "s", "kind": "sql", "target": {"table": "mart.event_log"}, "sql": sql})
    assert {rule for _, rule in errors(result)} <= {"forbidden-expression", "invalid-expression"}
    assert errors(result) and result.script == ""


def test_reading_files_directly_bypasses_the_catalog(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "s", "kind": "sql", "target": {"table": "mart.event_log"},
                             "sql": "SELECT * FROM parquet.`/data/prod/shop/users`"})
    assert ("sql", "unknown-table") in errors(result)


@pytest.mark.parametrize("call", ["evil.upper(event)", "spark_catalog.default.udf(event)", "db.my_udf(event)"])
def test_catalog_functions_are_refused(compile_config: Callable[..., CompiledTask], call: str) -> None:
    result = compile_config(sync(filter=f"{call} = 'x'"))
    assert errors(result) == {("filter", "forbidden-function")}
    assert "calls a function from a catalog" in result.errors[0].message


def test_an_unknown_function_gets_a_suggestion(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config(sync(filter="uppr(event) = 'PLAY'"))
    assert errors(result) == {("filter", "forbidden-function")}
    assert result.errors[0].message == "uppr() is not a spark function Formcast allows"
    assert result.errors[0].hint == "did you mean upper()?"


def test_engine_functions_pass_on_both_engines(compile_config: Callable[..., CompiledTask]) -> None:
    expr = ("upper(event) = 'PLAY' AND date_format(event_ts, 'HH') > '06' AND input_file_name() IS NOT NULL "
            "AND coalesce(user_id, 0) > 0 AND CAST(user_id AS string) LIKE '1%'")
    assert compile_config(sync(filter=expr)).errors == []
    # (the test catalog has no flink bindings: only the function check matters here)
    flink = compile_config(sync(filter="upper(event) = 'PLAY' AND coalesce(user_id, 0) > 0"), engine="flink")
    assert "forbidden-function" not in {d.rule for d in flink.errors}


def test_the_engine_that_runs_decides(compile_config: Callable[..., CompiledTask]) -> None:
    """A Spark function the Flink catalog lacks is refused when the task compiles for Flink."""
    assert compile_config(sync(filter="soundex(event) = 'P400'")).errors == []
    flink = compile_config(sync(filter="soundex(event) = 'P400'"), engine="flink")
    assert ("filter", "forbidden-function") in errors(flink)


@pytest.mark.parametrize("rule", ["forbidden-function", "env-isolation"])
def test_lint_cannot_turn_the_guards_off(rule: str) -> None:
    task, problems = parse_task(sync(filter="event = 'x'", lint={rule: "off"}))
    assert task is None
    assert any("cannot be changed" in p.message and p.path.startswith("lint") for p in problems)


def test_the_catalogs_come_from_the_engines() -> None:
    for engine in ("spark", "flink"):
        data = json.loads((FUNCTIONS_DIR / f"{engine}.json").read_text())
        assert data["engine"] == engine and data["engine_version"]
        names = catalog_functions(engine)
        assert {"upper", "count", "sum"} <= names
        # every denial names a function the engine really has, and the allow-list lacks it
        assert DENIED[engine].keys() <= names
        assert not DENIED[engine].keys() & allowed_functions(engine)
    assert {"reflect", "java_method", "try_reflect", "input_file_name"} <= catalog_functions("spark")
    assert "input_file_name" in allowed_functions("spark")
