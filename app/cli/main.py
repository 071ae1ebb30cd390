"""The `formcast` command line. Exit codes: 0 ok, 1 invalid task or failed run, 2 usage error."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from app.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    SecureGroup,
    cli_origin,
    load_task_or_exit,
    open_catalog,
    signed_in,
)
from generators.diagnostics import Diagnostic, format_diagnostics


def _home() -> Path:
    return Path(os.environ.get("FORMCAST_HOME", ".formcast")).resolve()


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date: use YYYY-MM-DD, e.g. 2024-06-02") from None


def _check_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Validated while the command line is parsed, so a bad date is a usage error naming --date."""
    if value is not None:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"'{value}' is not a date: use YYYY-MM-DD, e.g. 2024-06-02") from None
    return value


def _date_option(func: Any) -> Any:
    return click.option("--date", "logical_date", metavar="YYYY-MM-DD", callback=_check_date,
                        help="Logical date the task runs for (default: yesterday).")(func)


def _env_option(func: Any) -> Any:
    return click.option("--env", default="dev", show_default=True, metavar="ENV",
                        help="Environment whose bindings are rendered (dev, prod, ...).")(func)


def _engine_option(func: Any) -> Any:
    return click.option("--engine", type=click.Choice(["spark", "flink"]), default=None,
                        help="Engine to compile for (default: the task's engine).")(func)


def _mode_option(func: Any) -> Any:
    return click.option("--mode", type=click.Choice(["batch", "streaming"]), default="batch", show_default=True,
                        help="Flink runtime mode.")(func)


def _print_diagnostics(items: list[Diagnostic]) -> None:
    if items:
        click.echo(format_diagnostics(items), err=True)


@click.group(cls=SecureGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="formcast")
def main() -> None:
    """Formcast: data tasks as forms, compiled to optimized Spark SQL, run and scheduled.

    Commands act as the signed-in account: `formcast login` (or FORMCAST_TOKEN); `formcast whoami`."""


# --- schema -------------------------------------------------------------------------------------


@main.command()
@click.argument("kind", required=False)
def schema(kind: str | None) -> None:
    """Print the JSON Schema of task configs (of one KIND if given)."""
    from generators.tasks import KINDS, TASK_ADAPTER

    if kind is None:
        document = TASK_ADAPTER.json_schema()
    elif kind in KINDS:
        document = KINDS[kind].model_json_schema()
    else:
        raise click.BadParameter(f"unknown kind '{kind}': one of {', '.join(KINDS)}", param_hint="KIND")
    click.echo(json.dumps(document, indent=2))


# --- validate / compile ---------------------------------------------------------------------------


