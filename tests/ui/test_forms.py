"""The generic renderer over every task kind, through AppTest: round-trips and errors at their fields."""

from __future__ import annotations

from typing import Any

import pytest

from app.ui.forms import Form, task_schema
from generators.diagnostics import join_path
from generators.tasks import KINDS
from tests.ui.conftest import canonical, example, example_names, open_doc, walk

SCHEMA = Form()  # for resolving $refs only
EXAMPLES_BY_KIND: dict[str, str] = {}
for _name in example_names():
    EXAMPLES_BY_KIND.setdefault(example(_name)["kind"], _name)


def test_every_kind_has_an_example() -> None:
    assert set(EXAMPLES_BY_KIND) == set(KINDS)


def key(at: Any, path: str, suffix: str = "") -> str:
    return f"fc{at.session_state['gen']}:{path or '$'}" + (f":{suffix}" if suffix else "")


WIDGET_KINDS = ("text_input", "text_area", "selectbox", "radio", "number_input", "toggle", "multiselect",
                "date_input", "time_input")


def set_widget(at: Any, widget_key: str, value: Any) -> None:
    """Set a widget's value as a user would; a selectbox/multiselect value that is not an option is typed in."""
    for kind in WIDGET_KINDS:
        try:
            widget = getattr(at, kind)(key=widget_key)
        except KeyError:
            continue
        if kind in ("selectbox", "multiselect"):  # typed rather than picked (accept_new_options)
            values = [value] if kind == "selectbox" else list(value)
            widget.options.extend(str(v) for v in values if str(widget.format_func(v)) not in widget.options)
        widget.set_value(value)
        return
    raise AssertionError(f"no widget with key {widget_key}")


def click(at: Any, widget_key: str) -> None:
    at.button(key=widget_key).click().run()
    assert not at.exception, at.exception


def fill(at: Any, node: dict[str, Any], value: Any, path: str) -> None:
    """Enter `value` into the form at `path` widget by widget, adding list items and switching kinds."""
    node = SCHEMA.resolve(node)
    if "discriminator" in node:
        prop = node["discriminator"]["propertyName"]
        set_widget(at, key(at, join_path(path, prop)), value[prop])
        at.run()
        variant = SCHEMA.resolve({"$ref": node["discriminator"]["mapping"][value[prop]]})
        fill(at, variant, value, path)
    elif "anyOf" in node:
        inner = {**next(SCHEMA.resolve(b) for b in node["anyOf"] if b.get("type") != "null"),
                 **{k: v for k, v in node.items() if k not in ("anyOf", "default")}}
        if "properties" in inner:
            set_widget(at, key(at, path, "on"), True)
            at.run()
        fill(at, inner, value, path)
    elif "properties" in node:
        for name, sub in node["properties"].items():
            if name in value and "const" not in SCHEMA.resolve(sub):
                fill(at, sub, value[name], join_path(path, name))
    elif node.get("type") == "object":  # a dict: key/value rows
        for _ in value:
            click(at, key(at, path, "add"))
        for i, (k, v) in enumerate(value.items()):
            row = join_path(path, f"{{{i}}}")
            set_widget(at, key(at, row, "key"), k)
            set_widget(at, key(at, row), v)
    elif node.get("type") == "array":
        items = SCHEMA.resolve(node["items"])
        if (node.get("x-ui") or {}).get("widget") == "columns":
            set_widget(at, key(at, path), value)
            return
        for _ in value:
            click(at, key(at, path, "add"))
        for i, item in enumerate(value):
            fill(at, items, item, join_path(path, i))
    else:
        set_widget(at, key(at, path), value)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_filling_the_form_gives_back_the_example(app: Any, kind: str) -> None:
    """Start from an empty task, enter the example field by field, get the example's config back."""
    wanted = example(EXAMPLES_BY_KIND[kind])
    open_doc(app, {"name": "", "kind": "sync" if kind != "sync" else "aggregate"})
    fill(app, task_schema(), wanted, "")
    app.run()
    assert not app.exception, app.exception
    doc = app.session_state["doc"]
    assert canonical(doc) == canonical(wanted)
    assert app.text_area(key="editor_json").value == canonical(wanted)
    assert app.session_state["editor_diagnostics"] == [] or all(
        severity == "warning" for _, severity, _ in app.session_state["editor_diagnostics"])


