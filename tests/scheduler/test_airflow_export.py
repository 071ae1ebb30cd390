"""`formcast export airflow`: the generated DAG files import with Airflow's own DagBag (in a separate
virtualenv, built once under ~/.cache/formcast) and keep schedules, dependencies, retries and priorities."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli.scheduling import _standalone
from app.workflow import versions
from catalog.store import Catalog
from generators.compile import Compiler
from generators.loading import load_task_file
from tests.accounts import admin, as_principal, token
from tests.scheduler.airflow_env import airflow_python

ROOT = Path(__file__).resolve().parents[2]

INSPECT = r'''
import json, sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
out = {"errors": {k: str(v)[-300:] for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "schedule": getattr(dag.timetable, "summary", None),
        "tasks": {t.task_id: {"upstream": sorted(t.upstream_task_ids), "retries": t.retries,
                              "priority_weight": t.priority_weight, "type": type(t).__name__,
                              "bash_command": getattr(t, "bash_command", None)} for t in dag.tasks},
    }
print(json.dumps(out))
'''


@pytest.fixture
def exported(demo_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(demo_home / "catalog.db", home / "catalog.db")
    with Catalog.open(f"sqlite:///{home / 'catalog.db'}") as store:
        for name in ("video_plays", "top_videos", "daily_active_users"):
            task, _ = load_task_file(ROOT / "examples" / f"{name}.json")
            options = versions.TaskOptions(retries=3, retry_delay=120)
            version = versions.deploy(store, versions.propose(Compiler(store), task), as_principal(store, "alice"),
                                      options)
            if version.status == "pending":
                versions.approve(store, name, version.version, as_principal(store, "bob"))
        operator = token(store, admin(store), "oscar")
    result = CliRunner().invoke(_standalone, ["export", "airflow", "--out", str(tmp_path / "dags")],
                                env={"FORMCAST_HOME": str(home), "FORMCAST_DB_URL": "", "FORMCAST_TOKEN": operator})
    assert result.exit_code == 0, result.output
    assert "wrote 3 DAG file(s)" in result.output
    return tmp_path / "dags"


def test_exported_files_are_python_and_name_the_pinned_config(exported: Path) -> None:
    files = sorted(p.name for p in exported.glob("*.py"))
    assert files == ["formcast_daily_active_users.py", "formcast_top_videos.py", "formcast_video_plays.py"]
    text = (exported / "formcast_top_videos.py").read_text()
    compile(text, "formcast_top_videos.py", "exec")
    assert "'upstreams': [{'task': 'video_plays', 'offset_minutes': -20}]" in text
    assert (exported / "formcast_configs" / "top_videos.v1.json").exists()


@pytest.mark.airflow
def test_airflow_dagbag_loads_the_exported_dags(exported: Path, tmp_path: Path) -> None:
    python, why = airflow_python(build=os.environ.get("FORMCAST_BUILD_AIRFLOW_VENV", "1") != "0")
    if python is None:
        pytest.skip(why)
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow_home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__UNIT_TEST_MODE": "True"}
    done = subprocess.run([str(python), "-c", INSPECT, str(exported)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["errors"] == {}
    dags = found["dags"]
    assert set(dags) == {"video_plays", "top_videos", "daily_active_users"}
    assert dags["video_plays"]["schedule"] == "20 1 * * *"
    assert dags["top_videos"]["schedule"] == "40 1 * * *"
    top = dags["top_videos"]["tasks"]
    assert set(top) == {"run", "wait_video_plays"}
    assert top["run"]["upstream"] == ["wait_video_plays"] and top["wait_video_plays"]["type"] == "ExternalTaskSensor"
    assert top["run"]["retries"] == 3 and top["run"]["priority_weight"] == 10  # P2
    assert dags["daily_active_users"]["tasks"]["run"]["priority_weight"] == 100  # P1
    assert "formcast run " in top["run"]["bash_command"] and "--date {{ ds }}" in top["run"]["bash_command"]
    assert set(dags["video_plays"]["tasks"]) == {"run"}
