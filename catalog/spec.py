"""The catalog's data model: what a logical table is and where it physically lives.

These Pydantic models are the contract between the catalog store (which persists them) and the
compile pipeline (which reads them). A table is registered from exactly this JSON/YAML shape::

    {
      "name": "app.client_events",
      "description": "One row per client event.",
      "owner": "growth-data",
      "columns": [{"name": "user_id", "type": "bigint", "nullable": false}, ...],
      "primary_key": ["event_id"],
      "partition_by": ["ds"],
      "event_time": {"column": "event_ts", "watermark_delay": "5 seconds"},
      "bindings": {
        "spark": {"dev": {"kind": "file", "path": "data/dev/events", "format": "parquet"}},
        "flink": {"prod": {"kind": "kafka", "topic": "client_events", "bootstrap_servers": "kafka:9092"}}
      }
    }
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog.types import InvalidType, normalize_type

Engine = Literal["spark", "flink"]
ENGINES: tuple[Engine, ...] = ("spark", "flink")

NAME_PART = r"[A-Za-z_][A-Za-z0-9_]*"
TABLE_NAME_RE = re.compile(rf"^{NAME_PART}\.{NAME_PART}$")
ENV_RE = r"^[a-z][a-z0-9_]{0,30}$"


class StrictModel(BaseModel):
    """Unknown keys are errors, not silently dropped settings."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _column_name(value: str) -> str:
    if not value or len(value) > 128 or any(ord(ch) < 32 for ch in value):
        raise ValueError("a column name is 1-128 printable characters")
    return value


class ColumnSpec(StrictModel):
    name: str = Field(title="Column name", examples=["user_id"])
    type: str = Field(title="Type", description="Spark SQL spelling", examples=["bigint", "decimal(10,2)"])
    nullable: bool = Field(default=True, title="Nullable")
    description: str = Field(default="", title="Description")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _column_name(value)

    @field_validator("type")
    @classmethod
    def _check_type(cls, value: str) -> str:
        try:
            return normalize_type(value)
        except InvalidType as err:
            raise ValueError(str(err)) from None


class EventTime(StrictModel):
    column: str = Field(title="Event-time column")
    watermark_delay: str = Field(
        default="0 seconds",
        title="Watermark delay",
        description="How late events may arrive: '<n> <unit>' with unit milliseconds|seconds|minutes|hours",
        pattern=r"^\d+\s+(millisecond|second|minute|hour|day)s?$",
    )


# --- Physical bindings -----------------------------------------------------------------------

FileFormat = Literal["parquet", "csv", "json", "orc", "avro"]


class FileBinding(StrictModel):
    kind: Literal["file"] = "file"
    path: str = Field(min_length=1, description="Directory or file; relative paths resolve from FORMCAST_HOME's parent")
    format: FileFormat = "parquet"
    options: dict[str, str] = Field(default_factory=dict, description="Reader/writer options, e.g. header")

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if any(ord(ch) < 32 for ch in value):
            raise ValueError("a path cannot contain control characters (NUL, newline, ...)")
        return value

    def physical_id(self) -> str:
        return f"file:{os.path.normpath(os.path.abspath(self.path))}"


class TableBinding(StrictModel):
    """A table in the engine's own catalog (Hive metastore, Spark catalog, Flink catalog)."""

    kind: Literal["table"] = "table"
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
    format: str | None = Field(default=None, description="Storage format when the table must be created")

    def physical_id(self) -> str:
        return f"table:{self.table.lower()}"


# A table name as databases spell it: dot-separated parts, each plain or quoted ("...", `...`, [...]).
_DB_PART = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"[^"\x00-\x1f]+"|`[^`\x00-\x1f]+`|\[[^\]\x00-\x1f]+\])'
DB_TABLE_RE = rf"^{_DB_PART}(?:\.{_DB_PART}){{0,2}}$"


class JdbcBinding(StrictModel):
    kind: Literal["jdbc"] = "jdbc"
    url: str = Field(pattern=r"^jdbc:[a-z0-9]+:", examples=["jdbc:postgresql://db:5432/shop"])
    table: str = Field(pattern=DB_TABLE_RE, examples=["public.orders"],
                       description="[catalog.][schema.]table; a query in its place would read outside the catalog")
    user: str | None = None
    password_env: str | None = Field(default=None, description="Environment variable holding the password")
    driver: str | None = None

    def physical_id(self) -> str:
        return f"jdbc:{self.url}#{self.table.lower()}"


