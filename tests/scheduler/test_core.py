"""The scheduling core on a virtual clock with the in-memory state: dependencies, retries, priorities,
aging, backfills, lease takeover, SLA prediction and alerts."""

from __future__ import annotations

import itertools

from app.scheduler.core import Scheduler
from app.scheduler.model import Alert, Instance, Job, Outcome, SchedulerConfig, TaskDef
from app.scheduler.state import MemoryState
from tests.scheduler.conftest import utc
from tests.scheduler.sim import Sim

DAY = utc(2024, 6, 2, 0, 0)


def _core(tasks: list[TaskDef], **config: object) -> tuple[Scheduler, MemoryState]:
    state = MemoryState(tasks)
    settings = SchedulerConfig(catchup=0, sla_interval=60, **config)  # type: ignore[arg-type]
    return Scheduler(state, settings), state


def test_a_reader_waits_for_the_writer_of_its_table_for_the_same_logical_date() -> None:
    tasks = [
        TaskDef("clean", 1, 2, "0 1 * * *", target="mart.clean", reads=("app.events",)),
        TaskDef("daily", 1, 2, "0 1 * * *", target="mart.daily", reads=("mart.clean",)),  # same fire time
        TaskDef("top", 1, 2, "30 0 * * *", target="mart.top", reads=("mart.daily",)),  # fires earlier
    ]
    core, state = _core(tasks)
    sim = Sim(core, duration=600)
    sim.run(DAY, DAY + 4 * 3600)
    assert core.upstreams == {"clean": [], "daily": ["clean"], "top": ["daily"]}
    times = {job.task: t for t, job in sim.dispatched}
    assert times["clean"] == utc(2024, 6, 2, 1, 0)
    assert times["daily"] == utc(2024, 6, 2, 1, 10)  # when clean finished
    assert times["top"] == utc(2024, 6, 2, 1, 20)  # fired at 00:30, waited for daily
    assert {i.key for i in state.instances.values()} == {"2024-06-01"}
    assert all(i.state == "succeeded" for i in state.instances.values())


def test_explicit_dependency_and_no_cross_cadence_edges() -> None:
    tasks = [
        TaskDef("a", 1, 2, "0 1 * * *", target="t.a"),
        TaskDef("b", 1, 2, "0 1 * * *", target="t.b", depends_on=("a",)),
        TaskDef("weekly", 1, 2, "0 1 * * 0", target="t.w"),
        TaskDef("c", 1, 2, "0 1 * * *", target="t.c", reads=("t.w",)),  # a weekly writer: no daily edge
    ]
    core, _ = _core(tasks)
    core.load(DAY)
    assert core.upstreams["b"] == ["a"] and core.upstreams["c"] == []


def test_retries_back_off_exponentially_then_fail() -> None:
    core, state = _core([TaskDef("flaky", 1, 2, "0 1 * * *", retries=3, retry_delay=60)])
    sim = Sim(core, duration=10, outcome=lambda job: "failed")
    sim.run(DAY, DAY + 3 * 3600, step=10)
    starts = [t for t, _ in sim.dispatched]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == [70, 130, 250]  # 10 s run + 60, 120, 240 s backoff
    (inst,) = state.instances.values()
    assert inst.state == "failed" and inst.attempts == 4


def test_a_retry_that_succeeds_releases_its_downstream() -> None:
    tasks = [TaskDef("up", 1, 2, "0 1 * * *", target="t.up", retry_delay=30),
             TaskDef("down", 1, 2, "0 1 * * *", reads=("t.up",))]
    core, state = _core(tasks)
    sim = Sim(core, duration=10, outcome=lambda job: "failed" if job.task == "up" and job.attempt == 1 else "succeeded")
    sim.run(DAY, DAY + 2 * 3600, step=10)
    assert sim.order() == ["up", "up", "down"]
    assert all(i.state == "succeeded" for i in state.instances.values())


def _queued(core: Scheduler, specs: list[tuple[str, int, str]], now: float, deadline: dict[str, float] | None = None
            ) -> None:
    """Admit ready instances directly: (task, priority, kind)."""
    insts = [Instance(task=name, key="2024-06-01", version=1, priority=prio, scheduled_at=now, kind=kind,
                      deadline=(deadline or {}).get(name)) for name, prio, kind in specs]
    core.admit(insts, now)