@main.command()
@click.argument("task_file", metavar="TASK.json", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--deep", is_flag=True, help="Also ask the engine's planner (local Spark or Flink) to check the plan.")
@_engine_option
@_mode_option
@_env_option
@_date_option
def validate(task_file: str, fmt: str, deep: bool, engine: str | None, mode: str, env: str,
             logical_date: str | None) -> None:
    """Check a task config against its schema and the catalog; report every problem with its field."""
    from app.workflow import access
    from generators.compile import Compiler
    from generators.loading import load_task_file

    task, problems = load_task_file(task_file)
    items = list(problems)
    if task is not None:
        with open_catalog() as store:
            if mode == "streaming" and (engine or task.engine) != "flink":
                raise click.UsageError("--mode streaming is for flink: add --engine flink")
            principal = signed_in(store)
            compiled = Compiler(store).compile(task, engine=engine, env=env, logical_date=_parse_date(logical_date),
                                               mode=mode)
            if compiled.ok:
                access.check_read(store, principal, task, compiled, action="compile")
            items = list(compiled.diagnostics)
            if deep and compiled.ok:
                from app.workflow.deep import analyze

                items.extend(analyze(compiled))
    errors = [d for d in items if d.severity == "error"]
    if fmt == "json":
        click.echo(json.dumps({"file": task_file, "valid": not errors,
                               "diagnostics": [d.as_dict() for d in items]}, indent=2))
    else:
        if items:
            click.echo(format_diagnostics(items))
        click.echo(f"{task_file}: {'invalid' if errors else 'valid'} "
                   f"({len(errors)} error(s), {len(items) - len(errors)} warning(s))")
    sys.exit(EXIT_INVALID if errors else EXIT_OK)


@main.command("compile")
@click.argument("task_file", metavar="TASK.json", type=click.Path(dir_okay=False))
@_engine_option
@_env_option
@_date_option
@click.option("--no-optimize", is_flag=True, help="Emit the SQL as templated, without sqlglot's optimizer.")
def compile_command(task_file: str, engine: str | None, env: str, logical_date: str | None, no_optimize: bool
                    ) -> None:
    """Print the complete SQL script for a task on stdout (needs read on its sources in --env)."""
    from app.workflow import access
    from generators.compile import Compiler

    task = load_task_or_exit(task_file)
    with open_catalog() as store:
        principal = signed_in(store)
        compiled = Compiler(store).compile(task, engine=engine, env=env, logical_date=_parse_date(logical_date),
                                           optimize=not no_optimize)
        if compiled.ok:
            access.check_read(store, principal, task, compiled, action="compile")
    _print_diagnostics(compiled.diagnostics)
    if not compiled.ok:
        sys.exit(EXIT_INVALID)
    click.echo(compiled.script, nl=False)


# --- run ------------------------------------------------------------------------------------------


@main.command()
@click.argument("task_file", metavar="TASK.json", type=click.Path(dir_okay=False))
@_engine_option
@_mode_option
@_env_option
@_date_option
@click.option("--preview", "preview_rows", type=click.IntRange(min=0), default=0,
              help="After writing, print the first N rows of what was written.")
@click.option("--dry-run", is_flag=True, help="Preview the result on the engine without writing anything.")
def run(task_file: str, engine: str | None, mode: str, env: str, logical_date: str | None, preview_rows: int,
        dry_run: bool) -> None:
    """Run a task on Spark (local[*] or FORMCAST_SPARK_MASTER) or Flink (local, or FORMCAST_FLINK_REMOTE).

    Writing dev needs write on the target; a protected env (prod) is written only from a deployed version's
    config, by an account that may operate there (an operator, the scheduler's service account)."""
    from app.workflow import runs
    from generators.compile import Compiler

    task = load_task_or_exit(task_file)
    day = _parse_date(logical_date)
    if mode == "streaming" and (engine or task.engine) != "flink":
        raise click.UsageError("--mode streaming runs on flink: add --engine flink")
    emit = lambda line: click.echo(line, err=True)  # noqa: E731 - progress goes to stderr
    with open_catalog() as store:
        principal = signed_in(store)
        compiler = Compiler(store)
        if dry_run:
            result = runs.preview(compiler, task, principal=principal, env=env, logical_date=day,
                                  limit=preview_rows or 20, emit=emit, engine=engine, mode=mode)
        else:
            result = runs.run(compiler, task, store, principal=principal, env=env, logical_date=day,
                              preview_rows=preview_rows, emit=emit, engine=engine, mode=mode)
    _print_diagnostics(result.diagnostics)
    if result.status != "succeeded":
        click.echo(f"{task.name}: {result.status}" + (f": {result.error}" if result.error else ""), err=True)
        sys.exit(EXIT_INVALID)
    if result.preview:
        runs.print_rows(result.preview, result.columns)
    written = f"{result.rows_written} row(s) written, " if result.rows_written is not None else ""
    job = f", job {result.job_id}" if result.job_id else ""
    click.echo(f"{task.name}: succeeded ({written}{result.seconds:.1f} s, run {result.run_id or 'preview'}{job})")


@main.command()
@click.argument("run_id")
@click.option("--wait", "wait_seconds", type=click.FloatRange(min=0), default=15.0, show_default=True,
              help="Seconds to wait for the running process to record the cancellation.")
def stop(run_id: str, wait_seconds: float) -> None:
    """Cancel a running Flink job by its run id (a prefix of it is enough)."""
    import time

    from app.runners import flink as flink_runner
    from app.security import audit, policy

    with open_catalog() as store:
        principal = signed_in(store)
        record = store.get_run(run_id)
        if record is None:
            matches = [r for r in store.runs(limit=1000) if r.id.startswith(run_id)]
            if len(matches) != 1:
                click.echo(f"no run '{run_id}'" if not matches else f"'{run_id}' matches {len(matches)} runs", err=True)
                sys.exit(EXIT_USAGE)
            record = matches[0]
        if record.status != "running":
            click.echo(f"run {record.id} is not running ({record.status})", err=True)
            sys.exit(EXIT_INVALID)
        policy.require(store, principal, "stop", record.target or "-", record.env, audit_action="stop",
                       audit_target=f"run {record.id} of task {record.task}")
        audit.record(store, principal, "stop", f"run {record.id} of task {record.task}", env=record.env)
        job_id, rest = record.details.get("job_id"), record.details.get("rest_url")
        if record.engine != "flink" or not job_id or not rest:
            click.echo(f"run {record.id} has no flink job to cancel", err=True)
            sys.exit(EXIT_INVALID)
        state = flink_runner.job_state(job_id, rest)
        if state is None or not flink_runner.cancel(job_id, rest):
            # The process that ran it is gone (its local cluster went with it): close the record.
            _close_run(store, record.id, "failed", f"job {job_id} is unreachable at {rest}; marked failed by stop")
            click.echo(f"run {record.id}: job {job_id} unreachable at {rest}; run marked failed", err=True)
            sys.exit(EXIT_INVALID)
        click.echo(f"run {record.id}: cancelling job {job_id}", err=True)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            current = store.get_run(record.id)
            if current is not None and current.status != "running":
                click.echo(f"run {record.id}: {current.status}")
                return
            time.sleep(0.5)
        _close_run(store, record.id, "cancelled", "stopped by formcast stop")
        click.echo(f"run {record.id}: cancelled")


def _close_run(store: Any, run_id: str, status: str, error: str) -> None:
    from catalog.errors import CatalogError

    with contextlib.suppress(CatalogError):  # the running process may have recorded it in the meantime
        store.finish_run(run_id, status, error=error)


@main.command("runs")
@click.option("--task", default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def runs_command(task: str | None, limit: int) -> None:
    """Show the run history."""
    with open_catalog() as store:
        signed_in(store)
        for record in store.runs(task=task, limit=limit):
            click.echo(f"{record.id[:12]}  {record.task:<28} {record.env:<5} {record.logical_date or '-':<10} "
                       f"{record.status:<9} rows={record.rows_written if record.rows_written is not None else '-'}"
                       + (f"  {record.error}" if record.error else ""))


# --- demo -----------------------------------------------------------------------------------------


@main.command()
@click.option("--days", type=click.IntRange(1, 60), default=3, show_default=True)
def demo(days: int) -> None:
    """Seed the demo catalog, sample data and accounts under FORMCAST_HOME; sign the CLI in as admin.

    On a catalog without accounts it creates `admin` and the demo accounts (one per role) and prints their
    passwords once; on one with accounts it needs an admin signed in."""
    from app.demo.seed import register_demo, seed_demo
    from app.lineage.index import index_tasks
    from app.security import accounts, credentials, policy
    from app.security import demo as demo_accounts
    from generators.compile import Compiler

    home = _home()
    with open_catalog() as store:
        created: dict[str, str] = {}
        if not accounts.has_accounts(store):
            _, password = accounts.bootstrap_admin(store, demo_accounts.ADMIN, where=cli_origin())
            principal, login = accounts.sign_in(store, demo_accounts.ADMIN, password, where=cli_origin(),
                                                kind="login", label="formcast demo")
            credentials.save(store.url, login.secret, principal.name)
            created[principal.name] = password
        else:
            principal = signed_in(store)
            policy.require(store, principal, "administer", audit_action="demo", audit_target=f"workspace {home}")
        info = seed_demo(home, days=days)
        register_demo(store, info)
        created.update(demo_accounts.ensure(store, principal).passwords)
        # The demo project's lineage, so `formcast lineage` and `formcast diff` answer right away.
        report = index_tasks(Compiler(store), store, [EXAMPLES_DIR])
    click.echo(f"demo seeded in {home}: {len(info.tables)} tables, lineage of {len(report.indexed)} example tasks")
    if created:
        file = demo_accounts.write_credentials(home, created)
        click.echo("accounts (passwords are shown once; for the demo they are also in "
                   f"{file}, readable by you only):")
        for name, password in created.items():
            role = next((r for n, r, *_ in demo_accounts.ACCOUNTS if n == name), "admin")
            click.echo(f"  {name:<10} {role:<10} {password}")
        click.echo("the scheduler's service account signs in with a token: formcast user token create scheduler")
    click.echo(f"signed in as {principal.name} (formcast whoami); "
               "try: formcast run examples/daily_active_users.json --date 2024-06-02 --preview 10")


EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def _register_commands() -> None:
    """Commands that live in their own modules (catalog, UI, lineage, scheduling) join the `formcast` group here."""
    from app.cli.catalog import catalog_group
    from app.cli.lineage import diff_command, lineage_command
    from app.cli.scheduling import COMMANDS as SCHEDULING_COMMANDS
    from app.cli.security import COMMANDS as SECURITY_COMMANDS
    from app.cli.ui import ui

    for command in (catalog_group, ui, lineage_command, diff_command, *SCHEDULING_COMMANDS, *SECURITY_COMMANDS):
        main.add_command(command)


_register_commands()


if __name__ == "__main__":
    main()
