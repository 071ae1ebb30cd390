"""The task kinds: one body model per kind, usable as a whole task or as a step of a chained task.

A body holds what the kind computes. `TaskHeader` + `SourceAndTarget` + body makes a standalone
task; `StepHeader` + body makes a step of a `chained` task. Dispatch everywhere goes through the
`kind` discriminator, never through `if kind == ...` chains.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from generators.tasks.base import (
    STEP_NAME_PATTERN,
    TABLE_PATTERN,
    FormcastModel,
    OrderItem,
    TargetSpec,
    TaskHeader,
    ui,
)

EXPR = "An expression over the input's columns, e.g. price * (1 - discount)."
DURATION_PATTERN = r"^\d+\s+(second|minute|hour|day)s?$"
OUTPUT_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


# --- bodies ------------------------------------------------------------------------------------


class Dimension(FormcastModel):
    expr: str = Field(title="Column or expression", examples=["app_version"], json_schema_extra=ui("column"))
    alias: str | None = Field(default=None, title="Output name", pattern=OUTPUT_NAME)


AggFunction = Literal[
    "count", "count_distinct", "sum", "avg", "min", "max", "approx_count_distinct", "percentile"
]


class Metric(FormcastModel):
    name: str = Field(title="Output name", pattern=OUTPUT_NAME, examples=["revenue"])
    agg: AggFunction = Field(title="Aggregation")
    expr: str | None = Field(
        default=None, title="Column or expression", description=EXPR + " Empty with count: count(*).",
        examples=["price * (1 - discount)"], json_schema_extra=ui("column"),
    )
    filter: str | None = Field(
        default=None, title="Only rows where", description="Conditional aggregate, e.g. event = 'play'.",
        json_schema_extra=ui("expression"),
    )
    percentile: float | None = Field(
        default=None, gt=0, lt=1, title="Percentile", description="For percentile: 0.5 is the median."
    )

    @model_validator(mode="after")
    def _check_arguments(self) -> Metric:
        if self.agg != "count" and not self.expr:
            raise ValueError(f"{self.agg} needs a column or expression in 'expr'")
        if self.agg == "percentile" and self.percentile is None:
            raise ValueError("percentile needs 'percentile' between 0 and 1, e.g. 0.5")
        if self.agg != "percentile" and self.percentile is not None:
            raise ValueError("'percentile' is only used with agg = percentile")
        return self


TimeGrainUnit = Literal["minute", "hour", "day", "week", "month", "quarter", "year"]


class TimeGrain(FormcastModel):
    column: str = Field(title="Time column", json_schema_extra=ui("column", types=["temporal"]))
    grain: TimeGrainUnit = Field(default="day", title="Grain")
    alias: str = Field(default="period", title="Output name", pattern=OUTPUT_NAME)


class AggregateBody(FormcastModel):
    kind: Literal["aggregate"] = "aggregate"
    time_grain: TimeGrain | None = Field(default=None, title="Time grain")
    dimensions: list[Dimension] = Field(default_factory=list, title="Group by")
    metrics: list[Metric] = Field(min_length=1, title="Metrics")
    filter: str | None = Field(default=None, title="Filter (WHERE)", json_schema_extra=ui("expression"))
    having: str | None = Field(
        default=None, title="Having", description="Condition over metrics and dimensions, e.g. revenue > 100.",
        json_schema_extra=ui("expression"),
    )


class ColumnMapping(FormcastModel):
    source: str = Field(title="Source column or expression", json_schema_extra=ui("column"))
    target: str | None = Field(default=None, title="Target column", description="Defaults to the source name.")
    cast: str | None = Field(default=None, title="Cast to type", examples=["bigint", "decimal(10,2)"])


class SyncBody(FormcastModel):
    kind: Literal["sync"] = "sync"
    columns: list[ColumnMapping] = Field(
        default_factory=list, title="Column mapping",
        description="Empty: every target column is read from the source column of the same name.",
    )
    filter: str | None = Field(default=None, title="Filter (WHERE)", json_schema_extra=ui("expression"))


class DedupBody(FormcastModel):
    kind: Literal["dedup"] = "dedup"
    keys: list[str] = Field(min_length=1, title="Unique keys", json_schema_extra=ui("columns"))
    order_by: list[OrderItem] = Field(min_length=1, title="Order by")
    keep: Literal["first", "last"] = Field(default="first", title="Keep", description="first or last in that order")
    filter: str | None = Field(default=None, title="Filter (WHERE)", json_schema_extra=ui("expression"))


class JoinKey(FormcastModel):
    left: str = Field(
        title="Input column", description="A column of the input, or alias.column of an earlier join.",
        json_schema_extra=ui("column"),
    )
    right: str = Field(title="Lookup column", json_schema_extra=ui("column", of="table"))


class Join(FormcastModel):
    table: str = Field(title="Lookup table", pattern=TABLE_PATTERN, json_schema_extra=ui("table"))
    alias: str | None = Field(
        default=None, title="Alias", pattern=r"^[a-z][a-z0-9_]{0,62}$",
        description="Defaults to the table's name; earlier joins' keys can use alias.column.",
    )
    type: Literal["left", "inner"] = Field(default="left", title="Join type")
    on: list[JoinKey] = Field(title="Join keys", description="Every pair must match; empty is a cartesian join.")
    columns: list[str] = Field(min_length=1, title="Columns to add", json_schema_extra=ui("columns", of="table"))
    prefix: str = Field(default="", title="Prefix for added columns", pattern=r"^[A-Za-z0-9_]*$")
    lookup: bool = Field(
        default=False, title="Lookup join (streaming)",
        description="Flink streaming: look each row up in the table as of its processing time "
        "(FOR SYSTEM_TIME AS OF) instead of keeping both sides in state. Needs a JDBC-bound table.",
    )
    within: str | None = Field(
        default=None, title="Interval join: within", pattern=DURATION_PATTERN, examples=["1 hour"],
        description="Match only rows whose event times are at most this far apart (bounded state in streaming).",
    )

    @model_validator(mode="after")
    def _check_join_style(self) -> Join:
        if self.lookup and self.within:
            raise ValueError("a join is either a lookup join or an interval join, not both")
        return self


class EnrichBody(FormcastModel):
    kind: Literal["enrich"] = "enrich"
    columns: list[str] = Field(
        default_factory=list, title="Input columns to keep", description="Empty keeps them all.",
        json_schema_extra=ui("columns"),
    )
    joins: list[Join] = Field(min_length=1, title="Lookups")
    filter: str | None = Field(default=None, title="Filter (WHERE)", json_schema_extra=ui("expression"))


class DerivedColumn(FormcastModel):
    name: str = Field(title="Output name", pattern=OUTPUT_NAME)
    expr: str = Field(title="Expression", description=EXPR, json_schema_extra=ui("expression"))


class DeriveBody(FormcastModel):
    kind: Literal["derive"] = "derive"
    filter: str | None = Field(default=None, title="Filter (WHERE)", json_schema_extra=ui("expression"))
    columns: list[DerivedColumn] = Field(default_factory=list, title="Derived columns")
    select: list[str] = Field(
        default_factory=list, title="Keep input columns",
        description="Input columns passed through; empty keeps them all.", json_schema_extra=ui("columns"),
    )
    order_by: list[OrderItem] = Field(default_factory=list, title="Order by")
    limit: int | None = Field(default=None, ge=1, title="Limit")


class TopNBody(FormcastModel):
    kind: Literal["topn"] = "topn"
    partition_by: list[str] = Field(default_factory=list, title="Per group", json_schema_extra=ui("columns"))
    order_by: list[OrderItem] = Field(min_length=1, title="Ranked by")
    n: int = Field(ge=1, le=100_000, title="N")
    rank_function: Literal["row_number", "rank", "dense_rank"] = Field(default="row_number", title="Ties")
    rank_column: str | None = Field(
        default=None, title="Rank column", pattern=OUTPUT_NAME, description="Output the rank under this name."
    )
    filter: str | None = Field(default=None, title="Filter (WHERE)", json_schema_extra=ui("expression"))


DURATION = DURATION_PATTERN


class WindowSpec(FormcastModel):
    type: Literal["tumble", "hop", "cumulate", "session"] = Field(
        default="tumble", title="Window",
        description="tumble: fixed, non-overlapping; hop: fixed, overlapping every 'slide'; "
        "cumulate: growing by 'step' up to 'size'; session: closes after a 'size' gap without events.",
    )
    size: str = Field(title="Size (gap for session)", pattern=DURATION, examples=["10 minutes", "1 hour"])
    slide: str | None = Field(default=None, title="Slide (hop)", pattern=DURATION, examples=["5 minutes"])
    step: str | None = Field(default=None, title="Step (cumulate)", pattern=DURATION, examples=["1 hour"])

    @model_validator(mode="after")
    def _check_shape(self) -> WindowSpec:
        if self.type == "hop" and not self.slide:
            raise ValueError("a hop window needs 'slide', e.g. 5 minutes")
        if self.type == "cumulate":
            if not self.step:
                raise ValueError("a cumulate window needs 'step', e.g. 1 hour")
            if duration_seconds(self.size) % duration_seconds(self.step):
                raise ValueError("a cumulate window's size must be a whole multiple of its step")
        if self.type not in ("hop",) and self.slide:
            raise ValueError("'slide' is only used by hop windows")
        if self.type != "cumulate" and self.step:
            raise ValueError("'step' is only used by cumulate windows")
        return self


_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def duration_seconds(text: str) -> int:
    amount, unit = text.split()
    return int(amount) * _UNIT_SECONDS[unit.rstrip("s")]


class WindowAggregateBody(FormcastModel):
    kind: Literal["window_aggregate"] = "window_aggregate"
    time_column: str | None = Field(
        default=None, title="Event-time column",
        description="Defaults to the source's event-time column from the catalog.",
        json_schema_extra=ui("column", types=["temporal"]),
    )
    window: WindowSpec = Field(title="Window")
    dimensions: list[Dimension] = Field(default_factory=list, title="Group by")
    metrics: list[Metric] = Field(min_length=1, title="Metrics")
    filter: str | None = Field(default=None, title="Filter (WHERE)", json_schema_extra=ui("expression"))
    having: str | None = Field(default=None, title="Having", json_schema_extra=ui("expression"))
    watermark_delay: str | None = Field(
        default=None, title="Watermark delay", pattern=DURATION,
        description="How late events may arrive before a window closes; defaults to the catalog's delay.",
    )
    allowed_lateness: str | None = Field(
        default=None, title="Allowed lateness", pattern=DURATION,
        description="Extra time late events are still counted: windows close after watermark delay + "
        "allowed lateness (results are final, emitted once).",
    )

    @property
    def time_grain(self) -> None:  # the planner shares aggregate's grouping logic
        return None


# --- standalone tasks --------------------------------------------------------------------------


class SourceAndTarget(FormcastModel):
    source: str = Field(
        title="Source table", pattern=TABLE_PATTERN, examples=["app.client_events"], json_schema_extra=ui("table")
    )
    target: TargetSpec = Field(title="Target")


class SyncTask(SyncBody, SourceAndTarget, TaskHeader):
    """Copy a logical table into another, with renames, casts and a filter."""


class AggregateTask(AggregateBody, SourceAndTarget, TaskHeader):
    """Group rows and compute metrics."""


class WindowAggregateTask(WindowAggregateBody, SourceAndTarget, TaskHeader):
    """Aggregate over event-time windows (tumbling, hopping, cumulative, session)."""


class DedupTask(DedupBody, SourceAndTarget, TaskHeader):
    """Keep one row per key."""


class EnrichTask(EnrichBody, SourceAndTarget, TaskHeader):
    """Add columns from lookup tables."""


class DeriveTask(DeriveBody, SourceAndTarget, TaskHeader):
    """Filter rows and add computed columns."""


class TopNTask(TopNBody, SourceAndTarget, TaskHeader):
    """The first N rows per group."""


# --- chained -----------------------------------------------------------------------------------


class StepHeader(FormcastModel):
    name: str = Field(title="Step name", pattern=STEP_NAME_PATTERN)
    input: str | None = Field(
        default=None, title="Reads",
        description="An earlier step's name or a logical table; empty reads the previous step "
        "(the task's source for the first step).",
        json_schema_extra=ui("step_or_table"),
    )


class AggregateStep(AggregateBody, StepHeader):
    pass


class WindowAggregateStep(WindowAggregateBody, StepHeader):
    pass


class DedupStep(DedupBody, StepHeader):
    pass


class EnrichStep(EnrichBody, StepHeader):
    pass


class DeriveStep(DeriveBody, StepHeader):
    pass


class TopNStep(TopNBody, StepHeader):
    pass


class SyncStep(SyncBody, StepHeader):
    pass


Step = Annotated[
    AggregateStep | WindowAggregateStep | DedupStep | EnrichStep | DeriveStep | TopNStep | SyncStep,
    Field(discriminator="kind"),
]


class ChainedTask(SourceAndTarget, TaskHeader):
    """Several steps compiled into one statement: each step becomes a CTE."""

    kind: Literal["chained"] = "chained"
    steps: list[Step] = Field(min_length=1, title="Steps")

    @model_validator(mode="after")
    def _check_step_names(self) -> ChainedTask:
        seen: set[str] = set()
        for step in self.steps:
            if step.name in seen:
                raise ValueError(f"two steps are named '{step.name}'; step names must be unique")
            seen.add(step.name)
        return self


# --- raw SQL -----------------------------------------------------------------------------------


class SqlTask(TaskHeader):
    """A SELECT written by hand, in Jinja: {{ ref('ns.table') }} names logical tables."""

    kind: Literal["sql"] = "sql"
    sql: str = Field(
        title="SQL",
        description="One SELECT. Use {{ ref('namespace.table') }} for tables and {{ ds }} for the logical date.",
        json_schema_extra=ui("sql"),
    )
    target: TargetSpec = Field(title="Target")
