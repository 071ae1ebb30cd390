"""Runs compiled scripts on Flink: an embedded mini cluster kept warm, or the JobManager FORMCAST_FLINK_REMOTE names.

PyFlink is imported lazily. Locally, one MiniCluster is started per process on first use (JVM and
cluster start cost seconds) and jobs are submitted to it through its REST endpoint, exactly as to a
remote JobManager: each job then starts in about a second instead of spinning up a cluster of its
own, and `formcast stop` can cancel a running job from another process. There is one
TableEnvironment per mode (batch, streaming), created on first use.

A script runs statement by statement: `SET` goes into the table config (restored afterwards, the
environments are shared), `CREATE TEMPORARY TABLE` replaces any earlier table of that name, the
INSERT is submitted with a job id chosen up front (so the run record knows it before the job
starts) and bounded jobs are waited for. `${env:VAR}` in a statement is replaced by the variable's
value just before the statement is handed to Flink; it is never written anywhere.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.runners.spark import EngineError

if TYPE_CHECKING:
    from pyflink.table import Table, TableEnvironment, TableResult

__all__ = ["EngineError", "JobOutcome", "cancel", "execute", "get_env", "rest_url", "run_script", "to_rows"]

_LOCK = threading.RLock()
_ENVS: dict[str, TableEnvironment] = {}
_CLUSTER: Any = None  # the local MiniCluster (a py4j object), when not remote
_REST: str | None = None
FIXED_JOB_ID = "$internal.pipeline.job-id"
TERMINAL_STATES = ("FINISHED", "FAILED", "CANCELED", "SUSPENDED")
_SET = re.compile(r"^\s*SET\s+'((?:[^']|'')*)'\s*=\s*'((?:[^']|'')*)'\s*$", re.IGNORECASE | re.DOTALL)
_CREATE = re.compile(r"^\s*CREATE\s+TEMPORARY\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(`(?:[^`]|``)+`|[\w.]+)",
                     re.IGNORECASE)
_JOB_STATEMENTS = ("INSERT", "EXECUTE", "SELECT", "WITH", "VALUES", "TABLE", "(")
_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def remote_address() -> str | None:
    """host:port of a remote JobManager's REST endpoint, or None for the embedded cluster."""
    value = os.environ.get("FORMCAST_FLINK_REMOTE", "").strip()
    return value or None


def _remote_url(address: str) -> str:
    return address if address.startswith("http") else f"http://{address}"


def describe_target() -> str:
    remote = remote_address()
    return f"remote {remote}" if remote else "local mini cluster"


def _parallelism() -> str:
    return os.environ.get("FORMCAST_FLINK_PARALLELISM", "2")


def _start_cluster() -> str:
    """Start the embedded MiniCluster once; returns its REST url."""
    global _CLUSTER
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    conf = jvm.org.apache.flink.configuration.Configuration()
    conf.setString("rest.address", "localhost")
    conf.setString("rest.bind-address", "localhost")
    conf.setString("rest.bind-port", os.environ.get("FORMCAST_FLINK_REST_PORT", "0"))
    conf.setString("taskmanager.memory.network.min", "64mb")
    conf.setString("taskmanager.memory.network.max", "64mb")
    conf.setString("web.submit.enable", "false")
    slots = max(4, int(_parallelism()) * 2)
    builder = jvm.org.apache.flink.runtime.minicluster.MiniClusterConfiguration.Builder()
    cluster = jvm.org.apache.flink.runtime.minicluster.MiniCluster(
        builder.setConfiguration(conf).setNumTaskManagers(1).setNumSlotsPerTaskManager(slots).build())
    cluster.start()
    _CLUSTER = cluster
    uri = cluster.getRestAddress().get()
    return f"http://{uri.getHost()}:{uri.getPort()}"


def rest_url() -> str:
    """The REST endpoint jobs are submitted to (starts the embedded cluster if needed)."""
    global _REST
    with _LOCK:
        if _REST is None:
            remote = remote_address()
            _REST = _remote_url(remote) if remote else _start_cluster()
        return _REST


def get_env(mode: str = "batch") -> TableEnvironment:
    """The process-wide TableEnvironment for `mode` (batch | streaming), created lazily."""
    if mode not in ("batch", "streaming"):
        raise ValueError(f"unknown mode {mode!r}")
    with _LOCK:
        if mode not in _ENVS:
            url = rest_url()
            from pyflink.common import Configuration
            from pyflink.table import EnvironmentSettings, TableEnvironment

            host, _, port = url.split("://", 1)[1].rstrip("/").rpartition(":")
            conf = Configuration()
            conf.set_string("execution.target", "remote")
            conf.set_string("rest.address", host)
            conf.set_string("rest.port", port)
            conf.set_string("parallelism.default", _parallelism())
            conf.set_string("table.local-time-zone", "UTC")
            conf.set_string("table.exec.resource.default-parallelism", _parallelism())
            builder = EnvironmentSettings.new_instance()
            builder = builder.in_batch_mode() if mode == "batch" else builder.in_streaming_mode()
            _ENVS[mode] = TableEnvironment.create(builder.with_configuration(conf).build())
        return _ENVS[mode]


