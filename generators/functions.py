"""Which functions an expression field or a `sql` task may call: the engine's own catalog, minus escapes.

The allow-list of an engine is its function catalog (`functions/<engine>.json`, generated from the
engine by `scripts/function_catalog.py`) minus `DENIED`: functions that run arbitrary code, register
code, or read or write outside the task's declared tables. Statements that register code or load
files (CREATE FUNCTION, ADD JAR, LOAD DATA, ...) never get here: a task's SQL is one SELECT.

Checked on the parsed query, before anything reaches an engine:

* a call sqlglot does not know (`reflect(...)`) by the name as written;
* a call sqlglot knows by the name it generates for the engine (`date_trunc` → `FLOOR(... TO DAY)` on
  Flink is `floor`), so what is checked is what runs;
* a qualified call (`db.fn(x)`, `spark_catalog.default.f(x)`) is a catalog UDF and always refused.

The check is unconditional: no task, lint setting or environment turns it off.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from pathlib import Path

from sqlglot import exp

FUNCTIONS_DIR = Path(__file__).resolve().with_name("functions")
RULE = "forbidden-function"

DENIED: dict[str, dict[str, str]] = {
    "spark": {
        "reflect": "it calls any Java method",
        "java_method": "it calls any Java method",
        "try_reflect": "it calls any Java method",
        "from_protobuf": "it reads a descriptor file from the filesystem",
        "to_protobuf": "it reads a descriptor file from the filesystem",
        "python_worker_logs": "it reads the engine's log files",
    },
    "flink": {
        "ml_predict": "it calls a model outside the task's declared tables",
        "ml_evaluate": "it calls a model outside the task's declared tables",
        "vector_search": "it reads an index outside the task's declared tables",
    },
}
# Syntax that sqlglot generates in function form but that no catalog lists as a function.
SYNTAX = frozenset({"cast", "try_cast", "extract", "interval", "struct", "array", "map", "row", "named_struct",
                    "case", "if", "coalesce", "nullif", "exists", "in", "between", "like", "ilike", "rlike",
                    "position", "trim", "substring", "overlay", "descriptor", "tumble", "hop", "cumulate",
                    "session", "table", "values", "grouping", "rollup", "cube", "grouping_sets"})
_CALL = re.compile(r"^\s*`?([A-Za-z_][A-Za-z0-9_]*)`?\s*\(")


@lru_cache(maxsize=4)
def catalog_functions(engine: str) -> frozenset[str]:
    """The engine's function catalog as generated (lower-case names)."""
    path = FUNCTIONS_DIR / f"{engine}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return frozenset(data["functions"])


@lru_cache(maxsize=4)
def allowed_functions(engine: str) -> frozenset[str]:
    return (catalog_functions(engine) | SYNTAX) - DENIED.get(engine, {}).keys()


def called_name(node: exp.Func, engine: str) -> str | None:
    """The name a call runs under on `engine` (None when it generates as syntax, not a call)."""
    if isinstance(node, exp.Anonymous | exp.AnonymousAggFunc):
        return str(node.name).lower()
    match = _CALL.match(node.sql(dialect=engine))
    return match.group(1).lower() if match else None


def forbidden_calls(node: exp.Expr, engine: str) -> list[tuple[str, str, str]]:
    """(name, message, hint) for every call in `node` that `engine` may not run."""
    allowed = allowed_functions(engine)
    denied = DENIED.get(engine, {})
    found: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for func in node.find_all(exp.Func):
        parent = func.parent
        if isinstance(parent, exp.Dot) and parent.expression is func:
            qualified = parent.sql(dialect=engine).split("(", 1)[0]
            if qualified not in seen:
                seen.add(qualified)
                found.append((qualified, f"'{qualified}' calls a function from a catalog, not a built-in one",
                              "only the engine's built-in functions can be called; user-defined functions are "
                              "not allowed"))
            continue
        name = called_name(func, engine)
        if name is None or name in allowed or name in seen:
            continue
        seen.add(name)
        if name in denied:
            found.append((name, f"{name}() is not allowed: {denied[name]}",
                          "use the engine's SQL functions on the task's columns"))
        else:
            close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.75)
            found.append((name, f"{name}() is not a {engine} function Formcast allows",
                          f"did you mean {close[0]}()?" if close else
                          f"see the {engine} SQL function reference"))
    return found
