"""The production state backend: the catalog database (SQLite, PostgreSQL).

Claims and finishes are single conditional UPDATEs (`WHERE state IN (...)`, `WHERE lease_owner = ?`):
whichever process commits first wins, the other sees rowcount 0 and backs off.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from app.scheduler.model import (
    READY,
    RETRYING,
    RUNNING,
    SUCCEEDED,
    TERMINAL,
    Alert,
    Instance,
    TaskDef,
    dt,
    priority_rank,
    ts,
)
from catalog import scheduling as s
from catalog.db import bump_generation, generation, transaction

_I = s.sched_instances
_A = s.sched_attempts
_MUTABLE = ("state", "ready_at", "next_try_at", "started_at", "ended_at", "attempts", "lost", "lease_owner",
            "lease_until", "predicted_finish", "error", "run_id", "kind", "version")
_TIMES = {"scheduled_at", "deadline", "ready_at", "next_try_at", "started_at", "ended_at", "lease_until",
          "predicted_finish"}
_COLUMN = {"key": "logical_key", "deadline": "deadline_at"}


def _row_values(inst: Instance, fields: tuple[str, ...]) -> dict[str, Any]:
    values = {}
    for name in fields:
        value = getattr(inst, name)
        values[_COLUMN.get(name, name)] = dt(value) if name in _TIMES else value
    return values


def _instance(row: Any) -> Instance:
    return Instance(
        id=row.id, task=row.task, key=row.logical_key, version=row.version, priority=row.priority,
        scheduled_at=ts(row.scheduled_at) or 0.0, kind=row.kind, state=row.state, pool=row.pool,
        deadline=ts(row.deadline_at), max_attempts=row.max_attempts, attempts=row.attempts, lost=row.lost,
        ready_at=ts(row.ready_at), next_try_at=ts(row.next_try_at), started_at=ts(row.started_at),
        ended_at=ts(row.ended_at), lease_owner=row.lease_owner, lease_until=ts(row.lease_until),
        predicted_finish=ts(row.predicted_finish), error=row.error, run_id=row.run_id,
    )


def task_def(version: Any, options: Any | None) -> TaskDef:
    """A TaskDef from a task_versions row and its (optional) sched_task_options row."""
    config = version.config
    sla = config.get("sla") or {}
    tz = sla.get("timezone", "UTC")
    return TaskDef(
        name=version.task, version=version.version, priority=priority_rank(version.priority),
        cron=version.schedule, timezone=tz, deadline=sla.get("deadline"), deadline_tz=tz,
        pool=options.pool if options else version.engine, retries=options.retries if options else 2,
        retry_delay=options.retry_delay_s if options else 60.0, timeout=options.timeout_s if options else None,
        depends_on=tuple(options.depends_on) if options else (), target=version.target_table.lower(),
        reads=tuple(version.reads), engine=version.engine, paused=bool(options.paused) if options else False,
    )


class SqlState:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- tasks ---
    def tasks(self) -> list[TaskDef]:
        v, d, o = s.task_versions, s.task_deployments, s.sched_task_options
        query = (select(v, o.c.pool, o.c.retries, o.c.retry_delay_s, o.c.timeout_s, o.c.depends_on, o.c.paused,
                        o.c.task.label("has_options"))
                 .join(d, and_(d.c.task == v.c.task, d.c.version == v.c.version))
                 .outerjoin(o, o.c.task == v.c.task))
        with transaction(self.engine) as conn:
            rows = conn.execute(query).all()
        return [task_def(row, row if row.has_options else None) for row in rows]

    def generation(self) -> int:
        with transaction(self.engine) as conn:
            return generation(conn)

    def bump(self) -> None:
        with transaction(self.engine, write=True) as conn:
            bump_generation(conn)

    def cursors(self) -> dict[str, float]:
        c = s.sched_cursors
        with transaction(self.engine) as conn:
            return {row.task: ts(row.last_fire_at) or 0.0 for row in conn.execute(select(c))}

    def set_cursor(self, task: str, fire: float) -> None:
        c = s.sched_cursors
        with transaction(self.engine, write=True) as conn:
            if not conn.execute(update(c).where(c.c.task == task).values(last_fire_at=dt(fire))).rowcount:
                conn.execute(insert(c).values(task=task, last_fire_at=dt(fire)))

    # --- instances ---
    def add_instances(self, instances: list[Instance]) -> list[Instance]:
        for attempt in range(3):
            try:
                return self._add(instances)
            except IntegrityError:  # another process inserted one of these keys meanwhile: look again
                if attempt == 2:
                    raise
        return []

    def _add(self, instances: list[Instance]) -> list[Instance]:
        created = []
        with transaction(self.engine, write=True) as conn:
            keys = [(i.task, i.key) for i in instances]
            existing: set[tuple[str, str]] = set()
            for start in range(0, len(keys), 300):
                chunk = keys[start:start + 300]
                existing |= {(r.task, r.logical_key) for r in conn.execute(
                    select(_I.c.task, _I.c.logical_key).where(tuple_(_I.c.task, _I.c.logical_key).in_(chunk)))}
            now = dt(max((i.scheduled_at for i in instances), default=0.0))
            for inst in instances:
                if (inst.task, inst.key) in existing:
                    continue
                existing.add((inst.task, inst.key))
                values = _row_values(inst, ("task", "key", "version", "kind", "state", "priority", "pool",
                                            "scheduled_at", "deadline", "max_attempts", "attempts", "lost"))
                result = conn.execute(insert(_I).values(**values, updated_at=now))
                inst.id = result.inserted_primary_key[0]
                created.append(inst)
        return created

    def load_instances(self, since: float) -> list[Instance]:
        query = select(_I).where(or_(_I.c.state.not_in(TERMINAL), _I.c.ended_at >= dt(since))).order_by(_I.c.id)
        with transaction(self.engine) as conn:
            return [_instance(row) for row in conn.execute(query)]

    def find(self, task: str, key: str) -> Instance | None:
        with transaction(self.engine) as conn:
            row = conn.execute(select(_I).where(_I.c.task == task, _I.c.logical_key == key)).first()
        return _instance(row) if row else None

    def get(self, instance_id: int) -> Instance | None:
        with transaction(self.engine) as conn:
            row = conn.execute(select(_I).where(_I.c.id == instance_id)).first()
        return _instance(row) if row else None

    def list(self, task: str | None = None, key: str | None = None, limit: int = 200) -> list[Instance]:
        query = select(_I).order_by(_I.c.logical_key.desc(), _I.c.task).limit(limit)
        if task:
            query = query.where(_I.c.task == task)
        if key:
            query = query.where(_I.c.logical_key.startswith(key))
        with transaction(self.engine) as conn:
            return [_instance(row) for row in conn.execute(query)]

    def save(self, inst: Instance) -> None:
        with transaction(self.engine, write=True) as conn:
            conn.execute(update(_I).where(_I.c.id == inst.id)
                         .values(**_row_values(inst, _MUTABLE), updated_at=dt(inst.ready_at or inst.scheduled_at)))

    def claim(self, inst: Instance, owner: str, lease_until: float, now: float) -> bool:
        with transaction(self.engine, write=True) as conn:
            done = conn.execute(
                update(_I).where(_I.c.id == inst.id, _I.c.state.in_((READY, RETRYING)))
                .values(state=RUNNING, lease_owner=owner, lease_until=dt(lease_until), started_at=dt(now),
                        attempts=_I.c.attempts + 1, updated_at=dt(now))
            ).rowcount
            if not done:
                return False
            row = conn.execute(select(_I.c.attempts, _I.c.lost, _I.c.version).where(_I.c.id == inst.id)).one()
            # numbered over the instance's whole life: reruns (backfills) reset `attempts`, not the history
            number = conn.execute(select(func.coalesce(func.max(_A.c.attempt), 0))
                                  .where(_A.c.instance_id == inst.id)).scalar_one() + 1
            conn.execute(insert(_A).values(instance_id=inst.id, attempt=number, version=row.version,
                                           owner=owner, started_at=dt(now), status="running"))
        inst.state, inst.lease_owner, inst.lease_until, inst.started_at = RUNNING, owner, lease_until, now
        inst.attempts, inst.lost = row.attempts, row.lost
        return True

    def renew(self, owner: str, ids: list[int], lease_until: float) -> None:
        with transaction(self.engine, write=True) as conn:
            conn.execute(update(_I).where(_I.c.id.in_(ids), _I.c.lease_owner == owner)
                         .values(lease_until=dt(lease_until)))

    def finish(self, inst: Instance, owner: str, attempt_status: str, now: float) -> bool:
        with transaction(self.engine, write=True) as conn:
            done = conn.execute(
                update(_I).where(_I.c.id == inst.id, _I.c.state == RUNNING, _I.c.lease_owner == owner)
                .values(**_row_values(inst, _MUTABLE), updated_at=dt(now))
            ).rowcount
            if not done:
                return False
            conn.execute(update(_A).where(_A.c.instance_id == inst.id, _A.c.owner == owner, _A.c.status == RUNNING)
                         .values(status=attempt_status, ended_at=dt(now), error=inst.error, run_id=inst.run_id))
        return True

    def requeue(self, instance_id: int, kind: str, now: float) -> bool:
        """A rerun of a finished instance (same pinned version); False if it is not finished."""
        with transaction(self.engine, write=True) as conn:
            return bool(conn.execute(
                update(_I).where(_I.c.id == instance_id, _I.c.state.in_(TERMINAL))
                .values(state="waiting", kind=kind, attempts=0, lost=0, error=None, ended_at=None, started_at=None,
                        ready_at=None, next_try_at=None, updated_at=dt(now))
            ).rowcount)

    def attempts(self, instance_id: int) -> list[Any]:
        with transaction(self.engine) as conn:
            return list(conn.execute(select(_A).where(_A.c.instance_id == instance_id).order_by(_A.c.attempt)))

    def durations(self, task: str, limit: int) -> list[float]:
        query = (select(_I.c.started_at, _I.c.ended_at).where(_I.c.task == task, _I.c.state == SUCCEEDED)
                 .order_by(_I.c.ended_at.desc()).limit(limit))
        with transaction(self.engine) as conn:
            return [(r.ended_at - r.started_at).total_seconds() for r in conn.execute(query)
                    if r.started_at and r.ended_at][::-1]

    # --- alerts ---
    def record_alert(self, alert: Alert) -> None:
        a = s.sched_alerts
        where = and_(a.c.instance_id == alert.instance_id, a.c.condition == alert.condition)
        with transaction(self.engine, write=True) as conn:
            if alert.state == "resolved":
                conn.execute(update(a).where(where).values(resolved_at=dt(alert.at)))
                return
            values = {"raised_at": dt(alert.at), "resolved_at": None, "deadline_at": dt(alert.deadline),
                      "predicted_finish": dt(alert.predicted_finish), "message": alert.message}
            if not conn.execute(update(a).where(where).values(**values)).rowcount:
                conn.execute(insert(a).values(instance_id=alert.instance_id, task=alert.task,
                                              logical_key=alert.key, condition=alert.condition, **values))

    def open_alerts(self) -> set[tuple[int, str]]:
        a = s.sched_alerts
        with transaction(self.engine) as conn:
            return {(r.instance_id, r.condition)
                    for r in conn.execute(select(a.c.instance_id, a.c.condition).where(a.c.resolved_at.is_(None)))}

    def alerts(self, task: str | None = None) -> list[Any]:
        a = s.sched_alerts
        query = select(a).order_by(a.c.raised_at)
        if task:
            query = query.where(a.c.task == task)
        with transaction(self.engine) as conn:
            return list(conn.execute(query))

    def save_predictions(self, predictions: dict[int, float]) -> None:
        if not predictions:
            return
        from sqlalchemy import bindparam

        with transaction(self.engine, write=True) as conn:
            conn.execute(update(_I).where(_I.c.id == bindparam("b_id")).values(predicted_finish=bindparam("b_pf")),
                         [{"b_id": k, "b_pf": dt(v)} for k, v in predictions.items()])
