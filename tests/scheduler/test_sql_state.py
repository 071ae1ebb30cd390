"""The SQL state backend on SQLite and PostgreSQL: unique instances, conditional claims and finishes,
alerts once per condition, and the core running over it."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy.exc import IntegrityError

from app.scheduler.core import Scheduler
from app.scheduler.model import Alert, Instance, Outcome, SchedulerConfig
from app.scheduler.sql_state import SqlState
from catalog import scheduling as s
from catalog.db import engine_of, transaction
from tests.scheduler.conftest import put_version, utc
from tests.scheduler.sim import Sim


def _inst(task: str = "t", key: str = "2024-06-01") -> Instance:
    return Instance(task=task, key=key, version=1, priority=2, scheduled_at=utc(2024, 6, 2, 1), state="ready")


def test_one_instance_per_task_and_logical_date(catalog) -> None:
    state = SqlState(engine_of(catalog))
    assert len(state.add_instances([_inst(), _inst(key="2024-06-02")])) == 2
    assert state.add_instances([_inst()]) == []  # skipped, not duplicated
    with pytest.raises(IntegrityError), transaction(engine_of(catalog), write=True) as conn:
        conn.execute(s.sched_instances.insert().values(
            task="t", logical_key="2024-06-01", version=1, kind="scheduled", state="waiting", priority=2,
            pool="default", scheduled_at=None, attempts=0, lost=0, max_attempts=1, updated_at=None))


def test_a_claim_is_won_by_exactly_one_of_two_racing_schedulers(catalog) -> None:
    state = SqlState(engine_of(catalog))
    (inst,) = state.add_instances([_inst()])
    wins: list[bool] = []
    barrier = threading.Barrier(4)

    def claim(owner: str) -> None:
        mine = state.get(inst.id)
        assert mine is not None
        barrier.wait()
        wins.append(state.claim(mine, owner, utc(2024, 6, 2, 2), utc(2024, 6, 2, 1)))

    threads = [threading.Thread(target=claim, args=(f"s{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False, False, False, True]
    assert [a.status for a in state.attempts(inst.id)] == ["running"]


def test_finish_only_by_the_lease_holder(catalog) -> None:
    state = SqlState(engine_of(catalog))
    (inst,) = state.add_instances([_inst()])
    assert state.claim(inst, "a", utc(2024, 6, 2, 2), utc(2024, 6, 2, 1))
    inst.state, inst.ended_at = "succeeded", utc(2024, 6, 2, 1, 5)
    assert not state.finish(inst, "b", "succeeded", utc(2024, 6, 2, 1, 5))
    assert state.finish(inst, "a", "succeeded", utc(2024, 6, 2, 1, 5))
    assert not state.finish(inst, "a", "succeeded", utc(2024, 6, 2, 1, 6))  # no double finish
    stored = state.get(inst.id)
    assert stored is not None and stored.state == "succeeded"
    assert [(a.attempt, a.status) for a in state.attempts(inst.id)] == [(1, "succeeded")]
    assert state.durations("t", 10) == [300.0]


def test_alerts_are_one_row_per_instance_and_condition(catalog) -> None:
    state = SqlState(engine_of(catalog))
    (inst,) = state.add_instances([_inst()])
    at = utc(2024, 6, 2, 3)
    for alert_state in ("raised", "resolved", "raised"):
        state.record_alert(Alert(inst.id, "t", inst.key, "sla_risk", alert_state, at, at + 3600, at + 4000, "m"))
    state.record_alert(Alert(inst.id, "t", inst.key, "sla_missed", "raised", at, at, None, "late"))
    rows = state.alerts()
    assert sorted(r.condition for r in rows) == ["sla_missed", "sla_risk"]
    assert state.open_alerts() == {(inst.id, "sla_risk"), (inst.id, "sla_missed")}


def test_the_core_runs_a_dependent_day_over_the_sql_state(catalog) -> None:
    put_version(catalog, "ingest", schedule="0 1 * * *", target="raw.orders")
    put_version(catalog, "report", schedule="0 1 * * *", reads=("raw.orders",), priority="P0",
                sla={"deadline": "06:00", "timezone": "UTC"})
    state = SqlState(engine_of(catalog))
    core = Scheduler(state, SchedulerConfig(catchup=0, sla_interval=60), owner="me")
    sim = Sim(core, duration=600)
    sim.run(utc(2024, 6, 2, 0, 58), utc(2024, 6, 2, 2, 0))
    assert sim.order() == ["ingest", "report"]
    rows = {i.task: i for i in state.list()}
    assert {i.state for i in rows.values()} == {"succeeded"}
    assert rows["report"].deadline == utc(2024, 6, 2, 6)
    assert rows["report"].predicted_finish is not None
    # a restarted scheduler rebuilds from the database and has nothing left to do
    again = Scheduler(state, SchedulerConfig(catchup=0), owner="me2")
    assert again.tick(utc(2024, 6, 2, 2, 1)) == []
    assert state.cursors()["report"] == utc(2024, 6, 2, 1, 0)


def test_backfill_requeue_keeps_the_pinned_version(catalog) -> None:
    from app.scheduler import backfill
    from app.security import audit
    from app.security.policy import AccessDenied
    from tests.accounts import ensure_account

    put_version(catalog, "t", schedule="0 1 * * *", retries=0)
    state = SqlState(engine_of(catalog))
    core = Scheduler(state, SchedulerConfig(catchup=0), owner="me")
    sim = Sim(core, duration=60, outcome=lambda job: "failed")
    sim.run(utc(2024, 6, 2, 0, 59), utc(2024, 6, 2, 1, 5))
    (failed,) = state.list()
    assert failed.state == "failed" and failed.version == 1
    put_version(catalog, "t", schedule="0 1 * * *", version=2, retries=0)  # a new deploy
    t = next(t for t in state.tasks() if t.name == "t")
    the_plan = backfill.plan(state, t, utc_date("2024-05-30"), utc_date("2024-06-01"), "failed")
    assert the_plan.create == [] and [r[1:] for r in the_plan.rerun] == [("2024-06-01", "failed", 1)]
    everything = backfill.plan(state, t, utc_date("2024-05-30"), utc_date("2024-06-01"), "all")
    assert everything.create == ["2024-05-30", "2024-05-31"]
    with pytest.raises(AccessDenied, match="needs the operator or admin role"):  # a developer does not operate
        backfill.apply(state, core, t, everything, utc(2024, 6, 2, 2), ensure_account(catalog, "dev", "developer"))
    oscar = ensure_account(catalog, "oscar", "operator")
    assert backfill.apply(state, core, t, everything, utc(2024, 6, 2, 2), oscar) == 3
    (entry,) = audit.entries(catalog, action="backfill", outcome="ok")
    assert (entry.actor, entry.target) == ("oscar", "task t v2 2024-05-30..2024-06-01")
    sim.outcome = lambda job: "succeeded"
    sim.run(utc(2024, 6, 2, 2), utc(2024, 6, 2, 2, 10))
    got = {(i.key, i.version, i.kind, i.state) for i in state.list()}
    assert got == {("2024-06-01", 1, "backfill", "succeeded"),  # rerun: the version it first ran with
                   ("2024-05-31", 2, "backfill", "succeeded"), ("2024-05-30", 2, "backfill", "succeeded")}


def utc_date(text: str) -> date:
    return date.fromisoformat(text)


def test_lost_lease_is_taken_over_on_postgres_and_sqlite(catalog) -> None:
    put_version(catalog, "t", schedule="0 1 * * *")
    state = SqlState(engine_of(catalog))
    dead = Scheduler(state, SchedulerConfig(catchup=0, lease_seconds=20), owner="dead")
    dead.tick(utc(2024, 6, 2, 0, 59))
    assert len(dead.tick(utc(2024, 6, 2, 1))) == 1
    heir = Scheduler(state, SchedulerConfig(catchup=0, lease_seconds=20), owner="heir")
    assert heir.tick(utc(2024, 6, 2, 1, 0, 10)) == []
    (job,) = heir.tick(utc(2024, 6, 2, 1, 0, 30))
    assert heir.complete(job, Outcome("succeeded"), utc(2024, 6, 2, 1, 1))
    (inst,) = state.list()
    assert inst.state == "succeeded" and inst.attempts == 1 and inst.lost == 1
    assert [(a.owner, a.status) for a in state.attempts(inst.id)] == [("dead", "lost"), ("heir", "succeeded")]
