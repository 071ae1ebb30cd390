"""Running a task: compile for the env, execute on the engine, publish atomically, record the run."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app import staging
from app.runners import spark as spark_runner
from catalog.spec import FileBinding
from generators.compile import CompiledTask, Compiler, config_hash
from generators.diagnostics import Diagnostic
from generators.tasks import Task


@dataclass
class RunResult:
    run_id: str
    status: str  # succeeded | failed | invalid
    rows_written: int | None = None
    preview: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    error: str | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    seconds: float = 0.0
    log: list[str] = field(default_factory=list)


def _log(result: RunResult, emit: Callable[[str], None] | None, message: str) -> None:
    result.log.append(message)
    if emit is not None:
        emit(message)


def preview(compiler: Compiler, task: Task, *, env: str = "dev", logical_date: date | None = None,
            limit: int = 20, emit: Callable[[str], None] | None = None) -> RunResult:
    """Run the task's query on a sample and return rows; never writes anything."""
    result = RunResult(run_id=uuid.uuid4().hex[:12], status="invalid")
    compiled = compiler.compile(task, env=env, logical_date=logical_date)
    result.diagnostics = compiled.diagnostics
    if not compiled.ok:
        result.error = "the task is invalid"
        return result
    started = time.perf_counter()
    try:
        _create_source_views(compiled, result, emit)
        frame = spark_runner.execute(compiled.query).limit(limit)
        rows = frame.collect()
        result.columns = list(frame.columns)
        result.preview = [row.asDict(recursive=True) for row in rows]
        result.status = "succeeded"
    except spark_runner.EngineError as err:
        result.status, result.error = "failed", str(err)
    result.seconds = time.perf_counter() - started
    return result


def _create_source_views(compiled: CompiledTask, result: RunResult, emit: Callable[[str], None] | None) -> None:
    for statement in compiled.setup_statements():
        spark_runner.execute(statement)
    _log(result, emit, f"created {len(compiled.sources)} source view(s)")


def run(compiler: Compiler, task: Task, store: Any, *, env: str = "dev", logical_date: date | None = None,
        preview_rows: int = 0, emit: Callable[[str], None] | None = None) -> RunResult:
    """Execute a task end to end and record it in the catalog database's run history."""
    result = RunResult(run_id="", status="invalid")
    plain = compiler.compile(task, env=env, logical_date=logical_date)
    result.diagnostics = plain.diagnostics
    if not plain.ok or plain.target is None:
        result.error = "the task is invalid"
        return result
    run_id = store.start_run(task.name, config_hash(task), plain.engine, env, plain.logical_date, task.target.table)
    result.run_id = run_id
    binding = plain.target.binding
    stage_dir: str | None = None
    compiled = plain
    if isinstance(binding, FileBinding):
        target_path = plain.target.ddl["location"]
        if staging.is_local(target_path):
            stage_dir = staging.staging_path(target_path, run_id[:12])
            compiled = compiler.compile(task, env=env, logical_date=logical_date, sink_location=stage_dir)
            if task.target.write_mode == "upsert":
                _ensure_folder(target_path)
    started = time.perf_counter()
    _log(result, emit, f"run {run_id}: {task.name} on spark ({spark_runner.master_url()}), env {env}, "
                       f"logical date {compiled.logical_date}")
    try:
        if plain.target.ddl.get("kind") == "file":
            spark_runner.drop_session_table(plain.target.ddl["table"])
        statements = compiled.statements()
        with spark_runner.ProgressReporter(lambda line: _log(result, emit, line)):
            for statement in statements:
                spark_runner.execute(statement).collect()
        if stage_dir is not None:
            fmt = plain.target.ddl["format"]
            result.rows_written = spark_runner.count_rows(stage_dir, fmt, dict(plain.target.ddl["table_options"]))
            staging.commit(stage_dir, plain.target.ddl["location"], task.target.write_mode,
                           bool(compiled.target_spec and compiled.target_spec.partition_by))
        result.status = "succeeded"
        _log(result, emit, f"wrote {result.rows_written if result.rows_written is not None else '?'} row(s) "
                           f"to {task.target.table}")
        if preview_rows:
            result.preview, result.columns = _read_back(plain, preview_rows)
    except spark_runner.EngineError as err:
        result.status, result.error = "failed", str(err)
        _log(result, emit, f"failed: {err}")
    except OSError as err:
        result.status, result.error = "failed", f"could not publish the output: {err}"
        _log(result, emit, result.error)
    finally:
        if stage_dir is not None:
            staging.discard(stage_dir)
        result.seconds = time.perf_counter() - started
        store.finish_run(run_id, result.status, rows_written=result.rows_written, error=result.error,
                         details={"seconds": round(result.seconds, 3), "statements": len(compiled.statements())})
    return result


def _ensure_folder(path: str) -> None:
    from pathlib import Path

    Path(path).mkdir(parents=True, exist_ok=True)


def _read_back(compiled: CompiledTask, limit: int) -> tuple[list[dict[str, Any]], list[str]]:
    ddl = compiled.target.ddl if compiled.target else {}
    if ddl.get("kind") != "file":
        return [], []
    session = spark_runner.get_session()
    reader = session.read.format(ddl["format"])
    for key, value in ddl.get("table_options", []):
        reader = reader.option(key, value)
    frame = reader.load(ddl["location"])
    if compiled.static_partition:
        for key, value in compiled.static_partition.items():
            frame = frame.where(frame[key].cast("string") == value)
    rows = frame.limit(limit).collect()
    return [row.asDict(recursive=True) for row in rows], list(frame.columns)


def print_rows(rows: list[dict[str, Any]], columns: list[str], out: Any = sys.stdout) -> None:
    """A plain aligned table for the terminal."""
    if not columns:
        return
    cells = [[("NULL" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)), file=out)
