"""Running a task: compile for the env, execute on the engine, publish atomically, record the run.

Before anything is written, the isolation check runs again on the locations as they resolve now
(a symlink planted after compile must not win), and again inside the publish on the target's folder
itself (see app/workflow/staging.py). Every run first closes the records of runs whose process died
and removes what they left beside its target (app/workflow/recovery.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.runners import spark as spark_runner
from app.security.identity import Principal
from app.workflow import access, recovery, staging
from catalog import isolation
from catalog.spec import Binding, DatagenBinding, FileBinding, KafkaBinding
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
    job_id: str | None = None  # flink
    job_state: str | None = None  # flink: the job's final state


def _log(result: RunResult, emit: Callable[[str], None] | None, message: str) -> None:
    result.log.append(message)
    if emit is not None:
        emit(message)


def preview(compiler: Compiler, task: Task, *, principal: Principal, env: str = "dev",
            logical_date: date | None = None, limit: int = 20, emit: Callable[[str], None] | None = None,
            engine: str | None = None, mode: str = "batch") -> RunResult:
    """Run the task's query on a sample and return rows; never writes anything.

    Needs `read` on every source in `env` (app.security.policy.AccessDenied otherwise)."""
    result = RunResult(run_id=uuid.uuid4().hex[:12], status="invalid")
    compiled = compiler.compile(task, engine=engine, env=env, logical_date=logical_date, mode=mode, preview=True)
    result.diagnostics = compiled.diagnostics
    if not compiled.ok:
        result.error = "the task is invalid"
        return result
    access.check_read(compiler.catalog, principal, task, compiled)
    if compiled.engine == "flink":
        return _preview_flink(compiled, result, limit, emit)
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


class WriteGuard:
    """The isolation check at run time: prod locations collected now, compared with what is about to be written."""

    def __init__(self, store: Any, env: str) -> None:
        self.env = env
        self._prod = None if env == isolation.PROD else isolation.ProdIndex(
            isolation.prod_locations(store.load_all().values()))

    def _refuse(self, conflicts: list[isolation.Conflict], subject: str) -> None:
        if conflicts:
            raise staging.PublishRefused(conflicts[0].describe(subject) + ": nothing was written")

    def binding(self, binding: Binding, table: str) -> None:
        if self._prod is not None:
            self._refuse(isolation.write_conflicts(binding, self._prod), f"the {self.env} target of {table}")

    def __call__(self, path: str) -> None:
        if self._prod is not None:
            self._refuse(isolation.path_conflicts(path, self._prod), f"the {self.env} write to {path}")


@dataclass
class Stage:
    """Where a file target is staged: local paths for publishing, the engine's spelling for the script."""

    target: str  # the target's real local path
    local: str  # the staging folder
    for_engine: str  # the staging folder as the engine is told (a file: URI stays one)


def _prepare_run(store: Any, plain: CompiledTask, env: str, emit: Callable[[str], None] | None,
                 result: RunResult) -> tuple[WriteGuard, str | None]:
    """Recover interrupted runs, then check the write target again as it resolves now.

    Returns the guard for the publish and the local path of a file target that is staged (else None)."""
    for closed in recovery.recover_runs(store):
        _log(result, emit, f"recovered: {closed}")
    assert plain.target is not None
    guard = WriteGuard(store, env)
    guard.binding(plain.target.binding, plain.task.target.table)
    target = _staged_target(plain)
    if target is None:
        return guard, None
    for line in recovery.sweep_target(store, target):
        _log(result, emit, f"removed a leftover of an interrupted run: {line}")
    now = isolation.real_path(target)
    if now != target:
        raise staging.PublishRefused(f"{target} now leads to {now}: it changed since the task was compiled "
                                     "(a symbolic link?); nothing was written")
    guard(target)
    return guard, target


def _staged_target(plain: CompiledTask) -> str | None:
    """The local path of a file target written through a staging folder (None: written directly)."""
    if plain.target is None or not isinstance(plain.target.binding, FileBinding):
        return None
    return isolation.local_path(plain.target.ddl["location"])


def _refused(store: Any, task: Task, plain: CompiledTask, result: RunResult, err: OSError,
             emit: Callable[[str], None] | None) -> RunResult:
    """A run refused before it started writing is recorded too: someone tried."""
    result.run_id = store.start_run(task.name, config_hash(task), plain.engine, plain.env, plain.logical_date,
                                    task.target.table, details=recovery.process_identity())
    result.status, result.error = "failed", f"refused: {err}"
    _log(result, emit, result.error)
    _finish(store, result.run_id, result, {"refused": str(err)})
    return result


