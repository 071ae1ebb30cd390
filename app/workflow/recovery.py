"""Runs whose process died: found, closed and cleaned up at the next run and at scheduler start.

A run records who runs it (`host`, `pid`, the process's start time — a reused pid is another process)
and, for a file target, where it publishes. When that process is gone, the run record is closed:

* `succeeded` if its publish had committed (the target holds its output; only cleanup was lost),
* `lost` otherwise, with the reason; the staging folder it left is removed and an old table a
  two-rename commit had moved aside is put back (see app/workflow/staging.py).

Runs of other hosts are left alone (their process cannot be seen from here), as are Flink jobs a
remote cluster still runs.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.workflow import staging

RUN_KEY_LEN = 12  # staging folders carry the first characters of the run id


def run_key(run_id: str) -> str:
    return run_id[:RUN_KEY_LEN]


def process_identity() -> dict[str, Any]:
    """What a run record stores so a later process can tell whether the run's process still lives."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "pid_started": _started(os.getpid())}


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), which tells a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_gone(details: dict[str, Any]) -> str | None:
    """Why the run's process is known to be gone, or None (alive, or not visible from this host)."""
    pid, host = details.get("pid"), details.get("host")
    if not isinstance(pid, int) or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"its process {pid} on {host} ended without recording the end of the run"
    except PermissionError:
        return None
    if pid == os.getpid() and details.get("pid_started") == _started(pid):
        return None  # this very process: the run is in progress here
    started = details.get("pid_started")
    if started is not None and _started(pid) not in (None, started):
        return f"its process {pid} on {host} ended (the pid now belongs to another process)"
    return None


@dataclass
class Closed:
    run_id: str
    task: str
    status: str
    reason: str
    removed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        removed = f"; removed {', '.join(self.removed)}" if self.removed else ""
        return f"run {self.run_id[:12]} of {self.task} closed as {self.status}: {self.reason}{removed}"


def _remote_job_running(details: dict[str, Any]) -> bool:
    if not str(details.get("flink", "")).startswith("remote") or not details.get("job_id"):
        return False
    from app.runners import flink as flink_runner

    state = flink_runner.job_state(str(details["job_id"]), details.get("rest_url"))
    return state in ("CREATED", "RUNNING", "RESTARTING", "INITIALIZING", "RECONCILING")


def recover_runs(store: Any, emit: Callable[[str], None] | None = None) -> list[Closed]:
    """Close every running record whose process is gone and repair what its publish left."""
    from catalog.errors import CatalogError

    closed: list[Closed] = []
    for record in store.runs(status="running", limit=1000):
        reason = process_gone(record.details)
        if reason is None or _remote_job_running(record.details):
            continue
        target = record.details.get("publish_target")
        outcome = staging.recover(target, run_key(record.id)) if target else None
        if outcome is not None and outcome.committed:
            status = "succeeded"
            reason += f"; its output had been published to {target}, only the cleanup was left"
        else:
            status = "lost"
            if outcome is not None:
                reason += "; its output was not published, the target is as before"
                if outcome.restored:
                    reason += " (the old table was moved back in place)"
        removed = outcome.removed if outcome is not None else []
        try:
            store.finish_run(record.id, status, error=None if status == "succeeded" else reason,
                             details={"recovered": reason, "removed": removed})
        except CatalogError:
            continue  # another process closed it meanwhile
        item = Closed(record.id, record.task, status, reason, removed)
        closed.append(item)
        if emit is not None:
            emit(str(item))
    return closed


def sweep_target(store: Any, target: str, emit: Callable[[str], None] | None = None) -> list[str]:
    """Remove staging and trash folders beside `target` that belong to no running run."""
    running = [run_key(r.id) for r in store.runs(status="running", limit=1000)]
    removed = staging.sweep(target, live=lambda key: any(r.startswith(key) for r in running))
    if removed and emit is not None:
        emit(f"removed leftovers of interrupted runs: {', '.join(removed)}")
    return removed
