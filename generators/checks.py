"""Structural checks on the rendered query: rules that need the whole SELECT, not one field."""

from __future__ import annotations

from sqlglot import exp

from generators.context import PlanContext
from generators.tasks import SqlTask, Task


def check_query_structure(query: exp.Query, task: Task, ctx: PlanContext) -> None:
    path = "sql" if isinstance(task, SqlTask) else ""
    if isinstance(task, SqlTask):
        _check_partition_filters(query, ctx)
    stars = [s for s in query.selects if isinstance(s, exp.Star) or (isinstance(s, exp.Column) and s.is_star)]
    if isinstance(task, SqlTask) and stars:
        ctx.diagnostics.add(
            "sql", "select-star-into-sink",
            "SELECT * writes whatever columns the source has today into the target",
            "list the target's columns explicitly",
        )
    for select in query.find_all(exp.Select):
        _check_joins(select, path, ctx)
        _check_grouping(select, path, ctx)


def _check_partition_filters(query: exp.Query, ctx: PlanContext) -> None:
    """A hand-written query reading a partitioned table should filter on a partition column somewhere."""
    filtered = {
        column.name.lower()
        for clause in query.find_all(exp.Where, exp.Join)
        for column in clause.find_all(exp.Column)
    }
    for spec in ctx.tables.values():
        if spec.partition_by and not filtered & {p.lower() for p in spec.partition_by}:
            ctx.diagnostics.add(
                "sql", "missing-partition-filter",
                f"{spec.name} is partitioned by {', '.join(spec.partition_by)} but is read without a filter on it",
                f"add e.g. WHERE {spec.partition_by[0]} = '{{{{ ds }}}}'",
            )


def _check_joins(select: exp.Select, path: str, ctx: PlanContext) -> None:
    for join in select.args.get("joins") or []:
        kind = (join.args.get("kind") or "").upper()
        if kind == "CROSS":
            continue  # an explicit CROSS JOIN is a deliberate choice
        on = join.args.get("on")
        # sqlglot's Spark parser gives a JOIN without ON the condition TRUE.
        missing = on is None or (isinstance(on, exp.Boolean) and on.this is True)
        if missing and not join.args.get("using"):
            ctx.diagnostics.add(
                path, "cartesian-join",
                f"the join to {join.this.sql(dialect=ctx.dialect)} has no ON condition: every row matches every row",
                "add ON keys, or write CROSS JOIN if that is really meant",
            )


def _check_grouping(select: exp.Select, path: str, ctx: PlanContext) -> None:
    group = select.args.get("group")
    has_aggregate = any(
        isinstance(node, exp.AggFunc) and not node.find_ancestor(exp.Window)
        and node.find_ancestor(exp.Select) is select
        for projection in select.selects for node in projection.walk()
    )
    if not group and not has_aggregate:
        return
    keys = list(group.expressions) if group else []
    # GROUP BY 1, 2 names select positions.
    for key in list(keys):
        if isinstance(key, exp.Literal) and key.is_int and 0 < int(key.name) <= len(select.selects):
            chosen = select.selects[int(key.name) - 1]
            keys.append(chosen.this if isinstance(chosen, exp.Alias) else chosen)
    grouped = {g.sql() for g in keys}
    grouped_names = {g.name.lower() for g in keys if isinstance(g, exp.Column)}
    for projection in select.selects:
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if inner.sql() in grouped:
            continue
        for column in inner.find_all(exp.Column):
            nearest = column.find_ancestor(exp.AggFunc, exp.Filter, exp.Window, exp.Select)
            if isinstance(nearest, exp.AggFunc | exp.Filter | exp.Window):
                continue
            if column.sql() in grouped or column.name.lower() in grouped_names:
                continue
            if column.table and column.table.lower() in grouped_names:
                continue  # a field of a grouped struct (Spark's window column)
            if isinstance(projection, exp.Alias) and projection.alias.lower() in grouped_names:
                continue
            ctx.diagnostics.add(
                path, "non-aggregated-column",
                f"'{column.sql(dialect=ctx.dialect)}' is selected but neither grouped nor aggregated",
                "add it to GROUP BY, or wrap it in an aggregate such as MAX()",
            )