def run(compiler: Compiler, task: Task, store: Any, *, principal: Principal, env: str = "dev",
        logical_date: date | None = None, preview_rows: int = 0, emit: Callable[[str], None] | None = None,
        engine: str | None = None, mode: str = "batch") -> RunResult:
    """Execute a task end to end as `principal` and record it in the run history and the audit log.

    Authorized first (`access.check_run`): a denial raises app.security.policy.AccessDenied before anything
    is written or recorded as a run."""
    result = RunResult(run_id="", status="invalid")
    plain = compiler.compile(task, engine=engine, env=env, logical_date=logical_date, mode=mode)
    result.diagnostics = plain.diagnostics
    if not plain.ok or plain.target is None:
        result.error = "the task is invalid"
        return result
    access.check_run(store, principal, task, plain)
    try:
        guard, target = _prepare_run(store, plain, env, emit, result)
    except OSError as err:
        result = _refused(store, task, plain, result, err, emit)
        access.record_run(store, principal, task, env, result)
        return result
    if plain.engine == "flink":
        result = _run_flink(compiler, task, store, plain, result, preview_rows, emit, guard, target)
        access.record_run(store, principal, task, env, result)
        return result
    details = recovery.process_identity()
    if target is not None:
        details["publish_target"] = target
    run_id = store.start_run(task.name, config_hash(task), plain.engine, env, plain.logical_date, task.target.table,
                             details=details)
    result.run_id = run_id
    compiled, stage = _staged(compiler, task, plain, run_id, env, logical_date, target)
    statements = compiled.statements()
    started = time.perf_counter()
    _log(result, emit, f"run {run_id}: {task.name} on spark ({spark_runner.master_url()}), env {env}, "
                       f"logical date {compiled.logical_date}")
    publication: staging.Publication | None = None
    try:
        if stage is not None:
            publication = staging.Publication(stage.target, recovery.run_key(run_id), guard)
            if task.target.write_mode == "upsert":
                _ensure_folder(stage.target)  # the rewrite reads the current rows, even when none
        if plain.target.ddl.get("kind") == "file":
            spark_runner.drop_session_table(plain.target.ddl["table"])
        with spark_runner.ProgressReporter(lambda line: _log(result, emit, line)):
            for statement in statements:
                spark_runner.execute(statement).collect()
        if stage is not None:
            fmt = plain.target.ddl["format"]
            result.rows_written = spark_runner.count_rows(stage.for_engine, fmt,
                                                          dict(plain.target.ddl["table_options"]))
        _publish(result, plain, publication, emit)
        if preview_rows:
            result.preview, result.columns = _read_back(plain, preview_rows)
    except spark_runner.EngineError as err:
        result.status, result.error = "failed", str(err)
        _log(result, emit, f"failed: {err}")
    except staging.PublishRefused as err:
        result.status, result.error = "failed", f"refused: {err}"
        _log(result, emit, result.error)
    except OSError as err:
        result.status, result.error = "failed", f"could not publish the output: {err}"
        _log(result, emit, result.error)
    finally:
        if publication is not None:
            publication.close()
        result.seconds = time.perf_counter() - started
        if result.status == "invalid":  # an unexpected error escaped: the run still ends, as failed
            result.status, result.error = "failed", result.error or "interrupted"
        _finish(store, run_id, result, {"seconds": round(result.seconds, 3), "statements": len(statements)})
    emit_openlineage(store, run_id, plain)
    access.record_run(store, principal, task, env, result)
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


# --- flink ----------------------------------------------------------------------------------------

# A streaming aggregate preview: mini-batches fold many input rows into one update per key, so the
# result is materialized from a few updates instead of a changelog entry per input row.
STREAMING_PREVIEW_SETTINGS = {
    "table.exec.mini-batch.enabled": "true",
    "table.exec.mini-batch.allow-latency": "200 ms",
    "table.exec.mini-batch.size": "5000",
}
# Unbounded streaming jobs commit files on checkpoints.
STREAMING_RUN_SETTINGS = {"execution.checkpointing.interval": "10 s"}
DATA_LINE_FORMATS = ("csv", "json")


def is_unbounded(table: Any) -> bool:
    binding = table.binding
    return isinstance(binding, KafkaBinding) or (isinstance(binding, DatagenBinding) and not binding.number_of_rows)


