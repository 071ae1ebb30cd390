"""Task versions and the five-step workflow: draft -> validate -> preview -> review -> deploy.

* `propose` validates a draft and renders its SQL for every environment (spark; flink too when the
  task's engine is flink), at a fixed logical date so two versions' SQL differ only where configs do.
* `review` diffs the rendered SQL of the deployed version and the proposal, per engine/env.
* `deploy` stores an immutable version (config, hash, rendered SQL, author). A change touching a P0/P1
  task (before or after the change) waits for `approve` by another account than its author; so does a
  change that makes a second writer of a table or a P3 writer of a table a P0 task reads (approved
  then by the table's owner). Any other change is deployed at once. `rollback` re-deploys an earlier
  version's content as a new version, under the same approval rule.
  History is never rewritten: the "deployed" pointer moves, versions stay.
* Who acts is an authenticated `Principal`; `app.security.policy` decides whether it may (deploy needs
  `deploy` on the target and `read` on the sources in every protected env; approve needs `approve` and
  another account than the author), and every action, allowed or not, lands in the audit log.
* Scheduled instances pin the version deployed when they are created; reruns keep it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from app.security import audit, policy
from app.security.identity import Principal
from catalog import scheduling as s
from catalog.base import utcnow
from catalog.db import bump_generation, engine_of, transaction
from generators.compile import CompiledTask, Compiler, config_hash
from generators.diagnostics import Diagnostic
from generators.loading import parse_task
from generators.tasks import Task

RENDER_DATE = date(2024, 6, 1)
ENVS = ("dev", "prod")
NEEDS_APPROVAL = ("P0", "P1")
_V, _D, _O = s.task_versions, s.task_deployments, s.sched_task_options


class VersionError(Exception):
    """A workflow rule refused the action (self-approval, unknown version, invalid config...)."""


@dataclass(frozen=True)
class Version:
    task: str
    version: int
    config: dict[str, Any]
    config_hash: str
    engine: str
    priority: str
    schedule: str | None
    target_table: str
    reads: list[str]
    rendered: dict[str, dict[str, str]]  # engine -> env -> SQL script
    author: str
    created_at: datetime
    status: str  # pending | approved
    approved_by: str | None = None
    approved_at: datetime | None = None
    rollback_of: int | None = None

    def task_model(self) -> Task:
        task, problems = parse_task(self.config)
        if task is None:
            raise VersionError(f"{self.task} v{self.version}: stored config no longer validates: {problems[0].message}")
        return task


@dataclass
class Proposal:
    task: Task
    rendered: dict[str, dict[str, str]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # The compile whose lineage deploy stores (the task's own engine, first env): not compiled again.
    lineage_source: CompiledTask | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def config(self) -> dict[str, Any]:
        return self.task.model_dump(mode="json", by_alias=True)  # complete: defaults may change between releases


@dataclass
class Review:
    proposal: Proposal
    deployed: Version | None
    diffs: dict[str, str]  # "engine/env" -> unified diff ("" when unchanged)
    needs_approval: bool
    conflicts: list[str] = field(default_factory=list)  # why the target table's owner must approve

    @property
    def changed(self) -> bool:
        return self.deployed is None or any(self.diffs.values()) or self.deployed.config != self.proposal.config


@dataclass(frozen=True)
class TaskOptions:
    """Scheduling knobs kept out of the task model: explicit upstreams, pool, retries, timeout."""

    depends_on: tuple[str, ...] = ()
    pool: str | None = None  # None: the task's engine
    retries: int = 2
    retry_delay: float = 60.0
    timeout: float | None = None
    paused: bool = False


def _engines(task: Task) -> list[str]:
    return ["spark", "flink"] if task.engine == "flink" else ["spark"]


def propose(compiler: Compiler, task: Task, envs: Iterable[str] = ENVS) -> Proposal:
    """Validate and render for every engine/env; an env the task's own engine cannot compile is an error."""
    proposal = Proposal(task)
    for engine in _engines(task):
        for env in envs:
            compiled = compiler.compile(task, engine=engine, env=env, logical_date=RENDER_DATE)
            if not compiled.ok:
                if engine == task.engine:  # spark for a flink task is a bonus, not a requirement
                    proposal.diagnostics += [
                        Diagnostic(d.path, d.rule, d.severity, f"[{engine}/{env}] {d.message}", d.hint)
                        for d in compiled.errors]
                continue
            proposal.rendered.setdefault(engine, {})[env] = compiled.script
            if engine == task.engine and proposal.lineage_source is None:
                proposal.lineage_source = compiled
            if not proposal.reads:
                proposal.reads = sorted({src.logical.lower() for src in compiled.sources})
    return proposal


