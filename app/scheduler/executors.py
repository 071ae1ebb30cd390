"""Executors run one claimed instance. The real one runs the pinned version with `app.workflow.runs.run`.

`recover(job)` answers, after the process that ran `job` died, whether that attempt finished anyway
(its result is then recorded instead of running it again): the Spark executor looks in the
catalog's run history, the touch executor for its marker file.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from app.scheduler.model import Job, Outcome
from app.security.identity import Principal
from app.security.policy import AccessDenied
from generators.tasks.cron import key_date

log = logging.getLogger("formcast.scheduler.executor")


class Executor(Protocol):
    def execute(self, job: Job, cancel: threading.Event) -> Outcome: ...
    def recover(self, job: Job) -> Outcome | None: ...


class SparkExecutor:
    """Compiles the pinned version for the instance's logical date and runs it (Spark or Flink by its engine),
    as the scheduler's principal (a service account in production): every run is authorized and audited
    like any other, and a denial fails the instance with the policy's message.

    Runs are serialized: one local SparkSession per process, and the compile cache is not shared
    across threads.
    """

    def __init__(self, catalog: Any, env: str = "dev", *, principal: Principal) -> None:
        self.catalog = catalog
        self.env = env
        self.principal = principal
        self._lock = threading.Lock()

    def execute(self, job: Job, cancel: threading.Event) -> Outcome:
        from app.workflow import runs, versions
        from generators.compile import Compiler

        version = versions.get(self.catalog, job.task, job.version)
        if version is None:
            return Outcome("failed", f"{job.task} has no version {job.version}")
        task = version.task_model()
        with self._lock:
            if cancel.is_set():
                return Outcome("failed", "cancelled before it started")
            try:
                result = runs.run(Compiler(self.catalog), task, self.catalog, principal=self.principal, env=self.env,
                                  logical_date=key_date(job.key),
                                  emit=lambda line: log.info("%s: %s", job.task, line))
            except AccessDenied as err:
                return Outcome("failed", f"denied: {err}")
        if result.status == "succeeded":
            return Outcome("succeeded", run_id=result.run_id)
        return Outcome("failed", result.error or result.status, result.run_id or None)

    def recover(self, job: Job) -> Outcome | None:
        from app.workflow import versions

        version = versions.get(self.catalog, job.task, job.version)
        day = key_date(job.key).isoformat()
        for record in self.catalog.runs(task=job.task, limit=100):
            if (record.status == "succeeded" and (record.logical_date or "")[:10] == day
                    and record.started_at.timestamp() >= job.started_at - 1
                    and (version is None or record.config_hash == version.config_hash)):
                return Outcome("succeeded", run_id=record.id)
        return None


class TouchExecutor:
    """A fast, real executor for tests and demos: sleeps, then writes one marker file per execution.

    Marker files are written atomically (temp file + rename), so counting them counts executions.
    `fail` maps a task to how many of its first attempts fail.
    """

    def __init__(self, directory: str | Path, seconds: float = 0.2, fail: dict[str, int] | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.seconds = seconds
        self.fail = fail or {}

    def marker(self, job: Job) -> Path:
        # the claim time tells a rerun's attempt 1 from the first run's
        return self.directory / f"{job.task}__{job.key.replace(':', '-')}__a{job.attempt}__{round(job.started_at)}.done"

    def execute(self, job: Job, cancel: threading.Event) -> Outcome:
        if cancel.wait(self.seconds):
            return Outcome("failed", "cancelled")
        if job.attempt <= self.fail.get(job.task, 0):
            return Outcome("failed", f"injected failure (attempt {job.attempt})")
        final = self.marker(job)
        temp = final.with_suffix(f".tmp{os.getpid()}")
        temp.write_text(f"{job.task} {job.key} v{job.version} attempt {job.attempt} at {time.time()}\n")
        os.replace(temp, final)
        return Outcome("succeeded", run_id=final.name)

    def recover(self, job: Job) -> Outcome | None:
        return Outcome("succeeded", run_id=self.marker(job).name) if self.marker(job).exists() else None


def build_executor(spec: str, catalog: Any, env: str, principal: Principal) -> Executor:
    """`spark`, `touch:DIR[:SECONDS]`, or `package.module:factory` (called with catalog, env, principal=...)."""
    if spec == "spark":
        return SparkExecutor(catalog, env, principal=principal)
    if spec.startswith("touch:"):
        parts = spec.split(":")
        return TouchExecutor(parts[1], float(parts[2]) if len(parts) > 2 else 0.2)
    module, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"executor '{spec}': use spark, touch:DIR[:SECONDS] or module:factory")
    return getattr(importlib.import_module(module), attr)(catalog, env, principal=principal)
