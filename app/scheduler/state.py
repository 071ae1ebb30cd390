"""Where the scheduler keeps its state: the interface, and an in-memory backend (tests, benchmark).

The production backend is `app.scheduler.sql_state.SqlState` (the catalog database). Every state
change that matters after a crash goes through here; claims and finishes are conditional so two
scheduler processes can never both run, or both close, the same instance.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import replace
from typing import Protocol

from app.scheduler.model import RUNNING, TERMINAL, Alert, Instance, TaskDef


class StateStore(Protocol):
    def tasks(self) -> list[TaskDef]: ...
    def generation(self) -> int: ...
    def cursors(self) -> dict[str, float]: ...
    def set_cursor(self, task: str, fire: float) -> None: ...
    def add_instances(self, instances: list[Instance]) -> list[Instance]:
        """Insert with ids assigned; a (task, key) that exists already is skipped. Returns the new ones."""
        ...
    def load_instances(self, since: float) -> list[Instance]:
        """Unfinished instances, and finished ones that ended after `since`."""
        ...
    def find(self, task: str, key: str) -> Instance | None: ...
    def save(self, inst: Instance) -> None: ...
    def claim(self, inst: Instance, owner: str, lease_until: float, now: float) -> bool:
        """Atomically: if `inst` is still ready/retrying, make it running under `owner` and record the attempt."""
        ...
    def renew(self, owner: str, ids: list[int], lease_until: float) -> None: ...
    def finish(self, inst: Instance, owner: str, attempt_status: str, now: float) -> bool:
        """Atomically: if `owner` still holds the lease, store `inst`'s new fields and close the attempt."""
        ...
    def durations(self, task: str, limit: int) -> list[float]: ...
    def record_alert(self, alert: Alert) -> None: ...
    def open_alerts(self) -> set[tuple[int, str]]: ...


class MemoryState:
    """Everything in dicts: O(1) per operation, for the virtual-clock tests and the benchmark."""

    def __init__(self, tasks: list[TaskDef] | None = None) -> None:
        self._tasks = {t.name: t for t in tasks or []}
        self._gen = 0
        self._cursors: dict[str, float] = {}
        self.instances: dict[int, Instance] = {}
        self._by_key: dict[tuple[str, str], int] = {}
        self._ids = itertools.count(1)
        self.attempts: list[tuple[int, int, str, str]] = []  # (instance id, attempt, owner, status)
        self._durations: dict[str, list[float]] = defaultdict(list)
        self.alerts: list[Alert] = []
        self._open: set[tuple[int, str]] = set()

    # tasks
    def set_tasks(self, tasks: list[TaskDef]) -> None:
        self._tasks = {t.name: t for t in tasks}
        self._gen += 1

    def tasks(self) -> list[TaskDef]:
        return list(self._tasks.values())

    def generation(self) -> int:
        return self._gen

    def bump(self) -> None:
        self._gen += 1

    def cursors(self) -> dict[str, float]:
        return dict(self._cursors)

    def set_cursor(self, task: str, fire: float) -> None:
        self._cursors[task] = fire

    # instances: copies are stored so that callers' objects and the store's "disk" stay apart
    def add_instances(self, instances: list[Instance]) -> list[Instance]:
        created = []
        for inst in instances:
            if (inst.task, inst.key) in self._by_key:
                continue
            inst.id = next(self._ids)
            self._by_key[(inst.task, inst.key)] = inst.id
            self.instances[inst.id] = replace(inst)
            created.append(inst)
        return created

    def load_instances(self, since: float) -> list[Instance]:
        return [replace(i) for i in self.instances.values()
                if i.state not in TERMINAL or (i.ended_at or 0) >= since]

    def find(self, task: str, key: str) -> Instance | None:
        iid = self._by_key.get((task, key))
        return None if iid is None else replace(self.instances[iid])

    def save(self, inst: Instance) -> None:
        self.instances[inst.id] = replace(inst)

    def claim(self, inst: Instance, owner: str, lease_until: float, now: float) -> bool:
        stored = self.instances[inst.id]
        if stored.state not in ("ready", "retrying"):
            return False
        inst.state, inst.lease_owner, inst.lease_until = RUNNING, owner, lease_until
        inst.attempts += 1
        inst.started_at = now
        self.instances[inst.id] = replace(inst)
        self.attempts.append((inst.id, inst.attempts + inst.lost, owner, "running"))
        return True

    def renew(self, owner: str, ids: list[int], lease_until: float) -> None:
        for iid in ids:
            stored = self.instances.get(iid)
            if stored is not None and stored.lease_owner == owner:
                stored.lease_until = lease_until

    def finish(self, inst: Instance, owner: str, attempt_status: str, now: float) -> bool:
        stored = self.instances[inst.id]
        if stored.state != RUNNING or stored.lease_owner != owner:
            return False
        if inst.state == "succeeded" and inst.started_at is not None:
            self._durations[inst.task].append(now - inst.started_at)
        self.instances[inst.id] = replace(inst)
        self.attempts.append((inst.id, -1, owner, attempt_status))
        return True

    def durations(self, task: str, limit: int) -> list[float]:
        return self._durations[task][-limit:]

    def record_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)
        key = (alert.instance_id, alert.condition)
        if alert.state == "raised":
            self._open.add(key)
        else:
            self._open.discard(key)

    def open_alerts(self) -> set[tuple[int, str]]:
        return set(self._open)
