"""Per-kind planning: check a kind's fields against its input and prepare its template's context.

Each planner takes a kind body, the relation it reads and the JSON path of the body, and returns
the context for `templates/<engine>/<kind>.sql.j2` plus the columns the kind outputs. Planners are
registered by kind in `PLANNERS`; nothing else switches on the kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from catalog.types import InvalidType, TypeFamily, normalize_type
from generators.context import Columns, PlanContext, Relation, expression_type, family_of
from generators.diagnostics import join_path
from generators.expressions import (
    column_name,
    contains_aggregate,
    parse_expression,
    qualify_columns_with,
    replace_columns,
)
from generators.tasks import (
    AggregateStep,
    AggregateTask,
    DedupStep,
    DedupTask,
    DeriveStep,
    DeriveTask,
    EnrichStep,
    EnrichTask,
    Join,
    OrderItem,
    SyncStep,
    SyncTask,
    TopNStep,
    TopNTask,
    WindowAggregateStep,
    WindowAggregateTask,
)
from generators.tasks.kinds import duration_seconds
from generators.templating import render_template

NUMERIC_ONLY = {"sum", "avg", "percentile"}
BASE_ALIAS = "src"


@dataclass
class Plan:
    template_context: dict[str, Any]
    columns: Columns


def render_plan(kind: str, plan: Plan, ctx: PlanContext) -> str:
    return render_template(ctx.engine, kind, **plan.template_context)


# --- shared helpers --------------------------------------------------------------------------


def _filter(ctx: PlanContext, text: str | None, path: str, source: Relation) -> str | None:
    if not text:
        _check_partition_filter(ctx, None, path, source)
        return None
    node = ctx.expression(text, path, source.columns)
    if node is None:
        return None
    if contains_aggregate(node):
        ctx.diagnostics.add(path, "non-aggregated-column", "a filter cannot use aggregate functions",
                            "filter on aggregated values with 'having' (aggregate) or a later derive step")
        return None
    _check_partition_filter(ctx, node, path, source)
    return ctx.sql(node)


def _check_partition_filter(ctx: PlanContext, node: exp.Expr | None, path: str, source: Relation) -> None:
    table = source.table
    if table is None or not table.partition_by:
        return
    used = {c.name.lower() for c in node.find_all(exp.Column)} if node is not None else set()
    if not used & {p.lower() for p in table.partition_by}:
        ctx.diagnostics.add(
            path, "missing-partition-filter",
            f"{table.name} is partitioned by {', '.join(table.partition_by)} but is read without a filter on it",
            f"add e.g. {table.partition_by[0]} = '{{{{ ds }}}}' to read one partition",
        )


def _order_items(ctx: PlanContext, items: list[OrderItem], path: str, columns: Columns, reverse: bool = False
                 ) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(items):
        node = ctx.expression(item.expr, join_path(path, i, "expr"), columns)
        if node is None:
            continue
        direction = item.direction
        if reverse:
            direction = "desc" if direction == "asc" else "asc"
        nulls = item.nulls
        if reverse and nulls:
            nulls = "first" if nulls == "last" else "last"
        out.append({"sql": ctx.sql(node), "direction": direction.upper(), "nulls": (nulls or "").upper()})
    return out


def _columns_list(ctx: PlanContext, names: list[str], path: str, source: Relation) -> list[str]:
    out = []
    for i, name in enumerate(names):
        if source.column_type(name) is None and name.lower() not in {c.lower() for c in source.columns}:
            ctx.expression(name, join_path(path, i), source.columns)  # reports unknown-column with a hint
            continue
        out.append(next(c for c in source.columns if c.lower() == name.lower()))
    ctx.used.update(c.lower() for c in out)
    return out


def _implicit(ctx: PlanContext, columns: list[str]) -> list[str]:
    """Columns passed through implicitly ("all input columns"), narrowed to those the target keeps.

    Wide inputs cost the optimizer time for columns the alignment would drop anyway; columns the
    user listed explicitly are never narrowed (an unwanted one is then reported as extra)."""
    if ctx.wanted is None:
        return columns
    return [c for c in columns if c.lower() in ctx.wanted]


def _passthrough(ctx: PlanContext, source: Relation) -> list[dict[str, str]]:
    return [{"sql": ctx.ident(c), "alias": c} for c in _implicit(ctx, list(source.columns))]


def _unique(ctx: PlanContext, columns: Columns, names: list[tuple[str, str]]) -> None:
    seen: dict[str, str] = {}
    for name, path in names:
        if name.lower() in seen:
            ctx.diagnostics.add(path, "duplicate-column", f"output column '{name}' is produced twice",
                                f"rename it; the first one comes from {seen[name.lower()]}")
        seen[name.lower()] = path


# --- kinds ------------------------------------------------------------------------------------


def plan_aggregate(body: AggregateTask | AggregateStep | WindowAggregateTask | WindowAggregateStep,
                   source: Relation, path: str, ctx: PlanContext) -> Plan:
    cols = source.columns
    dims: list[dict[str, str]] = []
    out: Columns = {}
    names: list[tuple[str, str]] = []
    dim_nodes: dict[str, exp.Expr] = {}
    if body.time_grain:
        grain_path = join_path(path, "time_grain")
        node = ctx.expression(body.time_grain.column, join_path(grain_path, "column"), cols)
        if node is not None:
            if family_of(expression_type(node, cols)) not in (TypeFamily.TEMPORAL, TypeFamily.UNKNOWN):
                ctx.diagnostics.add(join_path(grain_path, "column"), "type-mismatch",
                                    f"time grain needs a date or timestamp column, got {expression_type(node, cols)}")
            grain_node = parse_expression(
                render_template(ctx.engine, "time_grain", column=ctx.sql(node), grain=body.time_grain.grain),
                ctx.dialect,
            )
            alias = body.time_grain.alias
            dims.append({"sql": ctx.sql(grain_node), "alias": alias})
            dim_nodes[alias] = grain_node
            out[alias] = "timestamp" if body.time_grain.grain in ("minute", "hour") else "date"
            names.append((alias, join_path(grain_path, "alias")))
    for i, dim in enumerate(body.dimensions):
        dim_path = join_path(path, "dimensions", i)
        node = ctx.expression(dim.expr, join_path(dim_path, "expr"), cols)
        if node is None:
            continue
        if contains_aggregate(node):
            ctx.diagnostics.add(join_path(dim_path, "expr"), "non-aggregated-column",
                                "a dimension cannot contain an aggregate function", "move it to metrics")
            continue
        alias = dim.alias or column_name(node)
        if alias is None:
            ctx.diagnostics.add(join_path(dim_path, "alias"), "invalid-config",
                                "a dimension that is an expression needs an output name", "set 'alias'")
            continue
        if isinstance(node, exp.Column):
            alias = dim.alias or next(c for c in cols if c.lower() == node.name.lower())
        dims.append({"sql": ctx.sql(node), "alias": alias})
        dim_nodes[alias] = node
        out[alias] = expression_type(node, cols)
        names.append((alias, join_path(dim_path, "alias" if dim.alias else "expr")))

    metrics: list[dict[str, Any]] = []
    metric_nodes: dict[str, exp.Expr] = {}
    for i, metric in enumerate(body.metrics):
        m_path = join_path(path, "metrics", i)
        arg_sql = None
        arg_type = None
        if metric.expr:
            node = ctx.expression(metric.expr, join_path(m_path, "expr"), cols)
            if node is None:
                continue
            if contains_aggregate(node):
                ctx.diagnostics.add(join_path(m_path, "expr"), "non-aggregated-column",
                                    "the metric expression already aggregates; give the row-level expression",
                                    f"e.g. agg = {metric.agg}, expr = price * quantity")
                continue
            arg_type = expression_type(node, cols)
            if metric.agg in NUMERIC_ONLY and family_of(arg_type) not in (TypeFamily.NUMERIC, TypeFamily.UNKNOWN):
                ctx.diagnostics.add(join_path(m_path, "expr"), "type-mismatch",
                                    f"{metric.agg} needs a numeric expression, but {metric.expr!r} is {arg_type}",
                                    f"cast it, e.g. CAST({metric.expr} AS double), or use count/count_distinct")
                continue
            arg_sql = ctx.sql(node)
        filter_sql = None
        if metric.filter:
            f_node = ctx.expression(metric.filter, join_path(m_path, "filter"), cols)
            if f_node is None:
                continue
            filter_sql = ctx.sql(f_node)
        spec = {"agg": metric.agg, "expr": arg_sql, "filter": filter_sql, "percentile": metric.percentile,
                "alias": metric.name}
        metrics.append(spec)
        rendered = render_template(ctx.engine, "metric", metric=spec)
        metric_nodes[metric.name] = parse_expression(rendered, ctx.dialect)
        out[metric.name] = _metric_type(metric.agg, arg_type)
        names.append((metric.name, join_path(m_path, "name")))
    _unique(ctx, out, names)

    having_sql = None
    if body.having:
        h_path = join_path(path, "having")
        available = {**{k: v for k, v in out.items()}}
        node = ctx.expression(body.having, h_path, available, where="the dimensions and metrics")
        if node is not None:
            having_sql = ctx.sql(replace_columns(node, {**dim_nodes, **metric_nodes}))
    return Plan(
        {"source": source.ref_sql, "dimensions": dims, "metrics": metrics,
         "filter": _filter(ctx, body.filter, join_path(path, "filter"), source), "having": having_sql},
        out,
    )


def plan_window_aggregate(body: WindowAggregateTask | WindowAggregateStep, source: Relation, path: str,
                          ctx: PlanContext) -> Plan:
    """Group by event-time windows: Flink's window TVFs, Spark's window()/session_window()."""
    window = body.window
    time_path = join_path(path, "time_column")
    table = source.table
    time_name = body.time_column or (table.event_time.column if table and table.event_time else None)
    if time_name is None:
        ctx.diagnostics.add(time_path, "invalid-config", f"{source.name} has no event-time column in the catalog",
                            "name the time column here, or declare event_time on the table")
        time_name = ""
    time_node = ctx.expression(time_name, time_path, source.columns) if time_name else None
    if time_node is not None and not isinstance(time_node, exp.Column):
        ctx.diagnostics.add(time_path, "invalid-config", "the event-time column must be a column, not an expression")
        time_node = None
    if time_node is not None:
        time_type = expression_type(time_node, source.columns)
        if family_of(time_type) not in (TypeFamily.TEMPORAL, TypeFamily.UNKNOWN) or time_type == "date":
            ctx.diagnostics.add(time_path, "type-mismatch",
                                f"windows need a timestamp column, but {time_name!r} is {time_type}")
        if ctx.mode == "streaming" and (table is None or table.event_time is None
                                        or table.event_time.column.lower() != time_name.lower()):
            ctx.diagnostics.add(time_path, "invalid-config",
                                f"in streaming mode the window must use {source.name}'s event-time attribute",
                                "declare event_time (with a watermark) on the table in the catalog")
    if ctx.engine == "spark" and window.type == "cumulate":
        ctx.diagnostics.add(join_path(path, "window", "type"), "invalid-config",
                            "cumulate windows run on flink only", "use engine = flink, or a tumble/hop window")
    if table is not None and (body.watermark_delay or body.allowed_lateness):
        base = body.watermark_delay or (table.event_time.watermark_delay if table.event_time else "0 seconds")
        delay = duration_seconds(base) + (duration_seconds(body.allowed_lateness) if body.allowed_lateness else 0)
        ctx.watermark_delays[table.name] = delay
    grouped = plan_aggregate(body, source, path, ctx)  # dimensions, metrics, filter, having
    ctx.window_tvf = ctx.window_tvf or ctx.engine == "flink"
    dims = grouped.template_context["dimensions"]
    plain_dims = all(isinstance(parse_expression(d["sql"], ctx.dialect), exp.Column) for d in dims)
    if window.type == "session" and ctx.engine == "flink" and not plain_dims:
            ctx.diagnostics.add(join_path(path, "dimensions"), "invalid-config",
                                "session windows on flink group by plain columns only (they partition the sessions)")
    columns: Columns = {"window_start": "timestamp", "window_end": "timestamp", **grouped.columns}
    return Plan(
        {**grouped.template_context, "time_column": ctx.sql(time_node) if time_node is not None else "",
         "window": {"type": window.type, "size": _interval(window.size), "slide": _interval(window.slide),
                    "step": _interval(window.step)}},
        columns,
    )


def _interval(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    amount, unit = text.split()
    return {"amount": amount, "unit": unit.rstrip("s").upper(), "text": f"{amount} {unit.rstrip('s')}s"}


def _metric_type(agg: str, arg_type: str | None) -> str | None:
    if agg in ("count", "count_distinct", "approx_count_distinct"):
        return "bigint"
    if agg in ("avg", "percentile"):
        return "double"
    if agg == "sum" and family_of(arg_type) == TypeFamily.NUMERIC and arg_type in ("int", "smallint", "tinyint"):
        return "bigint"
    return arg_type


def plan_sync(body: SyncTask | SyncStep, source: Relation, path: str, ctx: PlanContext,
              target_columns: Columns | None = None) -> Plan:
    cols = source.columns
    projections: list[dict[str, str]] = []
    out: Columns = {}
    names: list[tuple[str, str]] = []
    if body.columns:
        for i, mapping in enumerate(body.columns):
            c_path = join_path(path, "columns", i)
            node = ctx.expression(mapping.source, join_path(c_path, "source"), cols)
            if node is None:
                continue
            name = mapping.target or column_name(node)
            if name is None:
                ctx.diagnostics.add(join_path(c_path, "target"), "invalid-config",
                                    "an expression needs a target column name", "set 'target'")
                continue
            type_sql = expression_type(node, cols)
            if mapping.cast:
                try:
                    type_sql = normalize_type(mapping.cast)
                except InvalidType as err:
                    ctx.diagnostics.add(join_path(c_path, "cast"), "invalid-config", str(err))
                    continue
                node = exp.cast(node, type_sql, dialect="spark")
            projections.append({"sql": ctx.sql(node), "alias": name})
            out[name] = type_sql
            names.append((name, c_path))
    else:
        wanted = target_columns if target_columns is not None else cols
        for name in wanted:
            if source.column_type(name) is None and name.lower() not in {c.lower() for c in cols}:
                continue  # reported by the target schema check
            source_name = next(c for c in cols if c.lower() == name.lower())
            projections.append({"sql": ctx.ident(source_name), "alias": name})
            out[name] = cols[source_name]
    _unique(ctx, out, names)
    return Plan(
        {"source": source.ref_sql, "columns": projections,
         "filter": _filter(ctx, body.filter, join_path(path, "filter"), source)},
        out,
    )


def plan_dedup(body: DedupTask | DedupStep, source: Relation, path: str, ctx: PlanContext) -> Plan:
    keys = _columns_list(ctx, body.keys, join_path(path, "keys"), source)
    order = _order_items(ctx, body.order_by, join_path(path, "order_by"), source.columns,
                         reverse=body.keep == "last")
    return Plan(
        {"source": source.ref_sql, "columns": _passthrough(ctx, source), "keys": keys, "order_by": order,
         "filter": _filter(ctx, body.filter, join_path(path, "filter"), source)},
        {c: source.columns[c] for c in _implicit(ctx, list(source.columns))},
    )


def plan_topn(body: TopNTask | TopNStep, source: Relation, path: str, ctx: PlanContext) -> Plan:
    partition = _columns_list(ctx, body.partition_by, join_path(path, "partition_by"), source)
    order = _order_items(ctx, body.order_by, join_path(path, "order_by"), source.columns)
    out = {c: source.columns[c] for c in _implicit(ctx, list(source.columns))}
    if body.rank_column:
        if body.rank_column.lower() in {c.lower() for c in out}:
            ctx.diagnostics.add(join_path(path, "rank_column"), "duplicate-column",
                                f"'{body.rank_column}' is already a column of the input", "choose another name")
        out[body.rank_column] = "int"
    return Plan(
        {"source": source.ref_sql, "columns": _passthrough(ctx, source), "partition_by": partition,
         "order_by": order, "n": body.n, "rank_function": body.rank_function, "rank_column": body.rank_column,
         "filter": _filter(ctx, body.filter, join_path(path, "filter"), source)},
        out,
    )


def plan_derive(body: DeriveTask | DeriveStep, source: Relation, path: str, ctx: PlanContext) -> Plan:
    cols = source.columns
    keep = (_columns_list(ctx, body.select, join_path(path, "select"), source) if body.select
            else _implicit(ctx, list(cols)))
    projections = [{"sql": ctx.ident(c), "alias": c} for c in keep]
    out: Columns = {c: cols[c] for c in keep}
    names: list[tuple[str, str]] = [(c, join_path(path, "select")) for c in keep]
    derived_nodes: dict[str, exp.Expr] = {}
    scope: Columns = dict(cols)
    for i, column in enumerate(body.columns):
        c_path = join_path(path, "columns", i)
        # Later derived columns may use earlier ones: substitute their expressions.
        node = ctx.expression(column.expr, join_path(c_path, "expr"), scope,
                              where="the input or earlier derived columns")
        if node is None:
            continue
        if contains_aggregate(node) and not isinstance(node, exp.Window) and not node.find(exp.Window):
            ctx.diagnostics.add(join_path(c_path, "expr"), "non-aggregated-column",
                                "a derived column cannot aggregate rows", "use an aggregate step before it")
            continue
        type_sql = expression_type(node, scope)
        node = replace_columns(node, derived_nodes)
        derived_nodes[column.name] = node
        projections = [p for p in projections if p["alias"].lower() != column.name.lower()]
        if column.name in out:
            del out[column.name]
        projections.append({"sql": ctx.sql(node), "alias": column.name})
        out[column.name] = type_sql
        scope[column.name] = type_sql
        names.append((column.name, join_path(c_path, "name")))
    order_scope = {**cols, **out}
    # ORDER BY names output columns (derived ones included): SQL resolves them as select aliases.
    order = _order_items(ctx, body.order_by, join_path(path, "order_by"), order_scope)
    return Plan(
        {"source": source.ref_sql, "columns": projections, "order_by": order, "limit": body.limit,
         "filter": _filter(ctx, body.filter, join_path(path, "filter"), source)},
        out,
    )


def plan_enrich(body: EnrichTask | EnrichStep, source: Relation, path: str, ctx: PlanContext) -> Plan:
    base_cols = source.columns
    keep = (_columns_list(ctx, body.columns, join_path(path, "columns"), source) if body.columns
            else _implicit(ctx, list(base_cols)))
    projections = [{"sql": f"{ctx.ident(BASE_ALIAS)}.{ctx.ident(c)}", "alias": c} for c in keep]
    out: Columns = {c: base_cols[c] for c in keep}
    names: list[tuple[str, str]] = [(c, join_path(path, "columns")) for c in keep]
    qualified: dict[str, Columns] = {BASE_ALIAS: dict(base_cols)}
    joins: list[dict[str, Any]] = []
    for i, join in enumerate(body.joins):
        j_path = join_path(path, "joins", i)
        lookup = ctx.table_relation(join.table, join_path(j_path, "table"))
        alias = join.alias or join.table.split(".")[1].lower()
        if alias in qualified:
            ctx.diagnostics.add(join_path(j_path, "alias"), "invalid-config",
                                f"alias '{alias}' is already used in this enrich", "set a distinct 'alias'")
            continue
        if lookup is None:
            continue
        if not join.on:
            ctx.diagnostics.add(join_path(j_path, "on"), "cartesian-join",
                                f"the join to {join.table} has no keys: every row would match every row",
                                "add at least one key pair to 'on'")
        conditions = []
        for k, key in enumerate(join.on):
            k_path = join_path(j_path, "on", k)
            left = ctx.expression(key.left, join_path(k_path, "left"), base_cols, qualified=qualified)
            right = ctx.expression(key.right, join_path(k_path, "right"), lookup.columns, where=join.table)
            if left is None or right is None:
                continue
            left_type = _qualified_type(left, base_cols, qualified)
            right_type = expression_type(right, lookup.columns)
            lf, rf = family_of(left_type), family_of(right_type)
            if TypeFamily.UNKNOWN not in (lf, rf) and lf != rf:
                ctx.diagnostics.add(k_path, "type-mismatch",
                                    f"join key types differ: {key.left} is {left_type}, {key.right} is {right_type}",
                                    "cast one side so both have the same type")
            left_q = qualify_columns_with(left, BASE_ALIAS)
            right_q = qualify_columns_with(right, alias)
            conditions.append(ctx.sql(exp.EQ(this=left_q, expression=right_q)))
        if join.within:
            condition = _interval_condition(ctx, join, source, lookup, alias, j_path)
            if condition is not None:
                conditions.append(condition)
        lookup_join = False
        if join.lookup:
            if source.table is None:
                ctx.diagnostics.add(join_path(j_path, "lookup"), "invalid-config",
                                    "a lookup join reads a catalog table directly; this input is an earlier step",
                                    "make the enrich the first step, reading the table")
            elif ctx.engine == "flink" and ctx.mode == "streaming":
                lookup_join = True
                ctx.proctime_tables.add(source.table.name)
                ctx.lookup_tables[lookup.name] = join_path(j_path, "table")
        added = _columns_list(ctx, join.columns, join_path(j_path, "columns"), lookup)
        for c in added:
            name = f"{join.prefix}{c}"
            projections.append({"sql": f"{ctx.ident(alias)}.{ctx.ident(c)}", "alias": name})
            out[name] = lookup.columns[c]
            names.append((name, join_path(j_path, "columns")))
        qualified[alias] = dict(lookup.columns)
        joins.append({"table": lookup.ref_sql, "alias": alias, "type": join.type.upper(), "on": conditions,
                      "lookup": lookup_join})
    _unique(ctx, out, names)
    filter_sql = None
    if body.filter:
        f_path = join_path(path, "filter")
        node = ctx.expression(body.filter, f_path, base_cols)
        if node is not None:
            _check_partition_filter(ctx, node, f_path, source)
            filter_sql = ctx.sql(qualify_columns_with(node, BASE_ALIAS))
    else:
        _check_partition_filter(ctx, None, join_path(path, "filter"), source)
    return Plan(
        {"source": source.ref_sql, "base_alias": BASE_ALIAS, "columns": projections, "joins": joins,
         "filter": filter_sql},
        out,
    )


def _interval_condition(ctx: PlanContext, join: Join, source: Relation, lookup: Relation, alias: str,
                        path: str) -> str | None:
    """`lookup.time BETWEEN src.time - INTERVAL n AND src.time + INTERVAL n`: an interval join."""
    left_time = source.table.event_time.column if source.table and source.table.event_time else None
    right_time = lookup.table.event_time.column if lookup.table and lookup.table.event_time else None
    if left_time is None or right_time is None:
        missing = source.name if left_time is None else lookup.name
        ctx.diagnostics.add(join_path(path, "within"), "invalid-config",
                            f"an interval join needs event time on both sides; {missing} has none",
                            "declare event_time on the table in the catalog")
        return None
    assert join.within is not None
    amount, unit = join.within.split()
    interval = exp.Interval(this=exp.Literal.string(amount), unit=exp.var(unit.rstrip("s").upper()))
    base = exp.column(left_time, table=BASE_ALIAS, quoted=True)
    other = exp.column(right_time, table=alias, quoted=True)
    between = exp.Between(this=other, low=exp.Sub(this=base, expression=interval.copy()),
                          high=exp.Add(this=base.copy(), expression=interval))
    return ctx.sql(between)


def _qualified_type(node: exp.Expr, base: Columns, qualified: dict[str, Columns]) -> str | None:
    if isinstance(node, exp.Column) and node.table:
        scope = qualified.get(node.table.lower(), {})
        return next((t for c, t in scope.items() if c.lower() == node.name.lower()), None)
    return expression_type(node, base)


Planner = Callable[..., Plan]

PLANNERS: dict[str, Planner] = {
    "aggregate": plan_aggregate,
    "window_aggregate": plan_window_aggregate,
    "sync": plan_sync,
    "dedup": plan_dedup,
    "topn": plan_topn,
    "derive": plan_derive,
    "enrich": plan_enrich,
}
