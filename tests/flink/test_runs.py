"""Failed runs, stop, deep validation and the CLI on Flink."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from app.cli.main import main
from app.runners import flink as flink_runner
from app.workflow import runs
from app.workflow.deep import analyze
from generators.loading import parse_task
from tests.accounts import token
from tests.flink.conftest import DAY, FlinkDemo

pytestmark = pytest.mark.flink
HEADER = {"owner": "tests", "priority": "P2", "lint": {"missing-partition-filter": "off"}}
ROOT = Path(__file__).resolve().parents[2]


def _task(config: dict[str, Any]) -> Any:
    task, problems = parse_task({**HEADER, **config})
    assert task is not None, problems
    return task


def test_failed_run_leaves_target_untouched(demo: FlinkDemo) -> None:
    good = {"name": "amounts", "kind": "sync", "source": "shop.orders", "filter": "quantity >= 4",
            "columns": [{"source": "order_id"}, {"source": "quantity", "target": "amount"}],
            "target": {"table": "test.fail_out", "write_mode": "overwrite"}}
    result = runs.run(demo.compiler, _task(good), demo.store, principal=demo.principal,
                      engine="flink", logical_date=DAY)
    assert result.status == "succeeded", result.error
    before = sorted(demo.csv_output("test.fail_out"))
    assert before and result.rows_written == len(before)
    # 'paid' cannot be cast to INT: Flink fails at run time, mid-write.
    bad = {**good, "filter": None,
           "columns": [{"source": "order_id"}, {"source": "status", "target": "amount", "cast": "int"}]}
    result = runs.run(demo.compiler, _task(bad), demo.store, principal=demo.principal, engine="flink", logical_date=DAY)
    assert result.status == "failed" and result.error
    assert "\n" not in result.error and "at org.apache" not in result.error
    assert sorted(demo.csv_output("test.fail_out")) == before
    record = demo.store.get_run(result.run_id)
    assert record is not None and record.status == "failed" and record.error
    assert record.details["job_id"] == result.job_id
    assert [p for p in (demo.out / "test").iterdir() if "staging" in p.name] == []


def test_streaming_job_runs_until_stopped(demo: FlinkDemo, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unbounded datagen → blackhole job runs until `formcast stop RUN_ID` cancels it by its job id."""
    task = _task({"name": "ticks", "kind": "sync", "source": "test.ticks", "target": {"table": "test.discard"}})
    outcome: dict[str, Any] = {}
    lines: list[str] = []
    worker = threading.Thread(target=lambda: outcome.update(result=runs.run(
        demo.compiler, task, demo.store, principal=demo.principal, engine="flink", logical_date=DAY, mode="streaming",
        emit=lines.append)))
    worker.start()
    deadline = time.monotonic() + 60
    while not any(line.endswith(": RUNNING") for line in lines) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert any(line.endswith(": RUNNING") for line in lines), lines
    running = [r for r in demo.store.runs(task="ticks") if r.status == "running"]
    assert len(running) == 1 and running[0].details["job_id"]
    monkeypatch.setenv("FORMCAST_HOME", str(demo.home))
    monkeypatch.setenv("FORMCAST_TOKEN", token(demo.store, demo.principal))  # the developer who started it
    stopped = CliRunner().invoke(main, ["stop", running[0].id[:12]])
    worker.join(timeout=60)
    assert stopped.exit_code == 0, stopped.output
    result = outcome["result"]
    assert result.status == "cancelled" and result.job_state == "CANCELED"
    assert demo.store.get_run(result.run_id).status == "cancelled"  # type: ignore[union-attr]
    assert flink_runner.job_state(result.job_id) == "CANCELED"


def test_deep_validation_of_a_kafka_source_plans_with_stand_ins(demo: FlinkDemo) -> None:
    task = _task({"name": "from_kafka", "kind": "derive", "source": "test.kafka_events", "filter": "event = 'play'",
                  "select": ["event_id", "user_id", "event"], "target": {"table": "test.kafka_out"}})
    compiled = demo.compiler.compile(task, engine="flink", logical_date=DAY, mode="streaming")
    assert compiled.ok, [str(d) for d in compiled.diagnostics]
    items = analyze(compiled)
    assert [d.rule for d in items] == ["connector-not-checked"], [str(d) for d in items]
    assert items[0].severity == "warning" and "kafka" in items[0].message
    assert "WATERMARK" in compiled.setup  # the stand-in keeps the event-time attribute the real table has


def test_deep_validation_locates_a_planner_error(demo: FlinkDemo) -> None:
    # sqlglot and the function allow-list accept it (CHAR_LENGTH is a Flink function); Flink's planner
    # refuses it for a BIGINT. (In a filter: a projection the target does not keep would be pruned
    # before Flink sees it.)
    task = _task({"name": "broken", "kind": "derive", "source": "test.kafka_events",
                  "select": ["event_id", "user_id", "event"], "filter": "CHAR_LENGTH(user_id) > 0",
                  "target": {"table": "test.kafka_out"}, "lint": {"target-schema-mismatch": "off"}})
    compiled = demo.compiler.compile(task, engine="flink", logical_date=DAY, mode="streaming")
    assert compiled.ok, [str(d) for d in compiled.errors]
    items = analyze(compiled)
    errors = [d for d in items if d.severity == "error"]
    assert [d.rule for d in errors] == ["engine-analysis"], [str(d) for d in items]
    assert errors[0].path == "filter", str(errors[0])
    assert "connector-not-checked" in [d.rule for d in items]


def test_cli_run_on_flink_end_to_end(demo: FlinkDemo) -> None:
    env = {**os.environ, "FORMCAST_HOME": str(demo.home), "FORMCAST_DB_URL": f"sqlite:///{demo.home / 'catalog.db'}",
           "FORMCAST_TOKEN": token(demo.store, demo.principal)}
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "run", str(ROOT / "examples" / "event_counts.json"), "--engine", "flink",
         "--date", DAY.isoformat(), "--preview", "3"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "submitted to local mini cluster" in proc.stderr and ": FINISHED" in proc.stderr
    assert "event_counts: succeeded (" in proc.stdout and "row(s) written" in proc.stdout
    assert "event_hour" in proc.stdout  # the preview's header
    usage = subprocess.run([sys.executable, "-m", "app.cli", "run", "x.json", "--mode", "sideways"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2
