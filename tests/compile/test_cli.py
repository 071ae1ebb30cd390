"""The `formcast` command line: exit codes (0 ok, 1 invalid, 2 usage), messages, machine-readable output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from app.cli.main import main
from catalog.spec import TableSpec
from catalog.store import Catalog
from generators.tasks import KINDS
from tests.accounts import admin, token

HERE = Path(__file__).parent
CASES = HERE / "cases"
GOLDEN = HERE / "golden"
FORMCAST = Path(sys.executable).with_name("formcast")
INVALID_TASK = {"name": "bad", "kind": "aggregate", "source": "app.event", "target": {"table": "mart.daily_sales"},
                "metrics": [{"name": "n", "agg": "count"}, {"name": "u", "agg": "count_distinct", "expr": "usr_id"}]}
SEMANTIC_INVALID = {"name": "bad", "kind": "aggregate", "source": "app.events", "filter": "ds = '{{ ds }}'",
                    "target": {"table": "mart.user_orders", "partition": {"ds": "{{ ds }}"}},
                    "dimensions": [{"expr": "user_id"}],
                    "metrics": [{"name": "orders", "agg": "count"}, {"name": "u", "agg": "sum", "expr": "usr_id"}]}


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table_specs: list[TableSpec]) -> Iterator[dict[str, str]]:
    """A catalog database in tmp_path holding the test tables; the environment for CLI calls."""
    url = f"sqlite:///{tmp_path}/c.db"
    home = tmp_path / "home"
    monkeypatch.setenv("FORMCAST_HOME", str(home))
    monkeypatch.setenv("FORMCAST_DB_URL", url)
    monkeypatch.chdir(tmp_path)
    with Catalog.open(url) as store:
        # mart.leaky's dev binding is another table's prod location: registration refuses it (the
        # compile-time refusal is tested on the in-memory catalog).
        store.register_many([s for s in table_specs if s.name != "mart.leaky"])
        signed = token(store, admin(store))
    monkeypatch.setenv("FORMCAST_TOKEN", signed)  # commands act as the catalog's admin
    yield {**os.environ, "FORMCAST_HOME": str(home), "FORMCAST_DB_URL": url, "FORMCAST_TOKEN": signed}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args), prog_name="formcast", catch_exceptions=False)


def output(result: Result) -> str:
    return result.output + (result.stderr if result.stderr_bytes is not None else "")


def write(tmp_path: Path, name: str, content: object) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


# --- help ---------------------------------------------------------------------------------------------


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*prefix, name))
    return paths


COMMANDS = _command_paths(main)


def test_the_documented_commands_exist() -> None:
    assert {("validate",), ("compile",), ("schema",), ("run",), ("runs",), ("catalog",), ("catalog", "add"),
            ("catalog", "list"), ("catalog", "show")} <= set(COMMANDS)


def test_main_help(runner: CliRunner) -> None:
    result = invoke(runner, "--help")
    assert result.exit_code == 0
    assert "Usage: formcast" in result.output
    for name in ("validate", "compile", "schema", "catalog"):
        assert name in result.output


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_subcommand_has_help(runner: CliRunner, path: tuple[str, ...]) -> None:
    result = invoke(runner, *path, "--help")
    assert result.exit_code == 0, result.output
    assert f"Usage: formcast {' '.join(path)}" in result.output


# --- compile ------------------------------------------------------------------------------------------


def test_compile_prints_the_script(runner: CliRunner, cli_env: dict[str, str]) -> None:
    result = invoke(runner, "compile", str(CASES / "sync_columns.json"), "--date", "2024-06-02")
    assert result.exit_code == 0, output(result)
    assert result.stdout == (GOLDEN / "sync_columns.spark.sql").read_text(encoding="utf-8")


def test_compile_for_prod(runner: CliRunner, cli_env: dict[str, str]) -> None:
    result = invoke(runner, "compile", str(CASES / "sync_append.json"), "--date", "2024-06-03", "--env", "prod")
    assert result.exit_code == 0, output(result)
    assert "LOCATION '/data/prod/mart/event_log'" in result.stdout
    assert "`events`.`ds` = '2024-06-03'" in result.stdout
    assert "/data/dev" not in result.stdout


def test_compile_invalid_task_exits_1_with_diagnostics(runner: CliRunner, cli_env: dict[str, str],
                                                       tmp_path: Path) -> None:
    result = invoke(runner, "compile", write(tmp_path, "t.json", SEMANTIC_INVALID), "--date", "2024-06-02")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error: metrics[1].expr: column 'usr_id' is not in the input [unknown-column]" in result.stderr
    assert "hint: did you mean 'user_id'?" in result.stderr


# --- validate -----------------------------------------------------------------------------------------


def test_validate_json_lists_every_problem_with_its_path(runner: CliRunner, cli_env: dict[str, str],
                                                         tmp_path: Path) -> None:
    path = write(tmp_path, "t.json", SEMANTIC_INVALID)
    result = invoke(runner, "validate", path, "--format", "json", "--date", "2024-06-02")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["file"] == path
    assert report["valid"] is False
    assert [(d["path"], d["rule"], d["severity"]) for d in report["diagnostics"]] == [
        ("metrics[1].expr", "unknown-column", "error")]
    assert report["diagnostics"][0]["hint"] == "did you mean 'user_id'?"


def test_validate_json_unknown_source(runner: CliRunner, cli_env: dict[str, str], tmp_path: Path) -> None:
    result = invoke(runner, "validate", write(tmp_path, "t.json", INVALID_TASK), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [(d["path"], d["rule"], d["hint"]) for d in report["diagnostics"]] == [
        ("source", "unknown-table", "did you mean 'app.events'?")]


def test_validate_json_config_errors(runner: CliRunner, cli_env: dict[str, str], tmp_path: Path) -> None:
    config = {**INVALID_TASK, "colour": "red", "schedule": "0 2 * *"}
    result = invoke(runner, "validate", write(tmp_path, "t.json", config), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert {(d["path"], d["rule"]) for d in report["diagnostics"]} == {
        ("colour", "invalid-config"), ("schedule", "invalid-config")}


def test_validate_valid_task(runner: CliRunner, cli_env: dict[str, str]) -> None:
    result = invoke(runner, "validate", str(CASES / "aggregate_daily_sales.json"), "--format", "json")
    assert result.exit_code == 0, output(result)
    assert json.loads(result.stdout) == {"file": str(CASES / "aggregate_daily_sales.json"), "valid": True,
                                         "diagnostics": []}


def test_validate_text_reports_warnings_but_passes(runner: CliRunner, cli_env: dict[str, str], tmp_path: Path
                                                   ) -> None:
    config = {"name": "log", "kind": "sync", "source": "app.events",
              "target": {"table": "mart.event_log", "write_mode": "append"}}
    path = write(tmp_path, "t.json", config)
    result = invoke(runner, "validate", path)
    assert result.exit_code == 0
    assert "warning: filter: app.events is partitioned by ds but is read without a filter on it " \
           "[missing-partition-filter]" in result.stdout
    assert result.stdout.strip().endswith(f"{path}: valid (0 error(s), 1 warning(s))")


# --- usage errors: exit 2 -----------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "flag"), [
    (["--bogus"], "--bogus"),
    (["--engine", "nope"], "--engine"),
    (["--format", "xml"], "--format"),
])
def test_usage_errors_exit_2_naming_the_flag(runner: CliRunner, cli_env: dict[str, str], args: list[str],
                                             flag: str) -> None:
    result = invoke(runner, "validate", str(CASES / "sync_columns.json"), *args)
    assert result.exit_code == 2
    assert f"'{flag}'" in result.stderr
    assert "Traceback" not in output(result)


@pytest.mark.parametrize("command", ["validate", "compile"])
def test_bad_date_exits_2(runner: CliRunner, cli_env: dict[str, str], command: str) -> None:
    result = invoke(runner, command, str(CASES / "sync_columns.json"), "--date", "2024-13-01")
    assert result.exit_code == 2
    assert "'2024-13-01' is not a date: use YYYY-MM-DD" in result.stderr
    assert "Traceback" not in output(result)


def test_bad_date_message_names_the_flag(runner: CliRunner, cli_env: dict[str, str]) -> None:
    result = invoke(runner, "compile", str(CASES / "sync_columns.json"), "--date", "2024-13-01")
    assert "--date" in result.stderr


def test_unknown_schema_kind_exits_2(runner: CliRunner) -> None:
    result = invoke(runner, "schema", "pivot")
    assert result.exit_code == 2
    assert f"unknown kind 'pivot': one of {', '.join(KINDS)}" in result.stderr
    assert "sync, aggregate" in result.stderr


# --- unreadable input: exit 1, no traceback -------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "compile"])
def test_missing_task_file(runner: CliRunner, cli_env: dict[str, str], command: str) -> None:
    result = invoke(runner, command, "nope.json")
    assert result.exit_code == 1
    assert "cannot read nope.json: No such file or directory" in output(result)
    assert "Traceback" not in output(result)


@pytest.mark.parametrize("command", ["validate", "compile"])
def test_invalid_json_task_file(runner: CliRunner, cli_env: dict[str, str], tmp_path: Path, command: str) -> None:
    path = write(tmp_path, "bad.json", '{\n  "name": "x",,\n}')
    result = invoke(runner, command, path)
    assert result.exit_code == 1
    assert f"{path} is not valid JSON: Expecting property name enclosed in double quotes at line 2, column 15" in \
        output(result)
    assert "Traceback" not in output(result)


# --- schema ---------------------------------------------------------------------------------------------


def test_schema_of_a_kind_is_json(runner: CliRunner) -> None:
    result = invoke(runner, "schema", "aggregate")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert "metrics" in document["properties"]
    assert "metrics" in document["required"]
    assert document["properties"]["kind"]["const"] == "aggregate"
    assert document["additionalProperties"] is False


def test_schema_of_all_tasks_is_json(runner: CliRunner) -> None:
    result = invoke(runner, "schema")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert set(document["discriminator"]["mapping"]) == set(KINDS)
    assert {"sync", "aggregate", "dedup", "enrich", "derive", "topn", "chained", "sql"} <= set(KINDS)


# --- catalog add ----------------------------------------------------------------------------------------


def test_catalog_add_broken_yaml(runner: CliRunner, cli_env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "name: a.b\ncolumns: [\n  - name: x\n")
    result = invoke(runner, "catalog", "add", path)
    assert result.exit_code == 1
    assert output(result).startswith(f"{path}: line ")
    assert "invalid YAML" in output(result)
    assert "Traceback" not in output(result)


def test_catalog_add_invalid_spec_names_the_field(runner: CliRunner, cli_env: dict[str, str], tmp_path: Path
                                                  ) -> None:
    path = write(tmp_path, "t.yaml", "tables:\n  - name: a.b\n    columns:\n      - {name: x, type: bigint}\n"
                                     "  - name: a.c\n    columns:\n      - {name: x, type: strng}\n")
    result = invoke(runner, "catalog", "add", path)
    assert result.exit_code == 1
    assert output(result).startswith(f"{path}: tables[1].columns[0].type: 'strng' is not a type")
    with Catalog.open(cli_env["FORMCAST_DB_URL"]) as store:
        assert store.get_table("a.b") is None  # nothing registered from a file with problems


def test_catalog_add_then_show(runner: CliRunner, cli_env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "name: New.Things\ncolumns:\n  - {name: id, type: long}\n")
    result = invoke(runner, "catalog", "add", path)
    assert result.exit_code == 0, output(result)
    assert result.stdout == "registered 1 table(s): new.things\n"
    shown = invoke(runner, "catalog", "show", "new.things")
    assert json.loads(shown.stdout) == {"name": "new.things", "columns": [{"name": "id", "type": "bigint"}]}
    missing = invoke(runner, "catalog", "show", "new.thing")
    assert missing.exit_code == 1
    assert "table 'new.thing' is not in the catalog; did you mean 'new.things'?" in output(missing)


# --- the installed entry point, in a real process -------------------------------------------------------


@pytest.mark.skipif(not FORMCAST.exists() and shutil.which("formcast") is None, reason="formcast is not installed")
def test_entry_point_exit_codes(cli_env: dict[str, str], tmp_path: Path) -> None:
    exe = str(FORMCAST if FORMCAST.exists() else shutil.which("formcast"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], env=cli_env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    ok = run("compile", str(CASES / "dedup_keep_last.json"), "--date", "2024-06-02")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == (GOLDEN / "dedup_keep_last.spark.sql").read_text(encoding="utf-8")

    invalid = run("validate", write(tmp_path, "t.json", SEMANTIC_INVALID), "--format", "json")
    assert invalid.returncode == 1
    assert json.loads(invalid.stdout)["diagnostics"][0]["path"] == "metrics[1].expr"

    usage = run("compile", str(CASES / "dedup_keep_last.json"), "--date", "2024-13-01")
    assert usage.returncode == 2
    assert "is not a date" in usage.stderr
    assert "Traceback" not in usage.stderr