# --- statements ------------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    """The most useful line of a Java exception: the deepest 'Caused by' message, else the first line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    causes = [line.split(":", 1)[1].strip() if ":" in line else line
              for line in lines if line.startswith("Caused by:")]
    candidates = [c for c in causes if c and not c.startswith(("java.util.concurrent", "org.apache.flink.runtime"))]
    if candidates:
        message = candidates[-1]
    else:
        message = next((ln for ln in lines if not ln.startswith(("at ", "py4j", "An error occurred", ": "))),
                       lines[0] if lines else text)
    message = re.sub(r"^(?:[a-z]+\.)+[A-Z]\w*(?:Exception|Error):\s*", "", message)
    return message[:500]


def _error_text(err: BaseException) -> str:
    java = getattr(err, "java_exception", None)
    if java is not None:
        try:
            text = str(java.toString())
            cause = java.getCause()
            while cause is not None:
                text += "\nCaused by: " + str(cause.toString())
                cause = cause.getCause()
            return text
        except Exception:
            pass
    return str(err)


def engine_error(err: BaseException, statement: str = "") -> EngineError:
    text = _error_text(err)
    if os.environ.get("FORMCAST_DEBUG"):
        import sys

        print(text, file=sys.stderr)
    return EngineError(_first_line(text), statement)


def substitute_env(statement: str) -> str:
    """`${env:VAR}` → the variable's value, as the inside of a SQL string literal."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise EngineError(f"environment variable {name} is not set (a connector option reads it)", "")
        return os.environ[name].replace("'", "''")

    return _ENV_REF.sub(value, statement)


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


@contextmanager
def settings(env: TableEnvironment, values: dict[str, str]) -> Iterator[None]:
    """Apply table config values for the duration of a block, then restore the previous ones."""
    conf = env.get_config().get_configuration()
    j_conf = env.get_config()._j_table_config.getConfiguration()
    previous: dict[str, str | None] = {}
    for key, value in values.items():
        previous[key] = conf.get_string(key, None) if conf.contains_key(key) else None
        env.get_config().set(key, value)
    try:
        yield
    finally:
        for key, old in previous.items():
            if old is None:
                j_conf.removeKey(key)
            else:
                env.get_config().set(key, old)


def submits_job(statement: str) -> bool:
    return statement.lstrip().upper().startswith(_JOB_STATEMENTS)


def execute(statement: str, mode: str = "batch", job_id: str | None = None) -> TableResult:
    """Run one statement; one that starts a job runs as `job_id` (or a fresh id). Errors become EngineError."""
    env = get_env(mode)
    create = _CREATE.match(statement)
    try:
        if create:
            env.drop_temporary_table(_unquote(create.group(1)))
        elif submits_job(statement):
            fresh_job_id(env, job_id)
        return env.execute_sql(substitute_env(statement))
    except EngineError as err:
        raise EngineError(str(err), statement) from None
    except Exception as err:  # py4j errors carry the Java exception
        raise engine_error(err, statement) from None


def split_settings(statements: list[str]) -> tuple[dict[str, str], list[str]]:
    """SET statements as a dict, and the other statements in order."""
    values: dict[str, str] = {}
    rest: list[str] = []
    for statement in statements:
        match = _SET.match(statement)
        if match:
            values[match.group(1).replace("''", "'")] = match.group(2).replace("''", "'")
        else:
            rest.append(statement)
    return values, rest


# --- jobs --------------------------------------------------------------------------------------------


@dataclass
class JobOutcome:
    job_id: str
    state: str
    seconds: float


def new_job_id() -> str:
    return uuid.uuid4().hex


def fresh_job_id(env: TableEnvironment, job_id: str | None = None) -> str:
    """Give the next job submitted from `env` this id (or a new one).

    The id is chosen before submission so the run record knows it up front. Flink keeps the option
    in the environment's execution config, so every submission sets a fresh one: reusing it would be
    rejected as a duplicate submission.
    """
    job_id = job_id or new_job_id()
    env.get_config().set(FIXED_JOB_ID, job_id)
    return job_id


def _final_state(job_id: str, timeout: float = 10.0) -> str:
    """The job's terminal state; the REST view may lag a moment behind the client's result."""
    deadline = time.monotonic() + timeout
    state = job_state(job_id)
    while state not in TERMINAL_STATES and time.monotonic() < deadline:
        time.sleep(0.1)
        state = job_state(job_id)
    return state or "FINISHED"


def _rest(method: str, path: str, base: str | None = None, timeout: float = 5.0) -> Any:
    url = (base or rest_url()).rstrip("/") + path
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
    return json.loads(body) if body else None


def job_state(job_id: str, base: str | None = None) -> str | None:
    try:
        return str(_rest("GET", f"/jobs/{job_id}", base)["state"])
    except (urllib.error.URLError, OSError, KeyError, ValueError, TypeError):
        return None


def cancel(job_id: str, base: str | None = None) -> bool:
    """Cancel a job through the REST endpoint it was submitted to; True if the request was accepted."""
    try:
        _rest("PATCH", f"/jobs/{job_id}?mode=cancel", base)
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


class _StateWatcher:
    """Polls the job's state over REST and reports changes."""

    def __init__(self, job_id: str, emit: Callable[[str], None] | None, interval: float = 0.5) -> None:
        self.job_id, self._emit, self._interval = job_id, emit, interval
        self.last: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _StateWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            state = job_state(self.job_id)
            if state and state != self.last:
                self.last = state
                if self._emit:
                    self._emit(f"job {self.job_id}: {state}")


