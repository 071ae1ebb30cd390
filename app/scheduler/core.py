"""The scheduling core: pure logic over a `StateStore` and an injected clock value (`now`).

One `tick(now)` materializes cron fires as instances, releases retries whose backoff ended, takes
over instances whose executor died (expired lease or dead owner), re-predicts SLAs, and dispatches
the best ready instances within each pool's slots; it returns the claimed `Job`s. The caller runs
them (threads, a simulator...) and reports back with `complete()`. The in-memory indexes here are
a cache of the state store, rebuilt by `load()` whenever another process bumps the generation
(deploy, backfill, rollback).
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from app.scheduler.deps import CombinedResolver, DependencyResolver, TableResolver, same_cadence
from app.scheduler.model import (
    FAILED,
    READY,
    RETRYING,
    RUNNING,
    SUCCEEDED,
    TERMINAL,
    WAITING,
    Alert,
    Instance,
    Job,
    Outcome,
    SchedulerConfig,
    TaskDef,
    dt,
)
from app.scheduler.queue import ReadyQueue
from app.scheduler.sla import AlertSink, p90
from app.scheduler.state import StateStore
from generators.tasks import cron

log = logging.getLogger("formcast.scheduler")
HISTORY_WINDOW = 7 * 86400.0  # finished instances kept in memory (upstreams of late or backfilled work)
ResolverFactory = Callable[[list[TaskDef]], DependencyResolver]


def default_resolver(tasks: list[TaskDef]) -> DependencyResolver:
    return CombinedResolver(TableResolver(tasks), explicit={t.name: t.depends_on for t in tasks})


class Scheduler:
    def __init__(self, state: StateStore, config: SchedulerConfig | None = None, *, owner: str = "scheduler",
                 sinks: Sequence[AlertSink] = (), resolver: ResolverFactory = default_resolver,
                 is_dead: Callable[[str], bool] = lambda owner: False,
                 recover: Callable[[Job], Outcome | None] = lambda job: None) -> None:
        self.state = state
        self.config = config or SchedulerConfig()
        self.owner = owner
        self.sinks = list(sinks)
        self._resolver = resolver
        self._is_dead = is_dead
        self._recover = recover
        self.generation = -1
        self.latencies: list[float] = []  # ready -> dispatched, seconds (for the benchmark and metrics)
        self._reset()

    # --- loading ---------------------------------------------------------------------------------

    def _reset(self) -> None:
        self.tasks: dict[str, TaskDef] = {}
        self.upstreams: dict[str, list[str]] = {}
        self.instances: dict[int, Instance] = {}
        self.by_key: dict[tuple[str, str], int] = {}
        self.unmet: dict[int, int] = {}
        self.waiters: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.queue = ReadyQueue(self.config.aging_step)
        self.delayed: list[tuple[float, int]] = []
        self.running: dict[int, Instance] = {}  # claimed by this scheduler
        self.foreign: set[int] = set()  # running under another owner's lease
        self.in_pool: dict[str, int] = defaultdict(int)
        self.backfills_in_pool: dict[str, int] = defaultdict(int)
        self.with_deadline: set[int] = set()
        self.open_alerts: set[tuple[int, str]] = set()
        self._fires: list[tuple[float, str]] = []  # (next fire, task)
        self._cursors: dict[str, float] = {}
        self._durations: dict[str, list[float]] = {}
        self._expected: dict[str, float] = {}
        self._waits: dict[int, float] = defaultdict(float)  # EWMA of queue wait per class
        self._next_sla = 0.0

    def load(self, now: float) -> None:
        """(Re)build every index from the state store."""
        mine = dict(self.running)
        self.generation = self.state.generation()
        self._reset()
        tasks = self.state.tasks()
        self.tasks = {t.name: t for t in tasks}
        resolver = self._resolver(tasks)
        for t in tasks:
            ups = sorted(resolver.upstreams(t.name))
            self.upstreams[t.name] = [u for u in ups if u in self.tasks and same_cadence(t, self.tasks[u])]
        self._cursors = self.state.cursors()
        for t in tasks:
            if t.cron and not t.paused:
                self._schedule_next(t, self._cursors.get(t.name, now - self.config.catchup))
        self.open_alerts = self.state.open_alerts()
        loaded = self.state.load_instances(now - HISTORY_WINDOW)
        for inst in loaded:
            self._index(inst)
        for inst in loaded:
            if inst.state == WAITING:
                self._count_unmet(inst, now)
            elif inst.state in (READY, RETRYING):
                self._enqueue(inst, now, keep_ready_at=True)
            elif inst.state == RUNNING:
                if inst.lease_owner == self.owner and inst.id in mine:
                    self.running[inst.id] = inst
                else:
                    self.foreign.add(inst.id)
                self._occupy(inst, +1)

    def _index(self, inst: Instance) -> None:
        self.instances[inst.id] = inst
        self.by_key[(inst.task, inst.key)] = inst.id
        if inst.deadline is not None and inst.state not in TERMINAL:
            self.with_deadline.add(inst.id)

    def _schedule_next(self, t: TaskDef, after: float) -> None:
        self._cursors[t.name] = after
        nxt = _next_fire(t, after)
        if nxt is not None:
            heapq.heappush(self._fires, (nxt, t.name))

    # --- materializing cron fires ------------------------------------------------------------------

    def deadline_for(self, t: TaskDef, key: str) -> float | None:
        if t.deadline:
            return cron.deadline_at(key, t.deadline, t.deadline_tz).timestamp()
        tier = self.config.tier_deadlines.get(t.priority)
        return cron.deadline_at(key, *tier).timestamp() if tier else None

    def new_instance(self, t: TaskDef, key: str, scheduled_at: float, kind: str = "scheduled") -> Instance:
        return Instance(task=t.name, key=key, version=t.version, priority=t.priority, scheduled_at=scheduled_at,
                        kind=kind, pool=t.pool, deadline=self.deadline_for(t, key), max_attempts=t.retries + 1,
                        retry_delay=t.retry_delay, timeout=t.timeout)

    def materialize(self, now: float) -> list[Instance]:
        due: dict[str, TaskDef] = {}
        while self._fires and self._fires[0][0] <= now:
            _, name = heapq.heappop(self._fires)
            t = self.tasks.get(name)
            if t is not None and not t.paused:
                due[name] = t
        fresh: list[Instance] = []
        for t in due.values():
            assert t.cron is not None
            fires = cron.fires_between(t.cron, t.timezone, dt(self._cursors[t.name]), dt(now))
            fresh += [self.new_instance(t, cron.logical_key(t.cron, t.timezone, f), f.timestamp()) for f in fires]
        created = self.admit(fresh, now) if fresh else []
        for t in due.values():  # after the instances: a crash in between re-creates nothing (unique keys)
            self.state.set_cursor(t.name, now)
            self._schedule_next(t, now)
        return created

    def admit(self, instances: Iterable[Instance], now: float) -> list[Instance]:
        """Store new instances (skipping existing keys) and index them: waiting, or ready at once."""
        created = self.state.add_instances(list(instances))
        for inst in created:
            self._index(inst)
        for inst in created:
            self._count_unmet(inst, now)
        return created

    # --- dependencies ------------------------------------------------------------------------------

    def _count_unmet(self, inst: Instance, now: float) -> None:
        unmet = 0
        for up in self.upstreams.get(inst.task, ()):
            ukey = (up, inst.key)
            uid = self.by_key.get(ukey)
            if uid is None and inst.kind == "backfill":
                found = self.state.find(up, inst.key)  # may be older than the in-memory window
                if found is None:
                    continue  # history from before the upstream was scheduled: assume it is there
                self._index(found)
                uid = found.id
            if uid is not None and self.instances[uid].state == SUCCEEDED:
                continue
            unmet += 1
            self.waiters[ukey].append(inst.id)
        if unmet:
            self.unmet[inst.id] = unmet
            if inst.state != WAITING:
                inst.state = WAITING
                self.state.save(inst)
        else:
            self._make_ready(inst, now)

    def _make_ready(self, inst: Instance, now: float) -> None:
        inst.state, inst.ready_at = READY, now
        self.state.save(inst)
        self._enqueue(inst, now)

    def _enqueue(self, inst: Instance, now: float, keep_ready_at: bool = False) -> None:
        if inst.state == RETRYING and (inst.next_try_at or 0) > now:
            heapq.heappush(self.delayed, (inst.next_try_at or now, inst.id))
            return
        if not keep_ready_at or inst.ready_at is None:
            inst.ready_at = now
        slack = None if inst.deadline is None else inst.deadline - self.expected_duration(inst.task)
        self.queue.push(inst, slack, now)

    def _wake(self, inst: Instance, now: float) -> None:
        for wid in self.waiters.pop((inst.task, inst.key), ()):
            left = self.unmet.get(wid, 0) - 1
            if left > 0:
                self.unmet[wid] = left
                continue
            self.unmet.pop(wid, None)
            waiter = self.instances.get(wid)
            if waiter is not None and waiter.state == WAITING:
                self._make_ready(waiter, now)

    # --- dispatching -------------------------------------------------------------------------------

    def _occupy(self, inst: Instance, delta: int) -> None:
        self.in_pool[inst.pool] += delta
        if inst.kind == "backfill":
            self.backfills_in_pool[inst.pool] += delta

    def dispatch(self, now: float) -> list[Job]:
        while self.delayed and self.delayed[0][0] <= now:
            _, iid = heapq.heappop(self.delayed)
            inst = self.instances.get(iid)
            if inst is not None and inst.state == RETRYING:
                self._enqueue(inst, now)
        self.queue.age(now)
        jobs: list[Job] = []
        cfg = self.config
        for pool in self.queue.pools():
            slots = cfg.slots(pool)
            while self.in_pool[pool] < slots:
                free = slots - self.in_pool[pool]
                allow_backfill = (free > cfg.backfill_reserve
                                  and self.backfills_in_pool[pool] < max(1, int(slots * cfg.backfill_share)))
                inst = self.queue.pop(pool, allow_backfill)
                if inst is None:
                    break
                if not self.state.claim(inst, self.owner, now + cfg.lease_seconds, now):
                    self.instances.pop(inst.id, None)  # changed elsewhere: the next load() sees it
                    continue
                wait = now - (inst.ready_at or now)
                self.latencies.append(wait)
                self._waits[inst.cls] = 0.8 * self._waits[inst.cls] + 0.2 * wait
                self.running[inst.id] = inst
                self._occupy(inst, +1)
                jobs.append(Job(inst.id, inst.task, inst.key, inst.version, inst.attempts + inst.lost, now))
        return jobs

    def heartbeat(self, now: float) -> None:
        if self.running:
            self.state.renew(self.owner, list(self.running), now + self.config.lease_seconds)

    # --- finishing ---------------------------------------------------------------------------------

    def complete(self, job: Job, outcome: Outcome, now: float) -> bool:
        """Record an attempt's outcome; False if this scheduler no longer held the instance."""
        inst = self.running.pop(job.instance_id, None)
        if inst is None:
            return False
        self._occupy(inst, -1)
        return self._close(inst, outcome, self.owner, now, outcome.status)

    def _close(self, inst: Instance, outcome: Outcome, owner: str, now: float, attempt_status: str) -> bool:
        inst.lease_owner = inst.lease_until = None
        inst.run_id = outcome.run_id or inst.run_id
        if outcome.status == SUCCEEDED:
            inst.state, inst.ended_at, inst.error = SUCCEEDED, now, None
        elif inst.attempts >= inst.max_attempts:
            inst.state, inst.ended_at, inst.error = FAILED, now, outcome.error
        else:
            backoff = min(self.config.retry_cap, inst.retry_delay * 2 ** (inst.attempts - 1))
            inst.state, inst.next_try_at, inst.error = RETRYING, now + backoff, outcome.error
        if not self.state.finish(inst, owner, attempt_status, now):
            self.instances.pop(inst.id, None)
            return False
        if inst.state == SUCCEEDED:
            if inst.started_at is not None:
                self._record_duration(inst.task, now - inst.started_at)
            self._wake(inst, now)
            self._sla_settled(inst, now)
        elif inst.state == RETRYING:
            heapq.heappush(self.delayed, (inst.next_try_at or now, inst.id))
        return True

    def check_leases(self, now: float) -> None:
        """Take over instances whose executor died: recover a result it left, else run it again."""
        for iid in list(self.foreign):
            inst = self.instances.get(iid)
            if inst is None or inst.state != RUNNING:
                self.foreign.discard(iid)
                continue
            owner = inst.lease_owner or ""
            if (inst.lease_until or 0) >= now and not self._is_dead(owner):
                continue
            self.foreign.discard(iid)
            self._occupy(inst, -1)
            job = Job(inst.id, inst.task, inst.key, inst.version, inst.attempts + inst.lost, inst.started_at or now)
            outcome = self._recover(job)
            if outcome is not None:
                log.info("instance %s %s: recovered the result of a lost attempt", inst.task, inst.key)
                self._close(inst, outcome, owner, now, "recovered")
                continue
            log.warning("instance %s %s: executor lost (owner %s); running it again", inst.task, inst.key, owner)
            inst.attempts -= 1  # a crash is not the task's failure: it keeps its retries...
            inst.lost += 1
            inst.lease_owner = inst.lease_until = None
            if inst.lost > self.config.max_lost:  # ...unless it keeps killing its executor
                inst.state, inst.ended_at, inst.error = FAILED, now, f"executor lost {inst.lost} times"
            else:
                inst.state, inst.ready_at, inst.error = READY, now, "executor lost"
            if self.state.finish(inst, owner, "lost", now) and inst.state == READY:
                self._enqueue(inst, now)

    # --- SLA ---------------------------------------------------------------------------------------

    def _record_duration(self, task: str, seconds: float) -> None:
        history = self._history(task)
        history.append(seconds)
        del history[: -self.config.history]
        self._expected[task] = p90(history, self.config.default_duration)

    def _history(self, task: str) -> list[float]:
        if task not in self._durations:
            self._durations[task] = list(self.state.durations(task, self.config.history))
        return self._durations[task]

    def expected_duration(self, task: str) -> float:
        found = self._expected.get(task)
        if found is None:
            found = self._expected[task] = p90(self._history(task), self.config.default_duration)
        return found

    def predict(self, inst: Instance, now: float, memo: dict[int, float] | None = None) -> float:
        """Predicted finish (epoch seconds; inf for a failed instance that nothing will rerun)."""
        memo = {} if memo is None else memo
        found = memo.get(inst.id)
        if found is not None:
            return found
        state = inst.state
        duration = self.expected_duration(inst.task)
        if state == SUCCEEDED:
            result = inst.ended_at or now
        elif state == FAILED:
            result = math.inf
        elif state == RUNNING:
            result = max(now, (inst.started_at or now) + duration)
        else:
            start = max(now, inst.scheduled_at, inst.next_try_at or 0.0)
            if state == WAITING:
                for up in self.upstreams.get(inst.task, ()):
                    uid = self.by_key.get((up, inst.key))
                    if uid is not None:
                        start = max(start, self.predict(self.instances[uid], now, memo))
                    else:  # not fired yet: its fire time plus its duration
                        start = max(start, self._fire_for(up, inst.key, now) + self.expected_duration(up))
            result = start + self._waits[inst.cls] + duration
        memo[inst.id] = result
        return result

    def _fire_for(self, task: str, key: str, now: float) -> float:
        t = self.tasks.get(task)
        if t is None or not t.cron:
            return now
        nxt = _next_fire(t, cron.deadline_at(key, "00:00", t.timezone).timestamp() - 1)  # first fire after the key
        return max(now, nxt if nxt is not None else now)

    def evaluate_sla(self, now: float) -> dict[int, float | None]:
        """Re-predict every unfinished instance with a deadline; raise or resolve alerts. Returns predictions."""
        memo: dict[int, float] = {}
        margin = self.config.sla_margin
        predictions: dict[int, float | None] = {}
        for iid in list(self.with_deadline):
            inst = self.instances.get(iid)
            if inst is None or inst.deadline is None or inst.state == SUCCEEDED:
                self.with_deadline.discard(iid)
                continue
            finish = self.predict(inst, now, memo)
            inst.predicted_finish = predictions[iid] = finish if finish != math.inf else None
            at_risk = finish > inst.deadline - margin
            if at_risk and (iid, "sla_risk") not in self.open_alerts:
                why = "failed" if finish == math.inf else f"predicted to finish at {_hm(finish)}"
                self._alert(inst, "sla_risk", "raised", now, finish,
                            f"{inst.task} {inst.key} is {why}; deadline {_hm(inst.deadline)} "
                            f"(margin {margin / 60:.0f} min)")
            elif not at_risk and (iid, "sla_risk") in self.open_alerts:
                self._alert(inst, "sla_risk", "resolved", now, finish,
                            f"{inst.task} {inst.key} is back on track: predicted {_hm(finish)}")
            if now > inst.deadline and (iid, "sla_missed") not in self.open_alerts:
                self._alert(inst, "sla_missed", "raised", now, finish,
                            f"{inst.task} {inst.key} missed its deadline {_hm(inst.deadline)} ({inst.state})")
        save = getattr(self.state, "save_predictions", None)  # shown by `formcast instances`
        if save is not None:
            save({k: v for k, v in predictions.items() if v is not None})
        return predictions

    def _sla_settled(self, inst: Instance, now: float) -> None:
        if inst.deadline is None:
            return
        self.with_deadline.discard(inst.id)
        if now > inst.deadline and (inst.id, "sla_missed") not in self.open_alerts:
            self._alert(inst, "sla_missed", "raised", now, now,
                        f"{inst.task} {inst.key} finished at {_hm(now)}, after its deadline {_hm(inst.deadline)}")
        if (inst.id, "sla_risk") in self.open_alerts:
            self._alert(inst, "sla_risk", "resolved", now, now, f"{inst.task} {inst.key} finished at {_hm(now)}")

    def _alert(self, inst: Instance, condition: str, state: str, now: float, finish: float, message: str) -> None:
        alert = Alert(inst.id, inst.task, inst.key, condition, state, now, inst.deadline or now,
                      None if finish == math.inf else finish, message)
        key = (inst.id, condition)
        if state == "raised":
            self.open_alerts.add(key)
        else:
            self.open_alerts.discard(key)
        self.state.record_alert(alert)
        for sink in self.sinks:
            try:
                sink(alert)
            except Exception:  # a broken sink must not stop scheduling
                log.exception("alert sink failed")

    # --- the loop body -----------------------------------------------------------------------------

    def tick(self, now: float) -> list[Job]:
        if self.state.generation() != self.generation:
            self.load(now)
        self.materialize(now)
        self.check_leases(now)
        if now >= self._next_sla:
            self.evaluate_sla(now)
            self._next_sla = now + self.config.sla_interval
        return self.dispatch(now)

    def idle(self) -> bool:
        """Nothing queued, delayed or running (waiting instances may still wait for upstreams)."""
        return not self.queue and not self.delayed and not self.running and not self.foreign


def _next_fire(t: TaskDef, after: float) -> float | None:
    if not t.cron:
        return None
    start = dt(after)
    assert start is not None
    return cron.next_fire(t.cron, t.timezone, start).timestamp()


def _hm(value: float) -> str:
    if value == math.inf:
        return "never"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M UTC")