KafkaFormat = Literal["json", "csv", "avro", "avro-confluent", "debezium-json", "canal-json", "raw"]


class KafkaBinding(StrictModel):
    kind: Literal["kafka"] = "kafka"
    topic: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    bootstrap_servers: str = Field(min_length=1, examples=["kafka-1:9092,kafka-2:9092"])
    format: KafkaFormat = "json"
    group_id: str | None = None
    startup_mode: Literal["earliest-offset", "latest-offset", "group-offsets", "timestamp"] = "group-offsets"
    key_fields: list[str] = Field(default_factory=list)
    upsert: bool = Field(default=False, description="Changelog semantics keyed by the primary key (upsert-kafka)")

    def physical_id(self) -> str:
        servers = ",".join(sorted(s.strip() for s in self.bootstrap_servers.split(",")))
        return f"kafka:{servers}#{self.topic}"


class ClickHouseBinding(StrictModel):
    kind: Literal["clickhouse"] = "clickhouse"
    url: str = Field(pattern=r"^(jdbc:)?clickhouse://", examples=["clickhouse://ch:8123"])
    database: str = Field(pattern=rf"^{NAME_PART}$")
    table: str = Field(pattern=rf"^{NAME_PART}$")
    user: str | None = None
    password_env: str | None = None

    def physical_id(self) -> str:
        return f"clickhouse:{self.url}/{self.database}.{self.table}".lower()


class DatagenBinding(StrictModel):
    """Flink's built-in generator source; useful for demos and load tests."""

    kind: Literal["datagen"] = "datagen"
    rows_per_second: int = Field(default=1, ge=1)
    number_of_rows: int | None = Field(default=None, ge=1)

    def physical_id(self) -> str:
        return "datagen:"


class SinkOnlyBinding(StrictModel):
    """print/blackhole: sinks that discard or log what they receive."""

    kind: Literal["print", "blackhole"]

    def physical_id(self) -> str:
        return f"{self.kind}:"


Binding = Annotated[
    FileBinding | TableBinding | JdbcBinding | KafkaBinding | ClickHouseBinding | DatagenBinding | SinkOnlyBinding,
    Field(discriminator="kind"),
]

Environment = Annotated[str, Field(pattern=ENV_RE)]


class TableSpec(StrictModel):
    """A logical table: its schema, its semantics, and where it lives per engine and environment."""

    name: str = Field(title="Logical name", description="namespace.table", examples=["app.client_events"])
    description: str = ""
    owner: str = ""
    columns: list[ColumnSpec] = Field(min_length=1)
    primary_key: list[str] = Field(default_factory=list)
    partition_by: list[str] = Field(default_factory=list)
    event_time: EventTime | None = None
    bindings: dict[Engine, dict[Environment, Binding]] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not TABLE_NAME_RE.match(value):
            raise ValueError("a logical table name is 'namespace.table' (letters, digits, underscores)")
        return value.lower()

    @model_validator(mode="after")
    def _check_references(self) -> TableSpec:
        names = [c.name for c in self.columns]
        seen: set[str] = set()
        for name in names:
            if name.lower() in seen:
                raise ValueError(f"column '{name}' is declared twice")
            seen.add(name.lower())
        for field_name, refs in (("primary_key", self.primary_key), ("partition_by", self.partition_by)):
            for ref in refs:
                if self.column(ref) is None:
                    raise ValueError(f"{field_name} names '{ref}', which is not a column of {self.name}")
        for ref in self.partition_by:  # a partition column names folders: <column>=<value>
            if ref in (".", "..") or any(ch in ref for ch in "/\\="):
                raise ValueError(f"partition column '{ref}' cannot name a folder: no '/', '\\', '=' or '..'")
        if self.event_time and self.column(self.event_time.column) is None:
            raise ValueError(f"event_time names '{self.event_time.column}', which is not a column of {self.name}")
        return self

    @property
    def namespace(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def short_name(self) -> str:
        return self.name.split(".", 1)[1]

    def column(self, name: str) -> ColumnSpec | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    def binding(self, engine: Engine, env: str) -> Binding | None:
        return self.bindings.get(engine, {}).get(env)
