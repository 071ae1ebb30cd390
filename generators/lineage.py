"""Column-level lineage of a compiled task, read off its optimized logical query.

One `build_scope` over the already-qualified AST, then every output column is traced down through
CTE, derived-table, set-operation and table-function scopes to base tables, memoized per (scope,
column). `sqlglot.lineage.lineage()` is not used: it re-qualifies the query once per column.

Kinds combine along a path by strength: copied < transformed < aggregated, so a column summed in a
CTE and cast in the final SELECT is `aggregated`. A column used in an aggregate's FILTER clause is a
per-column `filtered_by`. Row edges (`filtered_by`, `joined_on`) come from every scope that feeds rows
to the output. What cannot be traced is reported in `TaskLineage.incomplete`, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

from catalog.lineage import LineageEdge, TaskLineage
from generators.compile import CompiledTask, config_hash
from generators.dialects.flink import Descriptor, TableArgument, WindowTVF

# Strength of a value path; FILTER marks a column that only decides which rows an aggregate counts.
COPIED, TRANSFORMED, AGGREGATED, FILTER = 0, 1, 2, 3
VALUE_KIND = {COPIED: "copied", TRANSFORMED: "transformed", AGGREGATED: "aggregated", FILTER: "filtered_by"}
WINDOW_COLUMNS = frozenset({"window_start", "window_end", "window_time"})  # Flink window TVF outputs

Origin = tuple[str, str, int]  # (table, column, strength)


class LineageError(ValueError):
    """The compiled task has no query to analyse (it did not compile)."""


def task_lineage(compiled: CompiledTask) -> TaskLineage:
    """The lineage of `compiled` (which must have compiled without errors)."""
    ast = compiled.logical_ast
    if ast is None:
        if not compiled.logical_query:
            raise LineageError(f"task '{compiled.task.name}' did not compile: no lineage")
        ast = sqlglot.parse_one(compiled.logical_query, read=compiled.engine)
    task = compiled.task
    target = task.target.table.lower()
    tracer = _Tracer()
    if not compiled.optimized:
        tracer.note("the query was not optimized (columns may be unqualified): lineage is best effort")
    root = build_scope(ast)
    edges: set[LineageEdge] = set()
    if root is None:
        tracer.note("the query has no analysable SELECT")
    else:
        names = [name for name, _ in compiled.output_columns] or list(ast.named_selects)
        for index, name in enumerate(names):
            best: dict[tuple[str, str], int] = {}
            filters: set[tuple[str, str]] = set()
            for table, column, strength in tracer.by_index(root, index, name):
                if strength == FILTER:
                    filters.add((table, column))
                else:
                    best[(table, column)] = max(strength, best.get((table, column), COPIED))
            edges.update(LineageEdge(target, name, t, c, VALUE_KIND[s], task.name) for (t, c), s in best.items())
            edges.update(LineageEdge(target, name, t, c, "filtered_by", task.name) for t, c in filters)
        edges.update(LineageEdge(target, None, t, c, kind, task.name) for t, c, kind in tracer.rows(root))
    reads = sorted({_table_name(t) for t in ast.find_all(exp.Table) if t.db})
    return TaskLineage(
        task=task.name, config_hash=config_hash(task), engine=compiled.engine, target_table=target,
        reads=reads, output_columns=list(compiled.output_columns), edges=sorted(edges, key=_edge_order),
        incomplete=tracer.notes, owner=task.owner, priority=task.priority,
    )


def _edge_order(edge: LineageEdge) -> tuple[str, str, str, str, str]:
    return (edge.target_column or "", edge.kind, edge.source_table, edge.source_column, edge.task)


def _table_name(table: exp.Table) -> str:
    return f"{table.db}.{table.name}".lower() if table.db else table.name.lower()


class _Tracer:
    """Traces columns through one query's scopes; results are memoized per scope."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self._columns: dict[tuple[int, int], frozenset[Origin]] = {}
        self._rows: dict[int, frozenset[tuple[str, str, str]]] = {}

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    # --- values -------------------------------------------------------------------------------

    def by_index(self, scope: Scope, index: int, name: str) -> frozenset[Origin]:
        """Origins of the `index`-th output column of `scope` (set operations match columns by position)."""
        key = (id(scope), index)
        if key in self._columns:
            return self._columns[key]
        self._columns[key] = frozenset()  # a recursive reference (should not happen) ends here
        if scope.set_operation_scopes:
            found = frozenset().union(*(self.by_index(branch, index, name) for branch in scope.set_operation_scopes))
        else:
            selects = scope.expression.selects if isinstance(scope.expression, exp.Query) else []
            if index >= len(selects):
                self.note(f"column '{name}' has no matching projection: not traced")
                found = frozenset()
            else:
                found = self._expression(scope, selects[index], name)
        self._columns[key] = found
        return found

    def by_name(self, scope: Scope, name: str) -> frozenset[Origin]:
        expression = scope.expression
        while isinstance(expression, exp.SetOperation):  # a set operation's names are its first branch's
            expression = expression.this
        if not isinstance(expression, exp.Select):
            self.note(f"column '{name}' comes from a source that is not a SELECT: not traced")
            return frozenset()
        key = name.lower()
        for index, select in enumerate(expression.selects):
            if select.alias_or_name.lower() == key:
                return self.by_index(scope, index, name)
        if any(isinstance(s, exp.Star) or (isinstance(s, exp.Column) and s.is_star) for s in expression.selects):
            self.note(f"column '{name}' comes through an unexpanded SELECT *: not traced")
        else:
            self.note(f"column '{name}' is not produced by its source: not traced")
        return frozenset()

    def _expression(self, scope: Scope, projection: exp.Expr, name: str) -> frozenset[Origin]:
        """Origins of one projection: each column in it, at the strength its position implies."""
        inner = projection.unalias()
        if isinstance(inner, exp.Star) or (isinstance(inner, exp.Column) and inner.is_star):
            self.note(f"SELECT * could not be expanded (column '{name}'): not traced")
            return frozenset()
        found: set[Origin] = set()
        for ref, strength in self._refs(scope, inner):
            if isinstance(ref, tuple):  # already traced (a scalar subquery's origin)
                found.add(ref)
                continue
            here = COPIED if ref is inner else strength
            for table, source_column, deeper in self.resolve(scope, ref):
                found.add((table, source_column, max(here, deeper)))
        return frozenset(found)

    def _refs(self, scope: Scope, node: exp.Expr) -> Iterator[tuple[exp.Column | Origin, int]]:
        """Column references in `node` with their strength; a scalar subquery yields its traced origins."""
        stack: list[tuple[exp.Expr, int]] = [(node, TRANSFORMED)]
        while stack:
            current, strength = stack.pop()
            if isinstance(current, exp.Column):
                if not current.is_star:
                    yield current, strength
                continue
            if isinstance(current, exp.Query):
                yield from ((origin, origin[2]) for origin in self._subquery(scope, current, strength))
                continue
            if isinstance(current, exp.Filter):  # agg(...) FILTER (WHERE cond)
                stack.append((current.this, strength))
                if current.expression is not None:
                    stack.append((current.expression, FILTER))
                continue
            if isinstance(current, exp.AggFunc) and strength < AGGREGATED:
                strength = AGGREGATED
            stack.extend((child, strength) for child in current.iter_expressions())

    def _subquery(self, scope: Scope, query: exp.Query, strength: int) -> set[Origin]:
        """A nested query's values (at least transformed) and its filters, seen from the enclosing scope."""
        inner = query.unnest() if isinstance(query, exp.Subquery) else query  # (SELECT ...) wraps the scope's query
        sub = next((s for s in scope.subquery_scopes if s.expression is inner), None)
        if sub is None:
            self.note("a nested query could not be matched to its scope: not traced")
            return set()
        found: set[Origin] = set()
        for index, select in enumerate(sub.expression.selects):
            for table, column, deeper in self.by_index(sub, index, select.alias_or_name):
                found.add((table, column, max(strength, deeper, TRANSFORMED)))
        found.update((table, column, FILTER) for table, column, _ in self.rows(sub))
        return found

    def resolve(self, scope: Scope, column: exp.Column) -> frozenset[Origin]:
        """Base-table origins of a column reference in `scope`."""
        source = self._source(scope, column)
        if source is None:
            label = f"{column.table}.{column.name}" if column.table else column.name
            self.note(f"column '{label}' could not be resolved to a source: not traced")
            return frozenset()
        if isinstance(source, exp.Table):
            return frozenset({(_table_name(source), column.name.lower(), COPIED)})
        if source.is_udtf:
            return self._udtf(source, column)
        return self.by_name(source, column.name)

    def _source(self, scope: Scope, column: exp.Column) -> exp.Table | Scope | None:
        current: Scope | None = scope
        while current is not None:  # correlated subqueries reach into enclosing scopes
            if column.table:
                if column.table in current.sources:
                    return current.sources[column.table]
            elif len(current.sources) == 1:  # unqualified: the only source (window TVF queries stay unqualified)
                return next(iter(current.sources.values()))
            current = current.parent
        return None

    def _udtf(self, scope: Scope, column: exp.Column) -> frozenset[Origin]:
        """A table function source: a Flink window TVF over a table, or a UDTF such as EXPLODE."""
        tvf = scope.expression.find(WindowTVF)
        argument = tvf.this if tvf is not None else None
        if isinstance(argument, TableArgument) and isinstance(argument.this, exp.Table):
            table = _table_name(argument.this)
            name = column.name.lower()
            if name not in WINDOW_COLUMNS:
                return frozenset({(table, name, COPIED)})
            descriptor = tvf.args.get("timecol")
            times = descriptor.expressions if isinstance(descriptor, Descriptor) else []
            return frozenset((table, t.name.lower(), TRANSFORMED) for t in times)
        # EXPLODE and friends: each output row comes from the function's arguments.
        self.note(f"column '{column.name}' comes from a table function ({type(scope.expression).__name__}): "
                  "traced to the function's arguments")
        found: set[Origin] = set()
        for inner in scope.expression.find_all(exp.Column):
            for table, source_column, _ in self.resolve(scope, inner):
                found.add((table, source_column, TRANSFORMED))
        return frozenset(found)

    # --- rows ---------------------------------------------------------------------------------

    def rows(self, scope: Scope) -> frozenset[tuple[str, str, str]]:
        """(table, column, filtered_by|joined_on) of every filter and join key feeding rows to `scope`."""
        key = id(scope)
        if key in self._rows:
            return self._rows[key]
        self._rows[key] = frozenset()
        found: set[tuple[str, str, str]] = set()
        if scope.set_operation_scopes:
            for branch in scope.set_operation_scopes:
                found |= self.rows(branch)
        elif isinstance(scope.expression, exp.Select):
            select = scope.expression
            for clause in ("where", "having", "qualify"):
                if select.args.get(clause) is not None:
                    found |= self._row_columns(scope, select.args[clause], "filtered_by", clause != "where")
            order = select.args.get("order")
            if order is not None and (select.args.get("limit") is not None or select.args.get("offset") is not None):
                found |= self._row_columns(scope, order, "filtered_by", True)  # ORDER BY ... LIMIT n keeps the top n
            for join in select.args.get("joins") or []:
                if join.args.get("on") is not None:
                    found |= self._row_columns(scope, join.args["on"], "joined_on")
                if join.args.get("using"):
                    self.note("a JOIN ... USING was not expanded: its keys are not traced")
            # selected_sources: what FROM/JOIN read (`sources` also lists every CTE in view).
            for _node, source in scope.selected_sources.values():
                if isinstance(source, Scope):
                    found |= self.rows(source)
        result = frozenset(found)
        self._rows[key] = result
        return result

    def _row_columns(self, scope: Scope, node: exp.Expr, kind: str, see_aliases: bool = False
                     ) -> set[tuple[str, str, str]]:
        found: set[tuple[str, str, str]] = set()
        selects = scope.expression.selects if see_aliases else []
        aliases = {s.alias.lower(): i for i, s in enumerate(selects) if isinstance(s, exp.Alias)}
        for ref, _ in self._refs(scope, node):
            if isinstance(ref, tuple):
                origins: frozenset[Origin] | set[Origin] = {ref}
            elif not ref.table and ref.name.lower() in aliases:  # ORDER BY / HAVING may name a projection
                origins = self.by_index(scope, aliases[ref.name.lower()], ref.name)
            else:
                origins = self.resolve(scope, ref)
            found.update((table, column, kind) for table, column, _ in origins)
        return found

