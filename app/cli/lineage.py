"""`formcast lineage` and `formcast diff`: stored column lineage and the impact of a config change.

Standalone click commands; `app.cli.main` registers them with `main.add_command(lineage_command)` and
`main.add_command(diff_command)`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from app.cli.common import open_catalog, signed_in
from app.lineage.dot import lineage_dot
from catalog.lineage import LineageEdge, Walk

EXIT_OK, EXIT_BLOCKED, EXIT_USAGE = 0, 1, 2


def _split(name: str) -> tuple[str, str | None]:
    parts = name.strip().lower().split(".")
    if len(parts) == 2:
        return name.strip().lower(), None
    if len(parts) == 3:
        return ".".join(parts[:2]), parts[2]
    raise click.BadParameter(f"'{name}' is not TABLE or TABLE.COLUMN (e.g. mart.video_plays.plays), "
                             "nor a task name", param_hint="NAME")


# --- lineage ---------------------------------------------------------------------------------------


@click.command("lineage")
@click.argument("name", required=False, metavar="[TABLE[.COLUMN] | TASK]")
@click.option("--upstream", "direction", flag_value="upstream", help="Only what it derives from.")
@click.option("--downstream", "direction", flag_value="downstream", help="Only what derives from it.")
@click.option("--depth", type=click.IntRange(min=1), default=None, help="At most N task hops (default: all).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dot"]), default="text", show_default=True)
@click.option("--index", "index_paths", multiple=True, type=click.Path(exists=True), metavar="DIR|FILE",
              help="First compile every task config in DIR (or FILE) and store its lineage. Repeatable.")
@click.option("--env", default="dev", show_default=True, help="Environment the indexed configs compile for.")
def lineage_command(name: str | None, direction: str | None, depth: int | None, fmt: str,
                    index_paths: tuple[str, ...], env: str) -> None:
    """Column lineage from the catalog: what TABLE[.COLUMN] derives from and what derives from it.

    A bare task name shows that task's stored lineage; no NAME lists the indexed tasks.
    """
    from app.security import policy

    with open_catalog() as store:
        principal = signed_in(store)
        if index_paths:
            policy.require(store, principal, "edit", audit_action="lineage.index", audit_target="lineage index")
            _index(store, index_paths, env, quiet=fmt != "text" and name is not None)
        if name is None:
            if not index_paths:
                _list_tasks(store, fmt)
            return
        if "." not in name:
            _show_task(store, name.strip().lower(), fmt)
            return
        table, column = _split(name)
        graph = store.lineage_graph()
    walks = [graph.upstream(table, column, depth), graph.downstream(table, column, depth)]
    walks = [w for w in walks if direction in (None, w.direction)]
    if not graph.writers_of(table) and not graph.readers_of(table, include_self=True):
        click.echo(f"note: no stored task reads or writes {table} (index configs with --index DIR)", err=True)
    if fmt == "json":
        click.echo(json.dumps({w.direction: _walk_json(w) for w in walks}, indent=2))
    elif fmt == "dot":
        click.echo(lineage_dot([e for w in walks for e in w.edges]))
    else:
        for walk in walks:
            _print_walk(walk, depth)


def _index(store: Any, paths: tuple[str, ...], env: str, quiet: bool) -> None:
    from app.lineage.index import index_tasks
    from generators.compile import Compiler

    report = index_tasks(Compiler(store), store, paths, env=env)
    echo = (lambda *a, **k: click.echo(*a, **k, err=True)) if quiet else click.echo
    echo(f"indexed {len(report.indexed)} task(s): {', '.join(report.indexed) or '-'}")
    for task, notes in report.incomplete.items():
        echo(f"  {task}: lineage incomplete: " + "; ".join(notes))
    for path, why in report.failed:
        click.echo(f"  skipped {path}:\n" + "\n".join("    " + line for line in why.splitlines()), err=True)


def _list_tasks(store: Any, fmt: str) -> None:
    tasks = store.lineage_tasks()
    if fmt == "json":
        click.echo(json.dumps([_task_json(t) for t in tasks], indent=2))
        return
    if not tasks:
        click.echo("no lineage stored yet: run `formcast lineage --index examples/`")
    for t in tasks:
        flag = "  (incomplete)" if t.incomplete else ""
        click.echo(f"{t.task} [{t.priority} {t.owner or '-'}]: {', '.join(t.reads)} -> {t.target_table}{flag}")


def _show_task(store: Any, task: str, fmt: str) -> None:
    lineage = store.lineage(task)
    if lineage is None:
        raise click.ClickException(f"no stored lineage for task '{task}' (index it with --index)")
    if fmt == "json":
        click.echo(json.dumps({**_task_json(lineage), "edges": [_edge_json(e) for e in lineage.edges]}, indent=2))
    elif fmt == "dot":
        click.echo(lineage_dot(lineage.edges))
    else:
        click.echo(f"{lineage.task} [{lineage.priority} {lineage.owner or '-'}] {lineage.engine}, "
                   f"config {lineage.config_hash}")
        click.echo(f"  reads {', '.join(lineage.reads)}; writes {lineage.target_table}")
        for edge in lineage.edges:
            click.echo("  " + _edge_text(edge))
        for note in lineage.incomplete:
            click.echo(f"  incomplete: {note}")


def _task_json(t: Any) -> dict[str, Any]:
    return {"task": t.task, "config_hash": t.config_hash, "engine": t.engine, "owner": t.owner,
            "priority": t.priority, "reads": t.reads, "writes": t.target_table,
            "output_columns": [list(c) for c in t.output_columns], "incomplete": t.incomplete,
            "computed_at": t.computed_at.isoformat() if t.computed_at else None}


def _edge_json(e: LineageEdge) -> dict[str, Any]:
    return {"task": e.task, "target_table": e.target_table, "target_column": e.target_column,
            "source_table": e.source_table, "source_column": e.source_column, "kind": e.kind}


def _edge_text(e: LineageEdge) -> str:
    target = f"{e.target_table}.{e.target_column}" if e.target_column else f"{e.target_table} (all rows)"
    return f"{target} <-{e.kind}- {e.source_table}.{e.source_column}  [{e.task}]"


def _walk_json(walk: Walk) -> dict[str, Any]:
    return {
        "root": {"table": walk.root.table, "column": walk.root.column},
        "nodes": [{"table": n.table, "column": n.column, "depth": n.depth} for n in walk.nodes],
        "edges": [_edge_json(e) for e in walk.edges],
        "tasks": walk.tasks,
    }


def _print_walk(walk: Walk, depth: int | None) -> None:
    root = f"{walk.root.table}.{walk.root.column}" if walk.root.column else walk.root.table
    limit = f", at most {depth} hop(s)" if depth else ""
    click.echo(f"{walk.direction} of {root}{limit}: {len(walk.edges)} edge(s), tasks: {', '.join(walk.tasks) or '-'}")
    for edge in walk.edges:
        click.echo("  " + _edge_text(edge))


# --- diff ------------------------------------------------------------------------------------------


@click.command("diff")
@click.argument("task_file", metavar="TASK.json", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--acknowledge", is_flag=True, help="Accept a breaking change that affects a P0/P1 task.")
@click.option("--save", is_flag=True, help="Store the proposed lineage as the task's current version "
              "(unless the change is blocked).")
@click.option("--env", default="dev", show_default=True, help="Environment the config compiles for.")
def diff_command(task_file: str, fmt: str, acknowledge: bool, save: bool, env: str) -> None:
    """Impact of a changed task config against its stored current version: changed output columns,
    breaking or not, and every downstream task and column affected, with owner and priority.

    Exits 1 when a breaking change affects a P0/P1 task and --acknowledge is not given.
    """
    from generators.compile import Compiler
    from generators.diagnostics import format_diagnostics
    from generators.impact import analyze
    from generators.lineage import task_lineage
    from generators.loading import load_task_file

    task, problems = load_task_file(task_file)
    if task is None:
        click.echo(f"{task_file}: the task config is invalid\n{format_diagnostics(problems)}", err=True)
        sys.exit(EXIT_BLOCKED)
    from app.security import policy

    with open_catalog() as store:
        principal = signed_in(store)
        if save:
            policy.require(store, principal, "edit", audit_action="lineage.index", audit_target=f"task {task.name}")
        compiled = Compiler(store).compile(task, env=env)
        if not compiled.ok:
            click.echo(f"{task_file}: does not compile\n{format_diagnostics(compiled.errors)}", err=True)
            sys.exit(EXIT_BLOCKED)
        proposed = task_lineage(compiled)
        impact = analyze(proposed, store.lineage(task.name), store.lineage_graph())
        blocked = impact.needs_acknowledgement and not acknowledge
        if save and not blocked:
            store.save_lineage(proposed)
    if fmt == "json":
        click.echo(json.dumps({**impact.to_dict(), "acknowledged": acknowledge, "saved": save and not blocked},
                              indent=2))
    else:
        _print_impact(impact, acknowledge, saved=save and not blocked)
    if blocked:
        sys.exit(EXIT_BLOCKED)


def _print_impact(impact: Any, acknowledge: bool, saved: bool) -> None:
    verdict = "BREAKING" if impact.breaking else "non-breaking"
    click.echo(f"{impact.task} -> {impact.target_table}: {verdict} change")
    if not impact.changes:
        click.echo("  no change to the output columns")
    for change in impact.changes:
        mark = "!" if change.breaking else " "
        click.echo(f"  {mark} {change.describe()}")
    if impact.affected:
        click.echo("affected downstream:")
    for a in impact.affected:
        how = "reads" if a.direct else "via"
        click.echo(f"  {a.task} [{a.priority or '?'} owner {a.owner or '-'}] -> {a.target_table}"
                   f" ({', '.join(a.columns) or a.reason}); {how} {', '.join(a.reads) or '-'}")
    for note in impact.notes:
        click.echo(f"note: {note}")
    if impact.needs_acknowledgement:
        names = ", ".join(a.task for a in impact.affected if a.needs_acknowledgement)
        if acknowledge:
            click.echo(f"acknowledged: breaking change affecting P0/P1 task(s) {names}")
        else:
            click.echo(f"blocked: breaking change affects P0/P1 task(s) {names}; "
                       "re-run with --acknowledge after agreeing with their owners", err=True)
    if saved:
        click.echo("saved as the current lineage version")
