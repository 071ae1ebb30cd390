"""Expressions typed into forms: parsed by sqlglot, restricted to expressions, checked for columns.

A filter like `country = 'NL' AND amount > 0` is parsed, never pasted: the SQL that reaches a
template is what sqlglot generates from the AST, so quotes, comments and semicolons in the text
cannot change the structure of the statement.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from generators.diagnostics import Diagnostics

# Nodes that make a form field more than an expression.
_FORBIDDEN: tuple[type[exp.Expr], ...] = (
    exp.Query,
    exp.Subquery,
    exp.DDL,
    exp.DML,
    exp.Command,
    exp.Drop,
    exp.Use,
    exp.Set,
    exp.Table,
    exp.Star,
)

AGGREGATES: tuple[type[exp.Expr], ...] = (exp.AggFunc,)


class ExpressionError(ValueError):
    def __init__(self, rule: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.rule = rule
        self.hint = hint


@lru_cache(maxsize=8192)
def _parse_cached(text: str, dialect: str) -> exp.Expr:
    try:
        nodes = [n for n in sqlglot.parse(text, read=dialect) if n is not None]
    except (ParseError, TokenError) as err:
        detail = _first_error(err)
        raise ExpressionError("invalid-expression", f"cannot parse {text!r}: {detail}") from None
    except RecursionError:
        raise ExpressionError("invalid-expression", f"{text[:40]!r}... is nested too deeply to parse",
                              "split it into steps (a derive step, then a filter)") from None
    if len(nodes) != 1:
        raise ExpressionError(
            "forbidden-expression", "one expression only: ';' and several statements are not allowed"
        )
    node = nodes[0]
    for sub in node.walk():
        if isinstance(sub, _FORBIDDEN) and not (isinstance(sub, exp.Star) and _in_count(sub)):
            raise ExpressionError(
                "forbidden-expression",
                f"{text!r} is not a plain expression ({sub.key} is not allowed here)",
                "use a column expression; read other tables with an enrich join or a chained step",
            )
        sub.comments = None  # comments never reach the generated SQL
    return node


def _in_count(star: exp.Expr) -> bool:
    return isinstance(star.parent, exp.Count)


def _first_error(err: Exception) -> str:
    errors = getattr(err, "errors", None)
    if errors:
        first = errors[0]
        return f"{first.get('description', 'syntax error')} near {first.get('highlight', '')!r}".strip()
    return str(err).splitlines()[0]


def parse_expression(text: str, dialect: str = "spark") -> exp.Expr:
    """A fresh copy of the parsed expression (callers may transform it)."""
    return _parse_cached(text.strip(), dialect).copy()


def suggest(name: str, candidates: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
    if not matches:
        return ""
    original = {c.lower(): c for c in candidates}
    return f"did you mean '{original[matches[0]]}'?"


def check_columns(
    node: exp.Expr,
    columns: Mapping[str, object],
    path: str,
    diagnostics: Diagnostics,
    *,
    qualified: Mapping[str, Mapping[str, object]] | None = None,
    where: str = "the input",
) -> bool:
    """Every column in `node` must exist in `columns` (or, when qualified, in that alias's columns)."""
    ok = True
    lowered = {c.lower() for c in columns}
    for column in node.find_all(exp.Column):
        name = column.name
        table = column.table
        if table:
            scope = (qualified or {}).get(table.lower())
            if scope is None:
                diagnostics.add(
                    path, "unknown-column", f"'{table}.{name}' names an unknown alias '{table}'",
                    suggest(table, (qualified or {}).keys()) or "use an alias defined by an earlier join",
                )
                ok = False
            elif name.lower() not in {c.lower() for c in scope}:
                diagnostics.add(
                    path, "unknown-column", f"column '{name}' is not in '{table}'", suggest(name, scope)
                )
                ok = False
        elif name.lower() not in lowered:
            hint = suggest(name, columns) or f"available: {', '.join(list(columns)[:12])}"
            diagnostics.add(path, "unknown-column", f"column '{name}' is not in {where}", hint)
            ok = False
    return ok


def contains_aggregate(node: exp.Expr) -> bool:
    return any(isinstance(n, AGGREGATES) for n in node.walk())


def column_name(node: exp.Expr) -> str | None:
    """The output name an expression gets without an alias: only bare columns have one."""
    return node.name if isinstance(node, exp.Column) else None


def replace_columns(node: exp.Expr, mapping: Mapping[str, exp.Expr]) -> exp.Expr:
    """Substitute unqualified columns by expressions (metric names in HAVING, derived columns)."""
    lowered = {k.lower(): v for k, v in mapping.items()}

    def swap(sub: exp.Expr) -> exp.Expr:
        if isinstance(sub, exp.Column) and not sub.table and sub.name.lower() in lowered:
            return exp.paren(lowered[sub.name.lower()].copy(), copy=False)
        return sub

    return node.transform(swap)


def qualify_columns_with(node: exp.Expr, alias: str) -> exp.Expr:
    """Give unqualified columns the table alias `alias` (joins make bare names ambiguous)."""

    def qualify(sub: exp.Expr) -> exp.Expr:
        if isinstance(sub, exp.Column) and not sub.table:
            return exp.column(sub.this.copy(), table=exp.to_identifier(alias, quoted=True))
        return sub

    return node.transform(qualify)
