"""The generic form renderer: Streamlit widgets generated from the task models' JSON Schema.

There is no per-kind form code. The renderer walks `TASK_ADAPTER.json_schema()` (or any Pydantic
model's schema) and picks a widget per schema node:

* ``oneOf`` + ``discriminator`` (the task, each chained step): a kind selectbox; the form follows it;
* ``anyOf [X, null]``: optional — empty text / empty choice means null; optional models get a toggle;
* ``anyOf`` of scalars (parameter values): a type choice plus the value;
* ``enum`` / ``const`` (Literals): radio (≤ 3 choices) or selectbox; a const is implied, never asked;
* ``string`` (text input; ``format`` date / time: date / time input), ``integer`` / ``number``
  (number input with the schema's bounds), ``boolean`` (toggle);
* ``object`` with ``properties``: a bordered group, one widget per field, in declaration order;
* ``object`` with ``additionalProperties`` (dicts): key/value rows, add and remove;
* ``array``: rows (scalars) or bordered cards (models, unions) with add, remove, move up/down;
* ``x-ui`` hints: ``table`` → searchable selectbox of catalog tables (free text allowed), ``column``
  / ``columns`` → the columns (with types) of the task's source, or of the enclosing join's
  ``table`` for ``of="table"``, free text allowed; ``expression`` / ``sql`` → text areas;
  ``step_or_table`` → earlier steps and catalog tables.

Titles become labels, descriptions help texts, examples placeholders. Widget keys are the JSON path
of the field under a generation prefix (``fc3:steps[1].metrics[0].expr``): stable across reruns;
a new generation (after a list change or a JSON edit) re-initializes every widget from the document.

`Form.render(value)` returns a plain dict (defaults left out). Each field reserves an error slot
just below its widget; `Form.show_diagnostics(diags)` fills the slot whose path is the diagnostic's
path (or the nearest enclosing one), so an error appears next to the field it belongs to.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import streamlit as st

from generators.diagnostics import join_path

MISSING: Any = object()
TEMPORAL_TYPES = ("date", "timestamp", "timestamp_ntz", "timestamp_ltz")
RADIO_MAX = 3
SCALAR_TYPES = ("string", "integer", "number", "boolean")


@lru_cache(maxsize=1)
def task_schema() -> dict[str, Any]:
    from generators.tasks import TASK_ADAPTER

    return TASK_ADAPTER.json_schema()


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    description: str = ""


@dataclass(frozen=True)
class TableInfo:
    name: str
    description: str
    columns: tuple[ColumnInfo, ...]

    @classmethod
    def from_spec(cls, spec: Any) -> TableInfo:
        return cls(spec.name, spec.description or "",
                   tuple(ColumnInfo(c.name, c.type, c.description or "") for c in spec.columns))


@dataclass
class ListOp:
    path: str
    op: str  # add | remove | up | down
    index: int = -1


@dataclass
class Form:
    """One rendering of a document. Create a new Form per script run."""

    schema: dict[str, Any] = field(default_factory=task_schema)
    tables: Mapping[str, TableInfo] = field(default_factory=dict)
    generation: int = 0
    namespace: str = "fc"
    slots: dict[str, Any] = field(default_factory=dict)  # path → st.empty() below the widget
    titles: dict[str, str] = field(default_factory=dict)  # path → field title
    list_op: ListOp | None = None  # a structural change asked for during this render
    partial: dict[str, list[Any]] = field(default_factory=dict)  # list path → its items rendered so far
    shown: list[tuple[str, str]] = field(default_factory=list)  # (slot path, message) after show_diagnostics

    # --- keys and schema helpers ---

    def key(self, path: str, suffix: str = "") -> str:
        return f"{self.namespace}{self.generation}:{path or '$'}{':' + suffix if suffix else ''}"

    def resolve(self, node: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(node)
        while "$ref" in out:
            name = out.pop("$ref").rsplit("/", 1)[-1]
            out = {**self.schema.get("$defs", {})[name], **out}
        return out

    @staticmethod
    def _init(key: str, value: Any) -> None:
        if key not in st.session_state:
            st.session_state[key] = value

    def _slot(self, path: str, title: str = "") -> None:
        self.slots[path] = st.empty()
        if title:
            self.titles[path] = title

    # --- entry points ---

    @property
    def changed(self) -> bool:
        return self.list_op is not None

    def render(self, value: Any, node: Mapping[str, Any] | None = None) -> Any:
        """Render the whole document; returns the new document (a dict for the task schema)."""
        self._slot("")
        out = self._render(self.resolve(node or self.schema), value, "", [], required=True)
        return None if out is MISSING else out

    # --- dispatch ---

    def _render(self, node: dict[str, Any], value: Any, path: str, scope: list[dict[str, Any]],
                required: bool) -> Any:
        if "discriminator" in node and ("oneOf" in node or "anyOf" in node):
            return self._union(node, value, path, scope)
        if "anyOf" in node:
            return self._any_of(node, value, path, scope, required)
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return self._enum(node, value, path, required)
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            if "properties" in node:
                return self._object(node, value, path, scope)
            return self._dict(node, value, path, scope)
        if kind == "array":
            return self._array(node, value, path, scope)
        if kind in SCALAR_TYPES:
            return self._scalar(node, value, path, scope, required)
        return self._json_text(node, value, path)

    def _object(self, node: dict[str, Any], value: Any, path: str, scope: list[dict[str, Any]]) -> dict[str, Any]:
        value = value if isinstance(value, dict) else {}
        required = set(node.get("required", ()))
        out: dict[str, Any] = {}
        inner_scope = [*scope, out]
        for name, raw in node.get("properties", {}).items():
            sub = self.resolve(raw)
            if "const" in sub:
                out[name] = sub["const"]
                continue
            got = self._render(sub, value.get(name, MISSING), join_path(path, name), inner_scope, name in required)
            if got is MISSING or (name not in required and _is_default(got, sub)):
                continue
            out[name] = got
        if path:
            self._slot(path)  # model-level errors (validators) of this object
        return out

    def _union(self, node: dict[str, Any], value: Any, path: str, scope: list[dict[str, Any]]) -> Any:
        disc = node["discriminator"]
        prop = disc["propertyName"]
        variants = {tag: self.resolve({"$ref": ref}) for tag, ref in disc["mapping"].items()}
        order = [self.resolve(v).get("properties", {}).get(prop, {}).get("const") for v in node.get("oneOf", [])]
        tags = [t for t in order if t in variants] or list(variants)
        value = value if isinstance(value, dict) else {}
        current = value.get(prop)
        key = self.key(join_path(path, prop))
        self._init(key, current if current in variants else tags[0])
        label = "Kind" if not path else "Step kind"
        tag = st.selectbox(label, tags, key=key,
                           format_func=lambda t: f"{t} — {variants[t].get('description', '').strip()}".rstrip(" —"))
        self._slot(join_path(path, prop), label)
        body = self._object(variants[tag], value, path, scope)
        ordered: dict[str, Any] = {}
        if "name" in body:
            ordered["name"] = body["name"]
        ordered[prop] = tag
        ordered.update(body)
        return ordered

    def _any_of(self, node: dict[str, Any], value: Any, path: str, scope: list[dict[str, Any]],
                required: bool) -> Any:
        branches = [self.resolve(b) for b in node["anyOf"]]
        non_null = [b for b in branches if b.get("type") != "null"]
        nullable = len(non_null) < len(branches)
        meta = {k: v for k, v in node.items() if k not in ("anyOf", "default")}
        if len(non_null) == 1:
            inner = {**non_null[0], **meta}
            if not nullable:
                return self._render(inner, value, path, scope, required)
            if "properties" in inner or inner.get("type") in ("object", "array"):
                key = self.key(path, "on")
                self._init(key, value not in (None, MISSING))
                on = st.toggle(inner.get("title", path), key=key, help=inner.get("description"))
                if not on:
                    self._slot(path, inner.get("title", ""))
                    return MISSING
                with st.container(border=True):
                    return self._render({**inner, "title": ""}, value, path, scope, True)
            return self._render(inner, None if value is MISSING else value, path, scope, required=False)
        if all(b.get("type") in SCALAR_TYPES for b in non_null):
            return self._scalar_union(non_null, meta, value, path)
        return self._json_text(node, value, path)

    # --- scalars ---

    def _enum(self, node: dict[str, Any], value: Any, path: str, required: bool) -> Any:
        options = list(node["enum"])
        key = self.key(path)
        default = node.get("default", MISSING)
        if value in options:
            initial = value
        elif default is not MISSING:
            initial = default
        else:
            initial = options[0] if required else None
        self._init(key, initial)
        label, help_text = node.get("title", path), node.get("description")
        if len(options) <= RADIO_MAX and (required or default is not MISSING):
            got = st.radio(label, options, key=key, help=help_text, horizontal=True)
        else:
            got = st.selectbox(label, options, key=key, help=help_text, placeholder="—")
        self._slot(path, label)
        return MISSING if got is None else got

    def _scalar(self, node: dict[str, Any], value: Any, path: str, scope: list[dict[str, Any]],
                required: bool) -> Any:
        kind = node["type"]
        label, help_text = node.get("title", "") or path, node.get("description")
        key = self.key(path)
        value = None if value is MISSING else value
        if kind == "boolean":
            self._init(key, bool(value) if value is not None else bool(node.get("default", False)))
            got: Any = st.toggle(label, key=key, help=help_text)
        elif kind in ("integer", "number"):
            got = self._number(node, value, key, label, help_text)
        else:
            got = self._string(node, value, path, key, label, help_text, scope)
        self._slot(path, label)
        if got is None or (kind == "string" and got == "" and (not required or "default" in node)):
            if kind == "string" and got == "" and node.get("default") == "":
                return ""
            return MISSING
        return got

    def _number(self, node: dict[str, Any], value: Any, key: str, label: str, help_text: str | None) -> Any:
        integer = node["type"] == "integer"
        cast: Callable[[Any], Any] = int if integer else float
        initial = value if isinstance(value, int | float) and not isinstance(value, bool) else node.get("default")
        self._init(key, None if initial is None else cast(initial))
        lo = node.get("minimum", node.get("exclusiveMinimum"))
        hi = node.get("maximum", node.get("exclusiveMaximum"))
        return st.number_input(
            label, key=key, help=help_text, min_value=None if lo is None else cast(lo),
            max_value=None if hi is None else cast(hi), step=1 if integer else 0.05,
            format="%d" if integer else "%g", placeholder=_placeholder(node) or None,
        )

    def _string(self, node: dict[str, Any], value: Any, path: str, key: str, label: str, help_text: str | None,
                scope: list[dict[str, Any]]) -> Any:
        hints = node.get("x-ui") or {}
        widget = hints.get("widget")
        text = "" if value is None else str(value)
        placeholder = _placeholder(node)
        fmt = node.get("format")
        if fmt == "date":
            self._init(key, _parse_date(text))
            got = st.date_input(label, key=key, help=help_text)
            return got.isoformat() if got else None
        if fmt == "time":
            self._init(key, _parse_time(text))
            got = st.time_input(label, key=key, help=help_text)
            return got.strftime("%H:%M") if got else None
        if widget in ("table", "column", "step_or_table"):
            return self._choice(widget, hints, text, path, key, label, help_text, scope, placeholder)
        self._init(key, text)
        if widget in ("expression", "sql"):
            height = 240 if widget == "sql" else 68
            return st.text_area(label, key=key, help=help_text, placeholder=placeholder, height=height)
        return st.text_input(label, key=key, help=help_text, placeholder=placeholder)

    def _choice(self, widget: str, hints: dict[str, Any], text: str, path: str, key: str, label: str,
                help_text: str | None, scope: list[dict[str, Any]], placeholder: str) -> Any:
        labels: dict[str, str] = {}
        if widget == "table":
            options = sorted(self.tables)
            labels = {n: _short(f"{n} — {t.description}") if t.description else n for n, t in self.tables.items()}
            hint = "Choose or type a table (namespace.table)"
        elif widget == "step_or_table":
            steps = self._earlier_items(path)
            options = steps + sorted(self.tables)
            labels = {s: f"{s} — step" for s in steps}
            hint = "The previous step (empty), an earlier step, or a table"
        else:
            columns = self.columns_for(hints, scope)
            wanted = hints.get("types")
            if wanted and "temporal" in wanted:
                temporal = [c for c in columns if c.type.lower().startswith(TEMPORAL_TYPES)]
                columns = temporal or columns
            options = [c.name for c in columns]
            labels = {c.name: f"{c.name} · {c.type}" for c in columns}
            hint = f"Choose a column or type an expression{f', e.g. {placeholder}' if placeholder else ''}"
        self._init(key, text or None)
        current = st.session_state.get(key)
        if current and current not in options:
            options = [*options, current]
        got = st.selectbox(label, options, key=key, help=help_text, placeholder=hint, accept_new_options=True,
                           format_func=lambda v: labels.get(v, v))
        return got or None

    def _scalar_union(self, branches: list[dict[str, Any]], meta: dict[str, Any], value: Any, path: str) -> Any:
        types = [b["type"] for b in branches]
        current = _json_type(value) if value not in (MISSING, None) else types[0]
        type_key = self.key(path, "type")
        self._init(type_key, current if current in types else types[0])
        left, right = st.columns([1, 3])
        with left:
            chosen = st.selectbox("Type", types, key=type_key, label_visibility="collapsed")
        with right:
            branch = {**branches[types.index(chosen)], **meta}
            coerced = _coerce(value, chosen) if value not in (MISSING, None) else None
            got = self._render(branch, coerced, path + f"<{chosen}>", [], required=True)
        return got

    def _json_text(self, node: dict[str, Any], value: Any, path: str) -> Any:
        """Anything the renderer has no widget for: edited as JSON."""
        key = self.key(path)
        self._init(key, "" if value in (MISSING, None) else json.dumps(value))
        text = st.text_input(node.get("title", path) + " (JSON)", key=key, help=node.get("description"))
        self._slot(path)
        if not text.strip():
            return MISSING
        try:
            return json.loads(text)
        except ValueError:
            return text

    # --- collections ---

    def _dict(self, node: dict[str, Any], value: Any, path: str, scope: list[dict[str, Any]]) -> dict[str, Any]:
        value = value if isinstance(value, dict) else {}
        items_node = self.resolve(node.get("additionalProperties") or {"type": "string"})
        title = node.get("title", path)
        pairs = list(value.items())
        out: dict[str, Any] = {}
        st.markdown(f"**{title}**", help=node.get("description"))
        examples = node.get("examples") or [{}]
        example_key = next(iter(examples[0]), "key") if isinstance(examples[0], dict) else "key"
        for i, (k0, v0) in enumerate(pairs):
            row = join_path(path, f"{{{i}}}")
            c_key, c_val, c_rm = st.columns([2, 3, 1], vertical_alignment="bottom")
            with c_key:
                kk = self.key(row, "key")
                self._init(kk, k0)
                k = st.text_input("Key", key=kk, placeholder=example_key, label_visibility="collapsed")
            with c_val:  # keyed by row, so renaming the key keeps the value
                v = self._render({**items_node, "title": "Value"}, v0, row, scope, required=True)
            if k and row in self.slots:
                self.slots[join_path(path, k)] = self.slots[row]
            with c_rm:
                if st.button("✕", key=self.key(row, "rm"), help="Remove"):
                    self.list_op = ListOp(path, "remove", i)
            if k:
                out[k] = None if v is MISSING else v
        if st.button(f"+ {title}", key=self.key(path, "add")):
            self.list_op = ListOp(path, "add")
        self._slot(path, title)
        if self.list_op is not None and self.list_op.path == path:
            out = _apply_dict_op(out, self.list_op, items_node)
        return out

    def _array(self, node: dict[str, Any], value: Any, path: str, scope: list[dict[str, Any]]) -> Any:
        items_node = self.resolve(node.get("items") or {"type": "string"})
        title = node.get("title", path)
        hints = node.get("x-ui") or items_node.get("x-ui") or {}
        value = list(value) if isinstance(value, list) else []
        if hints.get("widget") == "columns" and items_node.get("type") == "string":
            return self._columns_multiselect(node, hints, value, path, scope)
        is_model = "properties" in items_node or "discriminator" in items_node
        out: list[Any] = []
        self.partial[path] = out
        count = len(value)
        if is_model:
            st.markdown(f"**{title}**", help=node.get("description"))
        for i in range(count):
            item_path = join_path(path, i)
            item_value = value[i]
            if is_model:
                with st.container(border=True):
                    head, up, down, rm = st.columns([8, 1, 1, 1], vertical_alignment="center")
                    head.caption(f"{title} #{i + 1}")
                    self._row_buttons(path, item_path, i, count, up, down, rm)
                    got = self._render(items_node, item_value, item_path, scope, required=True)
            else:
                body, up, down, rm = st.columns([8, 1, 1, 1], vertical_alignment="bottom")
                with body:
                    got = self._render({**items_node, "title": f"{title} #{i + 1}"}, item_value, item_path, scope,
                                       required=True)
                self._row_buttons(path, item_path, i, count, up, down, rm)
            out.append(None if got is MISSING else got)
        if st.button(f"+ Add to {title}", key=self.key(path, "add")):
            self.list_op = ListOp(path, "add")
        self._slot(path, title)
        if self.list_op is not None and self.list_op.path == path:
            out = _apply_list_op(out, self.list_op, items_node)
        return out

    def _row_buttons(self, path: str, item_path: str, i: int, count: int, up: Any, down: Any, rm: Any) -> None:
        if up.button("↑", key=self.key(item_path, "up"), disabled=i == 0, help="Move up"):
            self.list_op = ListOp(path, "up", i)
        if down.button("↓", key=self.key(item_path, "down"), disabled=i == count - 1, help="Move down"):
            self.list_op = ListOp(path, "down", i)
        if rm.button("✕", key=self.key(item_path, "rm"), help="Remove"):
            self.list_op = ListOp(path, "remove", i)

    def _columns_multiselect(self, node: dict[str, Any], hints: dict[str, Any], value: list[Any], path: str,
                             scope: list[dict[str, Any]]) -> list[str]:
        columns = self.columns_for(hints, scope)
        labels = {c.name: f"{c.name} · {c.type}" for c in columns}
        key = self.key(path)
        self._init(key, [str(v) for v in value])
        options = [c.name for c in columns]
        options += [v for v in st.session_state.get(key) or [] if v not in options]
        got = st.multiselect(node.get("title", path), options, key=key, help=node.get("description"),
                             accept_new_options=True, format_func=lambda v: labels.get(v, v),
                             placeholder="Choose columns or type names")
        self._slot(path, node.get("title", ""))
        return list(got)

    # --- catalog context ---

    def columns_for(self, hints: Mapping[str, Any], scope: Sequence[Mapping[str, Any]]) -> list[ColumnInfo]:
        """Columns the field can name: the enclosing join's table (of="table"), the step's input table,
        else the task's source. A chained step's own input columns are not known without compiling."""
        table: str | None = None
        if hints.get("of") == "table":
            table = next((o.get("table") for o in reversed(scope) if isinstance(o.get("table"), str)), None)
        else:
            step_input = next((o.get("input") for o in reversed(scope) if isinstance(o.get("input"), str)), None)
            if step_input and step_input.lower() in self.tables:
                table = step_input
            elif scope:
                table = scope[0].get("source") if isinstance(scope[0].get("source"), str) else None
        info = self.tables.get((table or "").lower())
        return list(info.columns) if info else []

    def _earlier_items(self, path: str) -> list[str]:
        """Names of the items before this one in the enclosing list (e.g. the earlier steps)."""
        cut = path.rfind("[")
        items = self.partial.get(path[:cut], []) if cut > 0 else []
        return [str(i["name"]) for i in items if isinstance(i, dict) and i.get("name")]

    # --- diagnostics ---

    def slot_for(self, path: str) -> str:
        """The rendered slot nearest to `path`: the field itself, else its closest enclosing field."""
        probe = path
        while probe:
            if probe in self.slots:
                return probe
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return ""

    def show_diagnostics(self, diagnostics: Sequence[Any]) -> None:
        grouped: dict[str, list[Any]] = {}
        for d in diagnostics:
            grouped.setdefault(self.slot_for(d.path), []).append(d)
        self.shown = []
        for slot, items in grouped.items():
            with self.slots[slot].container():
                for d in items:
                    where = "" if d.path == slot else f"{d.path}: "
                    text = f"{where}{d.message}" + (f" — {d.hint}" if d.hint else "")
                    text = text.replace("$", "\\$")  # not LaTeX
                    self.shown.append((slot, text))
                    if d.severity == "error":
                        st.error(text, icon="⚠️")
                    else:
                        st.warning(text, icon="💡")


# --- pure helpers ------------------------------------------------------------------------------


def _is_default(value: Any, node: Mapping[str, Any]) -> bool:
    if "default" in node:
        return value == node["default"]
    return value in (None, "", [], {})


def _placeholder(node: Mapping[str, Any]) -> str:
    examples = node.get("examples") or []
    return str(examples[0]) if examples and isinstance(examples[0], str | int | float) else ""


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _coerce(value: Any, kind: str) -> Any:
    try:
        if kind == "boolean":
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _parse_time(text: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(text) if text else None
    except ValueError:
        return None


def new_value(node: Mapping[str, Any]) -> Any:
    """A fresh item for a list: {} for models (the form fills defaults), an empty scalar otherwise."""
    if "properties" in node or "discriminator" in node or node.get("type") == "object":
        return {}
    return {"integer": 0, "number": 0.0, "boolean": False}.get(node.get("type", ""), "")


def _apply_list_op(items: list[Any], op: ListOp, node: Mapping[str, Any]) -> list[Any]:
    items = list(items)
    i = op.index
    if op.op == "add":
        items.append(new_value(node))
    elif op.op == "remove" and 0 <= i < len(items):
        items.pop(i)
    elif op.op == "up" and 0 < i < len(items):
        items[i - 1], items[i] = items[i], items[i - 1]
    elif op.op == "down" and 0 <= i < len(items) - 1:
        items[i + 1], items[i] = items[i], items[i + 1]
    return items


def _apply_dict_op(values: dict[str, Any], op: ListOp, node: Mapping[str, Any]) -> dict[str, Any]:
    pairs = list(values.items())
    if op.op == "remove" and 0 <= op.index < len(pairs):
        pairs.pop(op.index)
    elif op.op == "add":
        n = len(pairs) + 1
        while f"key{n}" in values:
            n += 1
        pairs.append((f"key{n}", new_value(node)))
    return dict(pairs)
