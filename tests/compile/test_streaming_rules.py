"""Flink streaming: lookup and interval joins, state TTL, and the rules that guard unbounded state."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from catalog.memory import MemoryCatalog
from catalog.spec import TableSpec
from generators.compile import CompiledTask, Compiler
from generators.loading import parse_task


def _kafka(topic: str, **extra: Any) -> dict[str, Any]:
    return {"flink": {"dev": {"kind": "kafka", "topic": topic, "bootstrap_servers": "k:9092", **extra}}}


CATALOG = MemoryCatalog([
    TableSpec.model_validate({
        "name": "rt.events", "event_time": {"column": "event_ts", "watermark_delay": "5 seconds"},
        "columns": [{"name": "user_id", "type": "bigint"}, {"name": "event", "type": "string"},
                    {"name": "event_ts", "type": "timestamp"}],
        "bindings": _kafka("events", startup_mode="earliest-offset")}),
    TableSpec.model_validate({
        "name": "rt.orders", "event_time": {"column": "order_ts"},
        "columns": [{"name": "user_id", "type": "bigint"}, {"name": "amount", "type": "double"},
                    {"name": "order_ts", "type": "timestamp"}],
        "bindings": _kafka("orders")}),
    TableSpec.model_validate({
        "name": "dim.users", "primary_key": ["user_id"],
        "columns": [{"name": "user_id", "type": "bigint"}, {"name": "country", "type": "string"}],
        "bindings": {"flink": {"dev": {"kind": "jdbc", "url": "jdbc:postgresql://db/x", "table": "users",
                                       "password_env": "PGPASS"}}}}),
    TableSpec.model_validate({
        "name": "rt.enriched",
        "columns": [{"name": "user_id", "type": "bigint"}, {"name": "event", "type": "string"},
                    {"name": "event_ts", "type": "timestamp"}, {"name": "country", "type": "string"}],
        "bindings": _kafka("enriched")}),
    TableSpec.model_validate({
        "name": "rt.counts", "primary_key": ["event"],
        "columns": [{"name": "event", "type": "string"}, {"name": "n", "type": "bigint"}],
        "bindings": _kafka("counts", upsert=True)}),
    TableSpec.model_validate({
        "name": "rt.counts_append",
        "columns": [{"name": "event", "type": "string"}, {"name": "n", "type": "bigint"}],
        "bindings": _kafka("counts_append")}),
])


def compile_streaming(config: dict[str, Any]) -> CompiledTask:
    task, problems = parse_task({"name": "t", "engine": "flink", **config})
    assert task is not None, problems
    return Compiler(CATALOG).compile(task, logical_date=date(2024, 6, 2), mode="streaming")


def rules(result: CompiledTask) -> set[tuple[str, str, str]]:
    return {(d.path, d.rule, d.severity) for d in result.diagnostics}


LOOKUP = {"kind": "enrich", "source": "rt.events", "target": {"table": "rt.enriched", "write_mode": "append"},
          "joins": [{"table": "dim.users", "lookup": True, "on": [{"left": "user_id", "right": "user_id"}],
                     "columns": ["country"]}]}


def test_lookup_join_reads_the_dimension_as_of_processing_time() -> None:
    result = compile_streaming(LOOKUP)
    assert result.ok and rules(result) == set()
    assert "`__fc_proctime` AS PROCTIME()" in result.script
    assert "LEFT JOIN `dim__users` FOR SYSTEM_TIME AS OF `src`.`__fc_proctime` AS `users`" in result.query
    assert "'password' = '${env:PGPASS}'" in result.script  # the secret itself never enters the script


def test_lookup_join_needs_a_table_flink_can_look_up() -> None:
    config = {**LOOKUP, "joins": [{**LOOKUP["joins"][0], "table": "rt.orders", "columns": ["amount"]}],
              "lint": {"target-schema-mismatch": "off", "missing-target-column": "off"}}
    assert ("joins[0].table", "unsupported-binding", "error") in rules(compile_streaming(config))


def test_interval_join_bounds_both_event_times() -> None:
    result = compile_streaming({
        "kind": "enrich", "source": "rt.events", "columns": ["user_id", "event", "event_ts"],
        "target": {"table": "rt.enriched", "write_mode": "append"}, "lint": {"missing-target-column": "off"},
        "joins": [{"table": "rt.orders", "type": "inner", "within": "1 hour",
                   "on": [{"left": "user_id", "right": "user_id"}], "columns": ["amount"]}],
    })
    assert rules(result) == {("target.table", "target-schema-mismatch", "error")}  # amount is not in the target
    assert result.diagnostics[0].message == "rt.enriched has no column(s) amount"


def test_non_windowed_aggregate_over_a_stream_warns_without_state_ttl() -> None:
    config = {"kind": "aggregate", "source": "rt.events", "dimensions": [{"expr": "event"}],
              "metrics": [{"name": "n", "agg": "count"}], "target": {"table": "rt.counts", "write_mode": "upsert"}}
    assert rules(compile_streaming(config)) == {("kind", "unbounded-state", "warning")}
    with_ttl = compile_streaming({**config, "state_ttl": "1 day"})
    assert rules(with_ttl) == set()
    assert "SET 'table.exec.state.ttl' = '86400000 ms';" in with_ttl.script
    assert "'connector' = 'upsert-kafka'" in with_ttl.script and "PRIMARY KEY (`event`) NOT ENFORCED" in with_ttl.script


def test_updates_into_an_append_only_sink_are_rejected_at_the_step() -> None:
    config = {"kind": "aggregate", "source": "rt.events", "dimensions": [{"expr": "event"}], "state_ttl": "1 day",
              "metrics": [{"name": "n", "agg": "count"}],
              "target": {"table": "rt.counts_append", "write_mode": "append"}}
    result = compile_streaming(config)
    assert rules(result) == {("kind", "streaming-unsupported", "error")}
    assert "kafka sink can only append" in result.diagnostics[0].message


@pytest.mark.parametrize(("order", "ok"), [({"expr": "event_ts"}, True), ({"expr": "user_id"}, False),
                                           ({"expr": "event_ts", "direction": "desc"}, False)])
def test_streaming_order_by_only_on_event_time_ascending(order: dict[str, str], ok: bool) -> None:
    result = compile_streaming({"kind": "derive", "source": "rt.events", "order_by": [order],
                                "columns": [{"name": "country", "expr": "'NL'"}],
                                "target": {"table": "rt.enriched", "write_mode": "append"}})
    assert result.ok is ok
    if not ok:
        assert rules(result) == {("order_by[0].expr", "streaming-unsupported", "error")}
