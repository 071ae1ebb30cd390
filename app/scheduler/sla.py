"""SLA: deadlines, predicted finishes along the critical path, and alert sinks.

Prediction for an unfinished instance: it starts when its last upstream is predicted to finish
(recursively, the critical path), not before its scheduled time or now, plus the expected queue
wait; it then takes the p90 of its task's successful durations (a default when it has none).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import urllib.request
from collections.abc import Callable, Sequence
from typing import Protocol

from app.scheduler.model import Alert

log = logging.getLogger("formcast.scheduler.sla")


def p90(durations: Sequence[float], default: float) -> float:
    if not durations:
        return default
    ordered = sorted(durations)
    return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]


class AlertSink(Protocol):
    def __call__(self, alert: Alert) -> None: ...


class LogSink:
    def __call__(self, alert: Alert) -> None:
        level = logging.WARNING if alert.state == "raised" else logging.INFO
        log.log(level, "SLA %s %s: %s", alert.condition, alert.state, alert.message)


class CallbackSink:
    def __init__(self, callback: Callable[[Alert], None]) -> None:
        self.callback = callback

    def __call__(self, alert: Alert) -> None:
        self.callback(alert)


class WebhookSink:
    """POSTs the alert as JSON; in a background thread so a slow receiver never stalls scheduling."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout

    def __call__(self, alert: Alert) -> None:
        threading.Thread(target=self._post, args=(alert,), daemon=True).start()

    def _post(self, alert: Alert) -> None:
        body = json.dumps(alert.as_dict()).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except OSError as err:  # an unreachable receiver is logged, never fatal
            log.warning("SLA webhook %s failed: %s", self.url, err)