def _version(row: Any) -> Version:
    return Version(task=row.task, version=row.version, config=row.config, config_hash=row.config_hash,
                   engine=row.engine, priority=row.priority, schedule=row.schedule, target_table=row.target_table,
                   reads=list(row.reads), rendered=row.rendered, author=row.author, created_at=row.created_at,
                   status=row.status, approved_by=row.approved_by, approved_at=row.approved_at,
                   rollback_of=row.rollback_of)


def get(catalog: Any, task: str, version: int) -> Version | None:
    with transaction(engine_of(catalog)) as conn:
        row = conn.execute(select(_V).where(_V.c.task == task, _V.c.version == version)).first()
    return _version(row) if row else None


def history(catalog: Any, task: str) -> list[Version]:
    with transaction(engine_of(catalog)) as conn:
        return [_version(r) for r in conn.execute(select(_V).where(_V.c.task == task).order_by(_V.c.version))]


def deployed(catalog: Any, task: str) -> Version | None:
    with transaction(engine_of(catalog)) as conn:
        return _deployed(conn, task)


def _deployed_versions() -> Any:
    """The versions the deployment pointers point at."""
    return select(_V).join(_D, and_(_D.c.task == _V.c.task, _D.c.version == _V.c.version))


def _deployed(conn: Connection, task: str) -> Version | None:
    row = conn.execute(_deployed_versions().where(_V.c.task == task)).first()
    return _version(row) if row else None


def deployed_all(catalog: Any) -> list[Version]:
    with transaction(engine_of(catalog)) as conn:
        return [_version(r) for r in conn.execute(_deployed_versions().order_by(_V.c.task))]


def _next_number(conn: Connection, task: str) -> int:
    return (conn.execute(select(func.max(_V.c.version)).where(_V.c.task == task)).scalar() or 0) + 1


def _version_row(conn: Connection, task: str, version: int) -> Any:
    row = conn.execute(select(_V).where(_V.c.task == task, _V.c.version == version)).first()
    if row is None:
        raise VersionError(f"task '{task}' has no version {version}")
    return row


def review(catalog: Any, proposal: Proposal) -> Review:
    current = deployed(catalog, proposal.task.name)
    diffs: dict[str, str] = {}
    for engine, envs in proposal.rendered.items():
        for env, sql in envs.items():
            old = (current.rendered.get(engine, {}).get(env, "") if current else "")
            label = f"{engine}/{env}"
            diffs[label] = "".join(difflib.unified_diff(
                old.splitlines(keepends=True), sql.splitlines(keepends=True),
                fromfile=f"{label} v{current.version}" if current else f"{label} (not deployed)",
                tofile=f"{label} proposed"))
    critical = proposal.task.priority in NEEDS_APPROVAL or (current is not None and current.priority in NEEDS_APPROVAL)
    found = conflicts(catalog, proposal.task.name, proposal.task.target.table.lower(), proposal.task.priority)
    return Review(proposal, current, diffs, critical or bool(found), found)


