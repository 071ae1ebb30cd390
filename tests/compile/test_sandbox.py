"""Template bombs in user-typed Jinja come back fast as located errors; ordinary templates still render.

The UI compiles as you type, so every bomb here must return within a couple of seconds (the limits
are 1 s and 200,000 steps) and name the field it came from, never raise.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from generators.compile import CompiledTask
from generators.sandbox import MAX_CHARS, TemplateProblem, render_user
from generators.templating import user_environment

BOMBS = {
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "string repeat": "{{ 'x' * 10**8 }}",
    "huge range": "{{ range(10**9) }}",
    "huge range loop": "{% for i in range(10**9) %}{% endfor %}",
    "recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "doubling namespace": "{% set ns = namespace(x='ab') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}"
                          "{% endfor %}{{ ns.x|length }}",
    "doubling macro": "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s|length }}{% endmacro %}{{ d('ab', 35) }}",
    "nested lists": "{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = [ns.x, ns.x] %}"
                    "{% endfor %}{{ ns.x }}",
    "nested lists joined": "{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = [ns.x, ns.x] %}"
                           "{% endfor %}{{ ns.x|join }}",
    "squaring": "{% set ns = namespace(x=2) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}"
                "{{ ns.x }}",
    "power": "{{ 2 ** (10 ** 10) }}",
    "center filter": "{{ 'x'|center(1000000000) }}",
    "ljust method": "{{ 'x'.ljust(10**9) }}",
    "printf width": "{{ '%999999999s' % 'x' }}",
    "format width": "{{ '{:>999999999}'.format('x') }}",
    "format filter width": "{{ '%999999999s'|format('x') }}",
    "replace growth": "{{ ('x' * 900000)|replace('x', 'yyyyyyyyyy') }}",
    "long output": "{% for i in range(100000) %}{{ 'x' * 50 }}{% endfor %}",
    "lorem ipsum": "{{ lipsum(100000, min=1000, max=1000) }}",
    "division": "{{ 1 / 0 }}",
    "attribute escape": "{{ ''.__class__.__mro__ }}",
    "include": "{% include 'spark/script.sql.j2' %}",
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_bombs_stop_fast_with_a_message(name: str) -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateProblem) as raised:
        render_user(user_environment(), BOMBS[name], {"ds": "2024-06-02"})
    assert time.perf_counter() - started < 3
    assert str(raised.value).startswith(("template error: ", "template stopped: "))
    assert "Traceback" not in str(raised.value)


def test_ordinary_templates_render() -> None:
    text = ("{{ ds }} {% for c in ['a', 'b'] %}{{ c|upper }}{% endfor %} {{ range(0, 10**7, 10**6)|list|length }} "
            "{{ 1717000000 }} {{ '%05d' % 42 }} {{ 'x' * 10 }} {{ params.n * 2 }} {{ 'a-b'|replace('-', '_') }}")
    assert render_user(user_environment(), text, {"ds": "2024-06-02", "params": {"n": 21}}) == \
        "2024-06-02 AB 10 1717000000 00042 xxxxxxxxxx 42 a_b"


def test_output_up_to_the_limit_is_fine() -> None:
    out = render_user(user_environment(), "{{ 'x' * n }}", {"n": MAX_CHARS})
    assert len(out) == MAX_CHARS


def test_the_limits_hold_under_a_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A debugger's or coverage's trace function is put back after a render."""
    import sys

    def tracer(*_args: object) -> None:
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        with pytest.raises(TemplateProblem):
            render_user(user_environment(), BOMBS["nested loops"], {})
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)


@pytest.mark.parametrize("name", ["nested loops", "string repeat", "huge range", "recursion", "doubling namespace"])
def test_a_bomb_in_a_filter_is_a_located_error(compile_config: Callable[..., CompiledTask], name: str) -> None:
    started = time.perf_counter()
    result = compile_config({"name": "f", "kind": "sync", "source": "app.events",
                             "filter": "event = '" + BOMBS[name] + "'",
                             "target": {"table": "mart.event_log", "write_mode": "append"}})
    assert time.perf_counter() - started < 3
    assert [(d.path, d.rule) for d in result.errors] == [("filter", "template-error")]
    assert result.script == ""


def test_a_bomb_in_a_partition_value_is_a_located_error(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({"name": "f", "kind": "sync", "source": "shop.orders", "filter": "ds = '{{ ds }}'",
                             "target": {"table": "mart.orders_copy", "partition": {"ds": BOMBS["string repeat"]}},
                             "columns": [{"source": "order_id"}, {"source": "user_id"},
                                         {"source": "price", "target": "amount"}, {"source": "status"}]})
    assert [(d.path, d.rule) for d in result.errors] == [("target.partition.ds", "template-error")]


def test_a_bomb_in_a_sql_task_is_a_located_error(compile_config: Callable[..., CompiledTask]) -> None:
    result = compile_config({
        "name": "s", "kind": "sql", "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
        "sql": "SELECT user_id, COUNT(*) AS orders FROM {{ ref('shop.orders') }} WHERE ds = '{{ ds }}' "
               "{% for i in range(10**9) %}{% endfor %} GROUP BY user_id",
    })
    assert [(d.path, d.rule) for d in result.errors] == [("sql", "template-error")]
    assert "too large" in result.errors[0].message


@pytest.mark.parametrize("depth", [300, 5000])
def test_deeply_nested_expressions_are_located_errors(compile_config: Callable[..., CompiledTask],
                                                      depth: int) -> None:
    nested = "(" * depth + "1" + ")" * depth
    result = compile_config({"name": "f", "kind": "sync", "source": "app.events", "filter": f"user_id = {nested}",
                             "target": {"table": "mart.event_log", "write_mode": "append"}})
    assert [(d.path, d.rule) for d in result.errors] == [("filter", "invalid-expression")]
    sql = compile_config({"name": "s", "kind": "sql", "target": {"table": "mart.event_log"},
                          "sql": f"SELECT {nested} AS x FROM {{{{ ref('app.events') }}}}"})
    assert [(d.path, d.rule) for d in sql.errors] == [("sql", "invalid-expression")]
