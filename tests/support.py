"""Shared test helpers: a small warehouse on disk with its catalog, and row comparison."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from app.workflow import runs
from catalog.spec import TableSpec
from catalog.store import Catalog
from generators.compile import Compiler
from generators.loading import parse_task

DAY1, DAY2 = date(2024, 6, 1), date(2024, 6, 2)


def _events() -> dict[str, list[Any]]:
    rows = [
        # event_id, user_id, event, video_id, app_version, platform, country, duration_ms, ts
        ("e01", 1, "open", None, "3.1.0", "ios", "NL", None, datetime(2024, 6, 1, 8, 0, 1)),
        ("e02", 1, "play", 10, "3.1.0", "ios", "NL", 12000, datetime(2024, 6, 1, 8, 5)),
        ("e03", 1, "play", 11, "3.1.0", "ios", "NL", 3000, datetime(2024, 6, 1, 9, 15)),
        ("e04", 2, "play", 10, "3.2.0", "android", "DE", 45000, datetime(2024, 6, 1, 9, 30)),
        ("e04", 2, "play", 10, "3.2.0", "android", "DE", 46000, datetime(2024, 6, 1, 9, 31)),  # duplicate id
        ("e05", 3, "like", 12, "3.2.0", "web", "FR", None, datetime(2024, 6, 1, 10, 0)),
        ("e06", 3, "play", 12, "3.2.0", "web", "FR", 800, datetime(2024, 6, 1, 10, 2)),
        ("e07", 4, "purchase", None, "3.1.0", "android", "NL", None, datetime(2024, 6, 1, 11, 45)),
        ("e08", 2, "share", 10, "3.2.0", "android", "DE", None, datetime(2024, 6, 1, 23, 59, 59)),
        ("e11", 1, "play", 12, "3.2.0", "ios", "NL", 5000, datetime(2024, 6, 2, 7, 0)),
        ("e12", 5, "play", 11, "3.3.0", "web", "US", 70000, datetime(2024, 6, 2, 7, 30)),
        ("e13", 5, "play", 10, "3.3.0", "web", "US", 1000, datetime(2024, 6, 2, 8, 0)),
        ("e14", 6, "open", None, "3.3.0", "ios", "US", None, datetime(2024, 6, 2, 8, 10)),
        ("e15", 2, "play", 11, "3.2.0", "android", "DE", 22000, datetime(2024, 6, 2, 9, 0)),
        ("e16", 3, "play", 13, "3.2.0", "web", "FR", 15000, datetime(2024, 6, 2, 9, 5)),
        ("e16", 3, "play", 13, "3.2.0", "web", "FR", 15500, datetime(2024, 6, 2, 9, 6)),  # duplicate id
    ]
    names = ["event_id", "user_id", "event", "video_id", "app_version", "platform", "country", "duration_ms",
             "event_ts"]
    return {n: [r[i] for r in rows] for i, n in enumerate(names)}


EVENTS_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("user_id", pa.int64()), ("event", pa.string()), ("video_id", pa.int64()),
    ("app_version", pa.string()), ("platform", pa.string()), ("country", pa.string()),
    ("duration_ms", pa.int64()), ("event_ts", pa.timestamp("us")),
])


def _write_partitioned(folder: Path, table: pa.Table, column: str) -> None:
    for value in sorted(set(table.column(column).to_pylist())):
        part = table.filter(pa.compute.equal(table.column(column), value)).drop_columns([column])
        target = folder / f"ds={value.isoformat()}"
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(part, target / "part-0.parquet")


def write_tables(root: Path) -> None:
    events = pa.table(_events(), schema=EVENTS_SCHEMA)
    events = events.append_column("ds", pa.array([t.date() for t in events.column("event_ts").to_pylist()]))
    _write_partitioned(root / "app" / "events", events, "ds")
    users = pa.table({
        "user_id": [1, 2, 3, 4, 5, 6], "country": ["NL", "DE", "FR", "NL", "US", "US"],
        "age_band": ["18-24", "25-34", "25-34", "35-44", "18-24", "45-54"],
        "is_vip": [True, False, False, True, False, False],
        "signup_date": [date(2023, 1, 5), date(2023, 3, 1), date(2023, 7, 9), date(2024, 1, 2), date(2024, 5, 1),
                        date(2024, 5, 30)],
    })
    pq.write_table(users, _mk(root / "app" / "users") / "part-0.parquet")
    videos = pa.table({"video_id": [10, 11, 12, 13], "creator_id": [100, 100, 101, 102],
                       "category": ["music", "music", "sports", "comedy"]})
    pq.write_table(videos, _mk(root / "app" / "videos") / "part-0.parquet")
    creators = pa.table({"creator_id": [100, 101, 102], "creator_name": ["ann", "bo", "cy"],
                         "tier": ["gold", "silver", "gold"]})
    pq.write_table(creators, _mk(root / "app" / "creators") / "part-0.parquet")
    countries = pa.table({"code": ["NL", "DE", "FR", "US"],
                          "country_name": ["Netherlands", "Germany", "France", "United States"],
                          "region": ["EU", "EU", "EU", "NA"]})
    pq.write_table(countries, _mk(root / "ref" / "countries") / "part-0.parquet")
    orders = pa.table({
        "order_id": [1, 2, 3, 4, 5, 6, 7],
        "user_id": [1, 2, 2, 3, 5, 5, 9],
        "product_id": [500, 501, 500, 502, 501, 503, 500],
        "quantity": pa.array([1, 2, 1, 5, 1, 3, 1], pa.int32()),
        "price": pa.array([Decimal("9.99"), Decimal("20.00"), Decimal("9.99"), Decimal("3.50"), Decimal("20.00"),
                           Decimal("7.25"), Decimal("9.99")], pa.decimal128(10, 2)),
        "discount": pa.array([Decimal("0.00"), Decimal("0.10"), Decimal("0.00"), Decimal("0.50"), Decimal("0.00"),
                              Decimal("0.20"), Decimal("0.00")], pa.decimal128(4, 2)),
        "status": ["paid", "paid", "refunded", "paid", "paid", "paid", "cancelled"],
        "video_id": pa.array([10, 11, 10, 12, 13, 11, None], pa.int64()),
        "amount_text": ["9.99", "40", "9.99", "17.5", "20", "21.75", "oops"],
    })
    pq.write_table(orders, _mk(root / "shop" / "orders") / "part-0.parquet")
    products = pa.table({"product_id": [500, 501, 502, 503], "category": ["books", "games", "food", "books"],
                         "brand": ["acme", "zeta", "acme", "omni"]})
    pq.write_table(products, _mk(root / "shop" / "products") / "part-0.parquet")


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _binding(root: Path, ns: str, name: str) -> dict[str, Any]:
    return {"spark": {"dev": {"kind": "file", "path": str(root / ns / name), "format": "parquet"},
                      "prod": {"kind": "file", "path": f"/nonexistent/prod/{ns}/{name}", "format": "parquet"}}}


def table_specs(root: Path, out: Path) -> list[TableSpec]:
    def spec(name: str, columns: list[tuple[str, str]], *, where: Path = root, **extra: Any) -> TableSpec:
        ns, short = name.split(".")
        return TableSpec.model_validate({
            "name": name, "columns": [{"name": n, "type": t} for n, t in columns],
            "bindings": _binding(where, ns, short), **extra,
        })

    events_cols = [("event_id", "string"), ("user_id", "bigint"), ("event", "string"), ("video_id", "bigint"),
                   ("app_version", "string"), ("platform", "string"), ("country", "string"),
                   ("duration_ms", "bigint"), ("event_ts", "timestamp"), ("ds", "date")]
    return [
        spec("app.events", events_cols, partition_by=["ds"], primary_key=["event_id"]),
        spec("app.users", [("user_id", "bigint"), ("country", "string"), ("age_band", "string"),
                           ("is_vip", "boolean"), ("signup_date", "date")], primary_key=["user_id"]),
        spec("app.videos", [("video_id", "bigint"), ("creator_id", "bigint"), ("category", "string")]),
        spec("app.creators", [("creator_id", "bigint"), ("creator_name", "string"), ("tier", "string")]),
        spec("ref.countries", [("code", "string"), ("country_name", "string"), ("region", "string")]),
        spec("shop.orders", [("order_id", "bigint"), ("user_id", "bigint"), ("product_id", "bigint"),
                             ("quantity", "int"), ("price", "decimal(10,2)"), ("discount", "decimal(4,2)"),
                             ("status", "string"), ("amount_text", "string"), ("video_id", "bigint")]),
        spec("shop.products", [("product_id", "bigint"), ("category", "string"), ("brand", "string")]),
        # outputs
        spec("mart.dau", [("app_version", "string"), ("platform", "string"), ("active_users", "bigint"),
                          ("plays", "bigint"), ("play_seconds", "bigint"), ("p50_duration", "double"),
                          ("ds", "date")], where=out, partition_by=["ds"]),
        spec("mart.events_hourly", [("hour", "timestamp"), ("event", "string"), ("events", "bigint")], where=out),
        spec("mart.users_copy", [("id", "bigint"), ("country_code", "string"), ("vip", "boolean"),
                                 ("signup_date", "date")], where=out, primary_key=["id"]),
        spec("mart.order_amounts", [("order_id", "bigint"), ("amount", "int")], where=out),
        spec("mart.latest_events", events_cols, where=out, partition_by=["ds"]),
        spec("mart.orders_enriched", [("order_id", "bigint"), ("user_id", "bigint"), ("age_band", "string"),
                                      ("country_name", "string"), ("region", "string"), ("category", "string"),
                                      ("brand", "string"), ("video_category", "string"), ("creator_tier", "string")],
             where=out),
        spec("mart.play_stats", [("event_id", "string"), ("user_id", "bigint"), ("seconds", "double"),
                                 ("long_play", "boolean"), ("user_share", "double")], where=out),
        spec("mart.top_plays", [("country", "string"), ("event_id", "string"), ("duration_ms", "bigint"),
                                ("rank", "int")], where=out),
        spec("mart.category_share", [("category", "string"), ("revenue", "decimal(38,4)"), ("share", "double")],
             where=out),
        spec("mart.funnel", [("platform", "string"), ("openers", "bigint"), ("players", "bigint")], where=out),
    ]


@dataclass
class Warehouse:
    root: Path
    out: Path
    store: Catalog
    compiler: Compiler
    principal: Any = None  # who runs: a developer of this catalog (tests/accounts.py)

    def run(self, config: dict[str, Any], day: date = DAY1, **kwargs: Any) -> runs.RunResult:
        task, problems = parse_task(config)
        assert task is not None, problems
        result = runs.run(self.compiler, task, self.store, principal=self.principal, logical_date=day, **kwargs)
        assert result.status == "succeeded", (result.error, [str(d) for d in result.diagnostics])
        return result

    def output(self, ns_table: str, order_by: str) -> list[tuple[Any, ...]]:
        """Rows written, read back independently with DuckDB."""
        ns, name = ns_table.split(".")
        pattern = str(self.out / ns / name / "**" / "*.parquet")
        return duckdb.sql(
            f"SELECT * EXCLUDE (filename) FROM read_parquet('{pattern}', hive_partitioning = true, "
            f"filename = true) ORDER BY {order_by}"
        ).fetchall()

    def source(self, ns_table: str) -> str:
        """A DuckDB relation over a source table, for computing expectations."""
        ns, name = ns_table.split(".")
        return f"read_parquet('{self.root / ns / name}/**/*.parquet', hive_partitioning = true)"




def approx_rows(rows: list[tuple[Any, ...]], digits: int = 6) -> list[tuple[Any, ...]]:
    """Rows with floats and decimals rounded, so engines' last-bit differences do not matter."""
    def norm(value: Any) -> Any:
        if isinstance(value, float | Decimal):
            return round(float(value), digits)
        return value

    return [tuple(norm(v) for v in row) for row in rows]


