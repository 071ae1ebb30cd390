"""Compile benchmark: a generated 10,000-table catalog and 1,000 task configs of every kind.

    .venv/bin/python benchmarks/compile_bench.py                      # memory catalog, full size
    .venv/bin/python benchmarks/compile_bench.py --catalog sqlite     # the SQLAlchemy store on a SQLite file
    taskset -c 0 .venv/bin/python benchmarks/compile_bench.py --json  # one core; figures as JSON too
    .venv/bin/python benchmarks/compile_bench.py --profile            # cProfile of the warm pass

One compile is what a user waits for: `parse_task` (Pydantic validation) + `Compiler.compile`
(resolve against the catalog, plan, render the Jinja templates, parse and optimize with sqlglot,
align with the target, map to physical names, render the script). Every generated config must
compile without errors; any that does not is printed with its diagnostics and the exit status is 1.
The latency targets are reported as PASS/MISS and never change the exit status.

The measured passes run in a fresh subprocess (`--worker`), so the COLD pass starts with empty
caches (sqlglot, Jinja, expression and type LRU caches, the catalog store's table cache).
Everything is generated from `--seed`: the same arguments give the same catalog and configs.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from catalog.memory import MemoryCatalog
from catalog.spec import TableSpec
from catalog.types import normalize_type
from generators.compile import Compiler
from generators.loading import parse_task

LOGICAL_DATE = date(2024, 6, 2)
DEFAULT_SEED = 20240602

# Targets from the brief, reported beside the figures (never a failure).
TARGET_WARM_P95_MS = 50.0
TARGET_COLD_S_PER_1000 = 20.0

KIND_WEIGHTS: dict[str, int] = {
    "aggregate": 18, "sync": 12, "dedup": 10, "enrich": 18, "derive": 12, "topn": 8, "sql": 10, "chained": 12,
}
KINDS = tuple(KIND_WEIGHTS)

# --- catalog generation ------------------------------------------------------------------------

SOURCE_NAMESPACES = ("app", "web", "crm", "erp", "ads", "pay", "iot", "ops", "hr", "shop", "log", "geo")
TARGET_NAMESPACES = ("mart", "dw", "agg", "rpt")

# Join keys: the same name always has the same type, so any two tables sharing one can be joined.
KEY_COLUMNS: dict[str, str] = {
    "user_id": "bigint", "account_id": "bigint", "product_id": "bigint",
    "store_id": "int", "country_code": "string", "campaign_id": "bigint",
}
# Column words per type; a numeric suffix makes every name unique in its table and never a keyword.
WORDS: dict[str, tuple[str, ...]] = {
    "string": ("label", "status", "city", "channel", "device", "segment", "category", "plan", "tier",
               "browser", "os_name", "currency", "title", "referrer"),
    "bigint": ("views", "clicks", "quantity", "visits", "sessions", "bytes_in"),
    "int": ("age", "level", "retries", "position", "duration_s"),
    "double": ("amount", "price", "revenue", "ratio", "score", "latency", "weight", "discount"),
    "decimal(18,2)": ("balance", "cost", "fee", "tax"),
    "boolean": ("is_active", "is_test", "flagged"),
    "date": ("first_seen", "signup_day", "due_day"),
    "timestamp": ("created_at", "updated_at", "seen_at"),
    "array<string>": ("tag_list",),
    "map<string,bigint>": ("counters",),
}
TYPE_WEIGHTS: dict[str, int] = {
    "string": 30, "bigint": 18, "int": 9, "double": 16, "decimal(18,2)": 7, "boolean": 6, "date": 4,
    "timestamp": 7, "array<string>": 1, "map<string,bigint>": 1,
}
NUMERIC = ("bigint", "int", "double", "decimal(18,2)")
GROUPABLE = ("string", "bigint", "int", "boolean", "date")
TEMPORAL = ("date", "timestamp")

Columns = dict[str, str | None]  # ordered: name → canonical type (None: let the compiler decide)


def _norm(type_sql: str) -> str:
    return normalize_type(type_sql)


def _source_table(rng: random.Random, index: int) -> dict[str, Any]:
    ns = SOURCE_NAMESPACES[index % len(SOURCE_NAMESPACES)]
    name = f"t{index:05d}"
    ncols = rng.randint(5, 60)
    partitioned = rng.random() < 0.5
    cols: list[tuple[str, str, bool]] = [("id", "bigint", False)]
    for key in rng.sample(sorted(KEY_COLUMNS), rng.randint(1, 3)):
        cols.append((key, KEY_COLUMNS[key], True))
    if rng.random() < 0.6:
        cols.append(("event_ts", "timestamp", True))
    # At least one string and one numeric non-key column, so every kind has something to work on.
    cols.append((f"{rng.choice(WORDS['string'])}_{len(cols)}", "string", True))
    cols.append((f"{rng.choice(WORDS['double'])}_{len(cols)}", "double", True))
    partition_cols = [("ds", "date", False)] if partitioned else []
    if partitioned and rng.random() < 0.15:
        partition_cols.append(("hr", "int", False))
    types, weights = zip(*TYPE_WEIGHTS.items(), strict=True)
    while len(cols) + len(partition_cols) < ncols:
        type_sql = rng.choices(types, weights)[0]
        cols.append((f"{rng.choice(WORDS[type_sql])}_{len(cols)}", type_sql, True))
    cols += partition_cols  # Spark keeps partition columns last
    fmt = rng.choices(("parquet", "orc", "csv"), (90, 6, 4))[0]
    return {
        "name": f"{ns}.{name}",
        "description": f"Generated source table {index}",
        "owner": f"team-{ns}",
        "columns": [{"name": n, "type": t, "nullable": nullable} for n, t, nullable in cols],
        "primary_key": ["id"] if rng.random() < 0.7 else [],
        "partition_by": [c[0] for c in partition_cols],
        **({"event_time": {"column": "event_ts", "watermark_delay": "5 seconds"}}
           if any(c[0] == "event_ts" for c in cols) and rng.random() < 0.3 else {}),
        "bindings": _bindings(ns, name, fmt),
    }


def _bindings(ns: str, name: str, fmt: str = "parquet") -> dict[str, Any]:
    options = {"options": {"header": "true"}} if fmt == "csv" else {}
    return {
        "spark": {
            "dev": {"kind": "file", "path": f"/bench/dev/{ns}/{name}", "format": fmt, **options},
            "prod": {"kind": "file", "path": f"/bench/prod/{ns}/{name}", "format": fmt, **options},
        },
        "flink": {
            "dev": {"kind": "file", "path": f"/bench/dev/csv/{ns}/{name}", "format": "csv"},
            "prod": {"kind": "file", "path": f"/bench/prod/csv/{ns}/{name}", "format": "csv"},
        },
    }


# The engine the configs compile for (--engine); Flink upserts need a keyed sink (JDBC, upsert-kafka),
# so on Flink the generated file-target upserts compile as overwrites.
ENGINE = "spark"


# --- task generation ---------------------------------------------------------------------------


@dataclass
class Rel:
    """What a body reads: columns with types, and the partition columns when it is a catalog table."""

    columns: Columns
    partition: list[str] = field(default_factory=list)

    def of(self, *types: str) -> list[str]:
        return [c for c, t in self.columns.items() if t in types]

    def groupable(self) -> list[str]:
        return [c for c in self.of(*GROUPABLE) if c not in ("id", "ds", "hr")]

    def numeric(self) -> list[str]:
        return [c for c in self.of(*NUMERIC) if c not in ("id", "hr")]


class Generator:
    """Deterministic catalog + task configs; every config is built to compile without errors."""

    def __init__(self, n_tables: int, n_tasks: int, seed: int = DEFAULT_SEED) -> None:
        if n_tasks < 1 or n_tables < n_tasks + 10:
            raise ValueError("need at least tasks + 10 tables (one target table per task, plus sources)")
        self.rng = random.Random(seed)
        self.n_sources = n_tables - n_tasks
        self.n_tasks = n_tasks
        self.sources: list[dict[str, Any]] = []
        self.by_key: dict[str, list[str]] = {k: [] for k in KEY_COLUMNS}
        self.source_cols: dict[str, Rel] = {}
        self.targets: list[dict[str, Any]] = []
        self.configs: list[dict[str, Any]] = []

    # -- the catalog's source tables --

    def build_sources(self) -> None:
        for i in range(self.n_sources):
            table = _source_table(self.rng, i)
            self.sources.append(table)
            cols: Columns = {c["name"]: _norm(c["type"]) for c in table["columns"]}
            self.source_cols[table["name"]] = Rel(cols, list(table["partition_by"]))
            for key in KEY_COLUMNS:
                if key in cols:
                    self.by_key[key].append(table["name"])

    def source(self) -> tuple[str, Rel]:
        name = self.sources[self.rng.randrange(len(self.sources))]["name"]
        rel = self.source_cols[name]
        return name, Rel(dict(rel.columns), list(rel.partition))

    # -- expressions --

    def _filter(self, rel: Rel, required: bool = False) -> str | None:
        r = self.rng
        parts = []
        if "ds" in rel.partition or (required and "ds" in rel.columns):
            parts.append("ds = '{{ ds }}'")
        elif "ds" in rel.columns and r.random() < 0.3:
            parts.append("ds >= '{{ prev_ds }}'")
        if r.random() < 0.5:
            options: list[str] = []
            if rel.numeric():
                options.append(f"{r.choice(rel.numeric())} > {r.randint(0, 100)}")
            if rel.of("string"):
                s = r.choice(rel.of("string"))
                options += [f"{s} IS NOT NULL", f"{s} IN ('a', 'b', 'c')", f"lower({s}) LIKE 'x%'"]
            if rel.of("boolean"):
                options.append(f"{r.choice(rel.of('boolean'))} = true")
            if rel.of("timestamp"):
                options.append(f"{r.choice(rel.of('timestamp'))} >= '{{{{ ds }}}}'")
            if options:
                parts.append(r.choice(options))
        return " AND ".join(parts) or None

    def _order(self, rel: Rel, n: int = 1) -> list[dict[str, Any]]:
        r = self.rng
        candidates = rel.of("timestamp") + rel.numeric() or list(rel.columns)
        picked = r.sample(candidates, min(n, len(candidates)))
        items = []
        for c in picked:
            item: dict[str, Any] = {"expr": c, "direction": r.choice(("asc", "desc", "desc"))}
            if r.random() < 0.2:
                item["nulls"] = r.choice(("first", "last"))
            items.append(item)
        return items

    # -- bodies: each returns (body, output columns) or None when the input does not suit it --

    def body_aggregate(self, rel: Rel, step: int) -> tuple[dict[str, Any], Columns] | None:
        r = self.rng
        body: dict[str, Any] = {"kind": "aggregate"}
        out: Columns = {}
        grain_cols = [c for c in rel.of("timestamp")]
        if grain_cols and r.random() < 0.25:
            grain = r.choice(("hour", "day", "day", "week", "month"))
            alias = f"period_{step}"
            body["time_grain"] = {"column": r.choice(grain_cols), "grain": grain, "alias": alias}
            out[alias] = "timestamp" if grain == "hour" else "date"
        dims = []
        groupable = rel.groupable()
        for c in r.sample(groupable, min(len(groupable), r.randint(1, 3))):
            if rel.columns[c] == "string" and r.random() < 0.2:
                dims.append({"expr": f"lower({c})", "alias": f"{c}_lc"})
                out[f"{c}_lc"] = "string"
            else:
                dims.append({"expr": c})
                out[c] = rel.columns[c]
        if dims:
            body["dimensions"] = dims
        metrics = []
        numeric = rel.numeric()
        countable = [c for c in rel.columns if rel.columns[c] in GROUPABLE + NUMERIC] or list(rel.columns)
        for i in range(r.randint(1, 5)):
            agg = r.choice(("count", "count_distinct", "sum", "sum", "avg", "min", "max", "approx_count_distinct",
                            "percentile"))
            if agg in ("sum", "avg", "min", "max", "percentile") and not numeric:
                agg = "count"
            name = f"m{step}_{i}_{agg}"
            metric: dict[str, Any] = {"name": name, "agg": agg}
            if agg == "count":
                out[name] = "bigint"
                if r.random() < 0.3 and rel.of("string"):
                    metric["filter"] = f"{r.choice(rel.of('string'))} = 'ok'"
            elif agg in ("count_distinct", "approx_count_distinct"):
                metric["expr"] = r.choice(countable)
                out[name] = "bigint"
            else:
                col = r.choice(numeric)
                if len(numeric) > 1 and r.random() < 0.2:
                    metric["expr"] = f"{col} * {r.choice(numeric)}"
                    out[name] = "double"
                elif r.random() < 0.1:
                    metric["expr"] = f"{col} * (1 - 0.1)"
                    out[name] = "double"
                else:
                    metric["expr"] = col
                    ctype = rel.columns[col]
                    out[name] = {"sum": "bigint" if ctype in ("int", "bigint") else "double",
                                 "avg": "double", "percentile": "double"}.get(agg, ctype)
                if agg == "percentile":
                    metric["percentile"] = r.choice((0.5, 0.9, 0.99))
                if r.random() < 0.15 and rel.of("boolean"):
                    metric["filter"] = f"{r.choice(rel.of('boolean'))}"
            metrics.append(metric)
        body["metrics"] = metrics
        flt = self._filter(rel)
        if flt:
            body["filter"] = flt
        numeric_metrics = [m["name"] for m in metrics if m["agg"] in ("count", "sum", "count_distinct")]
        if numeric_metrics and r.random() < 0.3:
            body["having"] = f"{r.choice(numeric_metrics)} > {r.randint(0, 10)}"
        return body, out

    def body_sync(self, rel: Rel, step: int, *, standalone: bool = False) -> tuple[dict[str, Any], Columns] | None:
        r = self.rng
        body: dict[str, Any] = {"kind": "sync"}
        if r.random() < 0.5:
            # No mapping: standalone, the target's columns (a subset) are read by name; as a step, all pass.
            if standalone:
                keep = [c for c in rel.columns if c in rel.partition or r.random() < 0.7] or list(rel.columns)
                out = {c: rel.columns[c] for c in keep}
            else:
                out = dict(rel.columns)
        else:
            mapping = []
            out = {}
            cols = list(rel.columns)
            for c in r.sample(cols, min(len(cols), r.randint(3, 15))):
                t = rel.columns[c]
                item: dict[str, Any] = {"source": c, "target": f"{c}_v{step}"}
                if t == "int" and r.random() < 0.5:
                    item["cast"] = "bigint"
                    t = "bigint"
                elif t == "decimal(18,2)" and r.random() < 0.5:
                    item["cast"] = "double"
                    t = "double"
                elif t == "string" and r.random() < 0.3:
                    item["source"] = f"trim({c})"
                elif t in NUMERIC and r.random() < 0.2:
                    item["cast"] = "string"
                    t = "string"
                mapping.append(item)
                out[item["target"]] = t
            body["columns"] = mapping
        flt = self._filter(rel)
        if flt:
            body["filter"] = flt
        return body, out

    def body_dedup(self, rel: Rel, step: int) -> tuple[dict[str, Any], Columns] | None:
        r = self.rng
        keys = [c for c in ("id", *KEY_COLUMNS) if c in rel.columns] or rel.groupable() or list(rel.columns)[:1]
        body: dict[str, Any] = {
            "kind": "dedup", "keys": r.sample(keys, min(len(keys), r.randint(1, 2))),
            "order_by": self._order(rel, r.randint(1, 2)), "keep": r.choice(("first", "last")),
        }
        flt = self._filter(rel)
        if flt:
            body["filter"] = flt
        return body, dict(rel.columns)

    def body_topn(self, rel: Rel, step: int) -> tuple[dict[str, Any], Columns] | None:
        r = self.rng
        groupable = rel.groupable()
        body: dict[str, Any] = {
            "kind": "topn", "partition_by": r.sample(groupable, min(len(groupable), r.randint(0, 2))),
            "order_by": self._order(rel, r.randint(1, 2)), "n": r.choice((1, 3, 10, 100)),
            "rank_function": r.choice(("row_number", "rank", "dense_rank")),
        }
        out = dict(rel.columns)
        if r.random() < 0.5:
            body["rank_column"] = f"rnk_{step}"
            out[f"rnk_{step}"] = "int"
        flt = self._filter(rel)
        if flt:
            body["filter"] = flt
        return body, out

    def body_derive(self, rel: Rel, step: int) -> tuple[dict[str, Any], Columns] | None:
        r = self.rng
        body: dict[str, Any] = {"kind": "derive"}
        if r.random() < 0.5 and len(rel.columns) > 3:
            cols = list(rel.columns)
            keep = sorted(r.sample(range(len(cols)), r.randint(3, min(12, len(cols)))))
            body["select"] = [cols[i] for i in keep]
            out: Columns = {cols[i]: rel.columns[cols[i]] for i in keep}
        else:
            out = dict(rel.columns)
        derived = []
        numeric, strings = rel.numeric(), rel.of("string")
        previous_numeric: str | None = None
        for i in range(r.randint(1, 4)):
            name = f"d{step}_{i}"
            choices: list[tuple[str, str]] = []
            if numeric:
                a = r.choice(numeric)
                choices += [(f"{a} * 2", "double"), (f"round({a}, 2)", "double"), (f"coalesce({a}, 0)", "double"),
                            (f"CASE WHEN {a} > 0 THEN 'pos' ELSE 'neg' END", "string")]
            if strings:
                s = r.choice(strings)
                choices += [(f"upper({s})", "string"), (f"length({s})", "int"),
                            (f"concat({s}, '-', {r.choice(strings)})", "string")]
            if rel.of("timestamp"):
                choices.append((f"year({r.choice(rel.of('timestamp'))})", "int"))
            if previous_numeric:
                choices.append((f"{previous_numeric} + 1", "double"))
            if not choices:
                choices.append((f"CAST({next(iter(rel.columns))} AS string)", "string"))
            expr, type_sql = r.choice(choices)
            derived.append({"name": name, "expr": expr})
            out[name] = type_sql
            if type_sql in ("double", "int"):
                previous_numeric = name
        body["columns"] = derived
        flt = self._filter(rel)
        if flt:
            body["filter"] = flt
        if r.random() < 0.1:
            body["order_by"] = [{"expr": derived[-1]["name"], "direction": "desc"}]
            body["limit"] = r.choice((10, 1000))
        return body, out

    def body_enrich(self, rel: Rel, step: int) -> tuple[dict[str, Any], Columns] | None:
        r = self.rng
        base_keys = [k for k in KEY_COLUMNS if rel.columns.get(k) == KEY_COLUMNS[k]]
        if not base_keys:
            return None
        body: dict[str, Any] = {"kind": "enrich"}
        if r.random() < 0.4 and len(rel.columns) > 4:
            cols = list(rel.columns)
            keep = sorted(set(r.sample(range(len(cols)), r.randint(3, min(10, len(cols))))))
            body["columns"] = [cols[i] for i in keep]
            out: Columns = {cols[i]: rel.columns[cols[i]] for i in keep}
        else:
            out = dict(rel.columns)
        joins = []
        aliases: dict[str, Rel] = {}
        for j in range(1, r.randint(1, 6) + 1):
            alias = f"e{step}j{j}"
            # Snowflake: join on a key of an earlier lookup sometimes, else on a key of the input.
            earlier = [(a, k) for a, lk in aliases.items() for k in KEY_COLUMNS if lk.columns.get(k) == KEY_COLUMNS[k]]
            if earlier and r.random() < 0.35:
                left_alias, key = r.choice(earlier)
                left = f"{left_alias}.{key}"
            else:
                key = r.choice(base_keys)
                left = key
            table = r.choice(self.by_key[key])
            lookup = self.source_cols[table]
            addable = [c for c in lookup.columns if c != key and lookup.columns[c] is not None]
            added = r.sample(addable, min(len(addable), r.randint(1, 4)))
            join: dict[str, Any] = {"table": table, "alias": alias, "on": [{"left": left, "right": key}],
                                    "columns": added, "prefix": f"{alias}_"}
            if r.random() < 0.2:
                join["type"] = "inner"
            joins.append(join)
            aliases[alias] = lookup
            for c in added:
                out[f"{alias}_{c}"] = lookup.columns[c]
        body["joins"] = joins
        flt = self._filter(rel)
        if flt:
            body["filter"] = flt
        return body, out

    def body(self, kind: str, rel: Rel, step: int, **kw: Any) -> tuple[dict[str, Any], Columns] | None:
        return getattr(self, f"body_{kind}")(rel, step, **kw)

    # -- whole tasks --

    def _header(self, index: int, kind: str) -> dict[str, Any]:
        r = self.rng
        header: dict[str, Any] = {
            "name": f"t{index:04d}_{kind}", "kind": kind, "owner": f"team-{r.choice(TARGET_NAMESPACES)}",
            "description": f"Generated {kind} task {index}", "priority": r.choice(("P0", "P1", "P2", "P2", "P3")),
        }
        if r.random() < 0.7:
            header["schedule"] = r.choice(("0 2 * * *", "30 */4 * * *", "0 6 * * 1", "15 1 1 * *"))
        if r.random() < 0.3:
            header["tags"] = r.sample(["daily", "finance", "growth", "core", "pii"], 2)
        if r.random() < 0.2:
            header["sla"] = {"deadline": "08:00", "timezone": "Europe/Amsterdam"}
        if r.random() < 0.1:
            header["params"] = {"threshold": 10}
        if r.random() < 0.1:
            header["lint"] = {"missing-partition-filter": "off"}
        return header

    def _target(self, index: int, out: Columns, *, static_ds: bool, pk: list[str] | None = None,
                write_mode: str | None = None) -> dict[str, Any]:
        """A target table holding exactly `out`; partitioned by ds when the result has it (or static)."""
        r = self.rng
        ns = TARGET_NAMESPACES[index % len(TARGET_NAMESPACES)]
        name = f"out_{index:04d}"
        columns = [{"name": c, "type": t or "string", "nullable": c not in (pk or [])}
                   for c, t in out.items() if c != "ds"]
        partition: list[str] = []
        if static_ds or out.get("ds") == "date":
            columns.append({"name": "ds", "type": "date", "nullable": False})
            partition = ["ds"]
        elif "ds" in out:
            columns.append({"name": "ds", "type": out["ds"] or "string"})
        spec: dict[str, Any] = {
            "name": f"{ns}.{name}", "owner": "bench", "description": f"Target of task {index}", "columns": columns,
            "partition_by": partition, "primary_key": list(pk or []), "bindings": _bindings(ns, name),
        }
        self.targets.append(spec)
        target: dict[str, Any] = {"table": spec["name"]}
        if static_ds:
            target["partition"] = {"ds": "{{ ds }}"}
        if write_mode:
            target["write_mode"] = write_mode
        elif not partition:
            target["write_mode"] = r.choice(("overwrite", "overwrite", "append"))
        return target

    def task(self, index: int, kind: str) -> dict[str, Any]:
        r = self.rng
        config = self._header(index, kind)
        if kind == "sql":
            sql, out = self._sql()
            config["sql"] = sql
            config["target"] = self._target(index, out, static_ds=False)
            return config
        if kind == "chained":
            return self._chained(index, config)
        while True:
            source, rel = self.source()
            made = self.body(kind, rel, 0, **({"standalone": True} if kind == "sync" else {}))
            if made is not None:
                break
        body, out = made
        static_ds = kind == "aggregate" and "ds" in rel.partition and "ds" not in out and r.random() < 0.8
        pk = None
        write_mode = None
        if kind == "dedup" and "ds" not in out and r.random() < 0.4:
            pk, write_mode = list(body["keys"]), "upsert"
        config.update(body)
        config["source"] = source
        config["target"] = self._target(index, out, static_ds=static_ds, pk=pk, write_mode=write_mode)
        return config

    def _chained(self, index: int, config: dict[str, Any]) -> dict[str, Any]:
        r = self.rng
        patterns = (
            ("derive", "dedup", "enrich", "aggregate", "topn"),
            ("sync", "derive", "topn", "aggregate", "derive"),
            ("dedup", "derive", "enrich", "derive", "aggregate"),
            ("enrich", "derive", "topn", "derive", "sync"),
            ("derive", "enrich", "enrich", "dedup", "aggregate"),
        )
        while True:
            source, rel = self.source()
            if any(rel.columns.get(k) == t for k, t in KEY_COLUMNS.items()):
                break
        steps = []
        outputs: list[tuple[str, Rel]] = []
        current = rel
        for i, kind in enumerate(r.choice(patterns), start=1):
            step_input: str | None = None
            if len(outputs) >= 2 and r.random() < 0.1:
                step_input, current = r.choice(outputs[:-1])
            made = self.body(kind, current, i)
            if made is None:  # e.g. no join key left after an aggregate
                kind = r.choice(("derive", "topn", "dedup"))
                made = self.body(kind, current, i)
            assert made is not None
            body, out = made
            step = {"name": f"s{i}_{kind}", **({"input": step_input} if step_input else {}), **body}
            if i == 1 and "filter" not in step and "ds" in rel.partition:
                step["filter"] = "ds = '{{ ds }}'"
            steps.append(step)
            current = Rel(out)
            outputs.append((step["name"], current))
        config.update({"source": source, "steps": steps})
        config["target"] = self._target(index, current.columns, static_ds=False)
        return config

    def _sql(self) -> tuple[str, Columns]:
        r = self.rng
        shape = r.choice(("aggregate", "join", "window"))
        if shape == "join":
            key = r.choice(sorted(KEY_COLUMNS))
            a, b = r.sample(self.by_key[key], 2) if len(self.by_key[key]) > 1 else (self.by_key[key][0],) * 2
            ra, rb = self.source_cols[a], self.source_cols[b]
            g = r.choice(ra.groupable())
            where = "WHERE a.ds = '{{ ds }}'\n" if "ds" in ra.partition else ""
            num = rb.numeric()
            total = f",\n  SUM(b.{num[0]}) AS total_b" if num else ""
            sql = (f"SELECT\n  a.{g} AS {g},\n  COUNT(*) AS n_rows,\n  COUNT(DISTINCT b.id) AS n_b{total}\n"
                   f"FROM {{{{ ref('{a}') }}}} AS a\nJOIN {{{{ ref('{b}') }}}} AS b ON a.{key} = b.{key}\n"
                   f"{where}GROUP BY a.{g}")
            out: Columns = {g: ra.columns[g], "n_rows": "bigint", "n_b": "bigint"}
            if num:
                out["total_b"] = "double"
            return sql, out
        source, rel = self.source()
        where = "WHERE ds = '{{ ds }}'" if "ds" in rel.partition else "WHERE 1 = 1"
        if shape == "aggregate":
            g = r.sample(rel.groupable(), min(2, len(rel.groupable())))
            num = r.choice(rel.numeric())
            sql = (f"SELECT {', '.join(g)}, COUNT(*) AS n_rows, SUM({num}) AS total, MAX({num}) AS peak\n"
                   f"FROM {{{{ ref('{source}') }}}}\n{where}\nGROUP BY {', '.join(g)}")
            out = {c: rel.columns[c] for c in g}
            out.update({"n_rows": "bigint", "total": "double", "peak": rel.columns[num]})
            return sql, out
        cols = [c for c in rel.columns if rel.columns[c] in GROUPABLE + NUMERIC + TEMPORAL][:8]
        part = r.choice(rel.groupable())
        order = r.choice(rel.numeric())
        sql = (f"WITH ranked AS (\n  SELECT {', '.join(cols)},\n"
               f"    ROW_NUMBER() OVER (PARTITION BY {part} ORDER BY {order} DESC) AS rn\n"
               f"  FROM {{{{ ref('{source}') }}}}\n  {where}\n)\nSELECT {', '.join(cols)}, rn\nFROM ranked\n"
               "WHERE rn <= 3")
        out = {c: rel.columns[c] for c in cols}
        out["rn"] = "int"
        return sql, out

    def build(self) -> None:
        self.build_sources()
        kinds = self.rng.choices(KINDS, [KIND_WEIGHTS[k] for k in KINDS], k=self.n_tasks)
        self.configs = [self.task(i, kind) for i, kind in enumerate(kinds)]

    def table_dicts(self) -> list[dict[str, Any]]:
        return self.sources + self.targets


def generate(n_tables: int, n_tasks: int, seed: int = DEFAULT_SEED) -> tuple[list[TableSpec], list[dict[str, Any]]]:
    """The catalog's TableSpecs and the task configs (plain dicts, as read from JSON)."""
    gen = Generator(n_tables, n_tasks, seed)
    gen.build()
    specs = [TableSpec.model_validate(t) for t in gen.table_dicts()]
    return specs, gen.configs


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Sample:
    name: str
    kind: str
    total_ms: float  # wall clock
    cpu_ms: float  # this process's CPU time: what the figures would be on an idle core
    parse_ms: float
    ok: bool
    diagnostics: list[str]


