"""User-facing catalog errors: every problem says where it is and what would be valid.

A `CatalogError` is what the CLI and the UI print instead of a traceback, so its text must stand
on its own: ``catalog.yaml: tables[1].columns[3].type: 'strng' is not a type: use ...``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from catalog import spec as _spec


@dataclass(frozen=True)
class Problem:
    """One located problem; `path` is JSON-path-like (``tables[2].columns[0].type``), '' for the whole."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class CatalogError(Exception):
    """A catalog operation failed because of its input; `problems` lists every located issue found."""

    def __init__(self, message: str = "", problems: Iterable[Problem] = (), *, source: str | None = None):
        self.message = message
        self.problems: list[Problem] = list(problems)
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        if not self.problems:
            return prefix + self.message
        if len(self.problems) == 1 and not self.message:
            return prefix + str(self.problems[0])
        head = self.message or f"{len(self.problems)} problems"
        return prefix + head + "".join(f"\n  - {p}" for p in self.problems)


def format_path(parts: Sequence[str | int]) -> str:
    """('tables', 1, 'columns', 3, 'type') -> 'tables[1].columns[3].type'."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# Which model sits at a location inside a TableSpec, so "unknown key" errors can list the valid keys.
_BINDING_MODELS: dict[str, type[BaseModel]] = {
    "file": _spec.FileBinding,
    "table": _spec.TableBinding,
    "jdbc": _spec.JdbcBinding,
    "kafka": _spec.KafkaBinding,
    "clickhouse": _spec.ClickHouseBinding,
    "datagen": _spec.DatagenBinding,
    "print": _spec.SinkOnlyBinding,
    "blackhole": _spec.SinkOnlyBinding,
}


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    if not loc:
        return _spec.TableSpec
    if loc[0] == "columns" and len(loc) == 2:
        return _spec.ColumnSpec
    if loc == ("event_time",):
        return _spec.EventTime
    if loc[0] == "bindings" and len(loc) == 4:
        return _BINDING_MODELS.get(str(loc[3]))
    return None


def _located(loc: Sequence[str | int], data: Any) -> list[str | int]:
    """Drop the segments Pydantic adds that are not in the input (union tags, '[key]')."""
    kept: list[str | int] = []
    node = data
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(node, dict) and isinstance(part, str) and part not in node and node.get("kind") == part:
            continue  # discriminated-union tag, e.g. bindings.spark.dev.<file>.path
        kept.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return kept


def _lower_first(msg: str) -> str:
    return msg[:1].lower() + msg[1:]


def _message(error: Any, model: type[BaseModel] | None, loc: Sequence[str | int]) -> str:
    kind = error["type"]
    msg: str = error["msg"]
    value = error.get("input")
    if kind == "extra_forbidden":
        valid = ", ".join(model.model_fields) if model else ""
        return "unknown key" + (f": valid keys are {valid}" if valid else "")
    if kind == "missing":
        return "is required"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        return f"{ctx.get('tag')!r} is not a binding kind: use {expected}"
    if "[key]" in loc and len(loc) == 4 and loc[0] == "bindings":
        return f"{value!r} is not an environment name: use lower-case letters, digits and _ (e.g. dev, prod)"
    if msg.startswith(("Value error, ", "Assertion failed, ")):
        msg = msg.split(", ", 1)[1]
    msg = _lower_first(msg)
    if isinstance(value, str | int | float | bool) and repr(value) not in msg:
        return f"{value!r}: {msg}"
    return msg


def problems_from_validation(
    err: ValidationError, data: Any, prefix: Sequence[str | int] = ()
) -> list[Problem]:
    """Translate Pydantic's errors for a TableSpec built from `data` into located problems."""
    problems = []
    for error in err.errors():
        loc = _located(error["loc"], data)
        if error["type"] == "union_tag_invalid":
            loc.append("kind")  # point at the bad value, not the whole binding
        model = _model_at(tuple(loc[:-1])) if error["type"] == "extra_forbidden" else None
        problems.append(Problem(format_path([*prefix, *loc]), _message(error, model, error["loc"])))
    return problems
