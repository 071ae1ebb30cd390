"""The long-running scheduler process: the core's ticks on the wall clock, jobs in worker threads.

Crash safety: every claim is a lease in the database, renewed by heartbeats from this loop. After
a crash (even `kill -9`) the restarted process sees the dead owner (same host, pid gone) or the
expired lease, asks the executor whether the lost attempt finished (`recover`) and otherwise runs
the instance again. Finished instances are never run again: a claim only succeeds on a ready one.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from app.scheduler.core import Scheduler
from app.scheduler.executors import Executor
from app.scheduler.model import Job, Outcome

log = logging.getLogger("formcast.scheduler")


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str, me: str) -> bool:
    """A lease held by a process on this host that no longer exists is dead now, not at expiry."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or owner == me:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # an earlier incarnation with a reused pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class _Active:
    job: Job
    cancel: threading.Event
    timeout: float | None


class SchedulerService:
    def __init__(self, core: Scheduler, executor: Executor, *, tick: float = 1.0, workers: int = 8,
                 clock: Callable[[], float] = time.time) -> None:
        self.core = core
        self.executor = executor
        self.tick = tick
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="formcast-run")
        self._done: queue.Queue[tuple[Job, Outcome]] = queue.Queue()
        self._active: dict[int, _Active] = {}
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def _run_job(self, job: Job, cancel: threading.Event) -> None:
        try:
            outcome = self.executor.execute(job, cancel)
        except Exception as err:  # a crashing executor is a failed attempt, not a dead scheduler
            log.exception("%s %s: executor raised", job.task, job.key)
            outcome = Outcome("failed", f"{type(err).__name__}: {err}")
        self._done.put((job, outcome))

    def _drain(self, block: float = 0.0) -> None:
        try:
            item = self._done.get(timeout=block) if block > 0 else self._done.get_nowait()
        except queue.Empty:
            return
        while True:
            job, outcome = item
            if self._active.pop(job.instance_id, None) is not None:
                self.core.complete(job, outcome, self.clock())
                log.info("%s %s v%s attempt %s: %s%s", job.task, job.key, job.version, job.attempt, outcome.status,
                         f" ({outcome.error})" if outcome.error else "")
            try:
                item = self._done.get_nowait()
            except queue.Empty:
                return

    def _timeouts(self, now: float) -> None:
        for iid, active in list(self._active.items()):
            if active.timeout is not None and now - active.job.started_at > active.timeout:
                active.cancel.set()
                del self._active[iid]  # its late result is ignored
                self.core.complete(active.job, Outcome("failed", f"timed out after {active.timeout:.0f} s"), now)

    def step(self) -> list[Job]:
        """One pass: record finished jobs, enforce timeouts, tick, start what was dispatched, heartbeat."""
        self._drain()
        now = self.clock()
        self._timeouts(now)
        jobs = self.core.tick(now)
        for job in jobs:
            inst = self.core.instances.get(job.instance_id)
            active = _Active(job, threading.Event(), inst.timeout if inst else None)
            self._active[job.instance_id] = active
            log.info("%s %s v%s: dispatched (attempt %s)", job.task, job.key, job.version, job.attempt)
            self._pool.submit(self._run_job, job, active.cancel)
        self.core.heartbeat(now)
        return jobs

    def run(self, *, once: bool = False, until_idle: bool = False, max_seconds: float | None = None) -> None:
        started = time.monotonic()
        try:
            self.step()
            while not self._stop.is_set():
                if once and not self._active:
                    return
                if until_idle and not self._active and self.core.idle():
                    return
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    return
                self._drain(block=min(self.tick, self.core.config.lease_seconds / 3))
                if once:
                    self._drain()
                    self.core.heartbeat(self.clock())
                    continue
                self.step()
        finally:
            for active in self._active.values():
                active.cancel.set()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._drain()
