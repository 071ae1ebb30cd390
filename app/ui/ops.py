"""Data shaping for the Operations page (no Streamlit here): the instance grid, reruns, the SLA board.

All of it reads and writes through the scheduler's state layer (`app.scheduler.sql_state.SqlState`),
the same one `formcast instances/backfill` and the scheduler use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from app.scheduler.model import FAILED, READY, RETRYING, RUNNING, SUCCEEDED, TERMINAL, WAITING, Instance
from app.security import audit, policy
from app.security.identity import Principal

ICONS = {SUCCEEDED: "✅", FAILED: "❌", RUNNING: "🔄", RETRYING: "🔁", READY: "🟡", WAITING: "⏳"}
COLORS = {SUCCEEDED: "#c8e6c9", FAILED: "#ffcdd2", RUNNING: "#bbdefb", RETRYING: "#ffe0b2", READY: "#fff9c4",
          WAITING: "#eeeeee"}
WORST_FIRST = (FAILED, RETRYING, RUNNING, READY, WAITING, SUCCEEDED)  # the state a day's cell shows


class RerunError(ValueError):
    pass


def fmt_time(value: float | None) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M") if value else ""


def day_of(key: str) -> str:
    """The logical date of a key (`2024-06-01`, or `2024-06-01T13:00` for sub-daily schedules)."""
    return key[:10]


@dataclass
class Grid:
    frame: pd.DataFrame  # index: task, columns: logical dates (oldest left), cells: "<icon> <state>[ n/m]"
    states: pd.DataFrame  # same shape: the state the cell is coloured by ("" where no instance)
    cells: dict[tuple[str, str], list[Instance]]  # (task, date) -> its instances, worst state first

    def styled(self) -> Any:
        states = self.states
        return self.frame.style.apply(lambda col: [f"background-color: {COLORS[s]}" if s else ""
                                                   for s in states[col.name]], axis=0)


def grid(instances: Iterable[Instance], dates: int, tasks: Iterable[str] | None = None) -> Grid:
    chosen = set(tasks) if tasks else None
    found = [i for i in instances if chosen is None or i.task in chosen]
    days = sorted({day_of(i.key) for i in found})[-dates:] if dates > 0 else []
    names = sorted({i.task for i in found if day_of(i.key) in days})
    cells: dict[tuple[str, str], list[Instance]] = {}
    for inst in found:
        if day_of(inst.key) in days:
            cells.setdefault((inst.task, day_of(inst.key)), []).append(inst)
    for group in cells.values():
        group.sort(key=lambda i: (WORST_FIRST.index(i.state) if i.state in WORST_FIRST else 0, i.key))
    text = pd.DataFrame("", index=pd.Index(names, name="task"), columns=days)
    states = pd.DataFrame("", index=text.index, columns=days)
    for (task, day), group in cells.items():
        worst = group[0].state
        label = f"{ICONS.get(worst, '')} {worst}"
        if len(group) > 1:
            label += f" {sum(i.state == worst for i in group)}/{len(group)}"
        text.loc[task, day] = label
        states.loc[task, day] = worst
    return Grid(text, states, cells)


def rerun(state: Any, instance_id: int, now: float, principal: Principal, target: str, env: str = "prod"
          ) -> Instance:
    """Reset a finished instance so the scheduler runs it again, with the version it first ran with.

    Needs `operate` on the task's target (`policy.AccessDenied` otherwise); recorded in the audit log.
    `SqlState.requeue` (the primitive backfills use) resets it to waiting, keeping its kind (a rerun of
    a scheduled instance keeps its task's priority); the generation bump makes running schedulers reload.
    """
    inst = state.get(instance_id)
    if inst is None:
        raise RerunError(f"no instance {instance_id}")
    label = f"task {inst.task} {inst.key} v{inst.version}"
    policy.require(state, principal, "operate", target, env, audit_action="rerun", audit_target=label)
    if inst.state not in TERMINAL:
        raise RerunError(f"{inst.task} {inst.key} is {inst.state}: only a finished instance can be rerun")
    if not state.requeue(instance_id, inst.kind, now):
        raise RerunError(f"{inst.task} {inst.key} changed meanwhile: look again")
    state.bump()
    audit.record(state, principal, "rerun", label, env=env)
    found = state.get(instance_id)
    assert found is not None
    return found


def instance_facts(inst: Instance) -> dict[str, Any]:
    return {
        "id": inst.id, "task": inst.task, "logical key": inst.key, "pinned version": inst.version, "kind": inst.kind,
        "state": inst.state, "attempts": f"{inst.attempts}/{inst.max_attempts}" + (f" (+{inst.lost} lost)"
                                                                                   if inst.lost else ""),
        "priority": f"P{inst.priority}", "pool": inst.pool, "scheduled (UTC)": fmt_time(inst.scheduled_at),
        "started": fmt_time(inst.started_at), "ended": fmt_time(inst.ended_at), "deadline": fmt_time(inst.deadline),
        "predicted finish": fmt_time(inst.predicted_finish), "run id": inst.run_id or "",
    }


def attempt_frame(rows: Iterable[Any]) -> pd.DataFrame:
    out = []
    for a in rows:
        seconds = (a.ended_at - a.started_at).total_seconds() if a.ended_at and a.started_at else None
        out.append({"attempt": a.attempt, "version": a.version, "status": a.status, "owner": a.owner,
                    "started (UTC)": a.started_at.strftime("%Y-%m-%d %H:%M:%S") if a.started_at else "",
                    "seconds": seconds, "error": a.error or "", "run id": a.run_id or ""})
    return pd.DataFrame(out, columns=["attempt", "version", "status", "owner", "started (UTC)", "seconds", "error",
                                      "run id"])


def sla_verdict(inst: Instance, now: float, margin: float) -> tuple[str, float | None]:
    """(verdict, slack in minutes: deadline minus finish or predicted finish) for an instance with a deadline."""
    assert inst.deadline is not None
    if inst.state == SUCCEEDED:
        end = inst.ended_at or now
        return ("met" if end <= inst.deadline else "missed"), (inst.deadline - end) / 60
    if inst.state == FAILED:
        return ("missed" if now > inst.deadline else "failed"), None
    if now > inst.deadline:
        return "missed", (inst.deadline - (inst.predicted_finish or now)) / 60
    if inst.predicted_finish is None:
        return "no prediction yet", None
    slack = (inst.deadline - inst.predicted_finish) / 60
    if slack < 0:
        return "late (predicted)", slack
    return ("at risk" if slack * 60 < margin else "on track"), slack


VERDICT_ORDER = ("missed", "failed", "late (predicted)", "at risk", "no prediction yet", "on track", "met")


def sla_frame(instances: Iterable[Instance], now: float, margin: float, *, finished: bool) -> pd.DataFrame:
    rows = []
    for inst in instances:
        if inst.deadline is None or (not finished and inst.state == SUCCEEDED):
            continue
        verdict, slack = sla_verdict(inst, now, margin)
        rows.append({"verdict": verdict, "task": inst.task, "logical key": inst.key, "state": inst.state,
                     "priority": f"P{inst.priority}", "deadline (UTC)": fmt_time(inst.deadline),
                     "predicted finish": fmt_time(inst.predicted_finish),
                     "ended": fmt_time(inst.ended_at), "slack (min)": None if slack is None else round(slack, 1)})
    rows.sort(key=lambda r: (VERDICT_ORDER.index(r["verdict"]), r["slack (min)"] if r["slack (min)"] is not None
                             else -1e9, r["task"]))
    return pd.DataFrame(rows, columns=["verdict", "task", "logical key", "state", "priority", "deadline (UTC)",
                                       "predicted finish", "ended", "slack (min)"])


def alert_frame(rows: Iterable[Any]) -> pd.DataFrame:
    def t(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else ""

    out = [{"condition": a.condition, "open": a.resolved_at is None, "task": a.task, "logical key": a.logical_key,
            "raised (UTC)": t(a.raised_at), "resolved": t(a.resolved_at), "deadline": t(a.deadline_at),
            "predicted": t(a.predicted_finish), "message": a.message} for a in rows]
    return pd.DataFrame(out, columns=["condition", "open", "task", "logical key", "raised (UTC)", "resolved",
                                      "deadline", "predicted", "message"])
