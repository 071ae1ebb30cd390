"""Rewrites of an optimized query's AST: the steps after sqlglot's optimizer, before generating SQL.

Each works on qualified, optimized trees, so none needs another optimizer pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlglot import exp

from catalog.spec import TableSpec
from generators.physical import PROCTIME_COLUMN


def apply_lookups(query: exp.Query, lookups: set[str], probes: set[str]) -> exp.Query:
    """Turn joins to lookup tables into `FOR SYSTEM_TIME AS OF <probe>.__fc_proctime` temporal joins.

    Added after optimizing: sqlglot's qualifier does not resolve columns inside FOR SYSTEM_TIME.
    """
    def logical(table: exp.Table) -> str:
        return f"{table.db}.{table.name}".lower()

    for select in query.find_all(exp.Select):
        source = select.args.get("from_")
        probe = source.this if source is not None else None
        if not isinstance(probe, exp.Table) or logical(probe) not in probes:
            continue
        for join in select.args.get("joins") or []:
            table = join.this
            if isinstance(table, exp.Table) and logical(table) in lookups:
                at = exp.column(PROCTIME_COLUMN, table=probe.alias_or_name, quoted=True)
                table.set("version", exp.Version(this="TIMESTAMP", kind="AS OF", expression=at))
    return query


def inline_projections(query: exp.Query, projections: list[exp.Expr]) -> exp.Query | None:
    """Apply the target alignment to a plain SELECT's own projections, saving a second optimizer pass.

    Projections refer to the result as `__fc_out`.`name`; each such column is replaced by the SELECT's
    expression for `name`. Not done for DISTINCT, set operations or ORDER BY (whose aliases may change).
    """
    if not isinstance(query, exp.Select) or query.args.get("distinct") or query.args.get("order"):
        return None
    by_name = {}
    for select in query.selects:
        by_name[select.alias_or_name.lower()] = select.this if isinstance(select, exp.Alias) else select

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and node.table == "__fc_out":
            return by_name[node.name.lower()].copy()
        return node

    query.set("expressions", [projection.transform(swap) for projection in projections])
    return query


def is_identity(projections: list[exp.Expr], output: dict[str, str | None]) -> bool:
    """True when the aligned projection would select the result's columns unchanged, in order."""
    if len(projections) != len(output):
        return False
    for projection, name in zip(projections, output, strict=True):
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if (not isinstance(inner, exp.Column) or inner.name.lower() != name.lower()
                or projection.alias_or_name.lower() != name.lower()):
            return False
    return True


def upsert_query(new_rows: exp.Query, target: TableSpec) -> exp.Query:
    """Upsert by rewrite: the new rows, plus the current rows whose key the new rows do not have.

    Built as an AST over the already optimized query (no second optimizer pass):
    WITH __fc_new AS (<new rows>) SELECT cols FROM __fc_new
    UNION ALL SELECT cur.cols FROM <target> AS cur LEFT JOIN __fc_new AS m ON keys WHERE m.key IS NULL
    """
    columns = [s.alias_or_name for s in new_rows.selects]

    def col(name: str, table: str) -> exp.Column:
        return exp.column(name, table=table, quoted=True)

    fresh = exp.select(*[col(c, "__fc_new") for c in columns]).from_(exp.to_table("`__fc_new`", dialect="spark"))
    current = exp.table_(target.short_name, db=target.namespace, quoted=True, alias="__fc_current")
    current.args["alias"].this.set("quoted", True)
    on = exp.and_(*[exp.EQ(this=col(k, "__fc_current"), expression=col(k, "__fc_match")) for k in target.primary_key])
    kept = (
        exp.select(*[exp.alias_(col(c, "__fc_current"), c, quoted=True) for c in columns])
        .from_(current)
        .join(exp.to_table("`__fc_new`", dialect="spark").as_("__fc_match", quoted=True), on=on, join_type="left")
        .where(exp.and_(*[exp.Is(this=col(k, "__fc_match"), expression=exp.null()) for k in target.primary_key]))
    )
    union = exp.union(fresh, kept, distinct=False)
    return union.with_(exp.to_identifier("__fc_new", quoted=True), as_=new_rows)


@contextmanager
def physical_names(query: exp.Query, mapping: dict[str, str]) -> Iterator[exp.Query]:
    """Show the query with physical table names, then restore the logical ones (no copy of the tree)."""
    lowered = {k.lower(): v for k, v in mapping.items()}
    swapped: list[tuple[exp.Table, dict[str, Any]]] = []
    for table in list(query.find_all(exp.Table)):
        physical = lowered.get(f"{table.db}.{table.name}".lower()) if table.db else None
        if physical is None:
            continue
        parts = physical.split(".")
        swapped.append((table, {k: table.args.get(k) for k in ("this", "db", "catalog")}))
        table.set("this", exp.to_identifier(parts[-1], quoted=True))
        table.set("db", exp.to_identifier(parts[-2], quoted=True) if len(parts) > 1 else None)
        table.set("catalog", exp.to_identifier(parts[-3], quoted=True) if len(parts) > 2 else None)
    try:
        yield query
    finally:
        for table, args in swapped:
            for key, value in args.items():
                table.set(key, value)
