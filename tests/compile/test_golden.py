"""Golden Spark SQL per task kind: `cases/<case>.json` compiled for spark/dev must equal `golden/<case>.spark.sql`.

Run `pytest tests/compile --update-golden` to rewrite the golden files from the compiler's output,
then read the diff: a golden file is a reviewed statement of what the compiler should emit.
Cases in KNOWN_BAD have hand-written golden files holding the *correct* SQL; they are never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from generators.compile import CompiledTask, split_statements

HERE = Path(__file__).parent
CASES = sorted(p.stem for p in (HERE / "cases").glob("*.json"))

KNOWN_BAD: dict[str, str] = {}


def _config(case: str) -> dict[str, Any]:
    return json.loads((HERE / "cases" / f"{case}.json").read_text(encoding="utf-8"))


def _golden(case: str) -> Path:
    return HERE / "golden" / f"{case}.spark.sql"


def _params() -> list[Any]:
    return [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BAD[c])) if c in KNOWN_BAD else c
            for c in CASES]


def test_every_kind_has_a_case() -> None:
    kinds = {_config(c)["kind"] for c in CASES}
    assert kinds == {"sync", "aggregate", "dedup", "enrich", "derive", "topn", "chained", "sql"}
    assert {_config(c)["target"].get("write_mode", "overwrite_partition") for c in CASES} == {
        "append", "overwrite", "overwrite_partition", "upsert"}
    assert set(CASES) == {p.name.removesuffix(".spark.sql") for p in (HERE / "golden").glob("*.spark.sql")}


@pytest.mark.parametrize("case", _params())
def test_golden_script(case: str, compile_config: Callable[..., CompiledTask], update_golden: bool) -> None:
    result = compile_config(_config(case))
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    golden = _golden(case)
    if update_golden and case not in KNOWN_BAD:
        golden.write_text(result.script, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing: run pytest with --update-golden"
    assert result.script == golden.read_text(encoding="utf-8")


def _insert(script: str) -> exp.Insert:
    inserts = [s for s in split_statements(script) if s.startswith("INSERT ")]
    assert len(inserts) == 1
    insert = sqlglot.parse_one(inserts[0], read="spark")
    assert isinstance(insert, exp.Insert)
    return insert


@pytest.mark.parametrize("case", _params())
def test_every_relation_read_is_defined(case: str, compile_config: Callable[..., CompiledTask]) -> None:
    """Each table the INSERT reads is a CTE of the query or a view/table the script itself defines."""
    script = compile_config(_config(case)).script
    defining = ("CREATE OR REPLACE TEMPORARY VIEW", "CREATE TABLE `")  # views, and an upsert's scratch table
    views = {s.split("`")[1] for s in split_statements(script) if s.startswith(defining)}
    insert = _insert(script)
    query = insert.expression
    ctes = {cte.alias for cte in query.find_all(exp.CTE)}
    read = {t.name for t in query.find_all(exp.Table)}
    assert read, "the query reads nothing"
    assert read <= ctes | views, f"undefined relations: {sorted(read - ctes - views)}"


@pytest.mark.parametrize("case", CASES)
def test_script_shape(case: str, compile_config: Callable[..., CompiledTask]) -> None:
    """Settings, views, DDL and the INSERT appear in that order with the right write mode and partition."""
    config = _config(case)
    result = compile_config(config)
    statements = result.statements()
    mode = config["target"].get("write_mode", "overwrite_partition")
    partitioned = bool(result.target_spec and result.target_spec.partition_by)
    dynamic_setting = "SET spark.sql.sources.partitionOverwriteMode = dynamic"
    assert (statements[0] == dynamic_setting) == (mode == "overwrite_partition" and partitioned)
    kinds = [s.split("\n")[0].split(" (")[0].split(" `")[0] for s in statements]
    insert_kind = "INSERT " + ("INTO TABLE" if mode == "append" else "OVERWRITE TABLE")
    if mode == "upsert":  # the merged rows go through a scratch table (Spark will not overwrite what it reads)
        assert kinds[-6:] == ["CREATE DATABASE IF NOT EXISTS", "CREATE TABLE IF NOT EXISTS", "DROP TABLE IF EXISTS",
                              "CREATE TABLE", insert_kind, "DROP TABLE"]
    else:
        assert kinds[-3:] == ["CREATE DATABASE IF NOT EXISTS", "CREATE TABLE IF NOT EXISTS", insert_kind]
    # Every view reads the dev location; nothing in a dev script mentions prod.
    assert "/data/prod" not in result.script
    assert all(f"'path' = '/data/dev/{s.logical.replace('.', '/')}'" in result.script for s in result.sources)
    static = config["target"].get("partition", {})
    insert_head = next(s for s in statements if s.startswith("INSERT")).split("\n")[1]
    if static:
        assert insert_head == "PARTITION (" + ", ".join(f"`{k}` = '2024-06-02'" for k in static) + ")"
    else:
        assert not insert_head.startswith("PARTITION")


def test_partitioned_sources_read_one_partition(compile_config: Callable[..., CompiledTask]) -> None:
    """Every case reading a ds-partitioned table filters ds to the logical date (or a date range)."""
    for case in CASES:
        result = compile_config(_config(case))
        for source in result.sources:
            if source.logical in ("app.events", "shop.orders"):
                alias_filters = [s for s in _insert(result.script).find_all(exp.Where)
                                 if any(c.name == "ds" for c in s.find_all(exp.Column))]
                assert alias_filters, f"{case}: {source.logical} is read without a ds predicate"
                assert "'2024-06-02'" in result.query, case


def test_upsert_does_not_overwrite_the_files_it_reads(compile_config: Callable[..., CompiledTask]) -> None:
    """Spark refuses to overwrite files it reads: the merged rows go through a scratch table first."""
    result = compile_config(_config("sync_upsert"))
    assert result.ok
    statements = result.statements()
    insert = next(s for s in statements if s.startswith("INSERT OVERWRITE"))
    assert insert.endswith("SELECT * FROM `fc_upsert__mart__user_dim`")
    create = next(s for s in statements if s.startswith("CREATE TABLE `fc_upsert__mart__user_dim`"))
    assert "FROM `mart__user_dim` AS `__fc_current`" in create  # the current rows are read here, not by the INSERT
    assert statements[-1] == "DROP TABLE `fc_upsert__mart__user_dim`"