def conflicts(catalog: Any, task: str, target: str, priority: str) -> list[str]:
    """Why deploying `task` (writing `target` at `priority`) needs the target table's owner: a table has
    one writing task, and a P3 task may not write what a P0 task reads without the owner's consent."""
    found = []
    for other in deployed_all(catalog):
        if other.task == task:
            continue
        if other.target_table == target:
            found.append(f"{target} is already written by the deployed task {other.task}: a table has one writing "
                         "task")
        if priority == "P3" and other.priority == "P0" and target in other.reads:
            found.append(f"{target} is read by the P0 task {other.task}: a P3 task may not write it unchecked")
    return found


def table_owner(catalog: Any, table: str) -> str | None:
    spec = catalog.get_table(table) if hasattr(catalog, "get_table") else None
    return (spec.owner or None) if spec is not None else None


def protected_envs(envs: Iterable[str]) -> list[str]:
    """The environments a deployed version writes or is checked in: every protected one rendered, and prod."""
    return sorted({e for e in (*envs, "prod") if policy.is_protected(e)})


def deploy(catalog: Any, proposal: Proposal, principal: Principal, options: TaskOptions | None = None) -> Version:
    """Store a new version as `principal`; deployed at once unless it needs approval (`status == 'pending'`).

    Needs `deploy` on the target and `read` on every source in each protected env (policy.AccessDenied)."""
    task = proposal.task
    target = task.target.table.lower()
    label = f"task {task.name}"
    digest = config_hash(task)
    if not proposal.ok:
        raise VersionError(f"{task.name}: the config is invalid: {proposal.diagnostics[0].message}")
    for env in protected_envs(e for envs in proposal.rendered.values() for e in envs):
        policy.require(catalog, principal, "deploy", target, env, audit_action="deploy", audit_target=label,
                       version_hash=digest)
        policy.require_all(catalog, principal, "read", proposal.reads, env, audit_action="deploy",
                           audit_target=label, version_hash=digest)
    rev = review(catalog, proposal)
    status = "pending" if rev.needs_approval else "approved"
    author = principal.name
    with transaction(engine_of(catalog), write=True) as conn:
        number = _next_number(conn, task.name)
        now = utcnow()
        conn.execute(insert(_V).values(
            task=task.name, version=number, config=proposal.config, config_hash=digest,
            engine=task.engine, priority=task.priority, schedule=task.schedule, target_table=target,
            reads=proposal.reads, rendered=proposal.rendered, author=author, created_at=now, status=status,
            approved_by=None, approved_at=None, rollback_of=None))
        if options is not None:
            _write_options(conn, task, options)
        if status == "approved":
            _point(conn, task.name, number, author)
        audit.record(conn, principal, "deploy", f"{label} v{number}", env="prod", version_hash=digest,
                     detail={"status": status, "priority": task.priority, "target": target,
                             **({"conflicts": rev.conflicts} if rev.conflicts else {})})
    _save_lineage(catalog, proposal)
    found = get(catalog, task.name, number)
    assert found is not None
    return found


def _save_lineage(catalog: Any, proposal: Proposal) -> None:
    """Best effort: keep the catalog's column lineage in step with what is deployed."""
    try:
        from generators.lineage import task_lineage

        if proposal.lineage_source is not None and hasattr(catalog, "save_lineage"):
            catalog.save_lineage(task_lineage(proposal.lineage_source))
    except Exception:  # lineage is an index; deploying must not depend on it
        import logging

        logging.getLogger("formcast.versions").warning("lineage not stored for %s", proposal.task.name, exc_info=True)


def _write_options(conn: Connection, task: Task, options: TaskOptions) -> None:
    values = {"depends_on": list(options.depends_on), "pool": options.pool or task.engine, "retries": options.retries,
              "retry_delay_s": options.retry_delay, "timeout_s": options.timeout, "paused": options.paused}
    if not conn.execute(update(_O).where(_O.c.task == task.name).values(**values)).rowcount:
        conn.execute(insert(_O).values(task=task.name, **values))


def set_options(catalog: Any, task: Task, options: TaskOptions) -> None:
    with transaction(engine_of(catalog), write=True) as conn:
        _write_options(conn, task, options)
        bump_generation(conn)


