"""Event-time windows on local Flink in streaming mode, over out-of-order events, checked window by window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from app.workflow import runs
from catalog.spec import TableSpec
from generators.loading import parse_task
from tests.flink.conftest import DAY, FlinkDemo, out_spec

pytestmark = pytest.mark.flink

# (user, button, event time): the file is NOT in event-time order; every event is at most 4 s late,
# within the table's 5-second watermark delay, so none may be dropped.
CLICKS = [
    (1, "play", "2024-06-01 10:00:01.000"),
    (2, "play", "2024-06-01 10:04:59.000"),
    (1, "like", "2024-06-01 10:05:03.000"),
    (3, "play", "2024-06-01 10:05:00.500"),  # out of order: before the previous row, same window
    (2, "play", "2024-06-01 10:09:58.000"),
    (1, "play", "2024-06-01 10:10:02.000"),  # next window
    (3, "play", "2024-06-01 10:09:59.999"),  # out of order across a window boundary: still 10:05-10:10
    (2, "like", "2024-06-01 10:21:00.000"),  # a window with no plays in between: 10:15-10:20 has none
    (4, "play", "2024-06-01 10:20:30.000"),
]


@pytest.fixture(scope="module")
def clicks(demo: FlinkDemo) -> FlinkDemo:
    folder = demo.home / "data" / "dev" / "csv" / "test" / "clicks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-0.csv").write_text("".join(f"{u},{b},{t}\n" for u, b, t in CLICKS))
    demo.store.register_many([
        TableSpec.model_validate({
            "name": "test.clicks", "event_time": {"column": "click_ts", "watermark_delay": "5 seconds"},
            "columns": [{"name": "user_id", "type": "bigint"}, {"name": "button", "type": "string"},
                        {"name": "click_ts", "type": "timestamp"}],
            "bindings": {"flink": {"dev": {"kind": "file", "format": "csv", "path": str(folder)}}}}),
        out_spec(demo.out, "test.click_windows", [("window_start", "timestamp"), ("window_end", "timestamp"),
                                                  ("button", "string"), ("clicks", "bigint"), ("users", "bigint")]),
    ])
    return demo


def _run(demo: FlinkDemo, window: dict[str, Any]) -> list[tuple[Any, ...]]:
    task, problems = parse_task({
        "name": "click_windows", "kind": "window_aggregate", "engine": "flink", "source": "test.clicks",
        "window": window, "dimensions": [{"expr": "button"}],
        "metrics": [{"name": "clicks", "agg": "count"}, {"name": "users", "agg": "count_distinct", "expr": "user_id"}],
        "target": {"table": "test.click_windows", "write_mode": "overwrite"},
    })
    assert task is not None, problems
    result = runs.run(demo.compiler, task, demo.store, principal=demo.principal,
                      engine="flink", mode="streaming", logical_date=DAY)
    assert result.status == "succeeded", (result.error, [str(d) for d in result.diagnostics])
    return sorted(demo.csv_output("test.click_windows"), key=lambda r: (r[0], r[2]))


def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2024-06-01 {clock}")


def test_tumbling_windows_over_out_of_order_events(clicks: FlinkDemo) -> None:
    rows = _run(clicks, {"type": "tumble", "size": "5 minutes"})
    assert rows == [
        (at("10:00:00"), at("10:05:00"), "play", 2, 2),  # 10:00:01, 10:04:59
        (at("10:05:00"), at("10:10:00"), "like", 1, 1),  # 10:05:03
        (at("10:05:00"), at("10:10:00"), "play", 3, 2),  # 10:05:00.5, 10:09:58, 10:09:59.999 (users 3, 2, 3)
        (at("10:10:00"), at("10:15:00"), "play", 1, 1),  # 10:10:02
        (at("10:20:00"), at("10:25:00"), "like", 1, 1),  # 10:21
        (at("10:20:00"), at("10:25:00"), "play", 1, 1),  # 10:20:30
    ]


def test_session_windows_close_after_the_gap(clicks: FlinkDemo) -> None:
    rows = _run(clicks, {"type": "session", "size": "2 minutes"})
    plays = [r for r in rows if r[2] == "play"]
    # Plays at 10:00:01 | 10:04:59, 10:05:00.5 | 10:09:58, 10:09:59.999, 10:10:02 | 10:20:30 (gaps > 2 min split).
    assert [(r[0], r[1], r[3]) for r in plays] == [
        (at("10:00:01"), at("10:02:01"), 1),
        (at("10:04:59"), at("10:07:00.500"), 2),
        (at("10:09:58"), at("10:12:02"), 3),
        (at("10:20:30"), at("10:22:30"), 1),
    ]
