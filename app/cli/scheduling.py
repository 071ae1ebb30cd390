"""CLI for versions and scheduling: deploy, review, approve, rollback, backfill, instances, scheduler, export.

Standalone click commands, registered on the main group by `app.cli.main`. Exit codes: 0 done, 1 invalid
or refused (a rule said no), 2 usage (a flag is wrong; the message names it).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from app.cli.common import (
    EXIT_INVALID,
    SecureGroup,
    load_task_or_exit,
    open_catalog,
    refuse_typed_identity,
    signed_in,
)


def _fail(message: str, code: int = EXIT_INVALID) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _date(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date: use YYYY-MM-DD", param_hint=flag) from None


def _propose(store: Any, task_file: str, envs: tuple[str, ...]) -> Any:
    from app.workflow import versions
    from generators.compile import Compiler
    from generators.diagnostics import format_diagnostics

    task = load_task_or_exit(task_file)
    proposal = versions.propose(Compiler(store), task, envs or versions.ENVS)
    if not proposal.ok:
        click.echo(format_diagnostics(proposal.diagnostics), err=True)
        _fail(f"{task_file}: invalid; nothing deployed")
    return proposal


def _target(task: str, store: Any) -> str:
    """The table a deployed task writes (what backfills and reruns are authorized against)."""
    from app.workflow import versions

    current = versions.deployed(store, task)
    return current.target_table if current else "-"


_envs_option = click.option("--env", "envs", multiple=True, metavar="ENV",
                            help="Environments to render and review (repeatable; default: dev and prod).")


# --- versions ---------------------------------------------------------------------------------


@click.command()
@click.argument("task_file", metavar="TASK.json", type=click.Path(dir_okay=False, exists=True))
@_envs_option
@click.option("--preview", "preview_rows", type=click.IntRange(min=0), default=0,
              help="Also preview N result rows on the engine (dev env, nothing written).")
def review(task_file: str, envs: tuple[str, ...], preview_rows: int) -> None:
    """Show the SQL diff, per environment, between the deployed version and TASK.json."""
    from app.security import policy
    from app.workflow import versions

    with open_catalog() as store:
        principal = signed_in(store)
        proposal = _propose(store, task_file, envs)
        for env in sorted({e for rendered in proposal.rendered.values() for e in rendered}):
            policy.require_all(store, principal, "read", proposal.reads, env, audit_action="review",
                               audit_target=f"task {proposal.task.name}")
        result = versions.review(store, proposal)
        if preview_rows:
            from app.workflow import runs
            from generators.compile import Compiler

            shown = runs.preview(Compiler(store), proposal.task, principal=principal, env="dev",
                                 logical_date=versions.RENDER_DATE, limit=preview_rows)
            if shown.status == "succeeded":
                runs.print_rows(shown.preview, shown.columns)
            else:
                click.echo(f"preview failed: {shown.error}", err=True)
    base = f"v{result.deployed.version}" if result.deployed else "nothing deployed"
    click.echo(f"{proposal.task.name}: proposed change against {base} ({proposal.task.priority})")
    for label, diff in result.diffs.items():
        click.echo(f"--- {label}: {'unchanged' if not diff else 'changed'}")
        if diff:
            click.echo(diff, nl=not diff.endswith("\n"))
    for reason in result.conflicts:
        click.echo(f"needs the approval of the table's owner: {reason}")
    if result.needs_approval and not result.conflicts:
        click.echo("this is a P0/P1 change: after deploy it needs approval by another account than its author")


@click.command()
@click.argument("task_file", metavar="TASK.json", type=click.Path(dir_okay=False, exists=True))
@refuse_typed_identity("--author")
@click.option("--depends-on", "depends_on", multiple=True, metavar="TASK",
              help="An explicit upstream task, besides those inferred from lineage (repeatable).")
@click.option("--pool", default=None, help="Concurrency pool (default: the task's engine).")
@click.option("--retries", type=click.IntRange(0, 20), default=2, show_default=True)
@click.option("--retry-delay", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="Seconds before the first retry; doubles each retry.")
@click.option("--timeout", type=click.FloatRange(min=1), default=None, help="Seconds an attempt may run.")
@_envs_option
def deploy(task_file: str, depends_on: tuple[str, ...], pool: str | None, retries: int,
           retry_delay: float, timeout: float | None, envs: tuple[str, ...]) -> None:
    """Validate, render and store TASK.json as a new immutable version, authored by the signed-in account;
    deploy it (P0/P1, or a second writer of a table: after approval by another account)."""
    from app.workflow import versions

    with open_catalog() as store:
        principal = signed_in(store)
        proposal = _propose(store, task_file, envs)
        options = versions.TaskOptions(tuple(depends_on), pool, retries, retry_delay, timeout)
        try:
            version = versions.deploy(store, proposal, principal, options)
        except versions.VersionError as err:
            _fail(str(err))
        conflicts = versions.review(store, proposal).conflicts if version.status == "pending" else []
    name, author = version.task, version.author
    if version.status == "pending":
        why = ("; ".join(conflicts) + ": the table's owner must approve") if conflicts else \
            f"a {version.priority} change waits for approval by another account than {author}"
        click.echo(f"{name} v{version.version}: stored; {why}: formcast approve {name} --version {version.version} "
                   "(signed in as the approver)")
    else:
        click.echo(f"{name} v{version.version}: deployed by {author}")


@click.command()
@click.argument("task")
@click.option("--version", "number", type=int, required=True, help="The version to approve.")
@refuse_typed_identity("--by")
def approve(task: str, number: int) -> None:
    """Approve a pending version as the signed-in account (not its author) and deploy it."""
    from app.workflow import versions

    with open_catalog() as store:
        principal = signed_in(store)
        try:
            version = versions.approve(store, task, number, principal)
        except versions.VersionError as err:
            _fail(str(err))
    click.echo(f"{task} v{version.version}: approved by {version.approved_by} and deployed")


@click.command()
@click.argument("task")
@click.option("--to", "to", type=int, required=True, help="The earlier version whose content is deployed again.")
@refuse_typed_identity("--author")
def rollback(task: str, to: int) -> None:
    """Deploy an earlier version's content again, as a new version (P0/P1: after approval by another account)."""
    from app.workflow import versions

    with open_catalog() as store:
        principal = signed_in(store)
        try:
            version = versions.rollback(store, task, to, principal)
        except versions.VersionError as err:
            _fail(str(err))
    if version.status == "pending":
        click.echo(f"{task} v{version.version}: stored (content of v{to}); a {version.priority} task's rollback waits "
                   f"for approval by another account: formcast approve {task} --version {version.version}")
    else:
        click.echo(f"{task} v{version.version}: deployed (content of v{to})")


