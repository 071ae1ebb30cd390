"""Impact analysis: a proposed task version against its stored current version and everything downstream.

Pure: the stored lineage is passed in (`catalog.lineage.LineageGraph`); no database access here.
A change is breaking when a column the target had disappears (removed, or renamed: same sources,
new name), changes to a type that is not a widening, stops being derived from any input (NULL-filled),
or the task writes another table. Tasks reading
what broke are affected; a breaking change that affects a P0/P1 task needs explicit acknowledgement.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from catalog.lineage import LineageEdge, LineageGraph, TaskLineage

ACK_PRIORITIES = ("P0", "P1")
_INTEGERS = ("tinyint", "smallint", "int", "bigint")
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


@dataclass(frozen=True)
class ColumnChange:
    kind: str  # removed | renamed | type_changed | emptied | sources_changed | added | target_changed
    column: str
    breaking: bool
    new_column: str | None = None
    old_type: str | None = None
    new_type: str | None = None

    def describe(self) -> str:
        if self.kind == "renamed":
            return f"{self.column} renamed to {self.new_column}"
        if self.kind == "type_changed":
            how = "narrowed/changed" if self.breaking else "widened"
            return f"{self.column} {how}: {self.old_type} -> {self.new_type}"
        if self.kind == "emptied":
            return f"{self.column} is no longer derived from any input (a constant, e.g. NULL)"
        if self.kind == "target_changed":
            return f"target changed: {self.column} -> {self.new_column}"
        return f"{self.column} {self.kind.replace('_', ' ')}"


@dataclass
class AffectedTask:
    task: str
    owner: str
    priority: str
    target_table: str
    direct: bool  # reads a changed column itself (else: downstream of a task that does)
    reads: list[str] = field(default_factory=list)  # the changed or affected `table.column`s it reads
    columns: list[str] = field(default_factory=list)  # its own output columns affected; "*" = all rows
    reason: str = ""

    @property
    def needs_acknowledgement(self) -> bool:
        return self.priority in ACK_PRIORITIES


@dataclass
class Impact:
    task: str
    target_table: str
    stored: bool  # False: no stored version to compare with (a new task)
    changes: list[ColumnChange]
    affected: list[AffectedTask]
    notes: list[str] = field(default_factory=list)

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    @property
    def needs_acknowledgement(self) -> bool:
        return self.breaking and any(a.needs_acknowledgement for a in self.affected)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task, "target_table": self.target_table, "stored": self.stored,
            "breaking": self.breaking, "needs_acknowledgement": self.needs_acknowledgement,
            "changes": [asdict(c) for c in self.changes], "affected": [asdict(a) for a in self.affected],
            "notes": self.notes,
        }


def analyze(proposed: TaskLineage, current: TaskLineage | None, graph: LineageGraph) -> Impact:
    """Compare `proposed` with the stored `current` version of the same task and walk the stored graph."""
    impact = Impact(proposed.task, proposed.target_table, current is not None, [], [])
    if current is None:
        impact.changes = [ColumnChange("added", n, False, new_type=t) for n, t in proposed.output_columns]
        impact.notes.append(f"no stored lineage for task '{proposed.task}': nothing to compare with")
        return impact
    if current.target_table != proposed.target_table:
        impact.changes.append(ColumnChange("target_changed", current.target_table, True,
                                           new_column=proposed.target_table))
        broken = [n for n, _ in current.output_columns]
    else:
        impact.changes = column_changes(current, proposed)
        broken = [c.column for c in impact.changes if c.breaking]
    if broken:
        impact.affected = _affected(current.target_table, broken, proposed.task, graph, impact.notes)
    if proposed.incomplete:
        impact.notes.append("the proposed lineage is incomplete: " + "; ".join(proposed.incomplete))
    return impact


def column_changes(old: TaskLineage, new: TaskLineage) -> list[ColumnChange]:
    old_cols = {n.lower(): (n, t) for n, t in old.output_columns}
    new_cols = {n.lower(): (n, t) for n, t in new.output_columns}
    gone = [old_cols[k] for k in old_cols if k not in new_cols]
    added = [new_cols[k] for k in new_cols if k not in old_cols]
    changes: list[ColumnChange] = []
    for name, old_type in gone:
        sources = old.sources_of(name)
        twin = next((a for a in added if sources and new.sources_of(a[0]) == sources), None)
        if twin is not None:
            added.remove(twin)
            changes.append(ColumnChange("renamed", name, True, new_column=twin[0], old_type=old_type,
                                        new_type=twin[1]))
        else:
            changes.append(ColumnChange("removed", name, True, old_type=old_type))
    for key, (name, old_type) in old_cols.items():
        if key not in new_cols:
            continue
        new_type = new_cols[key][1]
        if old_type and new_type and _norm(old_type) != _norm(new_type):
            changes.append(ColumnChange("type_changed", name, not widens(old_type, new_type),
                                        old_type=old_type, new_type=new_type))
        elif old.sources_of(name) != new.sources_of(name):
            # Derived from inputs before, from none now: a constant, typically the NULL that fills a target
            # column the task no longer produces. Its readers get no data: breaking.
            emptied = bool(old.sources_of(name)) and not new.sources_of(name)
            changes.append(ColumnChange("emptied" if emptied else "sources_changed", name, emptied))
    changes += [ColumnChange("added", n, False, new_type=t) for n, t in added]
    return changes


def widens(old: str, new: str) -> bool:
    """Whether every `old` value fits `new` unchanged: int -> bigint, float -> double, wider decimals."""
    old, new = _norm(old), _norm(new)
    if old in _INTEGERS and new in _INTEGERS:
        return _INTEGERS.index(new) >= _INTEGERS.index(old)
    if (old in _INTEGERS[:3] and new == "double") or (old, new) == ("float", "double"):
        return True
    a, b = _DECIMAL.match(old), _DECIMAL.match(new)
    if a and b:
        (p1, s1), (p2, s2) = map(int, a.groups()), map(int, b.groups())
        return s2 >= s1 and p2 - s2 >= p1 - s1
    return False


def _norm(type_name: str) -> str:
    """`DECIMAL(18, 2)` and `decimal(18,2)` are the same type."""
    return re.sub(r"\s+", "", type_name.lower()).replace("integer", "int")


def _affected(table: str, columns: list[str], task: str, graph: LineageGraph, notes: list[str]
              ) -> list[AffectedTask]:
    """Tasks downstream of `table.column` for each broken column, the changed task's own edges left out
    (an upsert reads its own target)."""
    others = LineageGraph(graph.tasks, [e for e in graph.edges if e.task != task])
    by_task: dict[str, AffectedTask] = {}
    broken = {(table, c.lower()) for c in columns}
    for column in columns:
        for edge in others.downstream(table, column).edges:
            _record(by_task, edge, graph, direct=(edge.source_table, edge.source_column.lower()) in broken)
    # A reader whose own lineage is incomplete may use the columns without us seeing it.
    for name in others.readers_of(table):
        info = graph.tasks.get(name)
        if name != task and name not in by_task and info is not None and info.incomplete:
            by_task[name] = AffectedTask(name, info.owner, info.priority, info.target_table, True,
                                         reason="reads the table; its lineage is incomplete")
    if any(t.task not in graph.tasks for t in by_task.values()):
        notes.append("some affected tasks have no stored header (owner, priority)")
    return sorted(by_task.values(), key=lambda a: (not a.direct, a.priority, a.task))


def _record(by_task: dict[str, AffectedTask], edge: LineageEdge, graph: LineageGraph, direct: bool) -> None:
    info = graph.tasks.get(edge.task)
    entry = by_task.get(edge.task)
    if entry is None:
        entry = by_task[edge.task] = AffectedTask(
            edge.task, info.owner if info else "", info.priority if info else "", edge.target_table, direct,
            reason="reads a changed column" if direct else "downstream of an affected task")
    elif direct and not entry.direct:
        entry.direct, entry.reason = True, "reads a changed column"
    source = f"{edge.source_table}.{edge.source_column}"
    if source not in entry.reads:
        entry.reads.append(source)
    column = edge.target_column or "*"
    if column not in entry.columns:
        entry.columns.append(column)
