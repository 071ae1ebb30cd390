"""Reading a task config (JSON text or a dict) into a task model, with located errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from generators.diagnostics import Diagnostic, join_path
from generators.tasks import KINDS, TASK_ADAPTER, Task


def _json_path(loc: tuple[Any, ...], data: Any) -> str:
    """Turn a Pydantic error location into a JSON path into the user's document.

    Discriminated unions add their tag (`aggregate`) to the location; those steps do not
    exist in the document, so they are skipped by walking the real data alongside.
    """
    parts: list[str | int] = []
    node = data
    for item in loc:
        in_list = isinstance(item, int) and isinstance(node, list) and 0 <= item < len(node)
        in_dict = isinstance(item, str) and isinstance(node, dict) and item in node
        if in_list or in_dict:
            parts.append(item)
            node = node[item]
        elif isinstance(item, str) and isinstance(node, dict) and item not in node and not _is_tag(item, node):
            parts.append(item)  # a missing required field: name it
            node = None
        # else: a union tag or validator name, not part of the document
    return join_path(*parts)


def _is_tag(item: str, node: dict[str, Any]) -> bool:
    return node.get("kind") == item or item.startswith(("function-", "tagged-union"))


def _message(error: dict[str, Any]) -> tuple[str, str]:
    kind = error["type"]
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    hint = ""
    if kind == "extra_forbidden":
        message = "unknown field"
        hint = "remove it, or check its spelling against `formcast schema`"
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "string_pattern_mismatch":
        hint = f"must match {error.get('ctx', {}).get('pattern', '')}"
    elif kind == "union_tag_invalid":
        message = f"unknown kind {error.get('input')!r}"
        hint = "one of: " + ", ".join(KINDS)
    elif kind == "union_tag_not_found":
        message = "'kind' is missing"
        hint = "one of: " + ", ".join(KINDS)
    elif kind == "literal_error":
        hint = "expected " + str(error.get("ctx", {}).get("expected", ""))
    return message, hint


def parse_task(data: Any) -> tuple[Task | None, list[Diagnostic]]:
    """Validate a config object; on failure, every problem is returned with its path."""
    try:
        return TASK_ADAPTER.validate_python(data), []
    except ValidationError as err:
        problems = []
        for error in err.errors(include_url=False):
            message, hint = _message(error)
            path = _json_path(tuple(error["loc"]), data)
            if error["type"] == "union_tag_invalid":
                path = join_path(path, "kind")
                message = f"unknown kind {error.get('ctx', {}).get('tag')!r}"
            problems.append(Diagnostic(path, "invalid-config", "error", message, hint))
        return None, problems


def parse_task_text(text: str, source: str = "<config>") -> tuple[Task | None, list[Diagnostic]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return None, [
            Diagnostic(
                "", "invalid-json", "error",
                f"{source} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}",
            )
        ]
    if not isinstance(data, dict):
        return None, [Diagnostic("", "invalid-config", "error", "a task config is a JSON object")]
    return parse_task(data)


def load_task_file(path: str | Path) -> tuple[Task | None, list[Diagnostic]]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        return None, [Diagnostic("", "invalid-json", "error", f"cannot read {file}: {err.strerror}")]
    return parse_task_text(text, str(file))


def task_to_json(task: Task) -> str:
    """Canonical JSON for a task: defaults left out (but every `kind` kept), stable key order — diff-friendly."""
    return json.dumps(_canonical(task), indent=2, ensure_ascii=False) + "\n"


def _canonical(model: BaseModel) -> dict[str, Any]:
    data = model.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    if "kind" in type(model).model_fields:
        head = {"name": data.pop("name")} if "name" in data else {}
        data = {**head, "kind": model.kind, **data}  # type: ignore[attr-defined] # the discriminator is kept
    for name in list(data):
        value = getattr(model, name, None)
        if isinstance(value, BaseModel):
            data[name] = _canonical(value)
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            data[name] = [_canonical(v) for v in value]
    return data