def _preview_flink(compiled: CompiledTask, result: RunResult, limit: int,
                   emit: Callable[[str], None] | None) -> RunResult:
    from app.runners import flink as flink_runner

    mode = compiled.mode
    started = time.perf_counter()
    try:
        values, setup = flink_runner.split_settings(compiled.setup_statements())
        values.pop("execution.runtime-mode", None)
        if mode == "streaming":
            values.update(STREAMING_PREVIEW_SETTINGS)
        env = flink_runner.get_env(mode)
        with flink_runner.settings(env, values):
            for statement in setup:
                flink_runner.execute(statement, mode)
            _log(result, emit, f"created {len(compiled.sources)} source table(s) on flink ({mode})")
            table = flink_runner.query(compiled.query, mode)
            if any(is_unbounded(s) for s in compiled.sources):
                result.preview, result.columns = flink_runner.first_rows(table, limit)
            else:
                result.preview, result.columns = flink_runner.to_rows(table, limit)
        result.status = "succeeded"
    except flink_runner.EngineError as err:
        result.status, result.error = "failed", str(err)
    result.seconds = time.perf_counter() - started
    return result


def count_data_lines(folder: str, fmt: str) -> int | None:
    """Rows in what a line-per-row format (csv, json) wrote; hidden and in-progress files are skipped."""
    from pathlib import Path

    if fmt not in DATA_LINE_FORMATS:
        return None
    total = 0
    root = Path(folder)
    if not root.exists():
        return 0
    for path in root.rglob("*"):
        relative = path.relative_to(root).parts
        if path.is_file() and not any(part.startswith(staging.HIDDEN_PREFIXES) for part in relative):
            with path.open("rb") as handle:
                total += sum(1 for line in handle if line.strip())
    return total


def _run_flink(compiler: Compiler, task: Task, store: Any, plain: CompiledTask, result: RunResult,
               preview_rows: int, emit: Callable[[str], None] | None, guard: WriteGuard, target: str | None
               ) -> RunResult:
    from app.runners import flink as flink_runner

    assert plain.target is not None
    mode, env, logical_date = plain.mode, plain.env, plain.logical_date
    unbounded = [s.logical for s in plain.sources if is_unbounded(s)]
    job_id = flink_runner.new_job_id()
    try:
        rest = flink_runner.rest_url()
    except flink_runner.EngineError as err:
        rest, result.error = "", str(err)
    details = {"job_id": job_id, "rest_url": rest, "mode": mode, "flink": flink_runner.describe_target(),
               **recovery.process_identity()}
    if target is not None and not unbounded:
        details["publish_target"] = target
    run_id = store.start_run(task.name, config_hash(task), "flink", env, logical_date, task.target.table,
                             details=details)
    result.run_id, result.job_id = run_id, job_id
    if result.error:
        result.status = "failed"
        store.finish_run(run_id, "failed", error=result.error)
        return result
    # An unbounded job never finishes, so there is nothing to swap in: it writes the target directly.
    compiled, stage = (plain, None) if unbounded else _staged(compiler, task, plain, run_id, env, logical_date,
                                                              target, mode)
    started = time.perf_counter()
    _log(result, emit, f"run {run_id}: {task.name} on flink ({flink_runner.describe_target()}, {mode}), env {env}, "
                       f"logical date {logical_date}")
    if unbounded:
        _log(result, emit, f"unbounded source(s) {', '.join(unbounded)}: the job runs until stopped "
                           f"(Ctrl-C, or formcast stop {run_id})")
    statements = compiled.statements()
    publication: staging.Publication | None = None
    try:
        if mode == "streaming":
            statements = [f"SET '{k}' = '{v}'" for k, v in STREAMING_RUN_SETTINGS.items()] + statements
        if stage is not None:
            publication = staging.Publication(stage.target, recovery.run_key(run_id), guard)
        outcome = flink_runner.run_script(statements, mode, job_id=job_id, emit=lambda line: _log(result, emit, line))
        result.job_state = outcome.state
        if outcome.state == "CANCELED":
            result.status, result.error = "cancelled", "the job was cancelled"
        elif outcome.state != "FINISHED":
            result.status, result.error = "failed", f"the job ended {outcome.state}"
        else:
            if stage is not None:
                result.rows_written = count_data_lines(stage.local, plain.target.ddl.get("format", ""))
            _publish(result, plain, publication, emit)
            if preview_rows:
                result.preview, result.columns = _read_back_flink(plain, preview_rows)
        if result.status != "succeeded":
            _log(result, emit, f"{result.status}: {result.error}")
    except KeyboardInterrupt:
        result.status, result.error = "cancelled", "interrupted; the job was cancelled"
        _log(result, emit, result.error)
    except flink_runner.EngineError as err:
        result.status, result.error = "failed", str(err)
        _log(result, emit, f"failed: {err}")
    except staging.PublishRefused as err:
        result.status, result.error = "failed", f"refused: {err}"
        _log(result, emit, result.error)
    except OSError as err:
        result.status, result.error = "failed", f"could not publish the output: {err}"
        _log(result, emit, result.error)
    finally:
        if publication is not None:
            publication.close()
        result.seconds = time.perf_counter() - started
        if result.status == "invalid":
            result.status, result.error = "failed", result.error or "interrupted"
        _finish(store, run_id, result, {"seconds": round(result.seconds, 3), "statements": len(statements),
                                        "job_state": result.job_state})
    emit_openlineage(store, run_id, plain)
    return result


