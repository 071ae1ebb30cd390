"""DOT (Graphviz) text for column lineage: one renderer for `formcast lineage --format dot` and the UI.

`lineage_dot(edges)` with no options is the CLI's plain format (one box per `table.column`, edges
labelled with their kind, row edges dashed). The UI asks for more: `level="table"` collapses the
edges to one arrow per (source table, target table) labelled with the tasks, `clusters` groups
column nodes in a box per table, `colors` colours edges by kind and `highlight` fills the nodes the
walk started from. Node ids are always `"table"` or `"table.column"` (JSON-quoted), so a rendered
graph can be searched for a node the same way whatever the options.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from catalog.lineage import ROW_KINDS, LineageEdge

KIND_COLORS = {"copied": "#607d8b", "transformed": "#1e88e5", "aggregated": "#8e24aa",
               "filtered_by": "#ef6c00", "joined_on": "#2e7d32"}
HIGHLIGHT = "#ffe082"
LEVELS = ("column", "table")


def node_id(table: str, column: str | None = None) -> str:
    return f"{table}.{column}" if column else table


def _q(text: str) -> str:
    return json.dumps(text)


def lineage_dot(edges: Iterable[LineageEdge], *, level: str = "column", highlight: Iterable[str] = (),
                clusters: bool = False, colors: bool = False, name: str = "lineage") -> str:
    """DOT for `edges` (duplicates dropped, order kept). `highlight`: node ids to fill."""
    if level not in LEVELS:
        raise ValueError(f"level is one of {', '.join(LEVELS)}, not {level!r}")
    unique = list(dict.fromkeys(edges))
    marked = {h.lower() for h in highlight}
    lines = [f"digraph {name} {{", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    if level == "table":
        lines += _table_body(unique, marked, colors)
    else:
        lines += _column_body(unique, marked, clusters, colors)
    lines.append("}")
    return "\n".join(lines)


def _column_body(edges: list[LineageEdge], marked: set[str], clusters: bool, colors: bool) -> list[str]:
    lines: list[str] = []
    if clusters:
        tables: dict[str, list[str | None]] = {}
        for e in edges:
            for table, column in ((e.source_table, e.source_column), (e.target_table, e.target_column)):
                columns = tables.setdefault(table, [])
                if column not in columns:
                    columns.append(column)
        for i, (table, columns) in enumerate(tables.items()):
            style = 'style="rounded,filled"; fillcolor="#fff8e1"' if table in marked else "style=rounded"
            lines.append(f"  subgraph cluster_{i} {{")
            lines.append(f"    label={_q(table)}; fontsize=11; {style};")
            for column in columns:
                ident = node_id(table, column)
                attrs = [f"label={_q(column or '(rows)')}"]
                if ident in marked:
                    attrs.append(f"style=filled, fillcolor={_q(HIGHLIGHT)}")
                lines.append(f"    {_q(ident)} [{', '.join(attrs)}];")
            lines.append("  }")
    elif marked:
        seen = {node_id(t, c) for e in edges for t, c in ((e.source_table, e.source_column),
                                                          (e.target_table, e.target_column))}
        lines += [f"  {_q(n)} [style=filled, fillcolor={_q(HIGHLIGHT)}];" for n in sorted(marked & seen)]
    for e in edges:
        style = ", style=dashed" if e.kind in ROW_KINDS else ""
        color = f", color={_q(KIND_COLORS.get(e.kind, 'black'))}, fontcolor={_q(KIND_COLORS.get(e.kind, 'black'))}" \
            if colors else ""
        lines.append(f"  {_q(node_id(e.source_table, e.source_column))} -> "
                     f"{_q(node_id(e.target_table, e.target_column))} [label={_q(e.kind)}{style}{color}];")
    return lines


def _table_body(edges: list[LineageEdge], marked: set[str], colors: bool) -> list[str]:
    pairs: dict[tuple[str, str], dict[str, set[str]]] = {}
    tables: list[str] = []
    for e in edges:
        info = pairs.setdefault((e.source_table, e.target_table), {"tasks": set(), "kinds": set()})
        info["tasks"].add(e.task)
        info["kinds"].add(e.kind)
        for table in (e.source_table, e.target_table):
            if table not in tables:
                tables.append(table)
    lines = []
    for table in tables:
        attrs = "style=\"rounded,filled\", fillcolor=" + _q(HIGHLIGHT) if table in marked else "style=rounded"
        lines.append(f"  {_q(table)} [{attrs}];")
    for (source, target), info in pairs.items():
        label = ", ".join(sorted(t for t in info["tasks"] if t)) or "?"
        only_rows = info["kinds"] <= set(ROW_KINDS)
        style = ", style=dashed" if only_rows else ""
        color = ", color=\"#455a64\"" if colors else ""
        lines.append(f"  {_q(source)} -> {_q(target)} [label={_q(label)}{style}{color}];")
    return lines
