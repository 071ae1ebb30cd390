"""Read TableSpecs from a JSON or YAML file, reporting every problem with its location at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from catalog.errors import CatalogError, Problem, problems_from_validation
from catalog.spec import TableSpec

SUFFIXES = (".json", ".yaml", ".yml")
SHAPES = 'one table object, a list of them, or {"tables": [...]}'


def _parse(path: Path, text: str) -> Any:
    name = str(path)
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            where = f"line {err.lineno}, column {err.colno}"
            raise CatalogError(f"{where}: invalid JSON: {err.msg}", source=name) from err
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise CatalogError(f"{where}invalid YAML: {err.problem or err.context}", source=name) from err
    except yaml.YAMLError as err:
        raise CatalogError(f"invalid YAML: {err}", source=name) from err


def _entries(data: Any, source: str) -> list[tuple[str, Any]]:
    """(path prefix, table object) pairs for the three accepted shapes."""
    if isinstance(data, dict) and set(data) == {"tables"}:
        data = data["tables"]
        if not isinstance(data, list):
            raise CatalogError("tables: must be a list of table objects", source=source)
    if isinstance(data, list):
        return [(f"tables[{i}]", item) for i, item in enumerate(data)]
    if isinstance(data, dict):
        return [("", data)]
    shown = "an empty file" if data is None else f"a {type(data).__name__}"
    raise CatalogError(f"found {shown}; expected {SHAPES}", source=source)


def parse_table_specs(data: Any, source: str = "<input>") -> list[TableSpec]:
    """Validate already-parsed JSON/YAML data; `source` names it in errors."""
    specs: list[TableSpec] = []
    problems: list[Problem] = []
    first_seen: dict[str, str] = {}
    for prefix, item in _entries(data, source):
        if not isinstance(item, dict):
            problems.append(Problem(prefix, f"must be a table object, found {type(item).__name__}"))
            continue
        try:
            spec = TableSpec.model_validate(item)
        except ValidationError as err:
            problems += problems_from_validation(err, item, [prefix] if prefix else [])
            continue
        if spec.name in first_seen:
            earlier = first_seen[spec.name]
            problems.append(Problem(f"{prefix}.name", f"'{spec.name}' is already defined at {earlier}"))
        first_seen.setdefault(spec.name, prefix or "the top level")
        specs.append(spec)
    if problems:
        raise CatalogError("", problems, source=source)
    if not specs:
        raise CatalogError(f"no tables found; expected {SHAPES}", source=source)
    return specs


def load_table_specs(path: str | Path) -> list[TableSpec]:
    """TableSpecs from a .json/.yaml/.yml file holding one table, a list, or {"tables": [...]}."""
    path = Path(path)
    source = str(path)
    if path.suffix.lower() not in SUFFIXES:
        raise CatalogError(f"unsupported file type '{path.suffix}': use {', '.join(SUFFIXES)}", source=source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise CatalogError("no such file", source=source) from err
    except (OSError, UnicodeDecodeError) as err:
        raise CatalogError(f"cannot read: {err}", source=source) from err
    return parse_table_specs(_parse(path, text), source)
