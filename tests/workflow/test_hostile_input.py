"""Hostile names stay refused: path separators and `..` in task names, table names, partition columns,
history file names; a catalog file that binds a dev table into a prod tree."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from app.cli.main import main
from app.workflow.task_store import HistoryEntry, TaskStore, TaskStoreError
from catalog.spec import JdbcBinding, TableSpec
from catalog.store import Catalog
from generators.loading import parse_task
from tests.accounts import admin, token

TASK = {"name": "copy_users", "kind": "sync", "source": "app.users", "target": {"table": "mart.users_copy"}}


@pytest.fixture
def tasks(tmp_path: Path) -> TaskStore:
    return TaskStore(tmp_path / "home" / "tasks", keep=5)


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "x\\y", "/etc/passwd", "a\x00b", ".history"])
def test_task_names_with_paths_are_refused(tasks: TaskStore, name: str) -> None:
    task, problems = parse_task({**TASK, "name": name})
    assert task is None and problems[0].path == "name"
    for call in (tasks.path, tasks.history_dir, tasks.load):
        with pytest.raises(TaskStoreError, match="is not a task name"):
            call(name)


@pytest.mark.parametrize("file_name", ["../../copy_users.json", "/etc/passwd", "x.json", "..",
                                       "00000000000000000001-0123456789abcdef.json/../../../x"])
def test_history_file_names_are_checked(tasks: TaskStore, file_name: str) -> None:
    tasks.save(TASK, None)
    with pytest.raises(TaskStoreError):
        tasks.history_entry("copy_users", file_name)


def test_restore_only_reads_the_tasks_own_history(tasks: TaskStore, tmp_path: Path) -> None:
    tasks.save(TASK, None)
    tasks.save({**TASK, "description": "v2"}, tasks.version("copy_users"))
    [entry] = tasks.history("copy_users")
    outside = tmp_path / f"{entry.path.name}"
    outside.write_text(json.dumps({**TASK, "description": "planted"}))
    with pytest.raises(TaskStoreError, match="not in the history"):
        tasks.restore(HistoryEntry("copy_users", outside, 0.0, "x"), tasks.version("copy_users"))
    restored = tasks.restore(entry, tasks.version("copy_users"))
    assert "v2" not in restored.text


def test_planted_history_files_are_not_listed(tasks: TaskStore, tmp_path: Path) -> None:
    tasks.save(TASK, None)
    tasks.save({**TASK, "description": "v2"}, tasks.version("copy_users"))
    folder = tasks.history_dir("copy_users")
    (folder / "notes.json").write_text("{}")
    (tmp_path / "secret.json").write_text("{}")
    os.symlink(tmp_path / "secret.json", folder / "00000000000000000001-0123456789abcdef.json")
    assert [e.path.name for e in tasks.history("copy_users")] == [p.name for p in folder.glob("*.json")
                                                                  if not p.is_symlink() and p.name != "notes.json"]


def test_a_history_folder_symlinked_elsewhere_is_refused(tasks: TaskStore, tmp_path: Path) -> None:
    tasks.save(TASK, None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tasks.root / ".history").mkdir(exist_ok=True)
    os.symlink(elsewhere, tasks.root / ".history" / "copy_users")
    with pytest.raises(TaskStoreError, match="leads outside the task folder"):
        tasks.save({**TASK, "description": "v2"}, tasks.version("copy_users"))
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("name", ["mart/users", "../mart.users", "mart.users/..", "mart..users", "a.b.c"])
def test_table_names_with_paths_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        TableSpec.model_validate({"name": name, "columns": [{"name": "id", "type": "bigint"}]})


@pytest.mark.parametrize("column", ["../x", "a/b", "ds=1", ".."])
def test_partition_columns_that_name_folders_are_refused(column: str) -> None:
    with pytest.raises(ValidationError, match="cannot name a folder"):
        TableSpec.model_validate({"name": "a.b", "columns": [{"name": column, "type": "string"}],
                                  "partition_by": [column]})


@pytest.mark.parametrize("table", ["(SELECT * FROM secrets) t", "users; DROP TABLE x", "../users", "a b"])
def test_jdbc_tables_are_names_not_queries(table: str) -> None:
    with pytest.raises(ValidationError):
        JdbcBinding(url="jdbc:postgresql://db/shop", table=table)


def test_a_file_path_with_control_characters_is_refused() -> None:
    with pytest.raises(ValidationError, match="control characters"):
        TableSpec.model_validate({"name": "a.b", "columns": [{"name": "id", "type": "bigint"}],
                                  "bindings": {"spark": {"dev": {"kind": "file", "path": "/data/x\x00/../prod"}}}})


def test_catalog_add_refuses_a_dev_table_in_a_prod_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    monkeypatch.setenv("FORMCAST_DB_URL", url)
    monkeypatch.setenv("FORMCAST_HOME", str(tmp_path / "home"))
    with Catalog.open(url) as store:  # registering tables takes an account that may (the admin)
        monkeypatch.setenv("FORMCAST_TOKEN", token(store, admin(store)))
    prod = tmp_path / "data" / "prod"
    (prod / "mart").mkdir(parents=True)
    os.symlink(prod, tmp_path / "shortcut")
    good = tmp_path / "good.yaml"
    good.write_text(f"""tables:
  - name: mart.users
    columns: [{{name: id, type: bigint}}]
    bindings: {{spark: {{dev: {{kind: file, path: {tmp_path}/data/dev/mart/users}},
                        prod: {{kind: file, path: {prod}/mart/users}}}}}}
""")
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"""tables:
  - name: mart.sneaky
    columns: [{{name: id, type: bigint}}]
    bindings: {{spark: {{dev: {{kind: file, path: "file://{tmp_path}/shortcut/mart/users/../.."}},
                        prod: {{kind: file, path: {prod}/mart/sneaky}}}}}}
""")
    runner = CliRunner()
    assert runner.invoke(main, ["catalog", "add", str(good)]).exit_code == 0
    result = runner.invoke(main, ["catalog", "add", str(bad)])
    assert result.exit_code == 1
    assert "bindings.spark.dev" in result.output and "contains the prod location of mart.users" in result.output
    assert "Traceback" not in result.output
    with Catalog.open(url) as store:
        assert store.table_names() == ["mart.users"]
