"""Logical tables → physical names and DDL context, per engine and environment.

Each engine has an adapter that says which binding kinds it can read and write and turns a binding
into the context its `sources`/`script` templates render (SQLMesh-style capability flags). Rendering
for `dev` reads and writes dev bindings only; a dev target that is, lies inside or contains any table's
prod location (`catalog.isolation`) is refused, so a preview or a dev run can never touch production.
Local paths are rendered as their real path: the engine writes exactly where the check looked.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from catalog import isolation
from catalog.spec import (
    Binding,
    ClickHouseBinding,
    DatagenBinding,
    FileBinding,
    JdbcBinding,
    KafkaBinding,
    SinkOnlyBinding,
    TableBinding,
    TableSpec,
)
from generators.context import CatalogReader
from generators.diagnostics import Diagnostics
from generators.dialects.flink import flink_type

PROCTIME_COLUMN = "__fc_proctime"


def view_name(logical: str) -> str:
    """Temporary view/table for a logical table: `app.client_events` → `app__client_events`."""
    return logical.replace(".", "__")


def resolve_path(path: str) -> str:
    """A local path or `file:` URI as its real path (a `file:` URI stays one); remote URIs as written."""
    real = isolation.real_path(path)
    if real is None:
        return path
    return f"file://{real}" if isolation.has_scheme(path) else real


@dataclass
class PhysicalTable:
    logical: str
    binding: Binding
    name: str  # the name SQL uses (view or real table)
    ddl: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # environment notes (e.g. a connector jar is needed)


class ProdLocations:
    """Every prod location of the catalog, collected once per catalog snapshot (see catalog.isolation)."""

    def __init__(self, catalog: CatalogReader) -> None:
        self._catalog = catalog
        self._index: isolation.ProdIndex | None = None

    def conflicts(self, location: isolation.Location) -> list[isolation.Conflict]:
        if self._index is None:
            self._index = isolation.ProdIndex(isolation.prod_locations(self._catalog.load_all().values()))
        return self._index.conflicts(location)


def _password(env_var: str) -> str:
    # Substituted from the environment when the statement runs: the secret never enters the script.
    return "${env:" + env_var + "}"


def _target_column_order(spec: TableSpec) -> list[dict[str, str]]:
    """Partition columns last, as Spark stores them (Flink accepts any order)."""
    partition = [p.lower() for p in spec.partition_by]
    data = [c for c in spec.columns if c.name.lower() not in partition]
    parts = [spec.column(p) for p in spec.partition_by]
    return [{"name": c.name, "type": c.type} for c in [*data, *parts] if c is not None]


class EngineAdapter(ABC):
    engine: ClassVar[str]
    source_kinds: ClassVar[tuple[str, ...]]
    target_kinds: ClassVar[tuple[str, ...]]
    # True: the sink applies upserts by primary key itself; False: Formcast rewrites the table.
    upserts_natively: ClassVar[bool] = False

    def can_upsert(self, binding: Binding) -> bool:
        return True

    def sink_types(self, spec: TableSpec, binding: Binding | None) -> dict[str, str]:
        """Column types the sink stores differently from the catalog (lower-case name → type)."""
        return {}

    @abstractmethod
    def source(self, spec: TableSpec, binding: Binding, watermark_seconds: int | None = None,
               proctime: bool = False) -> PhysicalTable:
        """How a source binding is read: its physical name and the DDL context for `sources.sql.j2`."""

    @abstractmethod
    def target(self, spec: TableSpec, binding: Binding, location: str | None) -> PhysicalTable:
        """How a target binding is written; `location` overrides a file target's path (staging)."""


