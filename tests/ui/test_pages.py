"""Every page through AppTest on the demo workspace: renders, and its main actions work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.cli.ui import APP_FILE, streamlit_command, ui_environment
from app.workflow.task_store import TaskStore
from tests.ui.conftest import example, open_doc

PAGES = ["views/tasks.py", "views/editor.py", "views/run.py", "views/schedule.py", "views/catalog.py",
         "views/operations.py"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_a_task(app: Any, page: str) -> None:
    app.switch_page(page).run()
    assert not app.exception


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_a_task(app: Any, page: str) -> None:
    open_doc(app, example("category_revenue_share"), page)
    assert not app.exception


def test_gallery_opens_the_editor_and_save_writes_the_file(app: Any, demo_home: Path) -> None:
    app.button(key="gallery_0").click().run()
    assert not app.exception
    assert app.session_state["doc"]["name"] == "daily_active_users"
    assert any(t.value == "Task editor" for t in app.title)
    app.button(key="editor_save").click().run()
    saved = demo_home / "tasks" / "daily_active_users.json"
    assert saved.is_file() and json.loads(saved.read_text())["kind"] == "aggregate"
    assert app.session_state["opened"][0] == "daily_active_users"
    assert any("Saved" in s.value for s in app.success)


def test_save_conflict_offers_reload_or_overwrite(app: Any, demo_home: Path) -> None:
    store = TaskStore(demo_home / "tasks")
    stored = store.save(example("event_counts"), None)
    app.session_state["opened"] = (stored.name, stored.version)
    open_doc(app, stored.data)
    app.session_state["opened"] = (stored.name, stored.version)
    store.save({**stored.data, "owner": "someone-else"}, stored.version)  # another editor saves first
    app.button(key="editor_save").click().run()
    assert any("changed by someone else" in w.value for w in app.warning)
    assert json.loads(stored.path.read_text())["owner"] == "someone-else"
    app.button(key="conflict_reload").click().run()
    assert app.session_state["doc"]["owner"] == "someone-else"
    # and overwrite, after a new conflict
    store.save({**stored.data, "owner": "third"}, store.version("event_counts"))
    app.text_input(key=f"fc{app.session_state['gen']}:owner").set_value("me").run()
    app.button(key="editor_save").click().run()
    app.button(key="conflict_overwrite").click().run()
    assert json.loads(stored.path.read_text())["owner"] == "me"


def test_tasks_page_create_open_duplicate_delete(app: Any, demo_home: Path) -> None:
    app.selectbox(key="new_kind").set_value("topn")
    app.text_input(key="new_name").set_value("my_top").run()
    app.button(key="new_create").click().run()
    doc = app.session_state["doc"]
    assert (doc["name"], doc["kind"]) == ("my_top", "topn")
    assert any(p == "n" for p, _, _ in app.session_state["editor_diagnostics"])
    store = TaskStore(demo_home / "tasks")
    store.save(example("video_plays"), None)
    app.switch_page("views/tasks.py").run()
    app.button(key="open_video_plays").click().run()
    assert app.session_state["doc"]["name"] == "video_plays" and app.session_state["opened"][0] == "video_plays"
    app.switch_page("views/tasks.py").run()
    app.text_input(key="dup_name_video_plays").set_value("video_plays_2")
    app.button(key="dup_video_plays").click().run()
    assert store.names() == ["video_plays", "video_plays_2"]
    app.button(key="delete_video_plays_2").click().run()
    assert store.exists("video_plays_2")  # asks first
    app.button(key="confirm_delete_video_plays_2").click().run()
    assert store.names() == ["video_plays"]
    assert store.history("video_plays_2")


def test_schedule_page_writes_schedule_priority_sla_and_suggests_upstream(app: Any, demo_home: Path) -> None:
    store = TaskStore(demo_home / "tasks")
    store.save(example("video_plays"), None)  # writes mart.video_plays, which top_videos reads
    open_doc(app, example("top_videos"), "views/schedule.py")
    assert any(getattr(t, "value", None) is not None and "video_plays" in str(t.value) for t in app.table)
    app.selectbox(key="sched_preset").set_value("Custom").run()
    app.text_input(key="sched_cron").set_value("0 6 * * 1-5").run()
    assert app.table  # next runs
    app.radio(key="sched_priority").set_value("P0")
    app.text_input(key="sched_deadline").set_value("09:30")
    app.selectbox(key="sched_tz").set_value("Europe/Amsterdam").run()
    app.button(key="sched_save").click().run()
    assert not app.exception
    saved = json.loads((demo_home / "tasks" / "top_videos.json").read_text())
    assert saved["schedule"] == "0 6 * * 1-5" and saved["priority"] == "P0"
    assert saved["sla"] == {"deadline": "09:30", "timezone": "Europe/Amsterdam"}
    app.text_input(key="sched_cron").set_value("every day").run()
    assert any("cron" in e.value for e in app.error)


def test_catalog_page_search_show_and_infer(app: Any, demo_home: Path) -> None:
    app.switch_page("views/catalog.py").run()
    app.text_input(key="cat_search").set_value("device_id").run()
    app.selectbox(key="cat_table").set_value("app.client_events").run()
    assert "app.client_events" in app.selectbox(key="cat_table").options
    assert any("event time: event_ts" in c.value for c in app.caption)
    app.text_input(key="cat_infer_path").set_value(str(demo_home / "data" / "dev" / "app" / "users"))
    app.text_input(key="cat_infer_name").set_value("tmp.users_inferred").run()
    app.button(key="cat_infer").click().run()
    app.button(key="cat_infer_register").click().run()
    assert not app.exception
    app.text_input(key="cat_search").set_value("users_inferred").run()
    assert app.selectbox(key="cat_table").options == ["tmp.users_inferred"]


def test_run_page_without_engine_shows_history(app: Any) -> None:
    open_doc(app, example("daily_active_users"), "views/run.py")
    assert app.button(key="run_preview") is not None
    assert any("Run history" in h.value for h in app.subheader)


def test_ui_command_runs_streamlit_with_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORMCAST_HOME", str(tmp_path))
    command = streamlit_command()
    assert command[1:5] == ["-m", "streamlit", "run", str(APP_FILE)]
    assert command[5:] == ["--server.port", "8501", "--server.headless", "true", "--client.toolbarMode", "viewer"]
    assert ui_environment()["FORMCAST_HOME"] == str(tmp_path.resolve())
    monkeypatch.setenv("FORMCAST_TOKEN", "fct_000000000000_" + "a" * 43)
    assert "FORMCAST_TOKEN" not in ui_environment()  # the UI acts as whoever signs in, never as the CLI


@pytest.mark.parametrize("bomb", ["{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                                  "{{ 'x' * 10**8 }}", "{{ range(10**9) }}"])
def test_a_template_bomb_typed_in_the_editor_comes_back_fast_as_an_error(app: Any, bomb: str) -> None:
    """The editor compiles as you type: a bomb in a filter is an error at the field, within seconds."""
    import time

    doc = {**example("clean_events"), "filter": f"event = '{bomb}'"}
    started = time.perf_counter()
    open_doc(app, doc)
    assert time.perf_counter() - started < 20  # the app's whole rerun; the render itself stops within 1 s
    assert not app.exception
    problems = app.session_state["editor_diagnostics"]
    assert [(path, severity) for path, severity, _ in problems if severity == "error"] == [("filter", "error")]
    assert problems[0][2].startswith(("template stopped", "template error"))


def test_reflect_typed_in_the_editor_is_refused_at_the_field(app: Any) -> None:
    doc = {**example("clean_events"), "filter": "reflect('java.lang.System', 'getProperty', 'user.name') = 'root'"}
    open_doc(app, doc)
    assert not app.exception
    assert [(p, m) for p, s, m in app.session_state["editor_diagnostics"] if s == "error"] == [
        ("filter", "reflect() is not allowed: it calls any Java method")]
