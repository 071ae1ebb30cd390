"""Pieces every task kind shares: the header, the target, ordering, and UI hints."""

from __future__ import annotations

from typing import Any, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from generators.diagnostics import UNCONDITIONAL

Priority = Literal["P0", "P1", "P2", "P3"]
Engine = Literal["spark", "flink"]
Severity = Literal["error", "warn", "off"]

TASK_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
STEP_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
TABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$"


def ui(widget: str, **options: Any) -> dict[str, Any]:
    """UI hints for the form renderer, kept in the JSON Schema (`x-ui`)."""
    return {"x-ui": {"widget": widget, **options}}


class FormcastModel(BaseModel):
    """Strict base: a typo in a config is an error, never a silently ignored key."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


class OrderItem(FormcastModel):
    expr: str = Field(
        title="Column or expression", examples=["event_ts"], json_schema_extra=ui("column")
    )
    direction: Literal["asc", "desc"] = Field(default="asc", title="Direction")
    nulls: Literal["first", "last"] | None = Field(default=None, title="Nulls")


WriteMode = Literal["append", "overwrite", "overwrite_partition", "upsert"]


class TargetSpec(FormcastModel):
    table: str = Field(
        title="Target table",
        description="Logical table the result is written to (namespace.table).",
        pattern=TABLE_PATTERN,
        examples=["mart.daily_active_users"],
        json_schema_extra=ui("table"),
    )
    write_mode: WriteMode = Field(
        default="overwrite_partition",
        title="Write mode",
        description="append adds rows; overwrite replaces the table; overwrite_partition replaces only "
        "the partitions written; upsert replaces rows by the target's primary key.",
    )
    partition: dict[str, str] = Field(
        default_factory=dict,
        title="Static partition values",
        description="Partition column → value; Jinja variables such as {{ ds }} are allowed. "
        "Empty: partitions are taken from the result (dynamic).",
        examples=[{"ds": "{{ ds }}"}],
    )


class SlaSpec(FormcastModel):
    deadline: str = Field(
        title="Ready by", description="Local time of day the output must be ready (HH:MM).",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["08:00"],
    )
    timezone: str = Field(default="UTC", title="Time zone", examples=["Asia/Shanghai"])


class TaskHeader(FormcastModel):
    """What every task has, whatever its kind."""

    name: str = Field(
        title="Task name", pattern=TASK_NAME_PATTERN, examples=["daily_active_users"],
        description="Lower-case letters, digits and underscores; starts with a letter.",
    )
    description: str = Field(default="", title="Description")
    owner: str = Field(default="", title="Owner", examples=["growth-data"])
    priority: Priority = Field(default="P2", title="Priority", description="P0 is the most critical.")
    engine: Engine = Field(default="spark", title="Engine")
    tags: list[str] = Field(default_factory=list, title="Tags")
    schedule: str | None = Field(
        default=None, title="Schedule (cron)", examples=["0 2 * * *"],
        description="Five-field cron expression; empty for manual runs only.",
    )
    sla: SlaSpec | None = Field(default=None, title="SLA deadline")
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, title="Parameters", description="Extra template variables."
    )
    state_ttl: str | None = Field(
        default=None, title="State TTL (streaming)", pattern=r"^\d+\s+(second|minute|hour|day)s?$",
        examples=["1 day"],
        description="Flink streaming: how long keyed state (aggregates, joins, dedup) is kept without updates.",
    )
    lint: dict[str, Severity] = Field(
        default_factory=dict, title="Rule severities",
        description="Override a validation rule's severity by rule id, e.g. missing-partition-filter: off.",
    )

    @field_validator("lint")
    @classmethod
    def _check_lint(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        fixed = sorted(set(value) & UNCONDITIONAL)
        if fixed:
            raise ValueError(f"{', '.join(fixed)} guard(s) production and cannot be changed: remove them from lint")
        return value

    @field_validator("schedule")
    @classmethod
    def _check_cron(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(
                f"'{value}' is not a five-field cron expression (minute hour day month weekday), e.g. '0 2 * * *'"
            )
        return value
