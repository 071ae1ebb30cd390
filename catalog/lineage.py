"""Column-level lineage as data: what a task version reads and writes, column by column.

Dataclasses and graph walks (no generators, no SQL compilation), and the functions with which
`catalog.store.Catalog` persists them. Edge kinds:

- value edges (`target_column` set): ``copied`` (a column passed through, maybe renamed),
  ``transformed`` (an expression of it), ``aggregated`` (inside an aggregate);
- row edges: ``filtered_by`` (WHERE/HAVING/QUALIFY-like filters, dedup/top-N rank filters) and
  ``joined_on`` (join keys). They apply to the whole output (`target_column` None), except an
  aggregate's own ``FILTER (WHERE ...)``, which only decides that one column.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from catalog.base import COLUMN_NAME_LEN, NAME_LEN, utcnow
from catalog.errors import CatalogError
from catalog.models import LineageEdgeRow, LineageTaskRow

VALUE_KINDS = ("copied", "transformed", "aggregated")
ROW_KINDS = ("filtered_by", "joined_on")
EDGE_KINDS = VALUE_KINDS + ROW_KINDS
PRIORITIES = ("P0", "P1", "P2", "P3")
_TASKS = LineageTaskRow.__table__
_EDGES = LineageEdgeRow.__table__


@dataclass(frozen=True)
class LineageEdge:
    """`target_table.target_column` (the task's output) derives from `source_table.source_column`."""

    target_table: str
    target_column: str | None
    source_table: str
    source_column: str
    kind: str
    task: str = ""


@dataclass
class TaskLineage:
    """One version (config hash) of a task's lineage."""

    task: str
    config_hash: str
    engine: str
    target_table: str
    reads: list[str]
    output_columns: list[tuple[str, str | None]]
    edges: list[LineageEdge]
    incomplete: list[str] = field(default_factory=list)  # why the edges may miss something; [] = complete
    owner: str = ""
    priority: str = "P2"
    current: bool = True
    computed_at: datetime | None = None

    @property
    def complete(self) -> bool:
        return not self.incomplete

    def sources_of(self, column: str) -> set[tuple[str, str, str]]:
        """(table, column, kind) of the value edges of one output column."""
        key = column.lower()
        return {(e.source_table, e.source_column, e.kind) for e in self.edges
                if e.target_column is not None and e.target_column.lower() == key}

    def column_type(self, column: str) -> str | None:
        return next((t for n, t in self.output_columns if n.lower() == column.lower()), None)


@dataclass(frozen=True)
class Node:
    """A table, or one of its columns (column None: the table as a whole), `depth` task hops away."""

    table: str
    column: str | None
    depth: int


@dataclass
class Walk:
    """The result of an upstream/downstream walk: nodes reached (root excluded) and the edges taken."""

    root: Node
    direction: str
    nodes: list[Node]
    edges: list[LineageEdge]

    @property
    def tasks(self) -> list[str]:
        return sorted({e.task for e in self.edges})


@dataclass
class LineageGraph:
    """The current lineage of every task: what impact analysis needs, loaded in two queries."""

    tasks: dict[str, TaskLineage]  # by task name; edges of each task are in `edges`, not repeated here
    edges: list[LineageEdge]

    def writers_of(self, table: str) -> list[str]:
        key = table.lower()
        return sorted(t.task for t in self.tasks.values() if t.target_table == key)

    def readers_of(self, table: str, *, include_self: bool = False) -> list[str]:
        """Tasks reading `table`. A task that reads its own target (an upsert merging into the current rows)
        is left out unless `include_self`: it is not downstream of itself."""
        key = table.lower()
        return sorted(t.task for t in self.tasks.values()
                      if key in t.reads and (include_self or t.target_table != key))

    def upstream(self, table: str, column: str | None = None, depth: int | None = None,
                 *, row_edges: bool = True) -> Walk:
        return walk(self.edges, table, column, "upstream", depth, row_edges=row_edges)

    def downstream(self, table: str, column: str | None = None, depth: int | None = None,
                   *, row_edges: bool = True) -> Walk:
        return walk(self.edges, table, column, "downstream", depth, row_edges=row_edges)


def walk(edges: Iterable[LineageEdge], table: str, column: str | None, direction: str,
         depth: int | None = None, *, row_edges: bool = True) -> Walk:
    """Breadth-first over edges; `depth` limits the number of task hops (None: no limit).

    Upstream of a column: its value edges, plus (with `row_edges`) the row edges of its table, which decide
    which rows it has. Downstream of a column: the outputs derived from it; a row edge affects its target
    table as a whole, so the walk continues from every column of that table. Cycles (a task reading its
    own target) stop at nodes already seen.
    """
    if direction not in ("upstream", "downstream"):
        raise ValueError(f"direction is upstream or downstream, not {direction!r}")
    by_target: dict[str, list[LineageEdge]] = {}
    by_source: dict[str, list[LineageEdge]] = {}
    for edge in edges:
        by_target.setdefault(edge.target_table, []).append(edge)
        by_source.setdefault(edge.source_table, []).append(edge)
    root = Node(table.lower(), column.lower() if column else None, 0)
    seen: set[tuple[str, str | None]] = {(root.table, root.column)}
    nodes: list[Node] = []
    taken: list[LineageEdge] = []
    taken_set: set[LineageEdge] = set()
    queue: deque[Node] = deque([root])
    while queue:
        node = queue.popleft()
        if depth is not None and node.depth >= depth:
            continue
        for edge, nxt in _steps(node, direction, by_target, by_source, row_edges):
            if edge not in taken_set:
                taken_set.add(edge)
                taken.append(edge)
            if (nxt.table, nxt.column) in seen:
                continue
            seen.add((nxt.table, nxt.column))
            # Reaching a whole table also covers its columns, and the reverse is not true.
            nodes.append(nxt)
            queue.append(nxt)
    return Walk(root, direction, nodes, taken)


def _steps(node: Node, direction: str, by_target: dict[str, list[LineageEdge]],
           by_source: dict[str, list[LineageEdge]], row_edges: bool) -> Iterable[tuple[LineageEdge, Node]]:
    nxt_depth = node.depth + 1
    if direction == "upstream":
        for edge in by_target.get(node.table, ()):
            if edge.target_column is None and not row_edges:
                continue
            wanted = node.column is None or edge.target_column is None or edge.target_column.lower() == node.column
            if wanted:
                yield edge, Node(edge.source_table, edge.source_column.lower(), nxt_depth)
        return
    for edge in by_source.get(node.table, ()):
        if edge.target_column is None and not row_edges:
            continue
        if node.column is None or edge.source_column.lower() == node.column:
            target_column = edge.target_column.lower() if edge.target_column else None
            yield edge, Node(edge.target_table, target_column, nxt_depth)


# --- persistence (used by catalog.store.Catalog; each function runs inside the caller's transaction) ---


def check_lineage(lineage: TaskLineage) -> None:
    """Refuse what the database would store wrongly or not at all."""
    problems = [f"edge kind '{e.kind}' is not one of {', '.join(EDGE_KINDS)}" for e in lineage.edges
                if e.kind not in EDGE_KINDS]
    if lineage.priority not in PRIORITIES:
        problems.append(f"priority '{lineage.priority}' is not one of {', '.join(PRIORITIES)}")
    names = [lineage.task, lineage.target_table, lineage.owner, *(e.source_table for e in lineage.edges)]
    problems += [f"'{n[:40]}...' is longer than {NAME_LEN} characters" for n in names if len(n) > NAME_LEN]
    columns = [c for e in lineage.edges for c in (e.source_column, e.target_column or "")]
    problems += [f"column '{c[:40]}...' is longer than {COLUMN_NAME_LEN} characters"
                 for c in columns if len(c) > COLUMN_NAME_LEN]
    if problems:
        raise CatalogError(f"cannot store the lineage of task '{lineage.task}': " + "; ".join(problems))


def save(conn: Connection, lineage: TaskLineage) -> None:
    """Make `lineage` the task's current version; older versions stay, marked not current. A version with
    the same config hash is replaced (re-indexing an unchanged config refreshes it)."""
    tasks, edges = _TASKS, _EDGES
    check_lineage(lineage)
    same = tasks.c.task == lineage.task
    old = [row.id for row in conn.execute(
        tasks.select().with_only_columns(tasks.c.id).where(same, tasks.c.config_hash == lineage.config_hash))]
    if old:  # explicit: SQLite only cascades with PRAGMA foreign_keys, which other connections may lack
        conn.execute(delete(edges).where(edges.c.lineage_id.in_(old)))
        conn.execute(delete(tasks).where(tasks.c.id.in_(old)))
    conn.execute(update(tasks).where(same, tasks.c.current.is_(True)).values(current=False))
    result = conn.execute(insert(tasks).values(
        task=lineage.task, config_hash=lineage.config_hash, engine=lineage.engine,
        target_table=lineage.target_table.lower(), owner=lineage.owner, priority=lineage.priority,
        reads=sorted({r.lower() for r in lineage.reads}),
        output_columns=[[name, type_] for name, type_ in lineage.output_columns],
        incomplete=list(lineage.incomplete), current=True, computed_at=lineage.computed_at or utcnow(),
    ))
    lineage_id = result.inserted_primary_key[0]
    rows = [
        {"lineage_id": lineage_id, "task": lineage.task, "config_hash": lineage.config_hash,
         "target_table": e.target_table.lower(), "target_column": e.target_column,
         "source_table": e.source_table.lower(), "source_column": e.source_column, "kind": e.kind}
        for e in dict.fromkeys(lineage.edges)  # unique, in the given order
    ]
    if rows:
        conn.execute(insert(edges), rows)


def load_tasks(conn: Connection, *, task: str | None = None, current: bool | None = True) -> list[TaskLineage]:
    """Task versions without their edges (see `load_edges`), newest first."""
    tasks = _TASKS
    query = tasks.select().order_by(tasks.c.task, tasks.c.computed_at.desc(), tasks.c.id.desc())
    if task is not None:
        query = query.where(tasks.c.task == task)
    if current is not None:
        query = query.where(tasks.c.current.is_(current))
    return [
        TaskLineage(
            task=row.task, config_hash=row.config_hash, engine=row.engine, target_table=row.target_table,
            reads=list(row.reads or []), output_columns=[(n, t) for n, t in row.output_columns or []], edges=[],
            incomplete=list(row.incomplete or []), owner=row.owner, priority=row.priority,
            current=bool(row.current), computed_at=row.computed_at,
        )
        for row in conn.execute(query)
    ]


def load_edges(conn: Connection, *, task: str | None = None, config_hash: str | None = None,
               current: bool | None = True) -> list[LineageEdge]:
    tasks, edges = _TASKS, _EDGES
    query = select(edges).join(tasks, edges.c.lineage_id == tasks.c.id).order_by(edges.c.id)
    if task is not None:
        query = query.where(tasks.c.task == task)
    if config_hash is not None:
        query = query.where(tasks.c.config_hash == config_hash)
    if current is not None:
        query = query.where(tasks.c.current.is_(current))
    return [LineageEdge(r.target_table, r.target_column, r.source_table, r.source_column, r.kind, r.task)
            for r in conn.execute(query)]