def _point(conn: Connection, task: str, version: int, by: str) -> None:
    values = {"version": version, "deployed_by": by, "deployed_at": utcnow()}
    if not conn.execute(update(_D).where(_D.c.task == task).values(**values)).rowcount:
        conn.execute(insert(_D).values(task=task, **values))
    bump_generation(conn)


def approve(catalog: Any, task: str, version: int, principal: Principal) -> Version:
    """Approve a pending version as `principal` and deploy it. Its author's account cannot approve it (any of
    its tokens or sessions); a version that makes a second writer of a table, or puts a P0 task's input at
    risk, needs the table's owner (when the owner is an account) or an admin."""
    label = f"task {task} v{version}"
    with transaction(engine_of(catalog)) as conn:
        row = _version_row(conn, task, version)
    if row.status != "pending":
        raise VersionError(f"{task} v{version} is not waiting for approval (approved by {row.approved_by or '-'})")
    found = conflicts(catalog, task, row.target_table, row.priority)
    owner = table_owner(catalog, row.target_table) if found else None
    policy.require(catalog, principal, "approve", row.target_table, "prod", author=row.author, owner=owner,
                   audit_action="approve", audit_target=label, version_hash=row.config_hash)
    with transaction(engine_of(catalog), write=True) as conn:
        row = _version_row(conn, task, version)  # again, under the write lock: someone may have been quicker
        if row.status != "pending":
            raise VersionError(f"{task} v{version} was approved meanwhile by {row.approved_by or '-'}")
        conn.execute(update(_V).where(_V.c.id == row.id).values(status="approved", approved_by=principal.name,
                                                                approved_at=utcnow()))
        _point(conn, task, version, principal.name)
        audit.record(conn, principal, "approve", label, env="prod", version_hash=row.config_hash,
                     detail={"author": row.author, "priority": row.priority,
                             **({"conflicts": found, "owner": owner} if found else {})})
    approved = get(catalog, task, version)
    assert approved is not None
    return approved


def rollback(catalog: Any, task: str, to: int, principal: Principal) -> Version:
    """Deploy version `to`'s content again as a new version (history stays immutable).

    Needs `deploy` on the target; a P0/P1 task's rollback waits for approval like any change to it."""
    label = f"task {task}"
    with transaction(engine_of(catalog)) as conn:
        row = _version_row(conn, task, to)
        current = _deployed(conn, task)
    if row.status != "approved":
        raise VersionError(f"{task} v{to} was never approved: it cannot be rolled back to")
    policy.require(catalog, principal, "deploy", row.target_table, "prod", audit_action="rollback",
                   audit_target=f"{label} to v{to}", version_hash=row.config_hash)
    critical = row.priority in NEEDS_APPROVAL or (current is not None and current.priority in NEEDS_APPROVAL)
    status = "pending" if critical else "approved"
    with transaction(engine_of(catalog), write=True) as conn:
        number = _next_number(conn, task)
        values = {c.name: getattr(row, c.name) for c in _V.columns if c.name != "id"}
        values.update(version=number, author=principal.name, created_at=utcnow(), status=status, rollback_of=to,
                      approved_by=None if critical else principal.name, approved_at=None if critical else utcnow())
        conn.execute(insert(_V).values(**values))
        if not critical:
            _point(conn, task, number, principal.name)
        audit.record(conn, principal, "rollback", f"{label} v{number} (content of v{to})", env="prod",
                     version_hash=row.config_hash, detail={"status": status, "priority": row.priority})
    found = get(catalog, task, number)
    assert found is not None
    return found


def is_approved_config(catalog: Any, task: str, digest: str) -> bool:
    """Is `digest` the config hash of an approved version of `task`? (What may write a protected env.)"""
    with transaction(engine_of(catalog)) as conn:
        row = conn.execute(select(_V.c.id).where(_V.c.task == task, _V.c.config_hash == digest,
                                                 _V.c.status == "approved").limit(1)).first()
    return row is not None
