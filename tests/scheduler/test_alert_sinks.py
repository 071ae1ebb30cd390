"""SLA alert sinks: a webhook (a localhost server this test starts), a Python callback, the log."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from app.scheduler.core import Scheduler
from app.scheduler.model import Alert, SchedulerConfig, TaskDef
from app.scheduler.sla import CallbackSink, LogSink, WebhookSink
from app.scheduler.state import MemoryState
from tests.scheduler.conftest import utc


def test_risk_alert_reaches_webhook_callback_and_log(caplog) -> None:
    received: list[dict] = []
    got = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()
            got.set()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        called: list[Alert] = []
        tasks = [TaskDef("slow_up", 1, 2, "0 1 * * *", target="t.up"),
                 TaskDef("p0", 1, 0, "0 1 * * *", reads=("t.up",), deadline="03:00")]
        state = MemoryState(tasks)
        sinks = [LogSink(), WebhookSink(f"http://127.0.0.1:{server.server_port}/alerts"), CallbackSink(called.append)]
        core = Scheduler(state, SchedulerConfig(catchup=0, default_duration=3600), sinks=sinks)
        with caplog.at_level(logging.WARNING, logger="formcast.scheduler.sla"):
            core.tick(utc(2024, 6, 2, 0, 59))
            core.tick(utc(2024, 6, 2, 1, 0))  # up 1 h + p0 1 h -> 03:00 > 03:00 - 90 min
        assert got.wait(10)
    finally:
        server.shutdown()
    assert [(a.task, a.condition, a.state) for a in called] == [("p0", "sla_risk", "raised")]
    body = received[0]
    assert body["task"] == "p0" and body["condition"] == "sla_risk" and body["logical_key"] == "2024-06-01"
    assert body["deadline"] == "2024-06-02T03:00:00+00:00" and body["predicted_finish"] == "2024-06-02T03:00:00+00:00"
    assert any("sla_risk raised" in r.getMessage() for r in caplog.records)