def compile_config(compiler: Compiler, config: dict[str, Any]) -> Sample:
    """One compile as a user sees it: validate the config, then compile it."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    if ENGINE == "flink" and config.get("target", {}).get("write_mode") == "upsert":
        config = {**config, "target": {**config["target"], "write_mode": "overwrite"}}
    task, problems = parse_task(config)
    t1 = time.perf_counter()
    if task is None:
        cpu = (time.process_time() - c0) * 1e3
        diagnostics = [str(p) for p in problems]
        return Sample(config["name"], config["kind"], (t1 - t0) * 1e3, cpu, (t1 - t0) * 1e3, False, diagnostics)
    try:
        result = compiler.compile(task, engine=ENGINE, env="dev", logical_date=LOGICAL_DATE)
    except Exception as err:  # a compiler bug: report it with the config's name, keep measuring the rest
        t2 = time.perf_counter()
        cpu = (time.process_time() - c0) * 1e3
        where = traceback.extract_tb(err.__traceback__)[-1]
        message = (f"error: exception in Compiler.compile: {type(err).__name__}: {err} "
                   f"(at {where.filename}:{where.lineno})")
        return Sample(task.name, task.kind, (t2 - t0) * 1e3, cpu, (t1 - t0) * 1e3, False, [message])
    t2 = time.perf_counter()
    cpu = (time.process_time() - c0) * 1e3
    return Sample(task.name, task.kind, (t2 - t0) * 1e3, cpu, (t1 - t0) * 1e3, result.ok,
                  [str(d) for d in result.diagnostics])


def run_pass(compiler: Compiler, configs: list[dict[str, Any]]) -> tuple[list[Sample], float, float]:
    """Compile every config once; returns the samples, wall seconds and CPU seconds of the pass."""
    cpu = time.process_time()
    start = time.perf_counter()
    samples = [compile_config(compiler, c) for c in configs]
    return samples, time.perf_counter() - start, time.process_time() - cpu


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def summarize(samples: list[Sample], wall_s: float, cpu_s: float) -> dict[str, float]:
    latencies = [s.total_ms for s in samples]
    cpu = [s.cpu_ms for s in samples]
    parses = [s.parse_ms for s in samples]
    return {
        "configs": len(samples), "wall_s": round(wall_s, 3), "cpu_s": round(cpu_s, 3),
        "configs_per_s": round(len(samples) / wall_s, 1) if wall_s else 0.0,
        "p50_ms": round(percentile(latencies, 50), 2), "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2), "max_ms": round(max(latencies, default=0.0), 2),
        "mean_ms": round(sum(latencies) / len(latencies), 2) if latencies else 0.0,
        "first_ms": round(latencies[0], 2) if latencies else 0.0,
        "parse_task_p50_ms": round(percentile(parses, 50), 3),
        "cpu_p50_ms": round(percentile(cpu, 50), 2), "cpu_p95_ms": round(percentile(cpu, 95), 2),
        "cpu_p99_ms": round(percentile(cpu, 99), 2),
    }


def by_kind(cold: list[Sample], warm: list[Sample]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        c = [s.total_ms for s in cold if s.kind == kind]
        w = [s.total_ms for s in warm if s.kind == kind]
        wc = [s.cpu_ms for s in warm if s.kind == kind]
        if not c:
            continue
        out[kind] = {
            "n": len(c), "cold_p50_ms": round(percentile(c, 50), 2), "cold_p95_ms": round(percentile(c, 95), 2),
            "warm_p50_ms": round(percentile(w, 50), 2), "warm_p95_ms": round(percentile(w, 95), 2),
            "warm_cpu_p50_ms": round(percentile(wc, 50), 2), "warm_cpu_p95_ms": round(percentile(wc, 95), 2),
        }
    return out


class QueryCounter:
    """Counts SQL statements the catalog store sends (SQLite mode): shows its table cache at work."""

    def __init__(self, catalog: Any) -> None:
        from sqlalchemy import event

        self.count = 0
        event.listen(catalog._engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *_: Any) -> None:
        self.count += 1


def _profile_text(profiler: cProfile.Profile, sort: str, limit: int = 15) -> str:
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    text = buffer.getvalue()
    start = text.find("   ncalls")  # drop pstats' preamble
    return text[start:].rstrip() if start >= 0 else text.rstrip()


def run_benchmark(
    n_tables: int = 10_000, n_tasks: int = 1_000, catalog_kind: str = "memory", seed: int = DEFAULT_SEED,
    profile: bool = False, workdir: str | None = None, trace_memory: bool = True, trace_sample: int = 250,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Generate, then COLD pass, WARM pass, (tracemalloc pass), (profiled pass). Returns the figures."""
    t0 = time.perf_counter()
    specs, configs = generate(n_tables, n_tasks, seed)
    build_s = time.perf_counter() - t0
    log(f"generated {len(specs):,} tables and {len(configs):,} configs in {build_s:.1f} s")
    figures: dict[str, Any] = {
        "setup": {"catalog": catalog_kind, "tables": len(specs), "tasks": len(configs), "seed": seed,
                  "python": platform.python_version(), "cpus": _cpus(), "generate_s": round(build_s, 2),
                  "engine": ENGINE},
    }
    counter: QueryCounter | None = None
    store = None
    if catalog_kind == "memory":
        catalog: Any = MemoryCatalog(specs)
    elif catalog_kind == "sqlite":
        from catalog.store import Catalog

        directory = Path(workdir or tempfile.mkdtemp(prefix="formcast-bench-"))
        db = directory / "bench_catalog.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db}"
        t1 = time.perf_counter()
        with Catalog.open(url) as writer:
            writer.register_many(specs)
        figures["setup"]["sqlite_register_many_s"] = round(time.perf_counter() - t1, 2)
        figures["setup"]["sqlite_file_mb"] = round(db.stat().st_size / 2**20, 1)
        log(f"registered {len(specs):,} tables in {db} in {figures['setup']['sqlite_register_many_s']} s")
        store = Catalog.open(url)  # a fresh instance: its table cache starts empty
        catalog = store
        counter = QueryCounter(store)
    else:
        raise ValueError(f"unknown catalog kind {catalog_kind!r}")
    del specs
    gc.collect()

    compiler = Compiler(catalog)
    queries_before = counter.count if counter else 0
    cold, cold_s, cold_cpu = run_pass(compiler, configs)
    queries_cold = (counter.count if counter else 0) - queries_before
    log(f"cold pass: {cold_s:.1f} s")
    warm, warm_s, warm_cpu = run_pass(compiler, configs)
    queries_warm = (counter.count if counter else 0) - queries_before - queries_cold
    log(f"warm pass: {warm_s:.1f} s")

    failures = [{"task": s.name, "kind": s.kind, "diagnostics": s.diagnostics} for s in cold if not s.ok]
    warnings = Counter(
        d.split(" [")[-1].rstrip("]").split("]")[0] for s in cold for d in s.diagnostics if d.startswith("warning")
    )
    figures["cold"] = summarize(cold, cold_s, cold_cpu)
    figures["warm"] = summarize(warm, warm_s, warm_cpu)
    figures["by_kind"] = by_kind(cold, warm)
    figures["compile"] = {"ok": sum(s.ok for s in cold), "failed": len(failures), "warnings_by_rule": dict(warnings)}
    figures["failures"] = failures
    if counter is not None:
        figures["catalog_queries"] = {"cold": queries_cold, "warm": queries_warm}

    memory: dict[str, float] = {}
    if trace_memory:
        # tracemalloc slows compiling 3-5x: trace an evenly spread sample (every kind, every size).
        step = max(1, len(configs) // trace_sample) if trace_sample else 1
        sample = configs[::step]
        gc.collect()
        tracemalloc.start()
        run_pass(compiler, sample)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        memory["tracemalloc_peak_mb"] = round(peak / 2**20, 1)
        memory["tracemalloc_configs"] = len(sample)
        log(f"tracemalloc pass over {len(sample)} configs done")
    memory["max_rss_mb"] = round(_max_rss_bytes() / 2**20, 1)
    figures["memory"] = memory

    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run_pass(compiler, configs)
        profiler.disable()
        figures["profile"] = {"cumulative": _profile_text(profiler, "cumulative"),
                              "tottime": _profile_text(profiler, "tottime")}
    figures["targets"] = targets(figures)
    if store is not None:
        store.close()
    return figures


def targets(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    n = figures["cold"]["configs"]
    cold_budget = TARGET_COLD_S_PER_1000 * n / 1000
    warm_p95, warm_cpu_p95 = figures["warm"]["p95_ms"], figures["warm"]["cpu_p95_ms"]
    cold_s, cold_cpu_s = figures["cold"]["wall_s"], figures["cold"]["cpu_s"]
    return {
        "warm_p95": {"target": f"warm p95 <= {TARGET_WARM_P95_MS:g} ms per task", "value": warm_p95,
                     "pass": warm_p95 <= TARGET_WARM_P95_MS, "cpu_value": warm_cpu_p95,
                     "cpu_pass": warm_cpu_p95 <= TARGET_WARM_P95_MS},
        "cold_total": {"target": f"{n:,} configs cold <= {cold_budget:g} s on one core", "value": cold_s,
                       "pass": cold_s <= cold_budget, "cpu_value": cold_cpu_s, "cpu_pass": cold_cpu_s <= cold_budget,
                       "single_core": figures["setup"]["cpus"] == 1},
    }


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _max_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB, macOS bytes


# --- reporting -----------------------------------------------------------------------------------


def report(figures: dict[str, Any]) -> Iterator[str]:
    setup = figures["setup"]
    yield f"Formcast compile benchmark (parse_task + Compiler.compile, env dev, {setup.get('engine', 'spark')})"
    sqlite = ""
    if "sqlite_register_many_s" in setup:
        sqlite = (f"; sqlite register_many {setup['sqlite_register_many_s']} s, "
                  f"file {setup['sqlite_file_mb']} MiB")
    yield (f"  catalog {setup['catalog']}: {setup['tables']:,} tables, {setup['tasks']:,} task configs, "
           f"seed {setup['seed']}, python {setup['python']}, CPUs available {setup['cpus']}")
    yield f"  generated in {setup['generate_s']} s{sqlite}"
    comp = figures["compile"]
    warnings = ", ".join(f"{k} {v}" for k, v in sorted(comp["warnings_by_rule"].items())) or "none"
    yield f"  compiled without errors: {comp['ok']:,}/{setup['tasks']:,}; warnings: {warnings}"
    yield ""
    yield "  wall clock:"
    yield "  pass   configs/s   total s   p50 ms   p95 ms   p99 ms   max ms  first ms  parse_task p50 ms"
    for name in ("cold", "warm"):
        f = figures[name]
        yield (f"  {name:<5}{f['configs_per_s']:>11.1f}{f['wall_s']:>10.2f}{f['p50_ms']:>9.2f}{f['p95_ms']:>9.2f}"
               f"{f['p99_ms']:>9.2f}{f['max_ms']:>9.2f}{f['first_ms']:>10.2f}{f['parse_task_p50_ms']:>19.3f}")
    yield "  CPU time of this process (unaffected by other load on the machine):"
    yield "  pass   configs/s     cpu s   p50 ms   p95 ms   p99 ms"
    for name in ("cold", "warm"):
        f = figures[name]
        rate = f["configs"] / f["cpu_s"] if f["cpu_s"] else 0.0
        yield (f"  {name:<5}{rate:>11.1f}{f['cpu_s']:>10.2f}{f['cpu_p50_ms']:>9.2f}{f['cpu_p95_ms']:>9.2f}"
               f"{f['cpu_p99_ms']:>9.2f}")
    yield ""
    yield "  kind          n   cold p50   cold p95   warm p50   warm p95   warm cpu p50   warm cpu p95   (ms)"
    for kind, f in figures["by_kind"].items():
        yield (f"  {kind:<10}{f['n']:>5}{f['cold_p50_ms']:>11.2f}{f['cold_p95_ms']:>11.2f}"
               f"{f['warm_p50_ms']:>11.2f}{f['warm_p95_ms']:>11.2f}{f['warm_cpu_p50_ms']:>15.2f}"
               f"{f['warm_cpu_p95_ms']:>15.2f}")
    yield ""
    mem = figures["memory"]
    traced = ""
    if "tracemalloc_peak_mb" in mem:
        traced = (f"tracemalloc peak {mem['tracemalloc_peak_mb']} MiB "
                  f"(warm compiles of {mem['tracemalloc_configs']:,} configs); ")
    yield f"  memory: {traced}max RSS {mem['max_rss_mb']} MiB (whole process: catalog + configs + caches)"
    if "catalog_queries" in figures:
        q = figures["catalog_queries"]
        yield f"  catalog store SQL statements: cold pass {q['cold']:,}, warm pass {q['warm']:,}"
    yield ""
    yield "  targets (reported, never enforced):"
    for t in figures["targets"].values():
        unit = "ms" if "ms" in t["target"] else "s"
        note = ""
        if "single_core" in t and not t["single_core"]:
            note = f"  (process could use {setup['cpus']} CPUs: run under taskset -c 0 for the one-core figure)"
        yield (f"    {t['target']:<42} wall {t['value']:>8.2f} {unit:<2} {'PASS' if t['pass'] else 'MISS'}   "
               f"cpu {t['cpu_value']:>8.2f} {unit:<2} {'PASS' if t['cpu_pass'] else 'MISS'}{note}")
    if figures["failures"]:
        yield ""
        yield f"  FAILED: {len(figures['failures'])} config(s) did not compile:"
        for failure in figures["failures"][:20]:
            yield f"    {failure['task']} ({failure['kind']})"
            for d in failure["diagnostics"]:
                yield "      " + d.replace("\n", "\n      ")
    if "profile" in figures:
        yield ""
        yield "  cProfile, warm pass, top 15 by cumulative time:"
        yield figures["profile"]["cumulative"]
        yield ""
        yield "  cProfile, warm pass, top 15 by own time:"
        yield figures["profile"]["tottime"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=10_000, help="catalog tables (default 10,000)")
    parser.add_argument("--tasks", type=int, default=1_000, help="task configs (default 1,000)")
    parser.add_argument("--catalog", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--engine", choices=("spark", "flink"), default="spark", help="compile for this engine")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON document")
    parser.add_argument("--profile", action="store_true", help="cProfile one more warm pass (top 15)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the (slow) tracemalloc pass")
    parser.add_argument("--tracemalloc-sample", type=int, default=250, metavar="N",
                        help="configs in the tracemalloc pass, evenly spread (default 250; 0: all)")
    parser.add_argument("--workdir", help="where the sqlite catalog file goes (default: a temp directory)")
    parser.add_argument("--in-process", action="store_true",
                        help="measure in this process instead of a fresh subprocess")
    parser.add_argument("--worker", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    global ENGINE
    ENGINE = args.engine
    options = {"n_tables": args.tables, "n_tasks": args.tasks, "catalog_kind": args.catalog, "seed": args.seed,
               "profile": args.profile, "workdir": args.workdir, "trace_memory": not args.no_tracemalloc,
               "trace_sample": args.tracemalloc_sample,
               "log": log}
    if args.worker:
        figures = run_benchmark(**options)
        Path(args.worker).write_text(json.dumps(figures), encoding="utf-8")
        return 0
    if args.in_process:
        figures = run_benchmark(**options)
    else:
        with tempfile.TemporaryDirectory(prefix="formcast-bench-") as tmp:
            out = Path(tmp) / "figures.json"
            forwarded = [a for a in (argv if argv is not None else sys.argv[1:]) if a not in ("--json",)]
            command = [sys.executable, str(Path(__file__).resolve()), *forwarded, "--worker", str(out)]
            if not args.workdir and args.catalog == "sqlite":
                command += ["--workdir", tmp]
            completed = subprocess.run(command, check=False)
            if completed.returncode != 0 or not out.exists():
                print(f"benchmark worker failed (exit {completed.returncode})", file=sys.stderr)
                return 2
            figures = json.loads(out.read_text(encoding="utf-8"))
    for line in report(figures):
        print(line)
    if args.json:
        print(json.dumps({k: v for k, v in figures.items() if k != "profile"}, indent=2))
    return 1 if figures["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
