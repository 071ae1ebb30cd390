"""The task store: atomic writes, history, conflict detection, import/export."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from app.workflow import task_store
from app.workflow.task_store import ConflictError, InvalidTaskError, TaskStore, TaskStoreError, referenced_tables
from generators.loading import parse_task, task_to_json
from tests.ui.conftest import example


@pytest.fixture
def store(tmp_path: Path) -> TaskStore:
    return TaskStore(tmp_path / "tasks", keep=3)


def _dau(**changes: object) -> dict:
    data = example("daily_active_users")
    data.update(changes)
    return data


def test_save_writes_canonical_json_and_load_returns_version(store: TaskStore) -> None:
    stored = store.save(_dau(), None)
    assert stored.path == store.root / "daily_active_users.json"
    task, _ = parse_task(_dau())
    assert stored.path.read_text() == task_store.canonical_json(task)
    assert json.loads(stored.path.read_text()) == {k: v for k, v in json.loads(task_to_json(task)).items()} | {
        "kind": "aggregate"}
    loaded = store.load("daily_active_users")
    assert loaded.version == stored.version == task_store.content_version(stored.path.read_bytes())
    assert loaded.data["kind"] == "aggregate"
    assert store.names() == ["daily_active_users"]
    [entry] = store.list()
    assert (entry.kind, entry.target, entry.source, entry.valid) == (
        "aggregate", "mart.daily_active_users", "app.client_events", True)


def test_invalid_config_is_refused_with_located_problems(store: TaskStore) -> None:
    with pytest.raises(InvalidTaskError) as info:
        store.save(_dau(metrics=[]), None)
    assert [d.path for d in info.value.diagnostics] == ["metrics"]
    assert not store.exists("daily_active_users")


def test_new_task_with_an_existing_name_is_a_conflict(store: TaskStore) -> None:
    store.save(_dau(), None)
    with pytest.raises(ConflictError, match="already exists"):
        store.save(_dau(description="other"), None)


def test_concurrent_edit_is_detected_and_not_overwritten(store: TaskStore) -> None:
    v1 = store.save(_dau(), None).version
    mine = store.load("daily_active_users")  # two editors open the same version
    theirs = store.load("daily_active_users")
    v2 = store.save(_dau(description="theirs"), theirs.version).version
    assert v2 != v1
    with pytest.raises(ConflictError) as info:
        store.save(_dau(description="mine"), mine.version)
    assert (info.value.expected, info.value.current) == (v1, v2)
    assert store.load("daily_active_users").data["description"] == "theirs"
    # the user chooses: overwrite
    store.save(_dau(description="mine"), mine.version, overwrite=True)
    assert store.load("daily_active_users").data["description"] == "mine"


def test_external_edit_of_the_file_is_detected(store: TaskStore) -> None:
    opened = store.save(_dau(), None)
    data = json.loads(opened.path.read_text())
    data["owner"] = "someone-else"
    opened.path.write_text(json.dumps(data))  # edited by hand, outside Formcast
    with pytest.raises(ConflictError):
        store.save(_dau(owner="me"), opened.version)


def test_deleted_meanwhile_is_a_conflict(store: TaskStore) -> None:
    opened = store.save(_dau(), None)
    store.delete("daily_active_users")
    with pytest.raises(ConflictError, match="deleted"):
        store.save(_dau(owner="me"), opened.version)


def test_saving_unchanged_content_keeps_version_and_history(store: TaskStore) -> None:
    v1 = store.save(_dau(), None).version
    assert store.save(_dau(), v1).version == v1
    assert store.history("daily_active_users") == []


def test_history_keeps_the_last_n_previous_versions(store: TaskStore) -> None:
    version = store.save(_dau(description="v0"), None).version
    for i in range(1, 6):
        version = store.save(_dau(description=f"v{i}"), version).version
    history = store.history("daily_active_users")
    assert len(history) == 3  # keep=3
    assert [json.loads(h.path.read_text())["description"] for h in history] == ["v4", "v3", "v2"]
    restored = store.restore(history[0], version)
    assert restored.data["description"] == "v4"
    assert json.loads(store.history("daily_active_users")[0].path.read_text())["description"] == "v5"


def test_delete_keeps_the_last_version_in_history(store: TaskStore) -> None:
    stored = store.save(_dau(), None)
    with pytest.raises(ConflictError):
        store.delete("daily_active_users", "0" * 16)
    store.delete("daily_active_users", stored.version)
    assert not store.exists("daily_active_users")
    assert json.loads(store.history("daily_active_users")[0].path.read_text())["name"] == "daily_active_users"
    with pytest.raises(TaskStoreError):
        store.delete("daily_active_users")


def test_failed_write_leaves_the_old_file_and_no_temp_files(store: TaskStore, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    stored = store.save(_dau(description="old"), None)
    before = stored.path.read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(task_store.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        store.save(_dau(description="new"), stored.version)
    monkeypatch.undo()
    assert stored.path.read_bytes() == before
    assert [p.name for p in store.root.iterdir() if p.name.endswith(".tmp")] == []
    assert store.load("daily_active_users").version == stored.version


def test_failed_replace_leaves_the_old_file(store: TaskStore, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = store.save(_dau(description="old"), None)

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(task_store.os, "replace", failing_replace)
    with pytest.raises(OSError):
        store.save(_dau(description="new"), stored.version)
    monkeypatch.undo()
    assert store.load("daily_active_users").data["description"] == "old"
    assert not any(p.name.endswith(".tmp") for p in store.root.iterdir())


def test_parallel_saves_from_the_same_version_let_exactly_one_win(store: TaskStore) -> None:
    base = store.save(_dau(), None).version
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def editor(i: int) -> None:
        barrier.wait()
        try:
            TaskStore(store.root).save(_dau(description=f"editor {i}"), base)
            outcomes.append("saved")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=editor, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["saved"]


@pytest.mark.parametrize("name", ["category_revenue_share", "funnel_sql", "users_copy", "plays_per_window"])
def test_canonical_json_parses_back_to_the_same_task(name: str) -> None:
    task, _ = parse_task(example(name))
    again, problems = parse_task(json.loads(task_store.canonical_json(task)))
    assert again == task, problems
    assert all("kind" in step for step in json.loads(task_store.canonical_json(task)).get("steps", []))


def test_names_are_checked(store: TaskStore) -> None:
    with pytest.raises(TaskStoreError):
        store.load("../etc/passwd")
    with pytest.raises(TaskStoreError):
        store.duplicate("x", "Bad Name")


def test_import_export_and_duplicate(store: TaskStore) -> None:
    text = json.dumps(_dau())
    stored = store.import_text(text)
    assert store.export_text("daily_active_users") == stored.text
    with pytest.raises(ConflictError):
        store.import_text(text.replace("Daily active", "Changed"))
    assert store.import_text(text.replace("Daily active", "Changed"), overwrite=True).data["description"].startswith(
        "Changed")
    with pytest.raises(InvalidTaskError) as info:
        store.import_text('{"name": "x", "kind": "aggregate"}')
    assert {d.path for d in info.value.diagnostics} >= {"source", "target", "metrics"}
    with pytest.raises(InvalidTaskError):
        store.import_text("{not json")
    copy = store.duplicate("daily_active_users", "dau_copy")
    assert copy.data["name"] == "dau_copy" and store.names() == ["daily_active_users", "dau_copy"]


def test_list_skips_broken_files_gracefully(store: TaskStore) -> None:
    store.root.mkdir(parents=True)
    (store.root / "broken.json").write_text("{oops")
    [entry] = store.list()
    assert (entry.name, entry.valid) == ("broken", False)


def test_for_home_uses_formcast_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORMCAST_HOME", str(tmp_path))
    assert TaskStore.for_home().root == tmp_path.resolve() / "tasks"


def test_referenced_tables() -> None:
    assert referenced_tables(example("orders_enriched")) == {
        "shop.orders", "app.users", "ref.countries", "shop.products", "app.videos", "app.creators"}
    assert referenced_tables(example("funnel_sql")) == {"app.client_events"}
    assert "mart.category_revenue_share" not in referenced_tables(example("category_revenue_share"))


def test_atomic_write_creates_parent(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.json"
    task_store.atomic_write(target, b"{}")
    assert target.read_bytes() == b"{}" and os.listdir(tmp_path / "a") == ["b.json"]