# --- instances and backfills --------------------------------------------------------------------


def _deployed_def(store: Any, task: str) -> Any:
    from app.scheduler.sql_state import SqlState
    from catalog.db import engine_of

    state = SqlState(engine_of(store))
    found = {t.name: t for t in state.tasks()}.get(task)
    if found is None:
        _fail(f"task '{task}' is not deployed: formcast deploy TASK.json first")
    return state, found


@click.command()
@click.argument("task")
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="First logical date.")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="Last logical date (inclusive).")
@click.option("--mode", type=click.Choice(["missing", "failed", "all"]), default="missing", show_default=True,
              help="missing: dates without an instance; failed: rerun failed ones; all: rerun everything finished.")
@click.option("--dry-run", is_flag=True, help="Print what would be queued; change nothing.")
@click.option("--max", "max_instances", type=click.IntRange(min=1), default=31, show_default=True,
              help="Refuse a backfill larger than this.")
def backfill(task: str, start: str, end: str, mode: str, dry_run: bool, max_instances: int) -> None:
    """Queue TASK for a range of logical dates, in the backfill class (never ahead of P0)."""
    from app.scheduler import backfill as bf
    from app.scheduler.core import Scheduler

    first, last = _date(start, "--from"), _date(end, "--to")
    if last < first:
        raise click.BadParameter(f"{end} is before --from {start}", param_hint="--to")
    with open_catalog() as store:
        principal = signed_in(store)
        state, t = _deployed_def(store, task)
        the_plan = bf.plan(state, t, first, last, mode)
        if the_plan.size > max_instances:
            raise click.BadParameter(f"the backfill would queue {the_plan.size} instances, more than --max "
                                     f"{max_instances}; narrow --from/--to or raise --max", param_hint="--max")
        for key in the_plan.create:
            click.echo(f"create  {task} {key}  v{t.version}")
        for _, key, was, pinned in the_plan.rerun:
            click.echo(f"rerun   {task} {key}  v{pinned} (was {was})")
        for key, was in the_plan.skip:
            click.echo(f"skip    {task} {key}  ({was})")
        if dry_run:
            click.echo(f"dry run: {the_plan.size} instance(s) would be queued")
            return
        queued = bf.apply(state, Scheduler(state), t, the_plan, time.time(), principal)
    click.echo(f"{queued} instance(s) queued for {task}")