@pytest.mark.parametrize("name", example_names())
def test_loading_an_example_renders_it_unchanged(app: Any, name: str) -> None:
    wanted = example(name)
    open_doc(app, wanted)
    assert canonical(app.session_state["doc"]) == canonical(wanted)
    app.run()  # a second run (widgets now hold the state) changes nothing
    assert canonical(app.session_state["doc"]) == canonical(wanted)
    if wanted.get("engine", "spark") == "spark":
        assert app.code and "INSERT" in app.code[0].value


@pytest.mark.parametrize(("change", "path", "text"), [
    (lambda d: d["metrics"][0].update(expr="user_idd"), "metrics[0].expr", "user_idd"),
    (lambda d: d.update(name="Bad Name"), "name", "should match pattern"),
    (lambda d: d["metrics"][3].update(agg="percentile"), "metrics[3]", "percentile needs"),
    (lambda d: d["target"].update(table="mart.nope"), "target.table", "nope"),
    (lambda d: d.update(schedule="every day"), "schedule", "cron"),
])
def test_errors_appear_next_to_their_field(app: Any, change: Any, path: str, text: str) -> None:
    doc = example("daily_active_users")
    change(doc)
    open_doc(app, doc)
    diagnostics = app.session_state["editor_diagnostics"]
    assert any(p == path and text in message for p, _, message in diagnostics), diagnostics
    errors = [e for e in app.error if text in e.value]
    assert errors, [e.value for e in app.error]
    nodes = list(walk(app.main))
    if path.endswith("]"):  # a model-level error: shown at the end of that item's group
        anchor = max(i for i, n in enumerate(nodes) if str(getattr(n, "key", "")).startswith(key(app, path)))
    else:
        anchor = next(i for i, n in enumerate(nodes) if getattr(n, "key", None) == key(app, path))
    following = [n for n in nodes[anchor + 1:] if not hasattr(n, "children")]
    if path.endswith("]"):  # skip the (empty) slots of the item's last fields
        following = [n for n in following if n.type != "empty"]
    assert following[0].type == "error" and text in following[0].value, following[:3]


def test_list_operations_add_move_remove(app: Any) -> None:
    open_doc(app, example("daily_active_users"))
    names = lambda: [m["name"] for m in app.session_state["doc"]["metrics"]]  # noqa: E731
    assert names() == ["dau", "plays", "watch_ms", "avg_play_ms", "p90_play_ms"]
    click(app, key(app, "metrics[0]", "down"))
    assert names() == ["plays", "dau", "watch_ms", "avg_play_ms", "p90_play_ms"]
    click(app, key(app, "metrics[4]", "up"))
    assert names() == ["plays", "dau", "watch_ms", "p90_play_ms", "avg_play_ms"]
    click(app, key(app, "metrics[1]", "rm"))
    assert names() == ["plays", "watch_ms", "p90_play_ms", "avg_play_ms"]
    click(app, key(app, "dimensions", "add"))
    assert app.session_state["doc"]["dimensions"][-1] == {}
    assert ("dimensions[2].expr", "error", "required field is missing") in app.session_state["editor_diagnostics"]
    # a free-text expression in a column widget, and the list of columns offered
    widget = app.selectbox(key=key(app, "dimensions[2].expr"))
    assert {"user_id · bigint", "event_ts · timestamp"} <= set(widget.options)
    set_widget(app, key(app, "dimensions[2].expr"), "upper(country)")
    app.run()
    assert app.session_state["doc"]["dimensions"][2] == {"expr": "upper(country)"}
    # scalar lists: tags
    click(app, key(app, "tags[0]", "rm"))
    assert app.session_state["doc"]["tags"] == ["release-health"]


def test_kind_switch_keeps_shared_fields_and_changes_the_form(app: Any) -> None:
    open_doc(app, example("daily_active_users"))
    set_widget(app, key(app, "kind"), "dedup")
    app.run()
    doc = app.session_state["doc"]
    assert doc["kind"] == "dedup" and doc["name"] == "daily_active_users" and doc["source"] == "app.client_events"
    assert "metrics" not in doc and doc["filter"] == "ds = '{{ ds }}'"
    assert app.multiselect(key=key(app, "keys")) is not None


