"""State shared while one task is planned: the catalog view, variables, diagnostics, relations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types

from catalog.spec import TableSpec
from catalog.types import InvalidType, TypeFamily, parse_type, type_family
from generators.diagnostics import Diagnostics
from generators.expressions import ExpressionError, check_columns, parse_expression, suggest
from generators.functions import RULE, forbidden_calls
from generators.sandbox import TemplateProblem
from generators.templating import quote_identifier, quote_table, render_string


class CatalogReader(Protocol):
    """What the compiler needs from a catalog (the SQLAlchemy store and MemoryCatalog both fit)."""

    def get_table(self, name: str) -> TableSpec | None: ...

    def table_names(self) -> list[str]: ...

    def load_all(self) -> dict[str, TableSpec]: ...


# Expressions typed into forms are read as Spark SQL whatever the engine, then generated for the
# engine: one config, two engines.
FORM_DIALECT = "spark"

Columns = dict[str, str | None]  # ordered: output name → canonical type (None when unknown)


@dataclass
class Relation:
    """Something a step reads: a logical table or an earlier step."""

    name: str
    ref_sql: str
    columns: Columns
    table: TableSpec | None = None

    def column_type(self, name: str) -> str | None:
        lowered = name.lower()
        return next((t for c, t in self.columns.items() if c.lower() == lowered), None)


@dataclass
class PlanContext:
    catalog: CatalogReader
    engine: str
    variables: dict[str, Any]
    diagnostics: Diagnostics
    mode: str = "batch"
    window_tvf: bool = False  # a planned step reads through a Flink window TVF
    wanted: set[str] | None = None  # lower-case columns the reader of the relation being planned needs
    used: set[str] = field(default_factory=set)  # lower-case input columns named by the step being planned
    watermark_delays: dict[str, int] = field(default_factory=dict)  # table → seconds, set by window tasks
    proctime_tables: set[str] = field(default_factory=set)  # sources that need a processing-time column
    lookup_tables: dict[str, str] = field(default_factory=dict)  # lookup-joined table → its config path
    planned: list[tuple[str, Any, Relation]] = field(default_factory=list)  # (path, kind body, its input)
    tables: dict[str, TableSpec] = field(default_factory=dict)  # every logical table the task reads
    table_paths: dict[str, str] = field(default_factory=dict)  # where each table is first named
    steps: dict[str, Relation] = field(default_factory=dict)

    @property
    def dialect(self) -> str:
        return self.engine

    def ident(self, name: str) -> str:
        return quote_identifier(name, self.dialect)

    def table_relation(self, name: str, path: str) -> Relation | None:
        """Resolve a logical table named at `path`, reporting an unknown one with a suggestion."""
        spec = self.catalog.get_table(name)
        if spec is None:
            self.diagnostics.add(
                path, "unknown-table", f"table '{name}' is not in the catalog",
                suggest(name, self.catalog.table_names()) or "register it with `formcast catalog add`",
            )
            return None
        self.tables[spec.name] = spec
        self.table_paths.setdefault(spec.name, path)
        columns: Columns = {c.name: c.type for c in spec.columns}
        return Relation(spec.name, quote_table(spec.name, self.dialect), columns, spec)

    def render(self, text: str, path: str) -> str | None:
        try:
            return render_string(text, self.variables)
        except TemplateProblem as err:
            self.diagnostics.add(
                path, "template-error", str(err),
                "available variables: " + ", ".join(sorted(self.variables)),
            )
            return None

    def expression(
        self,
        text: str,
        path: str,
        columns: Mapping[str, object],
        *,
        qualified: Mapping[str, Mapping[str, object]] | None = None,
        where: str = "the input",
    ) -> exp.Expr | None:
        """Render Jinja, parse, and check every column; None (with diagnostics) when unusable."""
        rendered = self.render(text, path)
        if rendered is None:
            return None
        try:
            node = parse_expression(rendered, FORM_DIALECT)
        except ExpressionError as err:
            self.diagnostics.add(path, err.rule, str(err), err.hint)
            return None
        if not self.allowed_calls(node, path):
            return None
        if not check_columns(node, columns, path, self.diagnostics, qualified=qualified, where=where):
            return None
        self.used.update(column.name.lower() for column in node.find_all(exp.Column))
        return node

    def allowed_calls(self, node: exp.Expr, path: str) -> bool:
        """Report every function `node` calls that this engine may not run (see generators.functions)."""
        try:
            problems = forbidden_calls(node, self.engine)
        except RecursionError:
            self.diagnostics.add(path, "invalid-expression", "the expression is nested too deeply to check")
            return False
        for _name, message, hint in problems:
            self.diagnostics.add(path, RULE, message, hint)
        return not problems

    def sql(self, node: exp.Expr) -> str:
        return node.sql(dialect=self.dialect)


def expression_type(node: exp.Expr, columns: Mapping[str, str | None]) -> str | None:
    """Best-effort type of an expression over typed columns; None when sqlglot cannot tell."""
    lowered = {k.lower(): v for k, v in columns.items()}
    if isinstance(node, exp.Column):
        return lowered.get(node.name.lower())
    typed = node.copy()
    for column in typed.find_all(exp.Column):
        type_sql = lowered.get(column.name.lower())
        if type_sql:
            column.type = parse_type(type_sql)
    try:
        result = annotate_types(typed, dialect="spark").type
    except Exception:  # sqlglot's annotator is best-effort; a failure means "unknown"
        return None
    if result is None or result.this == exp.DataType.Type.UNKNOWN:
        return None
    return result.sql(dialect="spark").lower()


def family_of(type_sql: str | None) -> TypeFamily:
    if not type_sql:
        return TypeFamily.UNKNOWN
    try:
        return type_family(type_sql)
    except InvalidType:
        return TypeFamily.UNKNOWN
