"""Crash safety: SIGKILL the real `scheduler` process mid-run, restart it, and count side effects."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from app.scheduler.sql_state import SqlState
from catalog.db import engine_of
from catalog.store import Catalog
from tests.accounts import admin, ensure_account, token
from tests.scheduler.conftest import put_version

ROOT = Path(__file__).resolve().parents[2]
LAYERS, WIDTH = 4, 5  # 20 tasks; every task reads all of the previous layer (fan-in and fan-out)
# Each instance runs this long: long enough that one seen running is still running when the kill lands.
RUN_SECONDS = 2.0


def _scheduler(url: str, markers: Path, *extra: str) -> subprocess.Popen[str]:
    with Catalog.open(url) as store:  # the scheduler acts as a service account (an operator)
        signed = token(store, admin(store), ensure_account(store, "scheduler", "operator", kind="service").name)
    env = {**os.environ, "FORMCAST_DB_URL": url, "FORMCAST_TOKEN": signed}
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli.scheduling", "scheduler", "--executor", f"touch:{markers}:{RUN_SECONDS}",
         "--env", "dev", "--now", "2024-06-02T01:00:30Z", "--tick", "0.1", "--lease", "5", "--pool", "default=4",
         *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_sigkill_mid_run_then_restart_runs_every_instance_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    markers = tmp_path / "markers"
    with Catalog.open(url) as store:
        for layer in range(LAYERS):
            for i in range(WIDTH):
                reads = tuple(f"mart.l{layer - 1}_{j}" for j in range(WIDTH)) if layer else ()
                put_version(store, f"l{layer}_{i}", schedule="0 1 * * *", reads=reads, target=f"mart.l{layer}_{i}",
                            retries=0)
    first = _scheduler(url, markers)
    deadline = time.monotonic() + 180
    seen_mid_run = False
    with Catalog.open(url) as store:
        state = SqlState(engine_of(store))
        while time.monotonic() < deadline and not seen_mid_run:  # kill mid-run: some done, some running now
            done = len(list(markers.glob("*.done"))) if markers.exists() else 0
            seen_mid_run = done >= 7 and any(i.state == "running" for i in state.list(limit=1000))
            if not seen_mid_run:
                time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    assert seen_mid_run, "the scheduler never had 7 instances done and one running within 180 s"
    first.wait(timeout=10)
    killed_at = len(list(markers.glob("*.done")))
    with Catalog.open(url) as store:
        running_at_kill = sum(i.state == "running" for i in SqlState(engine_of(store)).list(limit=1000))
    assert running_at_kill >= 1
    assert 7 <= killed_at < LAYERS * WIDTH, first.stdout.read() if first.stdout else ""

    second = _scheduler(url, markers, "--until-idle", "--max-seconds", "60")
    out, _ = second.communicate(timeout=90)
    assert second.returncode == 0, out

    counts = Counter(p.name.split("__")[0] + "/" + p.name.split("__")[1] for p in markers.glob("*.done"))
    assert len(counts) == LAYERS * WIDTH
    assert set(counts.values()) == {1}, counts  # no instance executed twice, none lost
    with Catalog.open(url) as store:
        state = SqlState(engine_of(store))
        rows = state.list(limit=1000)
        assert len(rows) == LAYERS * WIDTH and {r.state for r in rows} == {"succeeded"}
        statuses = Counter(a.status for r in rows for a in state.attempts(r.id))
    # what was running at the kill was taken over: recovered (it had finished) or run again (lost)
    assert statuses["succeeded"] + statuses["recovered"] == LAYERS * WIDTH
    assert statuses["lost"] + statuses["recovered"] == running_at_kill, statuses
    assert "executor lost" in out or "recovered" in out
    # dependency order held across the crash (real time: the two processes' --now clocks differ): every
    # layer's side effects come after all of the previous layer's
    written = {p.name.split("__")[0]: p.stat().st_mtime for p in markers.glob("*.done")}
    for layer in range(1, LAYERS):
        latest_up = max(written[f"l{layer - 1}_{j}"] for j in range(WIDTH))
        assert min(written[f"l{layer}_{i}"] for i in range(WIDTH)) > latest_up
