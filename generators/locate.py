"""Map an engine's error back to the config field it most likely comes from."""

from __future__ import annotations

import re
from typing import Any

from generators.tasks import Task

_QUOTED = re.compile(r"[`'\"]([^`'\"]{1,128})[`'\"]")


def field_paths(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Every string leaf of a config as (json path, value)."""
    out: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(field_paths(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out.extend(field_paths(value, f"{prefix}[{index}]"))
    elif isinstance(data, str):
        out.append((prefix, data))
    return out


def locate_error(task: Task, message: str) -> str:
    """The path of the first field that mentions a name quoted in the engine's message."""
    names = [m.split(".")[-1] for m in _QUOTED.findall(message)]
    leaves = [(p, v) for p, v in field_paths(task.model_dump(mode="json")) if p not in ("name", "description")]
    for name in names:
        pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", re.IGNORECASE)
        for path, value in leaves:
            if pattern.search(value):
                return path
    return ""
