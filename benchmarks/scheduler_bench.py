"""Scheduler benchmark: a day of a large deployment on a virtual clock with the in-memory state.

Builds a layered DAG of N daily tasks (depth >= 10; each task reads 1-4 tables of earlier layers, chosen
with a skew so some tables feed hundreds of readers), cron times spread over 00:00-06:00, P0-P3 mixed,
SLA deadlines on P0/P1, simulated durations (log-normal; each task's history seeds its p90, and a few
"incident" tasks run 8x slower today). The virtual clock jumps from event to event but is charged
the real time the scheduler spends computing, so ready -> dispatched latency includes the
scheduler's own work. Prints instances handled per second, scheduling latency p50/p99, peak memory,
and how early SLA risks were flagged compared with when deadlines were actually missed.

    .venv/bin/python benchmarks/scheduler_bench.py                 # 100,000 tasks
    .venv/bin/python benchmarks/scheduler_bench.py --tasks 20000 --json
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.scheduler.core import Scheduler
from app.scheduler.model import Alert, Instance, Job, Outcome, SchedulerConfig, TaskDef
from app.scheduler.state import MemoryState

DAY0 = 1717286400.0  # 2024-06-02 00:00 UTC: the day the fires of logical date 2024-06-01 happen


class TimedState(MemoryState):
    """Notes the wall time of each claim (dispatch)."""

    def __init__(self, tasks: list[TaskDef]) -> None:
        super().__init__(tasks)
        self.claimed_wall: dict[int, float] = {}

    def claim(self, inst: Instance, owner: str, lease_until: float, now: float) -> bool:
        self.claimed_wall[inst.id] = time.perf_counter()
        return super().claim(inst, owner, lease_until, now)


class TimedScheduler(Scheduler):
    """Notes the wall time at which each instance became ready."""

    ready_wall: dict[int, float]

    def _make_ready(self, inst: Instance, now: float) -> None:
        self.ready_wall[inst.id] = time.perf_counter()
        super()._make_ready(inst, now)


def build(n: int, layers: int, rng: random.Random) -> tuple[list[TaskDef], dict[str, float], dict[str, float]]:
    weights = [2.0 ** -(i / 3) for i in range(layers)]
    sizes = [max(1, int(n * w / sum(weights))) for w in weights]
    sizes[0] += n - sum(sizes)
    tasks: list[TaskDef] = []
    typical: dict[str, float] = {}
    by_layer: list[list[str]] = []
    for layer, size in enumerate(sizes):
        names = []
        for i in range(size):
            name = f"t{layer}_{i}"
            if layer == 0:
                reads: tuple[str, ...] = (f"raw.s{i % 5000}",)
            else:
                k = rng.choice((1, 1, 2, 2, 3, 4))
                picks = {f"mart.{_skewed(rng, by_layer[layer - 1])}"}  # depth: always one from the layer above
                while len(picks) < k:
                    source_layer = rng.randrange(layer)
                    picks.add(f"mart.{_skewed(rng, by_layer[source_layer])}")
                reads = tuple(sorted(picks))
            roll = rng.random()
            prio = 0 if roll < 0.02 else 1 if roll < 0.12 else 2 if roll < 0.6 else 3
            deadline = {0: "08:00", 1: "10:00"}.get(prio)
            minute = rng.randrange(0, 360)
            cron = f"{minute % 60} {minute // 60} * * *"
            tasks.append(TaskDef(name, 1, prio, cron, deadline=deadline, pool="spark", retries=2, retry_delay=120,
                                 target=f"mart.{name}", reads=reads))
            typical[name] = rng.lognormvariate(5.6, 0.7)  # median ~4.5 min
            names.append(name)
        by_layer.append(names)
    incidents = {t.name: 8.0 for t in rng.sample(tasks, max(1, n // 200))}
    return tasks, typical, incidents


def _skewed(rng: random.Random, names: list[str]) -> str:
    return names[min(len(names) - 1, int(len(names) * rng.random() ** 3))]  # a few tables feed many readers


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--slots", type=int, default=20_000,
                        help="slots of the one pool (the default never binds: latency is the scheduler's own; "
                             "fewer slots add queue wait, reported per priority)")
    parser.add_argument("--seed", type=int, default=20240602)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    t0 = time.perf_counter()
    tasks, typical, incidents = build(args.tasks, args.layers, rng)
    state = TimedState(tasks)
    for t in tasks:  # history: ten earlier days
        state._durations[t.name] = [typical[t.name] * rng.uniform(0.8, 1.25) for _ in range(10)]
    alerts: list[Alert] = []
    config = SchedulerConfig(pools={"spark": args.slots}, catchup=60, sla_interval=300.0, sla_margin=90 * 60,
                             lease_seconds=3600)
    core = TimedScheduler(state, config, sinks=[alerts.append])
    core.ready_wall = {}
    build_s = time.perf_counter() - t0

    running: list[tuple[float, int, Job]] = []
    failures = {t.name for t in rng.sample(tasks, max(1, args.tasks // 1000))}  # fail once, then retry
    now = DAY0 - 30
    end = DAY0 + 86399  # one day of fires (the next day's 00:00 fires belong to the next day)
    latencies: list[float] = []
    by_class: dict[int, list[float]] = {}
    compute = 0.0
    ticks = 0
    dispatched = 0
    max_depth = args.layers
    wall0 = time.perf_counter()
    while now <= end:
        started = time.perf_counter()
        while running and running[0][0] <= now:
            _, _, job = heapq.heappop(running)
            fail = job.task in failures and job.attempt == 1
            core.complete(job, Outcome("failed" if fail else "succeeded", "injected" if fail else None), now)
        tick_start = time.perf_counter()
        jobs = core.tick(now)
        for job in jobs:
            inst = core.instances[job.instance_id]
            wall_ready = core.ready_wall.pop(job.instance_id, tick_start)
            virtual_wait = now - (inst.ready_at or now)
            in_tick = max(0.0, state.claimed_wall.pop(job.instance_id) - max(wall_ready, started))
            latencies.append(virtual_wait + in_tick)
            by_class.setdefault(inst.cls, []).append(virtual_wait + in_tick)
            took = typical[job.task] * incidents.get(job.task, 1.0) * rng.uniform(0.85, 1.2)
            heapq.heappush(running, (now + took, job.instance_id, job))
        dispatched += len(jobs)
        spent = time.perf_counter() - started
        compute += spent
        ticks += 1
        nxt = min([x for x in (running[0][0] if running else None, core._fires[0][0] if core._fires else None,
                               core.delayed[0][0] if core.delayed else None, core._next_sla) if x is not None])
        now = max(nxt, now + spent)  # the virtual clock is charged the scheduler's own compute time
        if not running and not core.queue and not core._fires and not core.delayed and now > DAY0 + 86400:
            break
    wall = time.perf_counter() - wall0

    insts = list(state.instances.values())
    done = [i for i in insts if i.state == "succeeded"]
    with_deadline = [i for i in insts if i.deadline is not None]
    missed = [i for i in with_deadline if i.ended_at is None or i.ended_at > (i.deadline or 0)]
    first_risk: dict[int, float] = {}
    for a in alerts:
        if a.condition == "sla_risk" and a.state == "raised":
            first_risk.setdefault(a.instance_id, a.at)
    leads = [(i.deadline or 0) - first_risk[i.id] for i in missed if i.id in first_risk]
    flagged_before = [x for x in leads if x > 0]
    false_alarms = [i for i in with_deadline if i.id in first_risk and i not in missed]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "tasks": args.tasks, "layers": max_depth, "edges": sum(len(v) for v in core.upstreams.values()),
        "instances": len(insts), "succeeded": len(done), "retried": sum(1 for i in insts if i.attempts > 1),
        "build_s": round(build_s, 1), "scheduler_cpu_s": round(compute, 1), "wall_s": round(wall, 1),
        "instances_per_s": round(len(insts) / compute, 0), "ticks": ticks,
        "latency_p50_ms": round(pct(latencies, 0.5) * 1000, 2), "latency_p99_ms": round(pct(latencies, 0.99) * 1000, 2),
        "latency_max_ms": round(max(latencies) * 1000, 1),
        "peak_rss_mb": round(peak_mb, 0),
        "sla_instances": len(with_deadline), "sla_missed": len(missed), "missed_flagged_before_deadline":
            len(flagged_before), "lead_p50_min": round(pct(flagged_before, 0.5) / 60, 0),
        "lead_min_min": round(min(flagged_before, default=float("nan")) / 60, 0),
        "risk_alerts_on_met_deadlines": len(false_alarms),
        "day_equivalent_capacity": round(len(insts) / compute * 86400 / 1e6, 1),
    }
    print(f"tasks {figures['tasks']:,} in {args.layers} layers, {figures['edges']:,} dependency edges; "
          f"{figures['instances']:,} instances ({figures['succeeded']:,} succeeded, {figures['retried']:,} retried)")
    print(f"scheduler CPU {figures['scheduler_cpu_s']} s for one virtual day -> {figures['instances_per_s']:,.0f} "
          f"instances/s (one core; ~{figures['day_equivalent_capacity']}M instances/day of scheduling capacity)")
    print(f"scheduling latency ready -> dispatched: p50 {figures['latency_p50_ms']} ms, "
          f"p99 {figures['latency_p99_ms']} ms, max {figures['latency_max_ms']} ms")
    waits = ", ".join(f"{'P' + str(c) if c < 4 else 'backfill'} p50 {pct(v, .5):.1f} s / p99 {pct(v, .99):.1f} s"
                      for c, v in sorted(by_class.items()))
    print(f"ready -> dispatched by priority: {waits}")
    print(f"peak memory (max RSS) {figures['peak_rss_mb']:.0f} MB; setup {figures['build_s']} s")
    print(f"SLA: {figures['sla_instances']:,} instances with deadlines, {figures['sla_missed']} missed; "
          f"{figures['missed_flagged_before_deadline']} of them flagged before the deadline, lead p50 "
          f"{figures['lead_p50_min']:.0f} min (min {figures['lead_min_min']:.0f} min); "
          f"{figures['risk_alerts_on_met_deadlines']} risk alert(s) on deadlines that were met")
    if args.json:
        print(json.dumps(figures))
    if args.debug:
        for i in missed:
            print("missed", i.task, i.state, i.deadline, i.ended_at, first_risk.get(i.id), i.started_at,
                  typical[i.task], incidents.get(i.task))


if __name__ == "__main__":
    main()