# --- engine-neutral reading and comparison (flink tests, engine agreement) ---------------------------

_DUCK_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "smallint": "SMALLINT",
               "tinyint": "TINYINT", "double": "DOUBLE", "float": "FLOAT", "boolean": "BOOLEAN",
               "date": "DATE", "timestamp": "TIMESTAMP"}


def duck_type(type_name: str) -> str:
    lowered = type_name.lower().replace(" ", "")
    if lowered.startswith("decimal"):
        return lowered.upper()
    return _DUCK_TYPES.get(lowered, "VARCHAR")


def csv_relation(spec: TableSpec, path: Path | str) -> str:
    """A DuckDB relation over a header-less CSV table (Flink's layout): `ds=` folders, empty field = NULL."""
    partition = {p.lower() for p in spec.partition_by}
    columns = ", ".join(f"'{c.name}': '{duck_type(c.type)}'" for c in spec.columns if c.name.lower() not in partition)
    hive = "true" if spec.partition_by else "false"
    types = ", ".join(f"'{c.name}': '{duck_type(c.type)}'" for c in spec.columns if c.name.lower() in partition)
    hive_types = f", hive_types = {{{types}}}" if types else ""
    return (f"read_csv('{path}/**/[!._]*', header = false, columns = {{{columns}}}, nullstr = '', "
            f"hive_partitioning = {hive}{hive_types}, auto_detect = false, quote = '\"', escape = '\"')")


def parquet_relation(spec: TableSpec, path: Path | str) -> str:
    partition = [c for c in spec.columns if c.name.lower() in {p.lower() for p in spec.partition_by}]
    hive_types = (", hive_types = {" + ", ".join(f"'{c.name}': '{duck_type(c.type)}'" for c in partition) + "}"
                  if partition else "")
    return f"read_parquet('{path}/**/*.parquet', hive_partitioning = {'true' if partition else 'false'}{hive_types})"


def normalize(value: Any, digits: int = 6) -> Any:
    """One value as both engines' outputs can be compared: floats/decimals rounded, times as ISO strings."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes | Decimal):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, float | Decimal):
        return round(float(value), digits)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def normalized_rows(rows: Any, digits: int = 6) -> list[tuple[Any, ...]]:
    """Rows (tuples or dicts) normalized and sorted, so the order engines produce does not matter."""
    out = [tuple(normalize(v, digits) for v in (row.values() if isinstance(row, dict) else row)) for row in rows]
    return sorted(out, key=lambda r: tuple((v is None, str(type(v)), v if v is not None else 0) for v in r))
