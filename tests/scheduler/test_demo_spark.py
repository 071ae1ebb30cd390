"""End to end with the demo: deploy two dependent example tasks and let the scheduler run them, in
dependency order, on real local Spark for one logical date (two Spark runs)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from app.scheduler.core import Scheduler
from app.scheduler.executors import SparkExecutor
from app.scheduler.model import SchedulerConfig
from app.scheduler.service import SchedulerService
from app.scheduler.sql_state import SqlState
from app.security import audit
from app.workflow import versions
from catalog.db import engine_of
from catalog.store import Catalog
from generators.compile import Compiler
from generators.loading import load_task_file
from tests.accounts import as_principal
from tests.scheduler.conftest import utc

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.spark
def test_scheduler_runs_video_plays_then_top_videos_on_spark(demo_home: Path, tmp_path: Path) -> None:
    shutil.copy(demo_home / "catalog.db", tmp_path / "catalog.db")
    with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as store:
        for name in ("top_videos", "video_plays"):  # the reader first: order comes from lineage, not from us
            task, _ = load_task_file(ROOT / "examples" / f"{name}.json")
            alice = as_principal(store, "alice")
            assert versions.deploy(store, versions.propose(Compiler(store), task), alice).status == "approved"
        state = SqlState(engine_of(store))
        executor = SparkExecutor(store, env="dev", principal=as_principal(store, "scheduler"))
        core = Scheduler(state, SchedulerConfig(), owner="e2e", recover=executor.recover)
        offset = utc(2024, 6, 3, 3, 0) - time.time()  # cron fires 01:20 and 01:40 -> logical date 2024-06-02
        SchedulerService(core, executor, tick=0.2, clock=lambda: time.time() + offset).run(
            until_idle=True, max_seconds=240)
        assert core.upstreams["top_videos"] == ["video_plays"]
        rows = {i.task: i for i in state.list()}
        assert set(rows) == {"video_plays", "top_videos"}
        assert {(i.key, i.state, i.version) for i in rows.values()} == {("2024-06-02", "succeeded", 1)}
        assert (rows["top_videos"].started_at or 0) >= (rows["video_plays"].ended_at or 1)
        runs = {r.task: r for r in store.runs(limit=10)}
        assert {r.status for r in runs.values()} == {"succeeded"} and set(runs) == {"video_plays", "top_videos"}
        assert all(r.logical_date == "2024-06-02" and r.env == "dev" for r in runs.values())
        assert runs["top_videos"].rows_written and runs["video_plays"].rows_written
        assert rows["video_plays"].run_id == runs["video_plays"].id
        entries = audit.entries(store, action="run")  # the service account ran them, and the log says so
        assert {(e.actor, e.outcome, e.target) for e in entries} == {
            ("scheduler", "ok", "task video_plays"), ("scheduler", "ok", "task top_videos")}