class SparkAdapter(EngineAdapter):
    engine = "spark"
    source_kinds = ("file", "table", "jdbc", "clickhouse")
    target_kinds = ("file", "table", "jdbc", "clickhouse")

    @staticmethod
    def _jdbc_options(binding: JdbcBinding | ClickHouseBinding) -> list[tuple[str, str]]:
        if isinstance(binding, ClickHouseBinding):
            url = binding.url if binding.url.startswith("jdbc:") else f"jdbc:{binding.url}"
            options = [("url", url), ("dbtable", f"{binding.database}.{binding.table}")]
        else:
            options = [("url", binding.url), ("dbtable", binding.table)]
            if binding.driver:
                options.append(("driver", binding.driver))
        if binding.user:
            options.append(("user", binding.user))
        if binding.password_env:
            options.append(("password", _password(binding.password_env)))
        return options

    @staticmethod
    def _file_options(binding: FileBinding) -> dict[str, str]:
        options = dict(binding.options)
        if binding.format == "csv":
            options.setdefault("header", "true")
        return options

    def source(self, spec: TableSpec, binding: Binding, watermark_seconds: int | None = None,
               proctime: bool = False) -> PhysicalTable:
        columns = [{"name": c.name, "type": c.type} for c in spec.columns]
        name = view_name(spec.name)
        if isinstance(binding, FileBinding):
            options = {**self._file_options(binding), "path": resolve_path(binding.path)}
            ddl = {"kind": "file", "view": name, "columns": columns, "format": binding.format,
                   "options": sorted(options.items())}
            return PhysicalTable(spec.name, binding, name, ddl)
        if isinstance(binding, TableBinding):
            return PhysicalTable(spec.name, binding, binding.table, {"kind": "table"})
        if isinstance(binding, JdbcBinding | ClickHouseBinding):
            return PhysicalTable(spec.name, binding, name,
                                 {"kind": "jdbc", "view": name, "options": self._jdbc_options(binding)})
        raise ValueError(binding.kind)

    def target(self, spec: TableSpec, binding: Binding, location: str | None) -> PhysicalTable:
        if isinstance(binding, FileBinding):
            ddl = {"kind": "file", "table": spec.name, "columns": _target_column_order(spec),
                   "format": binding.format, "partition_by": list(spec.partition_by),
                   "table_options": sorted(self._file_options(binding).items()),
                   "location": location or resolve_path(binding.path)}
            return PhysicalTable(spec.name, binding, spec.name, ddl)
        if isinstance(binding, TableBinding):
            return PhysicalTable(spec.name, binding, binding.table, {"kind": "table", "table": binding.table})
        if isinstance(binding, JdbcBinding | ClickHouseBinding):
            name = view_name(spec.name) + "__sink"
            return PhysicalTable(spec.name, binding, name,
                                 {"kind": "jdbc", "table": name, "options": self._jdbc_options(binding)})
        raise ValueError(binding.kind)


# Formats the PyFlink wheel bundles; others need their format jar on the classpath.
FLINK_BUNDLED_FORMATS = ("csv", "json", "raw")
_DELAY = re.compile(r"^(\d+)\s+(millisecond|second|minute|hour|day)s?$")


