"""One embedded Flink cluster and one TableEnvironment per mode for the whole session, and a seeded demo home."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from app.demo.seed import register_demo, seed_demo
from app.runners import flink as flink_runner
from catalog.spec import TableSpec
from catalog.store import Catalog
from generators.compile import Compiler
from tests.accounts import ensure_account
from tests.support import csv_relation

DAY = date(2024, 6, 1)


@dataclass
class FlinkDemo:
    home: Path
    out: Path
    store: Catalog
    compiler: Compiler
    principal: Any = None  # a developer of this catalog: who runs (tests/accounts.py)

    def spec(self, name: str) -> TableSpec:
        spec = self.store.get_table(name)
        assert spec is not None, name
        return spec

    def source(self, name: str) -> str:
        """A DuckDB relation over a source table's flink (CSV) data."""
        ns, table = name.split(".")
        return csv_relation(self.spec(name), self.home / "data" / "dev" / "csv" / ns / table)

    def csv_output(self, name: str) -> list[tuple[Any, ...]]:
        spec = self.spec(name)
        binding = spec.binding("flink", "dev")
        path = Path(binding.path)  # type: ignore[union-attr]
        columns = ", ".join(f'"{c.name}"' for c in spec.columns)
        return duckdb.sql(f"SELECT {columns} FROM {csv_relation(spec, path)}").fetchall()


def out_spec(out: Path, name: str, columns: list[tuple[str, str]], **extra: Any) -> TableSpec:
    ns, short = name.split(".")
    binding = {"kind": "file", "format": "csv", "path": str(out / ns / short), "options": {"csv.null-literal": ""}}
    return TableSpec.model_validate({
        "name": name, "columns": [{"name": n, "type": t} for n, t in columns],
        "bindings": {"flink": {"dev": binding}}, **extra})


def test_tables(out: Path) -> list[TableSpec]:
    events = [("event_id", "string"), ("user_id", "bigint"), ("device_id", "string"), ("event", "string"),
              ("video_id", "bigint"), ("app_version", "string"), ("platform", "string"), ("country", "string"),
              ("duration_ms", "bigint"), ("event_ts", "timestamp")]
    return [
        out_spec(out, "test.sync_out", [("user_id", "bigint"), ("country", "string"), ("is_vip", "boolean")]),
        out_spec(out, "test.agg_out", [("platform", "string"), ("events", "bigint"), ("users", "bigint"),
                                       ("watch_ms", "bigint")]),
        out_spec(out, "test.dedup_out", [*events, ("ds", "date")]),
        out_spec(out, "test.derive_out", [("event_id", "string"), ("user_id", "bigint"), ("seconds", "double")]),
        out_spec(out, "test.enrich_out", [("order_id", "bigint"), ("product_id", "bigint"), ("category", "string")]),
        out_spec(out, "test.topn_out", [("country", "string"), ("event_id", "string"), ("duration_ms", "bigint"),
                                        ("rank_in_country", "bigint")]),
        out_spec(out, "test.chained_out", [("product_id", "bigint"), ("orders", "bigint"),
                                           ("revenue", "decimal(18,2)")]),
        out_spec(out, "test.sql_out", [("country", "string"), ("events", "bigint")]),
        out_spec(out, "test.window_out", [("window_start", "timestamp"), ("window_end", "timestamp"),
                                          ("platform", "string"), ("plays", "bigint")]),
        out_spec(out, "test.fail_out", [("order_id", "bigint"), ("amount", "int")]),
        # Unbounded generator → blackhole: a streaming job that runs until stopped.
        TableSpec.model_validate({
            "name": "test.ticks", "columns": [{"name": "id", "type": "bigint"}, {"name": "v", "type": "string"}],
            "bindings": {"flink": {"dev": {"kind": "datagen", "rows_per_second": 5}}}}),
        TableSpec.model_validate({
            "name": "test.discard", "columns": [{"name": "id", "type": "bigint"}, {"name": "v", "type": "string"}],
            "bindings": {"flink": {"dev": {"kind": "blackhole"}}}}),
        # A Kafka topic with event time: the wheel has no kafka connector (deep validation swaps in datagen).
        TableSpec.model_validate({
            "name": "test.kafka_events",
            "columns": [{"name": "event_id", "type": "string"}, {"name": "user_id", "type": "bigint"},
                        {"name": "event", "type": "string"}, {"name": "event_ts", "type": "timestamp"}],
            "event_time": {"column": "event_ts", "watermark_delay": "5 seconds"},
            "bindings": {"flink": {"dev": {"kind": "kafka", "topic": "events", "bootstrap_servers": "kafka:9092",
                                           "format": "json", "startup_mode": "earliest-offset"}}}}),
        out_spec(out, "test.kafka_out", [("event_id", "string"), ("user_id", "bigint"), ("event", "string")]),
    ]


@pytest.fixture(scope="session")
def flink_envs() -> dict[str, Any]:
    return {mode: flink_runner.get_env(mode) for mode in ("batch", "streaming")}


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory, flink_envs: dict[str, Any]) -> FlinkDemo:
    home = tmp_path_factory.mktemp("flink_home")
    info = seed_demo(home, days=1, start=DAY)
    store = Catalog.open(f"sqlite:///{home / 'catalog.db'}")
    register_demo(store, info)
    out = home / "out"
    store.register_many(test_tables(out))
    return FlinkDemo(home, out, store, Compiler(store), ensure_account(store, "dev", "developer"))