def test_priority_then_deadline_slack_then_scheduled_time() -> None:
    core, _ = _core([], pools={"default": 1}, backfill_reserve=0)
    core.load(DAY)
    _queued(core, [("p3", 3, "scheduled"), ("p1_late", 1, "scheduled"), ("p1_urgent", 1, "scheduled"),
                   ("p0", 0, "scheduled"), ("bf", 3, "backfill")], DAY,
            deadline={"p1_late": DAY + 9 * 3600, "p1_urgent": DAY + 3 * 3600})
    sim = Sim(core, duration=60)
    sim.run(DAY, DAY + 600)
    assert sim.order() == ["p0", "p1_urgent", "p1_late", "p3", "bf"]


def test_aging_lifts_a_starved_p3_above_a_stream_of_p1() -> None:
    core, _ = _core([], pools={"default": 1}, aging_step=900)
    core.load(DAY)
    _queued(core, [("old_p3", 3, "scheduled")], DAY)
    sim = Sim(core, duration=300)
    now = DAY
    for n in range(20):  # a new P1 every 5 minutes keeps the single slot busy
        _queued(core, [(f"p1_{n}", 1, "scheduled")], now)
        sim.run(now, now + 299, step=300)
        now += 300
    started = {job.task: t for t, job in sim.dispatched}
    assert "old_p3" in started
    assert started["old_p3"] - DAY <= 3 * 900 + 300  # two promotions reach P1, FIFO among equals after that


def test_backfills_never_take_the_last_slot_nor_go_ahead_of_p0() -> None:
    core, _ = _core([], pools={"default": 3}, backfill_share=1.0, backfill_reserve=1)
    core.load(DAY)
    _queued(core, [(f"bf{i}", 2, "backfill") for i in range(5)], DAY)
    sim = Sim(core, duration=600)
    sim.run(DAY, DAY)
    assert len(sim.running) == 2  # one of three slots stays free for scheduled work
    _queued(core, [("p0", 0, "scheduled")], DAY + 60)
    sim.run(DAY + 60, DAY + 60)
    assert sim.dispatched[-1][1].task == "p0" and sim.dispatched[-1][0] == DAY + 60


def test_an_instance_whose_executor_died_is_recovered_or_run_again_never_both() -> None:
    state = MemoryState([TaskDef("a", 1, 2, "0 1 * * *"), TaskDef("b", 1, 2, "0 1 * * *")])
    first = Scheduler(state, SchedulerConfig(catchup=0, lease_seconds=30), owner="old")
    first.tick(utc(2024, 6, 2, 0, 59))
    jobs = first.tick(utc(2024, 6, 2, 1, 0))
    assert {j.task for j in jobs} == {"a", "b"}
    # "old" crashes. "a" had finished its work (the executor can tell), "b" had not.
    finished = {("a", "2024-06-01")}
    second = Scheduler(state, SchedulerConfig(catchup=0, lease_seconds=30), owner="new",
                       recover=lambda job: Outcome("succeeded") if (job.task, job.key) in finished else None)
    assert second.tick(utc(2024, 6, 2, 1, 0, 10)) == []  # leases still valid: hands off
    rerun = second.tick(utc(2024, 6, 2, 1, 1))  # expired
    assert [j.task for j in rerun] == ["b"]
    a = next(i for i in state.instances.values() if i.task == "a")
    b = next(i for i in state.instances.values() if i.task == "b")
    assert a.state == "succeeded" and b.state == "running" and b.lost == 1 and b.attempts == 1
    # the old owner's late report is refused: the lease moved on
    assert not first.complete(Job(b.id, "b", b.key, 1, 1, 0), Outcome("succeeded"), utc(2024, 6, 2, 1, 2))
    assert state.instances[b.id].lease_owner == "new"


