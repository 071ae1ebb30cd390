"""Problems found in a task, each located at the config field it comes from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SeverityLevel = Literal["error", "warning"]

# Every rule the validator knows, with its default severity; tasks may override via `lint`.
RULES: dict[str, SeverityLevel] = {
    "invalid-json": "error",
    "invalid-config": "error",
    "unknown-table": "error",
    "unknown-column": "error",
    "invalid-expression": "error",
    "forbidden-expression": "error",
    "type-mismatch": "error",
    "non-aggregated-column": "error",
    "missing-partition-filter": "warning",
    "cartesian-join": "error",
    "select-star-into-sink": "warning",
    "target-schema-mismatch": "error",
    "lossy-cast": "warning",
    "implicit-cast": "warning",
    "missing-target-column": "warning",
    "unbounded-state": "warning",
    "streaming-unsupported": "error",
    "missing-binding": "error",
    "env-isolation": "error",
    "upsert-needs-primary-key": "error",
    "unsupported-binding": "error",
    "template-error": "error",
    "optimizer-fallback": "warning",
    "engine-analysis": "error",
    "duplicate-column": "error",
    "connector-not-checked": "warning",  # deep validation: a stand-in planned instead of an absent connector
    "forbidden-function": "error",
}
# Rules that guard production and the engine itself: a task's `lint` cannot lower or silence them.
UNCONDITIONAL = frozenset({"env-isolation", "forbidden-function", "forbidden-expression", "template-error"})


@dataclass(frozen=True)
class Diagnostic:
    path: str
    rule: str
    severity: SeverityLevel
    message: str
    hint: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = self.path or "<task>"
        text = f"{self.severity}: {where}: {self.message} [{self.rule}]"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


@dataclass
class Diagnostics:
    """Collects problems; severities may be overridden per rule (SQLMesh-style linter config)."""

    overrides: dict[str, str] = field(default_factory=dict)
    items: list[Diagnostic] = field(default_factory=list)

    def add(self, path: str, rule: str, message: str, hint: str = "") -> None:
        configured = None if rule in UNCONDITIONAL else self.overrides.get(rule)
        if configured == "off":
            return
        severity: SeverityLevel
        if configured == "error":
            severity = "error"
        elif configured == "warn":
            severity = "warning"
        else:
            severity = RULES.get(rule, "error")
        diagnostic = Diagnostic(path, rule, severity, message, hint)
        if diagnostic not in self.items:
            self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for item in diagnostics:
            if item not in self.items:
                self.items.append(item)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def join_path(*parts: str | int) -> str:
    """`join_path("steps", 2, "metrics", 0, "expr")` → `steps[2].metrics[0].expr`."""
    out = ""
    for part in parts:
        if part == "":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def format_diagnostics(items: Sequence[Diagnostic]) -> str:
    return "\n".join(str(d) for d in items)
