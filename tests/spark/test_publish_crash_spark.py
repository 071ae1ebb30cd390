"""`formcast run` on real Spark, SIGKILLed just before and just after the publish's commit point.

The target then holds the old rows (before) or the new rows (after); the next run reports the lost
run, closes its record and removes the leftovers; the killed process's JVM goes with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.workflow import runs
from catalog.spec import TableSpec
from catalog.store import Catalog
from generators.compile import Compiler
from generators.loading import parse_task
from tests.accounts import admin, token
from tests.support import Warehouse

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2024, 6, 1)
TASK = {"name": "users_copy", "kind": "sync", "source": "app.users", "owner": "tests",
        "columns": [{"source": "user_id", "target": "id"}, {"source": "country", "target": "country_code"}],
        "target": {"table": "mart.users_copy", "write_mode": "overwrite"}}
KILLING_CLI = (
    "import os, signal, sys\n"
    "from app.workflow import staging\n"
    "point = sys.argv[1]\n"
    "staging.set_fault_hook(lambda p: os.kill(os.getpid(), signal.SIGKILL) if p == point else None)\n"
    "from app.cli.main import main\n"
    "main(sys.argv[2:])\n"
)


def _processes_marked(mark: str) -> list[int]:
    """Processes (the CLI and its Spark JVM) started with our marker in their environment."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"FORMCAST_TEST_MARK={mark}".encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("kill_at", ["prepared", "committed"])
def test_a_killed_spark_run_is_recovered_by_the_next_run(tmp_path: Path, warehouse: Warehouse,
                                                         kill_at: str) -> None:
    target = tmp_path / "dev" / "mart" / "users_copy"
    target.mkdir(parents=True)
    pq.write_table(pa.table({"id": [100, 101], "country_code": ["old", "old"]}), target / "part-0.parquet")
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    with Catalog.open(url) as store:
        store.register_many([TableSpec.model_validate(t) for t in (
            {"name": "app.users", "columns": [{"name": "user_id", "type": "bigint"},
                                              {"name": "country", "type": "string"}],
             "bindings": {"spark": {"dev": {"kind": "file", "path": str(warehouse.root / "app" / "users")}}}},
            {"name": "mart.users_copy", "columns": [{"name": "id", "type": "bigint"},
                                                    {"name": "country_code", "type": "string"}],
             "bindings": {"spark": {"dev": {"kind": "file", "path": str(target)},
                                    "prod": {"kind": "file", "path": str(tmp_path / "prod" / "users_copy")}}}},
        )])
        signed = token(store, admin(store))
    task_file = tmp_path / "users_copy.json"
    task_file.write_text(json.dumps(TASK))
    mark = uuid.uuid4().hex
    env = {**os.environ, "FORMCAST_HOME": str(tmp_path / "home"), "FORMCAST_DB_URL": url,
           "FORMCAST_TEST_MARK": mark, "PYTHONPATH": str(ROOT), "FORMCAST_TOKEN": signed}
    proc = subprocess.run([sys.executable, "-c", KILLING_CLI, kill_at, "run", str(task_file), "--date", str(DAY)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-3000:]
    deadline = time.monotonic() + 60  # the JVM notices its driver is gone and exits
    while _processes_marked(mark) and time.monotonic() < deadline:
        time.sleep(0.5)
    orphans = _processes_marked(mark)
    for pid in orphans:
        os.kill(pid, 9)
    assert orphans == [], "the killed run's JVM outlived it"

    committed = kill_at == "committed"
    rows = sorted(pq.read_table(target).column("id").to_pylist())
    assert rows == ([1, 2, 3, 4, 5, 6] if committed else [100, 101])
    # before the commit: the new rows in the staging folder; after: the old rows under that name
    leftovers = [p.name for p in target.parent.iterdir() if p.name != "users_copy"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".users_copy.staging-"), leftovers

    with Catalog.open(url) as store:
        [killed] = store.runs(status="running")
        task, _ = parse_task(TASK)
        result = runs.run(Compiler(store), task, store, principal=admin(store), logical_date=DAY)
        assert result.status == "succeeded", result.log
        assert any(line.startswith(f"recovered: run {killed.id[:12]} of users_copy closed as "
                                   f"{'succeeded' if committed else 'lost'}") for line in result.log), result.log
        record = store.get_run(killed.id)
        assert record.status == ("succeeded" if committed else "lost")
        assert store.runs(status="running") == []
    assert sorted(p.name for p in target.parent.iterdir()) == ["users_copy"]
    assert sorted(pq.read_table(target).column("id").to_pylist()) == [1, 2, 3, 4, 5, 6]
