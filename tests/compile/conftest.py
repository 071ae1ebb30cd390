"""Fixtures for compiler tests: a small in-memory catalog with dev and prod file bindings.

Nothing here touches Spark or the examples folder; every test compiles against `CATALOG_TABLES`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from catalog.memory import MemoryCatalog
from catalog.spec import TableSpec
from generators.compile import CompiledTask, Compiler
from generators.loading import parse_task

LOGICAL_DATE = date(2024, 6, 2)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/compile/golden/*.sql from the compiler's current output")


def _bindings(ns: str, table: str, fmt: str = "parquet") -> dict[str, Any]:
    return {"spark": {
        "dev": {"kind": "file", "path": f"/data/dev/{ns}/{table}", "format": fmt},
        "prod": {"kind": "file", "path": f"/data/prod/{ns}/{table}", "format": fmt},
    }}


def _table(name: str, columns: list[tuple[str, str] | tuple[str, str, bool]], **extra: Any) -> dict[str, Any]:
    ns, short = name.split(".")
    cols = [{"name": c[0], "type": c[1], **({"nullable": c[2]} if len(c) > 2 else {})} for c in columns]
    return {"name": name, "columns": cols, "bindings": _bindings(ns, short), **extra}


CATALOG_TABLES: list[dict[str, Any]] = [
    _table("app.events", [
        ("event_id", "bigint"), ("user_id", "bigint"), ("event", "string"), ("video_id", "bigint"),
        ("country_code", "string"), ("app_version", "string"), ("event_ts", "timestamp"),
        ("duration_ms", "bigint"), ("ds", "date"),
    ], partition_by=["ds"], description="One row per client event."),
    _table("shop.orders", [
        ("order_id", "bigint"), ("user_id", "bigint"), ("product_id", "bigint"), ("quantity", "int"),
        ("price", "decimal(10,2)"), ("discount", "double"), ("status", "string"), ("order_ts", "timestamp"),
        ("ds", "date"),
    ], partition_by=["ds"], primary_key=["order_id"]),
    _table("shop.users", [
        ("user_id", "bigint"), ("name", "string"), ("country_code", "string"), ("signup_date", "date"),
        ("segment", "string"),
    ], primary_key=["user_id"]),
    _table("shop.products", [
        ("product_id", "bigint"), ("title", "string"), ("category", "string"), ("brand", "string"),
        ("list_price", "decimal(10,2)"),
    ], primary_key=["product_id"]),
    _table("ref.countries", [("code", "string"), ("name", "string"), ("region", "string")], primary_key=["code"]),
    _table("media.videos", [
        ("video_id", "bigint"), ("creator_id", "bigint"), ("title", "string"), ("category", "string"),
        ("duration_s", "int"),
    ], primary_key=["video_id"]),
    _table("media.creators", [
        ("creator_id", "bigint"), ("name", "string"), ("country_code", "string"), ("tier", "string"),
    ], primary_key=["creator_id"]),
    # --- outputs ---------------------------------------------------------------------------------
    _table("mart.orders_copy", [
        ("order_id", "bigint"), ("user_id", "bigint"), ("amount", "decimal(10,2)"), ("status", "string"),
        ("ds", "date"),
    ], partition_by=["ds"]),
    _table("mart.daily_sales", [
        ("period", "date"), ("status", "string"), ("orders", "bigint"), ("paid_orders", "bigint"),
        ("revenue", "double"), ("avg_price", "double"), ("ds", "date"),
    ], partition_by=["ds"]),
    _table("mart.orders_latest", [
        ("order_id", "bigint"), ("user_id", "bigint"), ("product_id", "bigint"), ("quantity", "int"),
        ("price", "decimal(10,2)"), ("discount", "double"), ("status", "string"), ("order_ts", "timestamp"),
        ("ds", "date"),
    ], partition_by=["ds"], primary_key=["order_id"]),
    _table("mart.events_enriched", [
        ("event_id", "bigint"), ("user_id", "bigint"), ("event", "string"), ("user_name", "string"),
        ("video_title", "string"), ("creator_name", "string"), ("creator_tier", "string"),
        ("user_country_name", "string"), ("creator_country_name", "string"),
        ("creator_country_region", "string"), ("ds", "date"),
    ], partition_by=["ds"]),
    _table("mart.order_values", [
        ("order_id", "bigint"), ("status", "string"), ("gross", "double"), ("net", "double"),
        ("net_rank", "int"), ("ds", "date"),
    ], partition_by=["ds"]),
    _table("mart.top_videos", [
        ("video_id", "bigint"), ("creator_id", "bigint"), ("title", "string"), ("category", "string"),
        ("duration_s", "int"), ("rank", "int"),
    ]),
    _table("mart.category_share", [
        ("category", "string"), ("revenue", "double"), ("share", "double"), ("ds", "date"),
    ], partition_by=["ds"]),
    _table("mart.user_orders", [
        ("user_id", "bigint"), ("orders", "bigint"), ("ds", "date"),
    ], partition_by=["ds"]),
    _table("mart.user_dim", [
        ("user_id", "bigint", False), ("name", "string"), ("country_code", "string"), ("segment", "string"),
    ], primary_key=["user_id"]),
    _table("mart.user_dim_nopk", [
        ("user_id", "bigint"), ("name", "string"), ("country_code", "string"), ("segment", "string"),
    ]),
    _table("mart.event_log", [
        ("event_id", "bigint"), ("user_id", "bigint"), ("event", "string"), ("event_ts", "timestamp"),
    ]),
    _table("mart.events_by_day", [
        ("event_id", "bigint"), ("event", "string"), ("ds", "date"),
    ], partition_by=["ds"]),
    _table("mart.strict_target", [
        ("user_id", "bigint", False), ("required_total", "bigint", False), ("label", "date"), ("flag", "boolean"),
    ]),
    # A dev binding that (wrongly) points at another table's prod location.
    {"name": "mart.leaky", "columns": [{"name": "user_id", "type": "bigint"}, {"name": "name", "type": "string"}],
     "bindings": {"spark": {"dev": {"kind": "file", "path": "/data/prod/shop/users"},
                            "prod": {"kind": "file", "path": "/data/prod/mart/leaky"}}}},
    # A table bound for prod only.
    {"name": "mart.prod_only", "columns": [{"name": "user_id", "type": "bigint"}, {"name": "name", "type": "string"}],
     "bindings": {"spark": {"prod": {"kind": "file", "path": "/data/prod/mart/prod_only"}}}},
]


def catalog_specs() -> list[TableSpec]:
    return [TableSpec.model_validate(t) for t in CATALOG_TABLES]


@pytest.fixture(scope="session")
def update_golden(pytestconfig: pytest.Config) -> bool:
    try:
        return bool(pytestconfig.getoption("--update-golden"))
    except ValueError:  # the option is registered only when this conftest is an initial one
        return False


@pytest.fixture(scope="session")
def catalog() -> MemoryCatalog:
    return MemoryCatalog(catalog_specs())


@pytest.fixture(scope="session")
def table_specs() -> list[TableSpec]:
    return catalog_specs()


@pytest.fixture(scope="session")
def compile_config(catalog: MemoryCatalog) -> Callable[..., CompiledTask]:
    """Parse a config dict (asserting it parses) and compile it for spark/dev on LOGICAL_DATE."""
    compiler = Compiler(catalog)

    def run(config: dict[str, Any], **kwargs: Any) -> CompiledTask:
        task, problems = parse_task(config)
        assert task is not None, [str(p) for p in problems]
        kwargs.setdefault("env", "dev")
        kwargs.setdefault("logical_date", LOGICAL_DATE)
        return compiler.compile(task, **kwargs)

    return run