def _staged(compiler: Compiler, task: Task, plain: CompiledTask, run_id: str, env: str, logical_date: date | None,
            target: str | None, mode: str = "batch") -> tuple[CompiledTask, Stage | None]:
    """The task compiled to write its local file target into a staging folder beside it (None: written directly)."""
    if target is None or plain.target is None:
        return plain, None
    local = staging.staging_path(target, recovery.run_key(run_id))
    stage = Stage(target, local, f"file://{local}" if isolation.has_scheme(plain.target.ddl["location"]) else local)
    compiled = compiler.compile(task, engine=plain.engine, env=env, logical_date=logical_date, mode=mode,
                                sink_location=stage.for_engine)
    return compiled, stage


def _publish(result: RunResult, plain: CompiledTask, publication: staging.Publication | None,
             emit: Callable[[str], None] | None) -> None:
    """Swap the staged output in (one commit point, per the write mode) and mark the run succeeded."""
    task = plain.task
    if publication is not None:
        partitioned = bool(plain.target_spec and plain.target_spec.partition_by)
        publication.publish(task.target.write_mode, partitioned)
    result.status = "succeeded"
    written = result.rows_written if result.rows_written is not None else "?"
    _log(result, emit, f"wrote {written} row(s) to {task.target.table}")


def emit_openlineage(store: Any, run_id: str, compiled: CompiledTask) -> None:
    """Send the run's OpenLineage events (START, COMPLETE/FAIL) where FORMCAST_OPENLINEAGE_FILE (JSON lines)
    or FORMCAST_OPENLINEAGE_URL (an HTTP endpoint such as Marquez's /api/v1/lineage) points."""
    file, url = os.environ.get("FORMCAST_OPENLINEAGE_FILE"), os.environ.get("FORMCAST_OPENLINEAGE_URL")
    if not (file or url):
        return
    try:
        from app.lineage.openlineage import emit, events_for_run
        from generators.lineage import task_lineage

        record = store.get_run(run_id)
        if record is not None:
            emit(events_for_run(task_lineage(compiled), record), file=file, url=url)
    except Exception as err:  # exporting lineage must never turn a finished run into a failure
        print(f"formcast: could not emit OpenLineage events for run {run_id}: {err}", file=sys.stderr)


def _finish(store: Any, run_id: str, result: RunResult, details: dict[str, Any]) -> None:
    from catalog.errors import CatalogError

    with contextlib.suppress(CatalogError):  # `formcast stop` may have closed the record already
        store.finish_run(run_id, result.status, rows_written=result.rows_written, error=result.error,
                         details=details)


def _read_back_flink(compiled: CompiledTask, limit: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Read what was written through the sink table's own definition (batch), filtered to the static partition."""
    from sqlglot import exp

    from app.runners import flink as flink_runner

    ddl = compiled.target.ddl if compiled.target else {}
    if ddl.get("kind") != "file" or ddl.get("format") not in DATA_LINE_FORMATS:
        return [], []
    table = ddl["table"]
    create = next((s for s in compiled.statements() if s.upper().startswith("CREATE") and table in s), None)
    if create is None:
        return [], []
    flink_runner.execute(create, "batch")
    query = exp.select("*").from_(exp.to_identifier(table, quoted=True))
    for key, value in compiled.static_partition.items():
        query = query.where(exp.column(key, quoted=True).eq(exp.Literal.string(value)))
    return flink_runner.to_rows(flink_runner.query(query.sql(dialect="flink"), "batch"), limit)