def _fmt(value: float | None) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%m-%d %H:%M") if value else "-"


@click.command()
@click.option("--task", default=None)
@click.option("--date", "day", default=None, metavar="YYYY-MM-DD", help="Logical date.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def instances(task: str | None, day: str | None, limit: int, as_json: bool) -> None:
    """List scheduled instances (newest logical dates first); times are UTC."""
    from dataclasses import asdict

    from app.scheduler.sql_state import SqlState
    from catalog.db import engine_of

    if day is not None:
        _date(day, "--date")
    with open_catalog() as store:
        signed_in(store)
        found = SqlState(engine_of(store)).list(task=task, key=day, limit=limit)
    if as_json:
        click.echo(json.dumps([asdict(i) for i in found], indent=2))
        return
    click.echo(f"{'id':>5} {'task':<26} {'logical':<16} {'ver':>3} {'kind':<9} {'state':<9} {'try':>3} {'prio':<4} "
               f"{'scheduled':<11} {'deadline':<11} {'predicted':<11} error")
    for i in found:
        click.echo(f"{i.id:>5} {i.task:<26} {i.key:<16} {i.version:>3} {i.kind:<9} {i.state:<9} {i.attempts:>3} "
                   f"P{i.priority:<3} {_fmt(i.scheduled_at):<11} {_fmt(i.deadline):<11} "
                   f"{_fmt(i.predicted_finish):<11} {i.error or ''}")


# --- the scheduler ------------------------------------------------------------------------------


def _pools(values: tuple[str, ...]) -> dict[str, int]:
    pools = {}
    for value in values:
        name, _, slots = value.partition("=")
        if not name or not slots.isdigit() or int(slots) < 1:
            raise click.BadParameter(f"'{value}': use NAME=SLOTS, e.g. spark=4", param_hint="--pool")
        pools[name] = int(slots)
    return pools


def _tiers(values: tuple[str, ...]) -> dict[int, tuple[str, str]]:
    import re

    from generators.tasks.cron import zone

    tiers = {}
    for value in values:
        match = re.fullmatch(r"(P[0-3])=(\d\d:\d\d)(?:@(.+))?", value)
        try:
            if match is None:
                raise ValueError
            zone(match.group(3) or "UTC")
        except (ValueError, KeyError):
            raise click.BadParameter(f"'{value}': use P0=06:00 or P1=08:00@Europe/Amsterdam",
                                     param_hint="--tier-deadline") from None
        tiers[int(match.group(1)[1])] = (match.group(2), match.group(3) or "UTC")
    return tiers


def _parse_now(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"'{value}' is not an ISO date-time", param_hint="--now") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


@click.command()
@click.option("--once", is_flag=True, help="One pass: dispatch what is due, wait for it, exit.")
@click.option("--until-idle", is_flag=True, help="Exit when nothing is queued or running.")
@click.option("--tick", type=click.FloatRange(min=0.05), default=1.0, show_default=True, help="Seconds between passes.")
@click.option("--executor", "executor_spec", default="spark", show_default=True,
              help="spark (runs the pinned version), touch:DIR[:SECONDS] (tests), or module:factory.")
@click.option("--env", default="prod", show_default=True, help="Environment scheduled runs write to.")
@click.option("--pool", "pools", multiple=True, metavar="NAME=SLOTS", help="Slots of a pool (repeatable).")
@click.option("--lease", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds a claim lives without a heartbeat before another process takes over.")
@click.option("--margin", type=click.FloatRange(min=0), default=90.0, show_default=True,
              help="Minutes before the deadline at which a predicted finish raises an SLA alert.")
@click.option("--tier-deadline", "tiers", multiple=True, metavar="P0=HH:MM[@TZ]",
              help="Deadline for tasks of a priority that set no sla of their own (repeatable).")
@click.option("--webhook", "webhooks", multiple=True, metavar="URL", help="POST SLA alerts as JSON (repeatable).")
@click.option("--now", "now_text", default=None, metavar="ISO", help="Start the clock at this time (demos, tests).")
@click.option("--max-seconds", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
def scheduler(once: bool, until_idle: bool, tick: float, executor_spec: str, env: str, pools: tuple[str, ...],
              lease: float, margin: float, tiers: tuple[str, ...], webhooks: tuple[str, ...], now_text: str | None,
              max_seconds: float | None) -> None:
    """Run the scheduler: cron, dependencies, priorities, retries, SLA alerts; all state in the catalog DB."""
    from app.scheduler.core import Scheduler, default_resolver
    from app.scheduler.deps import CombinedResolver, LineageResolver
    from app.scheduler.executors import build_executor
    from app.scheduler.model import SchedulerConfig
    from app.scheduler.service import SchedulerService, new_owner, owner_is_dead
    from app.scheduler.sla import LogSink, WebhookSink
    from app.scheduler.sql_state import SqlState
    from app.workflow.recovery import recover_runs
    from catalog.db import engine_of

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = SchedulerConfig(lease_seconds=lease, sla_margin=margin * 60)
    config.pools.update(_pools(pools))
    config.tier_deadlines = _tiers(tiers)
    start = _parse_now(now_text)
    offset = 0.0 if start is None else start - time.time()
    from app.security import audit, policy

    store = open_catalog()
    try:
        principal = signed_in(store).at(audit.origin("scheduler"))
        policy.require(store, principal, "operate", audit_action="scheduler", audit_target=f"scheduler --env {env}")
        # Runs a killed process left "running": closed (lost, or succeeded if their publish committed), and
        # their staging folders removed, before anything new starts.
        for closed in recover_runs(store):
            click.echo(f"recovered: {closed}", err=True)
        try:
            executor = build_executor(executor_spec, store, env, principal)
        except (ValueError, ImportError, AttributeError) as err:
            raise click.BadParameter(str(err), param_hint="--executor") from None

        def resolver(tasks: list[Any]) -> Any:
            return CombinedResolver(default_resolver(tasks), LineageResolver(store, [t.name for t in tasks]))

        owner = new_owner()
        core = Scheduler(SqlState(engine_of(store)), config, owner=owner,
                         sinks=[LogSink(), *(WebhookSink(url) for url in webhooks)], resolver=resolver,
                         is_dead=lambda other: owner_is_dead(other, owner), recover=executor.recover)
        service = SchedulerService(core, executor, tick=tick, workers=max(config.pools.values()) * 2,
                                   clock=lambda: time.time() + offset)
        click.echo(f"scheduler {owner} on {store.url}, acting as {principal.name}", err=True)
        audit.record(store, principal, "scheduler", f"scheduler {owner}", env=env, detail={"executor": executor_spec})
        service.run(once=once, until_idle=until_idle, max_seconds=max_seconds)
    finally:
        store.close()


# --- export ---------------------------------------------------------------------------------------


@click.group()
def export() -> None:
    """Export deployed tasks to other orchestrators."""


@export.command("airflow")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the DAG files.")
@click.option("--env", default="prod", show_default=True, help="Environment the exported runs write to.")
def export_airflow(out_dir: str, env: str) -> None:
    """Write one Airflow DAG file per deployed task (schedule, upstream sensors, retries, priority, SLA)."""
    from app.scheduler.airflow import write_dags
    from app.security import policy

    with open_catalog() as store:
        policy.require(store, signed_in(store), "operate", audit_action="export", audit_target=f"airflow {out_dir}")
        written = write_dags(store, Path(out_dir), env=env)
    click.echo(f"wrote {len(written)} DAG file(s) to {out_dir}")


COMMANDS = (scheduler, deploy, rollback, backfill, instances, review, approve, export)


@click.group(cls=SecureGroup)
def _standalone() -> None:
    """These commands without the rest of the CLI: `python -m app.cli.scheduling COMMAND`."""


for _command in COMMANDS:
    _standalone.add_command(_command)

if __name__ == "__main__":
    _standalone()
