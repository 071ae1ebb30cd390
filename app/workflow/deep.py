"""Deep validation: the engine's own planner checks the compiled task (no job runs); errors map back to fields.

Spark analyzes the query. Flink EXPLAINs the INSERT: source and sink tables are declared as compiled;
those whose connector or format is not in the PyFlink wheel (kafka, upsert-kafka, jdbc, clickhouse over
jdbc, parquet/orc/avro files) are declared with the same schema and watermark over `datagen` (sources)
or `blackhole` (sinks), and a `connector-not-checked` note says the connector itself was not checked.
"""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp

from app.runners import spark as spark_runner
from generators.compile import CompiledTask
from generators.diagnostics import RULES, Diagnostic
from generators.locate import locate_error
from generators.physical import FLINK_BUNDLED_FORMATS
from generators.templating import render_template

BUNDLED_CONNECTORS = ("filesystem", "datagen", "print", "blackhole")


def analyze(compiled: CompiledTask) -> list[Diagnostic]:
    if compiled.engine == "flink":
        return analyze_flink(compiled)
    try:
        for statement in compiled.setup_statements():
            spark_runner.execute(statement)
        spark_runner.execute(compiled.query)  # analysis happens here; nothing is executed
    except spark_runner.EngineError as err:
        path = locate_error(compiled.task, str(err))
        hint = f"Spark error class {err.error_class}" if err.error_class else ""
        return [Diagnostic(path, "engine-analysis", "error", f"Spark rejects the query: {err}", hint)]
    return []


def _checkable(ddl: dict[str, Any]) -> bool:
    options = dict(ddl.get("options", []))
    connector = options.get("connector")
    if connector not in BUNDLED_CONNECTORS:
        return False
    return connector != "filesystem" or options.get("format") in FLINK_BUNDLED_FORMATS


def _stand_in(ddl: dict[str, Any], role: str, mode: str, static: dict[str, str]) -> dict[str, Any]:
    """The same schema (and watermark) over datagen or blackhole, which the wheel always has."""
    keys = {k.lower() for k in static}
    columns = [c for c in ddl["columns"] if role == "source" or c["name"].lower() not in keys]
    if role == "source":
        options = [("connector", "datagen")] + ([("number-of-rows", "1")] if mode == "batch" else [])
    else:
        options = [("connector", "blackhole")]
    return {**ddl, "columns": columns, "options": options, "partition_by": []}


def _ddl(ddl: dict[str, Any]) -> str:
    return render_template("flink", "table_ddl", s=ddl)


def analyze_flink(compiled: CompiledTask) -> list[Diagnostic]:
    from app.runners import flink as flink_runner

    mode = compiled.mode
    notes: list[Diagnostic] = []
    statements: list[str] = []
    swapped_sink = False

    def note(path: str, what: str, table: str, connector: str) -> None:
        notes.append(Diagnostic(path, "connector-not-checked", RULES.get("connector-not-checked", "warning"),
                                f"{table}: the {connector} {what} is not in this Flink installation; the plan was "
                                f"checked with {'datagen' if what == 'source' else 'blackhole'} in its place, "
                                f"the connector itself (options, reachability) was not checked",
                                "run the task where the connector jar is installed to check it"))

    for source in compiled.sources:
        ddl = source.ddl
        if ddl.get("kind") == "table":
            continue
        if _checkable(ddl):
            statements.append(_ddl(ddl))
        else:
            connector = _connector_name(ddl)
            note("source" if source.logical == getattr(compiled.task, "source", None) else "",
                 "source", source.logical, connector)
            statements.append(_ddl(_stand_in(ddl, "source", mode, compiled.static_partition)))
    target = compiled.target
    insert = ""
    if target is not None and target.ddl.get("kind") != "table":
        if _checkable(target.ddl):
            statements.append(_ddl(target.ddl))
        else:
            swapped_sink = True
            note("target.table", "sink", target.logical, _connector_name(target.ddl))
            statements.append(_ddl(_stand_in(target.ddl, "target", mode, compiled.static_partition)))
    if target is not None:
        if swapped_sink:
            name = exp.to_identifier(target.ddl["table"], quoted=True).sql(dialect="flink")
            insert = f"INSERT INTO {name}\n{compiled.query}"
        else:
            insert = next((s for s in compiled.statements() if s.lstrip().upper().startswith("INSERT")), "")
    try:
        values, _ = flink_runner.split_settings(compiled.setup_statements())
        values.pop("execution.runtime-mode", None)
        env = flink_runner.get_env(mode)
        with flink_runner.settings(env, values):
            for statement in statements:
                flink_runner.execute(statement, mode)
            flink_runner.explain(insert or compiled.query, mode)
    except flink_runner.EngineError as err:
        path = _locate(compiled, str(err))
        return [*notes, Diagnostic(path, "engine-analysis", "error", f"Flink rejects the task: {err}",
                                   f"Flink's planner, {mode} mode")]
    return notes


def _locate(compiled: CompiledTask, message: str) -> str:
    """The config field an error comes from: quoted names first, then function names (`NAME(`)."""
    path = locate_error(compiled.task, message)
    if not path:
        for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\(", message):
            path = locate_error(compiled.task, f"'{name}'")
            if path:
                break
    return path


def _connector_name(ddl: dict[str, Any]) -> str:
    options = dict(ddl.get("options", []))
    connector = options.get("connector", ddl.get("kind", "?"))
    if connector == "filesystem":
        return f"{options.get('format', '?')} format"
    return f"{connector} connector"