def test_chained_step_kind_switch_and_join_columns(app: Any) -> None:
    open_doc(app, example("category_revenue_share"))
    join_cols = app.multiselect(key=key(app, "steps[0].joins[0].columns"))
    assert {"category · string", "brand · string"} <= set(join_cols.options)  # shop.products, not shop.orders
    right = app.selectbox(key=key(app, "steps[0].joins[0].on[0].right"))
    assert "list_price · decimal(10, 2)" in right.options
    step_input = app.selectbox(key=key(app, "steps[2].input"))
    assert step_input.options[:2] == ["paid_orders — step", "per_category — step"]
    set_widget(app, key(app, "steps[2].kind"), "topn")
    app.run()
    step = app.session_state["doc"]["steps"][2]
    assert step["kind"] == "topn" and step["name"] == "with_share" and step["order_by"][0]["expr"] == "revenue_share"
    assert any(p == "steps[2].n" for p, _, _ in app.session_state["editor_diagnostics"])


def test_editing_the_json_rerenders_the_form(app: Any) -> None:
    open_doc(app, example("daily_active_users"))
    text = app.text_area(key="editor_json").value.replace('"dau"', '"active_users"')
    app.text_area(key="editor_json").set_value(text).run()
    assert app.session_state["doc"]["metrics"][0]["name"] == "active_users"
    assert app.text_input(key=key(app, "metrics[0].name")).value == "active_users"
    app.text_area(key="editor_json").set_value("{broken").run()
    assert any("invalid JSON" in e.value for e in app.error)
    assert app.session_state["doc"]["metrics"][0]["name"] == "active_users"  # the document is kept


def test_form_edit_updates_json_and_sql(app: Any) -> None:
    open_doc(app, example("daily_active_users"))
    app.text_area(key=key(app, "filter")).set_value("ds = '{{ ds }}' AND platform = 'ios'").run()
    assert "platform = 'ios'" in app.text_area(key="editor_json").value
    assert "= 'ios'" in app.code[0].value
    app.selectbox(key="editor_engine").set_value("flink").run()
    assert "Formcast task daily_active_users · engine flink" in app.code[0].value


def test_optional_model_toggle_and_dict_rows(app: Any) -> None:
    open_doc(app, example("event_counts"))
    set_widget(app, key(app, "time_grain", "on"), False)
    app.run()
    assert "time_grain" not in app.session_state["doc"]
    click(app, key(app, "lint", "add"))
    set_widget(app, key(app, "lint.{0}", "key"), "missing-partition-filter")
    set_widget(app, key(app, "lint.{0}"), "off")
    app.run()
    assert app.session_state["doc"]["lint"] == {"missing-partition-filter": "off"}
    click(app, key(app, "lint.{0}", "rm"))
    assert "lint" not in app.session_state["doc"]


def test_fifty_field_task_renders_fast(app: Any) -> None:
    doc = big_chained_task()
    open_doc(app, doc)
    fields = app.session_state["form_fields"]
    assert fields >= 50
    timings = []
    for _ in range(3):
        app.run()
        timings.append(app.session_state["form_render_ms"])
    assert canonical(app.session_state["doc"]) == canonical(doc)
    assert min(timings) < 1000, timings


def big_chained_task() -> dict[str, Any]:
    doc = example("category_revenue_share")
    doc["steps"].append({
        "name": "ranked", "kind": "topn", "partition_by": ["category"], "n": 3,
        "order_by": [{"expr": "revenue", "direction": "desc"}, {"expr": "orders"}], "rank_column": "rnk",
    })
    doc["steps"].append({
        "name": "final", "kind": "derive", "filter": "rnk <= 3",
        "columns": [{"name": f"c{i}", "expr": f"revenue * {i}"} for i in range(8)],
    })
    doc["sla"] = {"deadline": "08:00", "timezone": "UTC"}
    doc["params"] = {"region": "EMEA", "min_orders": 3}
    return doc
