"""Hostile names and values: quotes, backticks, semicolons, comments, newlines and unicode in catalog
names, descriptions, filter literals, partition values, output names and Jinja params.

Compiling must either report a located error or produce a script whose statement structure is the
same as with a benign value, with the hostile value surviving as one identifier or string literal.
Variants marked `xfail(strict=True)` document characters the compiler currently mishandles; each
carries an `@example` that fails today, so they turn into XPASS failures once the bug is fixed.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
import sqlglot
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.schema import MappingSchema

from catalog.memory import MemoryCatalog
from catalog.spec import TableSpec
from generators.compile import CompiledTask, Compiler, split_statements
from generators.loading import parse_task
from generators.tasks.kinds import OUTPUT_NAME

# Each example compiles (~35 ms); the counts keep this file at a few seconds.
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
COLUMN_SETTINGS = settings(SETTINGS, max_examples=12)  # three compiles per example
PARSE_SETTINGS = settings(SETTINGS, max_examples=60)  # no compile at all
DAY = date(2024, 6, 2)

FRAGMENTS = ["'", '"', "`", ";", "--", "/*", "*/", "\\", "\n", " ", "DROP TABLE x", ") OR (1=1", "é", "漢字",
             "🙂", "\u200b", "a", "Z9", "_", "$", "%", "?", ":x", "${env:HOME}", "(", ")", "=", ".", ","]
# Characters the compiler mishandles today (see the xfail reasons below).
SPLITTER_BREAKERS = ("'", '"', ";", "--", "/*")  # split_statements tokenizes backtick identifiers generically
LITERAL_BREAKERS = ("'", "\\")  # quote_literal / split_statements do not escape/read them as Spark does


def hostile(*, exclude: tuple[str, ...] = (), newlines: bool = True, jinja: bool = False) -> st.SearchStrategy[str]:
    fragments = [f for f in FRAGMENTS if newlines or "\n" not in f]
    if jinja:
        fragments += ["{{", "}}", "{%", "{#"]
    pieces = st.one_of(st.sampled_from(fragments), st.text(st.characters(codec="utf-8", min_codepoint=32),
                                                             min_size=1, max_size=3))
    return (st.lists(pieces, min_size=1, max_size=8).map("".join)
            .filter(lambda s: s == s.strip() and 0 < len(s) <= 100)
            .filter(lambda s: not any(bad in s for bad in exclude))
            .filter(lambda s: jinja or "{" not in s))


def schema_safe(name: str) -> bool:
    """sqlglot's MappingSchema parses column-name keys as SQL: `$x`, `:x`, `@x` come back as `x`."""
    return MappingSchema({"h": {"t": {name: "string"}}}, dialect="spark").column_names("h.t") == [name.lower()]


def column_names(exclude: tuple[str, ...] = (), schema_breakers: bool = True) -> st.SearchStrategy[str]:
    return hostile(exclude=exclude, newlines=False).filter(
        lambda s: s.lower() not in {"id", "ds", "amount"} and all(ord(c) >= 32 for c in s)
        and (schema_breakers or schema_safe(s)))


# --- structure of a script ------------------------------------------------------------------------


def structure(script: str) -> tuple[list[str], list[exp.Expr | None]]:
    """Kinds of the statements (by sqlglot class, or leading keywords when sqlglot cannot parse one)."""
    kinds: list[str] = []
    parsed: list[exp.Expr | None] = []
    for statement in split_statements(script):
        try:
            node = sqlglot.parse_one(statement, read="spark")
            kinds.append(type(node).__name__ + ":" + " ".join(statement.split()[:3]))
            parsed.append(node)
        except SqlglotError:
            assert statement.startswith("CREATE OR REPLACE TEMPORARY VIEW"), statement
            kinds.append("View:" + " ".join(statement.split()[:3]))
            parsed.append(None)
    return kinds, parsed


def insert_of(parsed: list[exp.Expr | None]) -> exp.Insert:
    insert = parsed[-1]
    assert isinstance(insert, exp.Insert)
    return insert


def node_counts(node: exp.Expr) -> tuple[int, int]:
    return len(list(node.find_all(exp.Select))), len(list(node.find_all(exp.Insert)))