def test_delayed_upstream_makes_its_p0_downstream_alert_before_the_deadline() -> None:
    tasks = [
        TaskDef("ingest", 1, 2, "0 1 * * *", target="raw.orders"),
        TaskDef("revenue", 1, 0, "0 2 * * *", reads=("raw.orders",), deadline="08:00", deadline_tz="Europe/Amsterdam"),
    ]
    core, state = _core(tasks, default_duration=1800, sla_margin=90 * 60)
    alerts: list[Alert] = []
    core.sinks.append(alerts.append)
    # history: ingest takes 30 min, revenue 30 min
    for task in ("ingest", "revenue"):
        state._durations[task] = [1800.0] * 5
    # today ingest is stuck: it takes 6 hours
    sim = Sim(core, duration=lambda job: 6 * 3600 if job.task == "ingest" else 1800)
    sim.run(DAY, DAY + 12 * 3600)
    deadline = utc(2024, 6, 2, 6, 0)  # 08:00 CEST
    risk = [a for a in alerts if a.condition == "sla_risk" and a.state == "raised"]
    missed = [a for a in alerts if a.condition == "sla_missed"]
    assert len(risk) == 1 and risk[0].task == "revenue"
    # The stuck upstream pushes the prediction later minute by minute; the alert comes the minute the
    # prediction (now + revenue's 30 min p90) crosses deadline - margin: ~2 h before the deadline.
    assert risk[0].at == utc(2024, 6, 2, 4, 1)
    assert risk[0].predicted_finish is not None and risk[0].predicted_finish > deadline - 90 * 60
    assert len(missed) == 1 and missed[0].at >= deadline  # the violation, recorded once
    revenue = next(i for i in state.instances.values() if i.task == "revenue")
    assert revenue.ended_at is not None and revenue.ended_at > deadline


def test_risk_alert_resolves_when_the_upstream_catches_up() -> None:
    tasks = [TaskDef("up", 1, 2, "0 1 * * *", target="t.up"),
             TaskDef("p0", 1, 0, "0 1 * * *", reads=("t.up",), deadline="04:00")]
    core, state = _core(tasks, default_duration=3600, sla_margin=3600)
    alerts: list[Alert] = []
    core.sinks.append(alerts.append)
    state._durations["up"] = [3600.0] * 3
    state._durations["p0"] = [3600.0] * 3
    core.tick(utc(2024, 6, 2, 0, 59))
    core.tick(utc(2024, 6, 2, 1, 0))  # predicted 03:00 + 1 h of p0 = 03:00 + 3600... on track
    assert not [a for a in alerts if a.state == "raised"]
    up = next(i for i in state.instances.values() if i.task == "up")
    job = Job(up.id, "up", up.key, 1, 1, up.started_at or 0)
    core._expected["up"] = 4 * 3600  # a slow day is predicted: p0 at risk
    core.evaluate_sla(utc(2024, 6, 2, 1, 5))
    core._expected["up"] = 3600
    core.complete(job, Outcome("succeeded"), utc(2024, 6, 2, 1, 20))
    core.evaluate_sla(utc(2024, 6, 2, 1, 21))
    assert [(a.condition, a.state) for a in alerts] == [("sla_risk", "raised"), ("sla_risk", "resolved")]


def test_tier_deadline_applies_to_tasks_without_their_own() -> None:
    core, state = _core([TaskDef("t", 1, 0, "0 1 * * *")], tier_deadlines={0: ("06:00", "UTC")})
    core.tick(utc(2024, 6, 2, 0, 59))
    core.tick(utc(2024, 6, 2, 1, 0))
    (inst,) = state.instances.values()
    assert inst.deadline == utc(2024, 6, 2, 6, 0)


def test_new_instances_pin_the_deployed_version() -> None:
    core, state = _core([TaskDef("t", 1, 2, "0 1 * * *")])
    core.tick(utc(2024, 6, 2, 0, 59))
    core.tick(utc(2024, 6, 2, 1, 0))
    state.set_tasks([TaskDef("t", 2, 2, "0 1 * * *")])  # a deploy bumps the generation
    jobs = core.tick(utc(2024, 6, 3, 1, 0))
    versions = sorted((i.key, i.version) for i in state.instances.values())
    assert versions == [("2024-06-01", 1), ("2024-06-02", 2)]
    assert {j.version for j in jobs} == {2}
