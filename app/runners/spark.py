"""Runs compiled scripts on Spark: an embedded local[*] session, or the cluster FORMCAST_SPARK_MASTER names.

One SparkSession per process (JVM start costs ~10 s), created on first use and kept warm.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_LOCK = threading.Lock()
_SESSION: SparkSession | None = None


class EngineError(RuntimeError):
    """An error raised by the engine while analyzing or running a statement."""

    def __init__(self, message: str, statement: str = "", error_class: str | None = None) -> None:
        super().__init__(message)
        self.statement = statement
        self.error_class = error_class


@dataclass(frozen=True)
class SparkCapabilities:
    supports_merge: bool = False  # plain parquet tables: upsert is done by rewrite
    supports_streaming: bool = False


def master_url() -> str:
    remote = remote_url()
    return f"Spark Connect {remote}" if remote else os.environ.get("FORMCAST_SPARK_MASTER", "local[*]")


def remote_url() -> str | None:
    """FORMCAST_SPARK_REMOTE (sc://host:15002): run through Spark Connect instead of an embedded driver.

    The Connect client needs pyarrow >= 18, which PyFlink's pins forbid: install `formcast[spark-connect]`
    in a Spark-only environment."""
    return os.environ.get("FORMCAST_SPARK_REMOTE") or None


def get_session() -> SparkSession:
    """The process-wide SparkSession (created lazily)."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            from pyspark.sql import SparkSession

            remote = remote_url()
            if remote:
                try:
                    _SESSION = SparkSession.builder.remote(remote).appName("formcast").getOrCreate()
                except ImportError as err:
                    raise EngineError(
                        f"Spark Connect needs its client packages ({err.name or err}): install "
                        "formcast[spark-connect] in a Spark-only environment, or unset FORMCAST_SPARK_REMOTE"
                    ) from None
                return _SESSION
            builder = (
                SparkSession.builder.master(master_url())
                .appName("formcast")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", os.environ.get("FORMCAST_SPARK_SHUFFLE_PARTITIONS", "4"))
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.sources.partitionOverwriteMode", "static")
                .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
                .config("spark.sql.warehouse.dir", os.path.join(_home(), "spark-warehouse"))
            )
            _SESSION = builder.getOrCreate()
            _SESSION.sparkContext.setLogLevel("ERROR")
            # Errors reach the user once, as EngineError; PySpark would also log each with its JVM trace.
            logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        return _SESSION


def _home() -> str:
    return os.path.abspath(os.environ.get("FORMCAST_HOME", ".formcast"))


def execute(statement: str) -> Any:
    """Run one statement; engine errors become EngineError with Spark's error class."""
    from pyspark.errors import PySparkException

    session = get_session()
    try:
        return session.sql(statement)
    except PySparkException as err:
        error_class = err.getCondition() if hasattr(err, "getCondition") else None
        raise EngineError(_first_line(str(err)), statement, error_class) from None
    except Exception as err:  # py4j errors from the JVM carry the useful line first
        raise EngineError(_first_line(str(err)), statement) from None


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()[:500]
    return text[:500]


class ProgressReporter:
    """Polls Spark's status tracker and reports stage progress while a statement runs."""

    def __init__(self, emit: Callable[[str], None], interval: float = 1.0) -> None:
        self._emit = emit
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ProgressReporter:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _loop(self) -> None:
        if remote_url():
            return  # Spark Connect has no status tracker on the client
        tracker = get_session().sparkContext.statusTracker()
        last = ""
        while not self._stop.wait(self._interval):
            parts = []
            for stage_id in tracker.getActiveStageIds():
                info = tracker.getStageInfo(stage_id)
                if info is not None:
                    parts.append(f"stage {stage_id}: {info.numCompletedTasks}/{info.numTasks} tasks")
            line = ", ".join(parts)
            if line and line != last:
                self._emit(line)
                last = line


def drop_session_table(name: str) -> None:
    """Forget a session-catalog table (its files stay): the next CREATE may point it elsewhere."""
    from sqlglot import exp

    db, _, table = name.rpartition(".")
    target = exp.table_(table, db=db or None, quoted=True)
    execute(exp.Drop(tables=[target], kind="TABLE", exists=True).sql(dialect="spark"))


def count_rows(path: str, fmt: str, options: dict[str, str] | None = None) -> int:
    reader = get_session().read.format(fmt)
    for key, value in (options or {}).items():
        reader = reader.option(key, value)
    return reader.load(path).count()
