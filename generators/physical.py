"""Logical tables → physical names and DDL context, per engine and environment.

Rendering for `dev` reads and writes dev bindings only; a dev target whose physical location is
any table's prod location is refused, so a preview or a dev run can never touch production.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from catalog.spec import Binding, ClickHouseBinding, FileBinding, JdbcBinding, TableBinding, TableSpec
from generators.context import CatalogReader
from generators.diagnostics import Diagnostics

SPARK_SOURCE_KINDS = ("file", "table", "jdbc", "clickhouse")
SPARK_TARGET_KINDS = ("file", "table", "jdbc", "clickhouse")


def view_name(logical: str) -> str:
    """Temporary view for a logical table: `app.client_events` → `app__client_events`."""
    return logical.replace(".", "__")


@dataclass
class PhysicalTable:
    logical: str
    binding: Binding
    name: str  # the name SQL uses (view or real table)
    ddl: dict[str, Any] = field(default_factory=dict)


class ProdLocations:
    """The physical ids of every prod binding, computed once per catalog snapshot."""

    def __init__(self, catalog: CatalogReader) -> None:
        self._catalog = catalog
        self._ids: dict[str, str] | None = None

    def owner_of(self, physical_id: str) -> str | None:
        if self._ids is None:
            self._ids = {}
            for spec in self._catalog.load_all().values():
                for engine_bindings in spec.bindings.values():
                    prod = engine_bindings.get("prod")
                    if prod is not None:
                        self._ids[prod.physical_id()] = spec.name
        return self._ids.get(physical_id)


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
        # Spark substitutes ${env:VAR} when the statement runs: the secret never enters the script.
        options.append(("password", "${env:" + binding.password_env + "}"))
    return options


def _file_options(binding: FileBinding, path: str) -> list[tuple[str, str]]:
    options = dict(binding.options)
    if binding.format == "csv":
        options.setdefault("header", "true")
    options["path"] = path
    return sorted(options.items())


def resolve_path(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def spark_source(spec: TableSpec, binding: Binding) -> PhysicalTable:
    columns = [{"name": c.name, "type": c.type} for c in spec.columns]
    if isinstance(binding, FileBinding):
        ddl = {"kind": "file", "view": view_name(spec.name), "columns": columns, "format": binding.format,
               "options": _file_options(binding, resolve_path(binding.path))}
        return PhysicalTable(spec.name, binding, view_name(spec.name), ddl)
    if isinstance(binding, TableBinding):
        return PhysicalTable(spec.name, binding, binding.table, {"kind": "table"})
    if isinstance(binding, JdbcBinding | ClickHouseBinding):
        ddl = {"kind": "jdbc", "view": view_name(spec.name), "options": _jdbc_options(binding)}
        return PhysicalTable(spec.name, binding, view_name(spec.name), ddl)
    raise ValueError(binding.kind)


def spark_target(spec: TableSpec, binding: Binding, location: str | None) -> PhysicalTable:
    columns = _target_column_order(spec)
    if isinstance(binding, FileBinding):
        ddl = {"kind": "file", "table": spec.name, "columns": columns, "format": binding.format,
               "partition_by": list(spec.partition_by),
               "table_options": sorted(dict(binding.options, **({"header": "true"} if binding.format == "csv" else {})
                                            ).items()),
               "location": location or resolve_path(binding.path)}
        return PhysicalTable(spec.name, binding, spec.name, ddl)
    if isinstance(binding, TableBinding):
        return PhysicalTable(spec.name, binding, binding.table, {"kind": "table", "table": binding.table})
    if isinstance(binding, JdbcBinding | ClickHouseBinding):
        name = view_name(spec.name) + "__sink"
        return PhysicalTable(spec.name, binding, name, {"kind": "jdbc", "table": name,
                                                       "options": _jdbc_options(binding)})
    raise ValueError(binding.kind)


def _target_column_order(spec: TableSpec) -> list[dict[str, str]]:
    """Spark stores partition columns last; the DDL lists them there too."""
    partition = [p.lower() for p in spec.partition_by]
    data = [c for c in spec.columns if c.name.lower() not in partition]
    parts = [spec.column(p) for p in spec.partition_by]
    return [{"name": c.name, "type": c.type} for c in [*data, *parts] if c is not None]


def check_binding(
    spec: TableSpec, engine: str, env: str, path: str, allowed: tuple[str, ...], role: str, diagnostics: Diagnostics
) -> Binding | None:
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
