"""What the policy is asked before an engine touches data, and what the audit log keeps of a run.

The decisions are `app.security.policy`'s; this module only gathers the facts a run has: the tables
it reads, the table it writes, the environment, and whether its config is an approved version of its
task (the only kind of config that may write a protected environment).
"""

from __future__ import annotations

from typing import Any

from app.security import audit, policy
from app.security.identity import Principal
from app.workflow.versions import is_approved_config
from generators.compile import CompiledTask, config_hash
from generators.tasks import Task


def sources_of(compiled: CompiledTask) -> list[str]:
    return sorted({s.logical.lower() for s in compiled.sources})


def check_read(catalog: Any, principal: Principal | None, task: Task, compiled: CompiledTask, *,
               action: str = "preview") -> None:
    """`read` on every source in the compile's env (compile, validate, preview); AccessDenied if not."""
    policy.require_all(catalog, principal, "read", sources_of(compiled), compiled.env, audit_action=action,
                       audit_target=f"task {task.name}", version_hash=config_hash(task))


def check_run(catalog: Any, principal: Principal | None, task: Task, compiled: CompiledTask) -> None:
    """A run that writes: `read` on its sources, and `write` on its target in the env (in a protected env
    only an approved version's config, by an account that may operate there)."""
    digest = config_hash(task)
    check_read(catalog, principal, task, compiled, action="run")
    env = compiled.env
    deployed = is_approved_config(catalog, task.name, digest)
    policy.require(catalog, principal, "write", task.target.table.lower(), env, deployed=deployed,
                   audit_action="run", audit_target=f"task {task.name}", version_hash=digest)


def record_run(catalog: Any, principal: Principal, task: Task, env: str, result: Any) -> None:
    """The run's outcome in the audit log (who ran which config where, and the run id)."""
    outcome = "ok" if result.status == "succeeded" else "failed"
    detail: dict[str, Any] = {"run": result.run_id, "status": result.status, "target": task.target.table.lower()}
    if result.rows_written is not None:
        detail["rows"] = result.rows_written
    if result.error:
        detail["error"] = str(result.error)[:500]
    audit.record(catalog, principal, "run", f"task {task.name}", outcome=outcome, env=env,
                 version_hash=config_hash(task), detail=detail)


def register_tables(catalog: Any, principal: Principal | None, specs: list[Any]) -> None:
    """Register table definitions as `principal`: each binding's env is authorized (`register`: write for dev,
    deploy for a protected env such as prod), all before anything is stored; recorded in the audit log."""
    for spec in specs:
        envs = sorted({env for by_env in spec.bindings.values() for env in by_env}) or ["dev"]
        for env in envs:
            policy.require(catalog, principal, "register", spec.name, env, audit_action="catalog.register",
                           audit_target=f"table {spec.name}")
    catalog.register_many(specs)
    names = [s.name for s in specs]
    audit.record(catalog, principal, "catalog.register", f"tables {', '.join(names)}"[:255],
                 detail={"tables": names})
