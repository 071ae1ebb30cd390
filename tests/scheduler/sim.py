"""A tiny virtual-clock driver for the scheduling core: jobs finish after a given duration."""

from __future__ import annotations

from collections.abc import Callable

from app.scheduler.core import Scheduler
from app.scheduler.model import Job, Outcome


class Sim:
    def __init__(self, core: Scheduler, duration: Callable[[Job], float] | float = 60.0,
                 outcome: Callable[[Job], str] | None = None) -> None:
        self.core = core
        self.duration = duration if callable(duration) else (lambda job, d=duration: d)
        self.outcome = outcome or (lambda job: "succeeded")
        self.running: dict[Job, float] = {}
        self.dispatched: list[tuple[float, Job]] = []
        self.finished: list[tuple[float, Job, str]] = []

    def run(self, start: float, end: float, step: float = 60.0) -> None:
        now = start
        while now <= end:
            for job, done in sorted(self.running.items(), key=lambda item: item[1]):
                if done <= now:
                    del self.running[job]
                    status = self.outcome(job)
                    self.core.complete(job, Outcome(status, None if status == "succeeded" else "boom"), now)
                    self.finished.append((now, job, status))
            for job in self.core.tick(now):
                self.dispatched.append((now, job))
                self.running[job] = now + self.duration(job)
            now += step

    def order(self) -> list[str]:
        return [job.task for _, job in self.dispatched]