class FlinkAdapter(EngineAdapter):
    engine = "flink"
    source_kinds = ("file", "table", "jdbc", "clickhouse", "kafka", "datagen")
    target_kinds = ("file", "table", "jdbc", "clickhouse", "kafka", "print", "blackhole")
    upserts_natively = True

    def can_upsert(self, binding: Binding) -> bool:
        """Flink upserts through sinks keyed by the primary key: JDBC and upsert-kafka."""
        return isinstance(binding, JdbcBinding | ClickHouseBinding | TableBinding) or (
            isinstance(binding, KafkaBinding) and binding.upsert
        )

    def _columns(self, spec: TableSpec) -> list[dict[str, str]]:
        return [{"name": c.name, "type": flink_type(c.type)} for c in spec.columns]

    def _watermark(self, spec: TableSpec) -> dict[str, str] | None:
        if spec.event_time is None:
            return None
        match = _DELAY.match(spec.event_time.watermark_delay)
        amount, unit = (match.group(1), match.group(2).upper()) if match else ("0", "SECOND")
        return {"column": spec.event_time.column, "amount": amount, "unit": unit}

    def _options(self, spec: TableSpec, binding: Binding, path: str | None, role: str) -> tuple[
            list[tuple[str, str]], list[str]]:
        notes: list[str] = []
        options: dict[str, str]
        if isinstance(binding, FileBinding):
            options = {"connector": "filesystem", "path": path or resolve_path(binding.path),
                       "format": binding.format}
            options.update({f"{binding.format}.{k}" if "." not in k else k: v for k, v in binding.options.items()
                            if k != "header"})
            if binding.format not in FLINK_BUNDLED_FORMATS:
                notes.append(f"the {binding.format} format needs flink-{binding.format} on the classpath")
        elif isinstance(binding, KafkaBinding):
            options = self._kafka_options(spec, binding, role)
            notes.append("the kafka connector needs flink-sql-connector-kafka on the classpath")
        elif isinstance(binding, JdbcBinding | ClickHouseBinding):
            if isinstance(binding, ClickHouseBinding):
                url = binding.url if binding.url.startswith("jdbc:") else f"jdbc:{binding.url}"
                options = {"connector": "jdbc", "url": url, "table-name": f"{binding.database}.{binding.table}"}
            else:
                options = {"connector": "jdbc", "url": binding.url, "table-name": binding.table}
                if binding.driver:
                    options["driver"] = binding.driver
            if binding.user:
                options["username"] = binding.user
            if binding.password_env:
                options["password"] = _password(binding.password_env)
            notes.append("the jdbc connector needs flink-connector-jdbc and the database driver on the classpath")
        elif isinstance(binding, DatagenBinding):
            options = {"connector": "datagen", "rows-per-second": str(binding.rows_per_second)}
            if binding.number_of_rows:
                options["number-of-rows"] = str(binding.number_of_rows)
        elif isinstance(binding, SinkOnlyBinding):
            options = {"connector": binding.kind}
        else:
            raise ValueError(binding.kind)
        return list(options.items()), notes

    @staticmethod
    def _kafka_options(spec: TableSpec, binding: KafkaBinding, role: str) -> dict[str, str]:
        if binding.upsert:
            options = {"connector": "upsert-kafka", "topic": binding.topic,
                       "properties.bootstrap.servers": binding.bootstrap_servers,
                       "key.format": binding.format, "value.format": binding.format}
        else:
            options = {"connector": "kafka", "topic": binding.topic,
                       "properties.bootstrap.servers": binding.bootstrap_servers, "format": binding.format}
            if role == "source":
                options["scan.startup.mode"] = binding.startup_mode
            if binding.key_fields:
                options["key.fields"] = ";".join(binding.key_fields)
                options["key.format"] = binding.format
                options["value.fields-include"] = "ALL"
        if binding.group_id:
            options["properties.group.id"] = binding.group_id
        return options

    def _table(self, spec: TableSpec, binding: Binding, name: str, path: str | None, role: str
               ) -> PhysicalTable:
        if isinstance(binding, TableBinding):
            return PhysicalTable(spec.name, binding, binding.table, {"kind": "table", "table": binding.table})
        options, notes = self._options(spec, binding, path, role)
        upsert_kafka = isinstance(binding, KafkaBinding) and binding.upsert
        primary_key = list(spec.primary_key) if (role == "target" or upsert_kafka) else []
        ddl = {"kind": binding.kind, "table": name, "columns": self._columns(spec), "proctime": None,
               "watermark": self._watermark(spec) if role == "source" else None,
               "primary_key": primary_key,
               "partition_by": list(spec.partition_by) if isinstance(binding, FileBinding) else [],
               "options": options}
        return PhysicalTable(spec.name, binding, name, ddl, notes)

    def source(self, spec: TableSpec, binding: Binding, watermark_seconds: int | None = None,
               proctime: bool = False) -> PhysicalTable:
        table = self._table(spec, binding, view_name(spec.name), None, "source")
        if proctime:
            table.ddl["proctime"] = PROCTIME_COLUMN
        if watermark_seconds is not None and table.ddl.get("watermark"):
            table.ddl["watermark"] = {**table.ddl["watermark"], "amount": str(watermark_seconds), "unit": "SECOND"}
        return table

    def sink_types(self, spec: TableSpec, binding: Binding | None) -> dict[str, str]:
        """Flink's filesystem sink names a dynamic DATE/TIMESTAMP partition folder by its internal number
        (ds=19875): such partition columns are written as text, so folders read ds=2024-06-01 as Spark's do."""
        if not isinstance(binding, FileBinding):
            return {}
        temporal = ("date", "timestamp")
        return {c.name.lower(): "string" for p in spec.partition_by
                if (c := spec.column(p)) is not None and c.type.split("(")[0] in temporal}

    def target(self, spec: TableSpec, binding: Binding, location: str | None) -> PhysicalTable:
        path = location or (resolve_path(binding.path) if isinstance(binding, FileBinding) else None)
        table = self._table(spec, binding, view_name(spec.name) + "__sink", path, "target")
        overrides = self.sink_types(spec, binding)
        if overrides:
            table.ddl["columns"] = [
                {**c, "type": flink_type(overrides[c["name"].lower()])} if c["name"].lower() in overrides else c
                for c in table.ddl["columns"]
            ]
        if isinstance(binding, FileBinding):
            table.ddl["location"] = path
            table.ddl["format"] = binding.format
        return table


ADAPTERS: dict[str, EngineAdapter] = {"spark": SparkAdapter(), "flink": FlinkAdapter()}


def check_binding(
    spec: TableSpec, engine: str, env: str, path: str, role: str, diagnostics: Diagnostics
) -> Binding | None:
    adapter = ADAPTERS[engine]
    allowed = adapter.source_kinds if role == "source" else adapter.target_kinds
    binding = spec.binding(engine, env)  # type: ignore[arg-type]
    if binding is None:
        have = ", ".join(f"{e}/{v}" for e, envs in spec.bindings.items() for v in envs) or "none"
        diagnostics.add(path, "missing-binding", f"{spec.name} has no {engine} binding for env '{env}'",
                        f"add bindings.{engine}.{env} to the table in the catalog (it has: {have})")
        return None
    if binding.kind not in allowed:
        diagnostics.add(path, "unsupported-binding",
                        f"{spec.name}'s {engine}/{env} binding is {binding.kind}, "
                        f"which {engine} cannot use as a {role}",
                        f"bind it as one of: {', '.join(allowed)}")
        return None
    return binding
