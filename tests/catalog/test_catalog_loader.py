"""load_table_specs: the three file shapes, and located errors reported all at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from catalog.errors import CatalogError
from catalog.loader import load_table_specs, parse_table_specs

USERS = {
    "name": "dim.Users",
    "description": "Users",
    "columns": [{"name": "user_id", "type": "long", "nullable": False}, {"name": "country", "type": "text"}],
    "primary_key": ["user_id"],
    "bindings": {"spark": {"dev": {"kind": "jdbc", "url": "jdbc:postgresql://db/shop", "table": "users"}}},
}
EVENTS = {
    "name": "app.events",
    "columns": [{"name": "id", "type": "bigint"}, {"name": "ts", "type": "timestamp"}],
    "event_time": {"column": "ts", "watermark_delay": "5 seconds"},
}


def write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    elif name.lower().endswith(".json"):
        path.write_text(json.dumps(content))
    else:
        path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("catalog.yaml", {"tables": [USERS, EVENTS]}),
        ("catalog.yml", [USERS, EVENTS]),
        ("catalog.json", {"tables": [USERS, EVENTS]}),
        ("catalog.JSON", [USERS, EVENTS]),
    ],
)
def test_lists_of_tables(tmp_path, name: str, content: object) -> None:
    specs = load_table_specs(write(tmp_path, name, content))
    assert [s.name for s in specs] == ["dim.users", "app.events"]
    assert [c.type for c in specs[0].columns] == ["bigint", "string"]
    assert specs[0].binding("spark", "dev").url == "jdbc:postgresql://db/shop"
    assert specs[1].event_time.column == "ts"


def test_single_table_object(tmp_path) -> None:
    specs = load_table_specs(str(write(tmp_path, "users.json", USERS)))
    assert len(specs) == 1 and specs[0].primary_key == ["user_id"]


def test_all_problems_are_located_at_once(tmp_path) -> None:
    bad_events = {
        "name": "app.events",
        "colour": "red",
        "columns": [
            {"name": "id", "type": "bigint"},
            {"name": "ts", "type": "timestamp"},
            {"name": "x", "type": "int", "nulable": True},
            {"name": "y", "type": "strng"},
        ],
        "bindings": {
            "spark": {"dev": {"kind": "file", "path": "/d", "format": "parq"}},
            "flink": {"Prod": {"kind": "print"}, "dev": {"kind": "nope"}},
        },
    }
    path = write(tmp_path, "catalog.yaml", {"tables": [USERS, bad_events, {"name": "bad", "columns": []}, 5]})
    with pytest.raises(CatalogError) as err:
        load_table_specs(path)
    problems = [(p.path, p.message) for p in err.value.problems]
    assert [p for p, _ in problems] == [
        "tables[1].columns[2].nulable",
        "tables[1].columns[3].type",
        "tables[1].bindings.spark.dev.format",
        "tables[1].bindings.flink.Prod",
        "tables[1].bindings.flink.dev.kind",
        "tables[1].colour",
        "tables[2].name",
        "tables[2].columns",
        "tables[3]",
    ]
    messages = dict(problems)
    assert (
        messages["tables[1].columns[2].nulable"]
        == "unknown key: valid keys are name, type, nullable, description"
    )
    assert messages["tables[1].bindings.spark.dev.format"].startswith(
        "'parq': input should be 'parquet', 'csv'"
    )
    assert messages["tables[1].bindings.flink.dev.kind"].startswith(
        "'nope' is not a binding kind: use file, table"
    )
    assert messages["tables[1].bindings.flink.Prod"].startswith("'Prod' is not an environment name")
    assert messages["tables[3]"] == "must be a table object, found int"
    text = str(err.value)
    assert text.startswith(f"{path}: 9 problems\n")
    assert (
        "\n  - tables[1].columns[3].type: 'strng' is not a type: use Spark SQL spelling such as string"
        in text
    )


def test_single_problem_reads_as_one_line(tmp_path) -> None:
    path = write(tmp_path, "catalog.yaml", {"tables": [USERS, {**EVENTS, "primary_key": ["nope"]}]})
    with pytest.raises(CatalogError) as err:
        load_table_specs(path)
    assert (
        str(err.value) == f"{path}: tables[1]: primary_key names 'nope', which is not a column of app.events"
    )


def test_duplicate_table_names(tmp_path) -> None:
    path = write(tmp_path, "c.json", [USERS, EVENTS, {**USERS, "name": "DIM.users"}])
    with pytest.raises(CatalogError) as err:
        load_table_specs(path)
    assert [(p.path, p.message) for p in err.value.problems] == [
        ("tables[2].name", "'dim.users' is already defined at tables[0]")
    ]


def test_json_syntax_error_has_line_and_column(tmp_path) -> None:
    path = write(tmp_path, "c.json", '{"name": "a.b",\n  "columns": [}')
    with pytest.raises(CatalogError) as err:
        load_table_specs(path)
    assert str(err.value) == f"{path}: line 2, column 15: invalid JSON: Expecting value"


def test_yaml_syntax_error_has_line_and_column(tmp_path) -> None:
    path = write(tmp_path, "c.yaml", "name: a.b\ncolumns:\n  - name: x\n   type: int\n")
    with pytest.raises(CatalogError) as err:
        load_table_specs(path)
    assert str(err.value).startswith(f"{path}: line 4, column 4: invalid YAML: ")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("c.yaml", "", "found an empty file; expected one table object, a list of them"),
        ("c.yaml", "- 1\n- 2\n", "tables[0]: must be a table object, found int"),
        ("c.json", "[]", "no tables found; expected one table object"),
        ("c.json", '"text"', "found a str; expected one table object"),
        ("c.json", '{"tables": {"name": "a.b"}}', "tables: must be a list of table objects"),
        ("c.toml", "x = 1", "unsupported file type '.toml': use .json, .yaml, .yml"),
    ],
)
def test_wrong_shapes(tmp_path, name: str, content: str, message: str) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(CatalogError) as err:
        load_table_specs(path)
    assert message in str(err.value)
    assert str(err.value).startswith(str(path))


def test_missing_file(tmp_path) -> None:
    with pytest.raises(CatalogError, match=r"missing\.yaml: no such file"):
        load_table_specs(tmp_path / "missing.yaml")


def test_parse_table_specs_names_its_source() -> None:
    with pytest.raises(CatalogError) as err:
        parse_table_specs({"name": "a.b", "columns": [{"name": "x"}]}, source="form")
    assert str(err.value) == "form: columns[0].type: is required"