def run_script(statements: list[str], mode: str, *, job_id: str | None = None,
               emit: Callable[[str], None] | None = None, wait: bool = True) -> JobOutcome:
    """Execute a compiled script; the INSERT runs as job `job_id` and is waited for unless `wait` is False."""
    env = get_env(mode)
    values, rest = split_settings(statements)
    declared = values.pop("execution.runtime-mode", mode)
    if declared != mode:
        raise EngineError(f"the script was compiled for {declared} mode, not {mode}", "")
    job_id = job_id or new_job_id()
    started = time.perf_counter()
    with settings(env, values):
        result: TableResult | None = None
        for statement in rest:
            if submits_job(statement):
                result = execute(statement, mode, job_id)
                if emit:
                    emit(f"job {job_id} submitted to {describe_target()} ({rest_url()})")
            else:
                execute(statement, mode)
        if result is None:
            return JobOutcome(job_id, "FINISHED", time.perf_counter() - started)
        if not wait:
            return JobOutcome(job_id, job_state(job_id) or "RUNNING", time.perf_counter() - started)
        with _StateWatcher(job_id, emit) as watcher:
            try:
                result.wait()
            except KeyboardInterrupt:
                cancel(job_id)
                raise
            except Exception as err:
                state = _final_state(job_id, timeout=5.0)
                if state == "CANCELED":
                    return JobOutcome(job_id, "CANCELED", time.perf_counter() - started)
                raise engine_error(err) from None
        state = _final_state(job_id)
        if emit and watcher.last != state:
            emit(f"job {job_id}: {state}")
        return JobOutcome(job_id, state, time.perf_counter() - started)


# --- results -----------------------------------------------------------------------------------------


def query(sql: str, mode: str = "batch") -> Table:
    try:
        return get_env(mode).sql_query(substitute_env(sql))
    except EngineError:
        raise
    except Exception as err:
        raise engine_error(err, sql) from None


def _env_of(table: Table) -> TableEnvironment:
    return table._t_env


def to_rows(table: Table, limit: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """A result's rows as Python dicts, through Arrow (`to_pandas`), never row by row."""
    if limit is not None:
        table = table.limit(limit)
    try:
        fresh_job_id(_env_of(table))
        frame = table.to_pandas()
    except Exception as err:
        raise engine_error(err) from None
    columns = [str(c) for c in frame.columns]
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [{k: _plain(v) for k, v in row.items()} for row in records], columns


def _plain(value: Any) -> Any:
    """numpy/pandas scalars → plain Python values."""
    if value is None:
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    return value


def explain(statement: str, mode: str = "batch") -> str:
    try:
        return str(get_env(mode).explain_sql(substitute_env(statement)))
    except EngineError:
        raise
    except Exception as err:
        raise engine_error(err, statement) from None


def first_rows(table: Table, limit: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The first `limit` rows of an unbounded result (to_pandas would wait forever); the job is cancelled after."""
    try:
        fresh_job_id(_env_of(table))
        result = table.limit(limit).execute()
        columns = list(result.get_table_schema().get_field_names())
        rows: list[dict[str, Any]] = []
        with result.collect() as iterator:
            for row in iterator:
                rows.append(dict(zip(columns, (_plain(v) for v in row), strict=True)))
                if len(rows) >= limit:
                    break
        return rows, columns
    except Exception as err:
        raise engine_error(err) from None
