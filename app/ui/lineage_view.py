"""The lineage picture shared by the Catalog page (a stored table) and the task editor (the edited task).

Upstream and downstream walks over a `catalog.lineage.LineageGraph` from one table (or one of its
columns), drawn with `st.graphviz_chart` (DOT from `app.lineage.dot`, laid out in the browser), at
table level by default or column level on demand, with a depth limit; the edges and the tasks they
belong to are listed in an expander.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app.lineage.dot import lineage_dot, node_id
from catalog.lineage import LineageEdge, LineageGraph, TaskLineage, Walk

ALL_COLUMNS = "(whole table)"
DEPTHS = ["1", "2", "3", "4", "5", "all"]
DIRECTIONS = {"both": ("upstream", "downstream"), "upstream": ("upstream",), "downstream": ("downstream",)}


def with_proposal(graph: LineageGraph, proposed: TaskLineage) -> LineageGraph:
    """The stored graph with `proposed` in place of its task's stored version (the editor's unsaved task)."""
    tasks = {**graph.tasks, proposed.task: proposed}
    edges = [e for e in graph.edges if e.task != proposed.task] + list(proposed.edges)
    return LineageGraph(tasks, edges)


def walks(graph: LineageGraph, table: str, column: str | None, depth: int | None, direction: str) -> list[Walk]:
    found = []
    for way in DIRECTIONS[direction]:
        walk = graph.upstream if way == "upstream" else graph.downstream
        found.append(walk(table, column, depth))
    return found


def render(graph: LineageGraph, table: str, *, key: str, columns: list[str] | None = None,
           empty_hint: str = "") -> dict[str, Any]:
    """Controls, graph and edge list for `table`; returns what was drawn (for tests and callers)."""
    table = table.lower()
    c1, c2, c3, c4 = st.columns([2, 1, 2, 2], vertical_alignment="bottom")
    direction = c1.segmented_control("Direction", list(DIRECTIONS), default="both", key=f"{key}_direction") or "both"
    column_level = c2.toggle("Columns", key=f"{key}_columns", help="Column-level lineage instead of tables.")
    column = None
    if column_level:
        choice = c3.selectbox("Column", [ALL_COLUMNS, *(columns or [])], key=f"{key}_column",
                              help="Follow one column only, or every column of the table.")
        column = None if choice == ALL_COLUMNS else choice
    depth_text = c4.select_slider("Depth (task hops)", DEPTHS, value="3", key=f"{key}_depth")
    depth = None if depth_text == "all" else int(depth_text)

    found = walks(graph, table, column, depth, direction)
    edges = list(dict.fromkeys(e for w in found for e in w.edges))
    root = node_id(table, column)
    if not edges:
        st.caption(f"No lineage reaches {root} {'in this direction' if direction != 'both' else ''}. "
                   + empty_hint)
        return {"dot": "", "edges": [], "walks": found}
    dot = lineage_dot(edges, level="column" if column_level else "table", highlight=[root, table],
                      clusters=True, colors=True)
    st.graphviz_chart(dot, width="stretch")
    tasks = sorted({e.task for e in edges})
    with st.expander(f"{len(edges)} edge(s) across {len(tasks)} task(s)", expanded=False):
        st.dataframe(edge_frame(found), width="stretch", hide_index=True)
        st.dataframe(pd.DataFrame([_task_row(graph, t) for t in tasks]), width="stretch", hide_index=True)
        st.caption("copied / transformed / aggregated: values; filtered_by / joined_on (dashed): which rows.")
    return {"dot": dot, "edges": edges, "walks": found}


def edge_frame(found: list[Walk]) -> pd.DataFrame:
    rows = []
    for walk in found:
        for e in walk.edges:
            rows.append({"direction": walk.direction, "task": e.task, "source": _end(e, source=True),
                         "kind": e.kind, "target": _end(e, source=False)})
    return pd.DataFrame(rows, columns=["direction", "task", "source", "kind", "target"])


def _end(e: LineageEdge, *, source: bool) -> str:
    if source:
        return node_id(e.source_table, e.source_column)
    return node_id(e.target_table, e.target_column) if e.target_column else f"{e.target_table} (rows)"


def _task_row(graph: LineageGraph, task: str) -> dict[str, Any]:
    info = graph.tasks.get(task)
    if info is None:
        return {"task": task, "owner": "", "priority": "", "reads": "", "writes": "", "complete": None}
    return {"task": task, "owner": info.owner, "priority": info.priority, "reads": ", ".join(info.reads),
            "writes": info.target_table, "complete": not info.incomplete}