def assert_same_structure(hostile_script: str, benign_script: str) -> exp.Insert:
    kinds, parsed = structure(hostile_script)
    benign_kinds, benign_parsed = structure(benign_script)
    assert kinds == benign_kinds
    insert = insert_of(parsed)
    assert node_counts(insert) == node_counts(insert_of(benign_parsed))
    for node, benign in zip(parsed, benign_parsed, strict=True):
        if node is not None and benign is not None:
            assert node_counts(node) == node_counts(benign)
    return insert


def string_literals(node: exp.Expr) -> list[str]:
    return [n.this for n in node.find_all(exp.Literal) if n.is_string]


def identifiers(node: exp.Expr) -> list[str]:
    return [n.this for n in node.find_all(exp.Identifier)]


# --- a catalog built around one hostile column name -----------------------------------------------


def _bindings(name: str) -> dict[str, Any]:
    return {"spark": {"dev": {"kind": "file", "path": f"/data/dev/h/{name}"},
                      "prod": {"kind": "file", "path": f"/data/prod/h/{name}"}}}


def hostile_catalog(column: str, description: str = "", column_description: str = "", ds_type: str = "date"
                    ) -> MemoryCatalog:
    cols = [{"name": "id", "type": "bigint"}, {"name": column, "type": "string", "description": column_description},
            {"name": "amount", "type": "double"}, {"name": "ds", "type": ds_type}]
    return MemoryCatalog([
        TableSpec.model_validate({"name": "h.src", "description": description, "columns": cols,
                                  "partition_by": ["ds"], "bindings": _bindings("src")}),
        TableSpec.model_validate({"name": "h.dst", "description": description, "columns": cols,
                                  "partition_by": ["ds"], "bindings": _bindings("dst")}),
        TableSpec.model_validate({"name": "h.agg", "columns": [
            {"name": column, "type": "string"}, {"name": "total", "type": "double"}, {"name": "ds", "type": "date"}],
            "partition_by": ["ds"], "bindings": _bindings("agg")}),
    ])


def quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="spark")


def column_tasks(column: str) -> list[dict[str, Any]]:
    """Tasks that put the column name through passthrough, keys, expressions and output names."""
    base = {"source": "h.src", "filter": "ds = '{{ ds }}'"}
    return [
        {"name": "copy", "kind": "sync", **base, "target": {"table": "h.dst", "partition": {"ds": "{{ ds }}"}}},
        {"name": "dedup", "kind": "dedup", **base, "target": {"table": "h.dst", "partition": {"ds": "{{ ds }}"}},
         "keys": [column], "order_by": [{"expr": quoted(column), "direction": "desc"}]},
        {"name": "agg", "kind": "aggregate", **base, "target": {"table": "h.agg", "partition": {"ds": "{{ ds }}"}},
         "dimensions": [{"expr": quoted(column)}], "metrics": [{"name": "total", "agg": "sum", "expr": "amount"}]},
    ]


def compile_with(catalog: MemoryCatalog, config: dict[str, Any]) -> CompiledTask:
    task, problems = parse_task(config)
    assert task is not None, [str(p) for p in problems]
    return Compiler(catalog).compile(task, logical_date=DAY)


BENIGN_COLUMN = {name: [compile_with(hostile_catalog(name), c) for c in column_tasks(name)]
                 for name in ("plain_col", "Plain_Col")}


def check_column_name(column: str) -> None:
    catalog = hostile_catalog(column)
    # A mixed-case name makes the aggregate's target alignment add a (redundant) wrapper: compare like with like.
    benigns = BENIGN_COLUMN["plain_col" if column == column.lower() else "Plain_Col"]
    for config, benign in zip(column_tasks(column), benigns, strict=True):
        assert benign.ok and benign.diagnostics == []
        result = compile_with(catalog, config)
        assert result.diagnostics == [], [str(d) for d in result.diagnostics]
        insert = assert_same_structure(result.script, benign.script)
        # sqlglot normalizes Spark identifiers to lower case (Spark resolves them case-insensitively).
        assert column.lower() in [i.lower() for i in identifiers(insert)], (config["kind"], result.query)
        produced = [name.lower() for name, _ in result.output_columns]
        assert produced.count(column.lower()) == 1
        assert len(produced) == len(benign.output_columns)


@COLUMN_SETTINGS
@given(column=column_names(exclude=SPLITTER_BREAKERS, schema_breakers=False))
@example(column="we`ird col é 漢字 🙂 */ \\ $x")
def test_hostile_column_names(column: str) -> None:
    check_column_name(column)


