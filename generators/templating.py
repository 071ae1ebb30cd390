"""The sandboxed Jinja environment that renders SQL templates and user-typed Jinja.

Templates receive identifiers and values only through the `ident` and `literal` filters, which
quote with sqlglot for the target dialect; user expressions arrive already parsed and regenerated
by sqlglot. StrictUndefined turns a missing variable into an error instead of empty SQL. Our own
templates render here; text a user typed renders in `generators.sandbox`, within time and size limits.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlglot import exp

from generators.sandbox import BoundedEnvironment, render_user
from templates import TEMPLATES_DIR


@lru_cache(maxsize=65536)
def quote_identifier(name: str, dialect: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect=dialect)


@lru_cache(maxsize=16384)
def quote_table(name: str, dialect: str) -> str:
    """`ns.table` (or `db.table`, `cat.db.table`) with each part quoted."""
    parts = name.split(".")
    table = exp.table_(
        parts[-1],
        db=parts[-2] if len(parts) > 1 else None,
        catalog=parts[-3] if len(parts) > 2 else None,
        quoted=True,
    )
    return table.sql(dialect=dialect)


def quote_literal(value: Any, dialect: str = "spark") -> str:
    """A SQL literal escaped the way the engine reads it (Spark: backslash escapes; Flink: '')."""
    if isinstance(value, bool):
        return exp.Boolean(this=value).sql(dialect=dialect)
    if isinstance(value, int | float):
        return exp.Literal.number(value).sql(dialect=dialect)
    return exp.Literal.string(str(value)).sql(dialect=dialect)


@pass_context
def _ident(context: Context, name: str) -> str:
    return quote_identifier(str(name), context["dialect"])


@pass_context
def _table(context: Context, name: str) -> str:
    return quote_table(str(name), context["dialect"])


@pass_context
def _literal(context: Context, value: Any) -> str:
    return quote_literal(value, context.get("dialect") or "spark")


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )
    env.filters["ident"] = _ident
    env.filters["table"] = _table
    env.filters["literal"] = _literal
    return env


@lru_cache(maxsize=1)
def user_environment() -> BoundedEnvironment:
    """Where text users type renders: bounded, with the same quoting filters as our templates."""
    return BoundedEnvironment({"ident": _ident, "table": _table, "literal": _literal})


@lru_cache(maxsize=256)
def _template(engine: str, name: str) -> Template:
    return environment().select_template([f"{engine}/{name}.sql.j2", f"common/{name}.sql.j2"])


@lru_cache(maxsize=8)
def _macros(engine: str) -> Any:
    return _template(engine, "macros").make_module({"dialect": engine})


def render_template(engine: str, name: str, **context: Any) -> str:
    """Render `<engine>/<name>.sql.j2`, or `common/<name>.sql.j2` when the engine has no override."""
    context.setdefault("dialect", engine)
    context["m"] = _macros(context["dialect"])
    return _template(engine, name).render(context).strip()


def render_string(text: str, variables: dict[str, Any]) -> str:
    """Render user-typed Jinja (filters, partition values, raw SQL) in the bounded sandbox.

    Raises `TemplateProblem` (time, steps, size, depth, or any error the template raises)."""
    if "{" not in text:
        return text
    return render_user(user_environment(), text, variables)


def date_variables(logical_date: date, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Variables bound to a task instance's logical date (Airflow's names, which users know)."""
    start = datetime.combine(logical_date, time.min)
    return {
        "ds": logical_date.isoformat(),
        "ds_nodash": logical_date.strftime("%Y%m%d"),
        "ts": start.isoformat(),
        "ts_nodash": start.strftime("%Y%m%dT%H%M%S"),
        "prev_ds": (logical_date - timedelta(days=1)).isoformat(),
        "next_ds": (logical_date + timedelta(days=1)).isoformat(),
        "ds_month": logical_date.strftime("%Y-%m"),
        "ds_year": logical_date.strftime("%Y"),
        "params": dict(params or {}),
    }
