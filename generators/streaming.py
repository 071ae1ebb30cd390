"""Rules that only apply to Flink streaming: state that grows without bound, what cannot run at all."""

from __future__ import annotations

from sqlglot import exp

from catalog.spec import DatagenBinding, KafkaBinding
from generators.context import PlanContext
from generators.diagnostics import join_path
from generators.physical import PhysicalTable
from generators.tasks import SqlTask, Task

STATEFUL_KINDS = {"aggregate", "dedup", "topn"}
LOOKUP_BINDINGS = ("jdbc", "clickhouse", "table")
# Sinks that accept a changelog (updates and deletes by key); the others only append.
CHANGELOG_SINKS = ("jdbc", "clickhouse", "print", "blackhole", "table")


def is_unbounded(table: PhysicalTable) -> bool:
    binding = table.binding
    return isinstance(binding, KafkaBinding) or (isinstance(binding, DatagenBinding) and not binding.number_of_rows)


def update_producer(ctx: PlanContext) -> tuple[str, str] | None:
    """(path, why) of the first step whose streaming result updates rows it emitted before, if any."""
    for path, body, relation in ctx.planned:
        if body.kind in ("aggregate", "topn"):
            return join_path(path, "kind"), f"a {body.kind}"
        if body.kind == "dedup":
            time_column = relation.table.event_time.column if relation.table and relation.table.event_time else None
            first = body.order_by[0]
            on_time = time_column is not None and first.expr.lower() == time_column.lower()
            # Keeping the first row by event time is append-only; anything else revises earlier output.
            if not (on_time and (first.direction == "asc") == (body.keep == "first")):
                return join_path(path, "keep"), "a dedup that does not keep the first row by event time"
        for i, join in enumerate(getattr(body, "joins", None) or []):
            if join.type == "left" and not join.lookup and not join.within:
                return join_path(path, "joins", i, "type"), "a regular left join"
    return None


def check_sink_accepts_updates(target: PhysicalTable | None, ctx: PlanContext) -> None:
    """A streaming result that updates earlier rows needs a sink keyed by primary key."""
    if target is None:
        return
    binding = target.binding
    accepts = binding.kind in CHANGELOG_SINKS or (isinstance(binding, KafkaBinding) and binding.upsert)
    producer = update_producer(ctx)
    if producer is not None and not accepts:
        path, why = producer
        ctx.diagnostics.add(
            path, "streaming-unsupported",
            f"in streaming mode {why} updates rows it already emitted, but {target.logical}'s "
            f"{binding.kind} sink can only append",
            "use a window_aggregate (its results are final), bind the target to upsert-kafka or JDBC with a "
            "primary key, or run in batch mode",
        )


def check_streaming(task: Task, query: exp.Query, sources: list[PhysicalTable], ctx: PlanContext) -> None:
    """Warn about unbounded state and reject what Flink cannot run in streaming mode, at the field."""
    unbounded = [s.logical for s in sources if is_unbounded(s)]
    if unbounded and not task.state_ttl:
        where = ", ".join(unbounded)
        for path, body, _ in ctx.planned:
            if body.kind in STATEFUL_KINDS:
                ctx.diagnostics.add(
                    join_path(path, "kind"), "unbounded-state",
                    f"this {body.kind} over the unbounded stream {where} keeps state for every key forever",
                    "set state_ttl (e.g. '1 day'), or use a window_aggregate",
                )
            for i, join in enumerate(getattr(body, "joins", None) or []):
                if not join.lookup and not join.within:
                    ctx.diagnostics.add(
                        join_path(path, "joins", i), "unbounded-state",
                        f"a regular join over the unbounded stream {where} keeps both sides in state forever",
                        "make it a lookup join, an interval join ('within'), or set state_ttl",
                    )
    for path, body, relation in ctx.planned:
        order_by = getattr(body, "order_by", None)
        if body.kind == "derive" and order_by:
            time_column = relation.table.event_time.column if relation.table and relation.table.event_time else None
            first = order_by[0]
            if time_column is None or first.expr.lower() != time_column.lower() or first.direction != "asc":
                ctx.diagnostics.add(
                    join_path(path, "order_by", 0, "expr"), "streaming-unsupported",
                    "streaming mode can only sort by the event-time attribute, ascending",
                    "drop the ordering, use a topn step, or run the task in batch mode",
                )
    if isinstance(task, SqlTask) and query.args.get("order"):
        ctx.diagnostics.add("sql", "streaming-unsupported",
                            "a streaming query can only ORDER BY the event-time attribute, ascending",
                            "remove ORDER BY, or run in batch mode")
    by_name = {s.logical: s for s in sources}
    for name, path in ctx.lookup_tables.items():
        table = by_name.get(name)
        if table is not None and table.binding.kind not in LOOKUP_BINDINGS:
            ctx.diagnostics.add(
                path, "unsupported-binding",
                f"a lookup join needs a table Flink can look up by key; {name} is bound to {table.binding.kind}",
                "bind the lookup table to jdbc in the catalog, or use a regular join",
            )