@COLUMN_SETTINGS
@given(column=column_names())
@example(column="a;b")
def test_hostile_column_names_all_characters(column: str) -> None:
    check_column_name(column)


def test_mixed_case_column_needs_no_alignment_wrapper() -> None:
    result = compile_with(hostile_catalog("Label"), column_tasks("Label")[2])
    assert "__fc_out" not in result.query


@pytest.mark.parametrize("column", ["$x", ":x", "@x", "${env:HOME}"])
def test_column_names_that_look_like_parameters(column: str) -> None:
    check_column_name(column)


@settings(SETTINGS, max_examples=12)
@given(description=hostile(), column_description=hostile())
def test_descriptions_never_reach_the_script(description: str, column_description: str) -> None:
    config = column_tasks("plain_col")[0]
    benign = compile_with(hostile_catalog("plain_col"), config)
    result = compile_with(hostile_catalog("plain_col", description, column_description), config)
    assert result.diagnostics == []
    assert result.script == benign.script


# --- literals in filters, partition values and params ---------------------------------------------


def literal_task(filter_text: str, partition_value: str = "{{ ds }}", params: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    return {"name": "lit", "kind": "sync", "source": "h.src", "params": params or {},
            "filter": f"ds = '{{{{ ds }}}}' AND {filter_text}",
            "target": {"table": "h.dst", "partition": {"ds": partition_value}}}


def spark_literal(value: str) -> str:
    return exp.Literal.string(value).sql(dialect="spark")


CATALOG = hostile_catalog("label")
BENIGN = compile_with(CATALOG, literal_task(f"label = {spark_literal('benign')}"))


def check_filter_literal(value: str) -> None:
    result = compile_with(CATALOG, literal_task(f"label = {spark_literal(value)}"))
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    insert = assert_same_structure(result.script, BENIGN.script)
    assert value in string_literals(insert)


@SETTINGS
@given(value=hostile(exclude=("'",)))
@example(value="x\\; DROP TABLE t; --")
@example(value="/* c */ -- d\n;")
def test_hostile_filter_literals(value: str) -> None:
    check_filter_literal(value)


@SETTINGS
@given(value=hostile())
@example(value="it's")
@example(value="x\\'; DROP TABLE t; --")
def test_hostile_filter_literals_with_quotes(value: str) -> None:
    check_filter_literal(value)


# A text partition column takes any value, so hostile values reach the script (a date column rejects them).
TEXT_PARTITIONS = hostile_catalog("label", ds_type="string")


def test_date_partition_rejects_a_non_date() -> None:
    result = compile_with(CATALOG, literal_task("label = 'x'", partition_value="2024-06-02'); DROP TABLE t; --"))
    assert [(d.path, d.rule) for d in result.diagnostics] == [("target.partition.ds", "type-mismatch")]


def names_a_folder_elsewhere(value: str) -> bool:
    """A partition value is a folder name (ds=<value>): separators, '..' and control characters are refused."""
    return value in ("", ".", "..") or "/" in value or "\\" in value or any(ord(c) < 32 for c in value)


def check_partition_value(value: str) -> None:
    result = compile_with(TEXT_PARTITIONS, literal_task("label = 'x'", partition_value=value))
    if names_a_folder_elsewhere(value):
        assert [(d.path, d.rule) for d in result.diagnostics] == [("target.partition.ds", "invalid-config")]
        assert result.script == ""
        return
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    benign = compile_with(TEXT_PARTITIONS, literal_task("label = 'x'"))
    insert = assert_same_structure(result.script, benign.script)
    assert result.static_partition == {"ds": value}
    partition = insert.this
    assert isinstance(partition, exp.Schema) or insert.find(exp.Partition) is not None
    assert value in string_literals(insert.find(exp.Partition))


@SETTINGS
@given(value=hostile(exclude=(*LITERAL_BREAKERS, "\n")))
@example(value="2024-06-02); DROP TABLE t; -- /* é */")
def test_hostile_partition_values(value: str) -> None:
    check_partition_value(value)


@SETTINGS
@given(value=hostile())
@example(value="2024-06-02'); DROP TABLE t; --")
def test_hostile_partition_values_all_characters(value: str) -> None:
    check_partition_value(value)


def test_partition_value_cannot_add_a_statement_for_spark() -> None:
    """What Spark sees: split with Spark's own tokenizer, the script must keep its statement count."""
    spark = sqlglot.Dialect.get_or_raise("spark")

    def semicolons(script: str) -> int:
        return sum(1 for t in spark.tokenize(script) if t.token_type == sqlglot.TokenType.SEMICOLON)

    benign = compile_with(TEXT_PARTITIONS, literal_task("label = 'x'")).script
    hostile_value = "x') SELECT 1; DROP TABLE t; --"
    result = compile_with(TEXT_PARTITIONS, literal_task("label = 'x'", partition_value=hostile_value))
    assert result.ok
    assert semicolons(result.script) == semicolons(benign)
    # A backslash (Spark's escape character in literals) is refused outright: partition values name folders.
    escaped = compile_with(TEXT_PARTITIONS, literal_task("label = 'x'", partition_value="x\\') SELECT 1; --"))
    assert [(d.path, d.rule) for d in escaped.errors] == [("target.partition.ds", "invalid-config")]


@pytest.mark.parametrize("value", ["../../prod", "2024/06/01", "..", "a\\b", "x\x00y", "a\nb"])
def test_partition_values_that_name_other_folders_are_refused(value: str) -> None:
    result = compile_with(TEXT_PARTITIONS, literal_task("label = 'x'", partition_value=value))
    assert [(d.path, d.rule) for d in result.errors] == [("target.partition.ds", "invalid-config")]
    assert "names a folder outside the partition" in result.errors[0].message


@SETTINGS
@given(value=hostile(exclude=LITERAL_BREAKERS))
def test_hostile_params_through_the_literal_filter(value: str) -> None:
    result = compile_with(CATALOG, literal_task("label = {{ params.label | literal }}", params={"label": value}))
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    insert = assert_same_structure(result.script, BENIGN.script)
    assert value in string_literals(insert)


@SETTINGS
@given(value=hostile(jinja=True, exclude=LITERAL_BREAKERS).filter(lambda s: "{" in s))
def test_jinja_in_a_filter_literal_is_a_located_error_or_stays_one_literal(value: str) -> None:
    result = compile_with(CATALOG, literal_task(f"label = {spark_literal(value)}"))
    if not result.ok:
        assert {(d.path, d.rule) for d in result.errors} <= {("filter", "template-error"),
                                                             ("filter", "invalid-expression"),
                                                             ("filter", "forbidden-expression"),
                                                             ("filter", "unknown-column")}
        return
    insert = assert_same_structure(result.script, BENIGN.script)
    assert insert.find(exp.Or) is None
    assert len(string_literals(insert)) == len(string_literals(insert_of(structure(BENIGN.script)[1])))


# --- output names -----------------------------------------------------------------------------------


@PARSE_SETTINGS
@given(name=hostile())
def test_hostile_derived_and_metric_names_are_rejected_at_the_field(name: str) -> None:
    config = {"name": "d", "kind": "derive", "source": "h.src", "target": {"table": "h.dst"},
              "columns": [{"name": name, "expr": "amount * 2"}]}
    task, problems = parse_task(config)
    if re.fullmatch(OUTPUT_NAME, name):
        assert task is not None
        return
    assert task is None
    assert [(p.path, p.rule, p.severity) for p in problems] == [("columns[0].name", "invalid-config", "error")]
    metric = {"name": "a", "kind": "aggregate", "source": "h.src", "target": {"table": "h.agg"},
              "metrics": [{"name": "ok", "agg": "count"}, {"name": name, "agg": "count"}]}
    task, problems = parse_task(metric)
    assert task is None
    assert [p.path for p in problems] == ["metrics[1].name"]


@pytest.mark.parametrize("name", ["x; DROP TABLE t", "a`b", "a--b", "näme", "a b", "1abc", "a" * 129])
def test_output_name_examples(name: str) -> None:
    _, problems = parse_task({"name": "d", "kind": "derive", "source": "h.src", "target": {"table": "h.dst"},
                              "columns": [{"name": name, "expr": "1"}]})
    assert [p.path for p in problems] == ["columns[0].name"]


def test_structure_helpers_detect_a_changed_structure() -> None:
    """The checks above can fail: a script with an injected statement differs from the benign one."""
    injected = BENIGN.script.rstrip().rstrip(";") + ";\nDROP TABLE t;\n"
    with pytest.raises(AssertionError):
        assert_same_structure(injected, BENIGN.script)

