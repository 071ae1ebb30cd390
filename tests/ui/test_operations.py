"""The Operations page through AppTest, over instances a virtual-clock scheduler created (see `ops_template`):
the instance grid, one instance's attempts and log, rerun keeping the pinned version, backfill dry run
and queue, and the SLA risk board."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from app.scheduler.sql_state import SqlState
from app.workflow import versions
from catalog.db import engine_of
from catalog.store import Catalog

PAGE = "views/operations.py"


def _state(home: Path) -> tuple[Catalog, SqlState]:
    catalog = Catalog.open(f"sqlite:///{home / 'catalog.db'}")
    return catalog, SqlState(engine_of(catalog))


def _frame(at: Any, *columns: str) -> Any:
    """The first table showing all these columns (only selectable dataframes carry their key)."""
    for d in at.dataframe:
        if set(columns) <= set(d.value.columns):
            return d.value
    raise AssertionError(f"no table with columns {columns}")


def test_grid_shows_each_task_by_logical_date_with_a_coloured_state(ops_app: Any) -> None:
    ops_app.switch_page(PAGE).run()
    assert not ops_app.exception
    (grid,) = [d for d in ops_app.dataframe if d.key == "ops_grid"]
    frame = grid.value
    assert list(frame.index) == ["top_videos", "video_plays"]
    assert list(frame.columns) == ["2024-06-01", "2024-06-02", "2024-06-03"]
    assert frame.loc["top_videos", "2024-06-02"] == "❌ failed"
    assert frame.loc["video_plays", "2024-06-02"] == "✅ succeeded"
    assert "#ffcdd2" in grid.proto.arrow_data.styler.styles  # the failed cell is red
    metrics = {m.label: m.value for m in ops_app.metric}
    assert metrics["Deployed tasks"] == "2" and metrics["❌ failed"] == "1" and metrics["✅ succeeded"] == "5"


def test_instance_attempts_log_and_rerun_keep_the_pinned_version(ops_app: Any, ops_home: Path) -> None:
    ops_app.switch_page(PAGE).run()
    ops_app.selectbox(key="ops_task").set_value("top_videos").run()
    ops_app.selectbox(key="ops_key").set_value("2024-06-02").run()
    assert not ops_app.exception
    assert any("pinned **v1**" in m.value for m in ops_app.markdown)
    attempts = _frame(ops_app, "attempt", "owner")
    assert list(attempts["status"]) == ["failed"] and list(attempts["error"]) == ["boom"]
    assert any("attempt 1 v1 failed" in c.value for c in ops_app.code)
    catalog, state = _state(ops_home)
    with catalog:
        assert versions.deployed(catalog, "top_videos").version == 2  # a newer version is deployed...
        ops_app.button(key="ops_rerun").click().run()
        assert not ops_app.exception
        assert any("requeued" in s.value and "pinned v1" in s.value for s in ops_app.success)
        again = state.find("top_videos", "2024-06-02")
        assert (again.state, again.version, again.attempts, again.error) == ("waiting", 1, 0, None)  # ...v1 kept
        assert ops_app.button(key="ops_rerun").disabled  # queued now: not rerunnable until it finishes


def test_a_grid_cell_selects_the_instance(ops_app: Any) -> None:
    ops_app.switch_page(PAGE).run()
    ops_app.session_state["ops_grid"] = {"selection": {"cells": [[1, "2024-06-03"]]}}  # video_plays, 06-03
    ops_app.run()
    assert not ops_app.exception
    assert ops_app.selectbox(key="ops_task").value == "video_plays"
    assert ops_app.selectbox(key="ops_key").value == "2024-06-03"


def test_backfill_dry_run_lists_the_dates_then_queues(ops_app: Any, ops_home: Path) -> None:
    ops_app.switch_page(PAGE).run()
    ops_app.selectbox(key="bf_task").set_value("video_plays")
    ops_app.date_input(key="bf_from").set_value(date(2024, 5, 30))
    ops_app.date_input(key="bf_to").set_value(date(2024, 6, 2))
    ops_app.radio(key="bf_mode").set_value("missing").run()
    assert ops_app.button(key="bf_go").disabled  # a dry run comes first
    ops_app.button(key="bf_dry").click().run()
    assert not ops_app.exception
    rows = _frame(ops_app, "action")
    assert list(zip(rows["logical key"], rows["action"], strict=True)) == [
        ("2024-05-30", "create"), ("2024-05-31", "create"), ("2024-06-01", "skip"), ("2024-06-02", "skip")]
    assert any("2 instance(s) would be queued" in i.value for i in ops_app.info)
    catalog, state = _state(ops_home)
    with catalog:
        assert state.find("video_plays", "2024-05-30") is None  # a dry run writes nothing
        ops_app.radio(key="bf_mode").set_value("all").run()
        assert ops_app.button(key="bf_go").disabled  # the form changed since the dry run
        ops_app.number_input(key="bf_max").set_value(3).run()
        ops_app.button(key="bf_dry").click().run()
        assert any("more than the max 3" in e.value for e in ops_app.error)
        assert ops_app.button(key="bf_go").disabled
        ops_app.radio(key="bf_mode").set_value("missing").run()
        ops_app.button(key="bf_dry").click().run()
        ops_app.button(key="bf_go").click().run()
        assert not ops_app.exception
        assert any("2 instance(s) queued for video_plays" in s.value for s in ops_app.success)
        created = state.find("video_plays", "2024-05-30")
        assert created is not None and (created.kind, created.version, created.state) == ("backfill", 1, "waiting")


def test_sla_board_predictions_alerts_and_violations(ops_app: Any) -> None:
    ops_app.switch_page(PAGE).run()
    board = _frame(ops_app, "verdict")
    assert list(board["task"]) == ["top_videos"] and list(board["verdict"]) == ["missed"]  # the failed one
    ops_app.toggle(key="sla_finished").set_value(True).run()
    board = _frame(ops_app, "verdict")
    assert sorted(board["verdict"]) == ["met", "missed", "missed"]  # 06-01 ran two days late, 06-02 failed
    alerts = [d.value for d in ops_app.dataframe if "condition" in d.value.columns]
    risk, missed = alerts
    assert set(risk["open"]) == {True, False}  # the failed instance's alert stays open; the others resolved
    assert set(missed["logical key"]) == {"2024-06-01", "2024-06-02"}
    assert any("Risk alerts" in m.value and "1 open" in m.value for m in ops_app.markdown)
