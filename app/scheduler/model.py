"""The scheduler's vocabulary: task definitions, instances, claims, outcomes and settings.

Times inside the core are float seconds since the epoch (UTC): cheap to compare and to simulate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

PRIORITIES = ("P0", "P1", "P2", "P3")
BACKFILL_CLASS = len(PRIORITIES)  # a class below P3: backfills never go ahead of scheduled work
FAR = 1e18  # "no deadline" in sort keys

WAITING, READY, RETRYING, RUNNING, SUCCEEDED, FAILED = "waiting", "ready", "retrying", "running", "succeeded", "failed"
TERMINAL = (SUCCEEDED, FAILED)


def ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def priority_rank(priority: str) -> int:
    return PRIORITIES.index(priority)


@dataclass
class TaskDef:
    """A deployed task as the scheduler sees it (version pinned at instance creation)."""

    name: str
    version: int
    priority: int  # 0 = P0
    cron: str | None
    timezone: str = "UTC"
    deadline: str | None = None  # "HH:MM" local, the day after the logical date
    deadline_tz: str = "UTC"
    pool: str = "default"
    retries: int = 2
    retry_delay: float = 60.0
    timeout: float | None = None
    depends_on: tuple[str, ...] = ()  # explicit upstream tasks
    target: str = ""
    reads: tuple[str, ...] = ()
    engine: str = "spark"
    paused: bool = False


@dataclass(slots=True)
class Instance:
    """One run of a task for one logical key; unique per (task, key)."""

    task: str
    key: str
    version: int
    priority: int
    scheduled_at: float
    kind: str = "scheduled"  # scheduled | backfill
    state: str = WAITING
    pool: str = "default"
    deadline: float | None = None
    max_attempts: int = 3
    retry_delay: float = 60.0
    timeout: float | None = None
    id: int = 0
    attempts: int = 0
    lost: int = 0  # attempts whose executor died (crash): they do not use up retries
    ready_at: float | None = None
    next_try_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    lease_owner: str | None = None
    lease_until: float | None = None
    predicted_finish: float | None = None
    error: str | None = None
    run_id: str | None = None

    @property
    def cls(self) -> int:
        return BACKFILL_CLASS if self.kind == "backfill" else self.priority


@dataclass(frozen=True)
class Job:
    """What an executor is asked to run: an instance's pinned version for its logical key."""

    instance_id: int
    task: str
    key: str
    version: int
    attempt: int
    started_at: float


@dataclass(frozen=True)
class Outcome:
    status: str  # succeeded | failed
    error: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Alert:
    instance_id: int
    task: str
    key: str
    condition: str  # sla_risk | sla_missed
    state: str  # raised | resolved
    at: float
    deadline: float
    predicted_finish: float | None
    message: str

    def as_dict(self) -> dict[str, object]:
        return {
            "instance_id": self.instance_id, "task": self.task, "logical_key": self.key,
            "condition": self.condition, "state": self.state, "at": dt(self.at).isoformat(),
            "deadline": dt(self.deadline).isoformat(),
            "predicted_finish": dt(self.predicted_finish).isoformat() if self.predicted_finish else None,
            "message": self.message,
        }


@dataclass
class SchedulerConfig:
    pools: dict[str, int] = field(default_factory=lambda: {"default": 4})
    default_pool_slots: int = 4  # a pool not configured gets this many
    lease_seconds: float = 30.0
    aging_step: float = 900.0  # every 15 min of waiting lifts an instance one priority class
    backfill_share: float = 0.5  # backfills use at most this share of a pool's slots...
    backfill_reserve: int = 1  # ...and always leave this many slots free for scheduled work
    retry_cap: float = 3600.0  # exponential backoff: delay * 2**(n-1), capped
    max_lost: int = 5  # give up on an instance whose executor died this many times
    sla_margin: float = 90 * 60.0
    default_duration: float = 600.0  # predicted duration of a task with no successful run yet
    tier_deadlines: dict[int, tuple[str, str]] = field(default_factory=dict)  # rank -> (HH:MM, tz)
    catchup: float = 86400.0  # a newly seen task's cron is evaluated from this far back
    sla_interval: float = 30.0
    history: int = 20  # durations kept per task for the p90

    def slots(self, pool: str) -> int:
        return self.pools.get(pool, self.default_pool_slots)
