"""Backfills: instances for a range of logical dates, in the backfill class (below P3, never ahead of P0).

Modes: `missing` creates instances for dates that have none; `failed` reruns failed ones; `all`
does both and reruns succeeded ones too. Running or queued instances are left alone. Reruns keep
the version the instance first ran with; new instances pin the currently deployed version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from app.scheduler.core import Scheduler
from app.scheduler.model import FAILED, SUCCEEDED, TaskDef
from app.scheduler.sql_state import SqlState
from app.security import audit, policy
from app.security.identity import Principal
from generators.tasks import cron

MODES = ("missing", "failed", "all")


class BackfillError(ValueError):
    pass


@dataclass
class BackfillPlan:
    task: str
    mode: str
    create: list[str] = field(default_factory=list)  # keys
    rerun: list[tuple[int, str, str, int]] = field(default_factory=list)  # (id, key, state, pinned version)
    skip: list[tuple[str, str]] = field(default_factory=list)  # (key, state)

    @property
    def size(self) -> int:
        return len(self.create) + len(self.rerun)


def keys_for(t: TaskDef, start: date, end: date) -> list[str]:
    if end < start:
        raise BackfillError(f"--to {end} is before --from {start}")
    if t.cron:
        return cron.keys_in_range(t.cron, t.timezone, start, end)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def plan(state: SqlState, t: TaskDef, start: date, end: date, mode: str) -> BackfillPlan:
    if mode not in MODES:
        raise BackfillError(f"mode '{mode}' is not one of {', '.join(MODES)}")
    result = BackfillPlan(t.name, mode)
    for key in keys_for(t, start, end):
        found = state.find(t.name, key)
        if found is None:
            if mode in ("missing", "all"):
                result.create.append(key)
            else:
                result.skip.append((key, "none"))
        elif (found.state == FAILED and mode in ("failed", "all")) or (found.state == SUCCEEDED and mode == "all"):
            result.rerun.append((found.id, key, found.state, found.version))
        else:
            result.skip.append((key, found.state))
    return result


def apply(state: SqlState, core: Scheduler, t: TaskDef, backfill: BackfillPlan, now: float, principal: Principal,
          env: str = "prod") -> int:
    """Write the plan as `principal` (needs `operate` on the task's target in env); the running scheduler
    picks it up at its next tick (generation bump). Recorded in the audit log."""
    keys = [*backfill.create, *(key for _, key, *_ in backfill.rerun)]
    label = f"task {t.name} v{t.version} " + (f"{min(keys)}..{max(keys)}" if keys else "(nothing)")
    policy.require(state, principal, "operate", t.target, env, audit_action="backfill", audit_target=label)
    fresh = [core.new_instance(t, key, now, kind="backfill") for key in backfill.create]
    created = state.add_instances(fresh)
    reruns = sum(state.requeue(iid, "backfill", now) for iid, *_ in backfill.rerun)
    state.bump()
    audit.record(state, principal, "backfill", label, env=env,
                 detail={"mode": backfill.mode, "created": len(created), "reruns": reruns})
    return len(created) + reruns
