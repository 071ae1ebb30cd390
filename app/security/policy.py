"""The one place that answers "may this account do this?": roles, grants and `authorize`.

Every CLI command, UI page and the scheduler asks `authorize` (or `require`, which also records a
denial in the audit log and raises `AccessDenied`). Nothing else decides access.

Roles say what an account may ever do; grants say where. A grant is
(account, privilege, namespace, table, env), each of namespace/table/env may be '*'.

| role      | privileges it may be granted        |
| --------- | ----------------------------------- |
| viewer    | read                                |
| developer | read, write, deploy                 |
| approver  | read, write, deploy, approve        |
| operator  | read, operate                       |
| admin     | everything, without grants          |

Actions and what they need (resource: `ns.table` or `ns`; env: an environment name). Without a
resource, the question is "may this role ever do it" (starting the scheduler, showing a button):

* `view`       any enabled account (metadata, lineage, versions, run history)
* `edit`       a role that writes (developer, approver, admin): saving drafts, indexing lineage
* `read`       `read` on the resource in env: compile, validate, preview, review (per source table)
* `write`      a run writing the resource in env. In `dev`: `write` (or, for a deployed config,
               `operate`: a scheduler running in dev). In any other (protected) environment: only a
               deployed (approved) config, and `operate` there. Nobody, admin included, writes prod
               from an undeployed config.
* `deploy`     `deploy` on the target in env (prod): store a version, roll back
* `approve`    the approver or admin role, `approve` on the target in env, and not the version's
               author (compared by account). Where the table's owner must approve (`owner=`), and
               the owner names an account, only that account or an admin.
* `operate`    `operate` on the resource in env: backfills, reruns, stopping runs, the scheduler
* `register`   define a table: `write` for its dev bindings, `deploy` for protected ones
* `stop`       stop a running job: `write` on its target in dev, `operate` in a protected env
* `administer` admin: accounts, tokens of others, grants, the whole audit log

`write` is never granted in a protected environment, and `approve`/`operate` only to roles that
have them: `grant` refuses what the role cannot hold. A denial names the missing grant and the
admins who can give it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select

from app.security import audit
from app.security.identity import Account, IdentityError, Principal, find, find_by_id
from catalog.base import utcnow
from catalog.db import engine_of, transaction
from catalog.security import PRIVILEGES, ROLES, sec_accounts, sec_grants

_G, _A = sec_grants, sec_accounts
ANY = "*"
DEV_ENVS = frozenset({"dev"})  # every other environment is protected (prod-like); deliberately not configurable
ROLE_PRIVILEGES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "developer": frozenset({"read", "write", "deploy"}),
    "approver": frozenset({"read", "write", "deploy", "approve"}),
    "operator": frozenset({"read", "operate"}),
    "admin": frozenset(PRIVILEGES),
}
ACTIONS = ("view", "edit", "read", "write", "deploy", "approve", "operate", "register", "stop", "administer")
_ROLE_LEVEL = {"register": "write", "stop": "write"}  # the privilege a role needs for these, resource unknown


class AccessDenied(Exception):
    """A policy refusal; `str()` is the message for the user (which grant is missing, who can give it)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.message)
        self.decision = decision


@dataclass(frozen=True)
class Grant:
    account: str
    privilege: str
    namespace: str
    table: str
    env: str
    granted_by: str
    granted_at: datetime

    @property
    def scope(self) -> str:
        return _scope(self.namespace, self.table, self.env)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    account: str
    action: str
    resource: str
    env: str | None
    reason: str  # why (allowed: which rule; denied: the sentence shown to the user)
    missing: str | None = None  # e.g. "deploy on shop.* in prod"
    grantors: tuple[str, ...] = ()  # who can give what is missing
    fix: str | None = None  # the command that would give it

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def message(self) -> str:
        if self.allowed:
            return self.reason
        parts = [self.reason]
        if self.missing:
            who = ", ".join(self.grantors) or "an admin"
            parts.append(f"missing grant: {self.missing}; {who} can give it" + (f" ({self.fix})" if self.fix else ""))
        return "; ".join(parts)


def article(role: str) -> str:
    """'an operator', 'a viewer'."""
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


def is_protected(env: str) -> bool:
    return env not in DEV_ENVS


def _scope(namespace: str, table: str, env: str) -> str:
    where = f"{namespace}.{table}" if namespace != ANY else ("*" if table == ANY else f"*.{table}")
    return f"{where} in {'every env' if env == ANY else env}"


def split(resource: str) -> tuple[str, str]:
    """`ns.table` -> (ns, table); `ns` -> (ns, '*')."""
    namespace, _, table = resource.lower().partition(".")
    return namespace or ANY, table or ANY


# --- grants ----------------------------------------------------------------------------------------


def _grant(row: Any) -> Grant:
    return Grant(account=row.name, privilege=row.privilege, namespace=row.namespace, table=row.table_name,
                 env=row.env, granted_by=row.granted_by, granted_at=row.granted_at)


def check_grant(account: Account, privilege: str, namespace: str, table: str, env: str) -> None:
    """Refuse a grant the account's role cannot hold, with what would be valid."""
    if privilege not in PRIVILEGES:
        raise IdentityError(f"privilege {privilege!r} is not one of {', '.join(PRIVILEGES)}")
    if account.role == "admin":
        raise IdentityError(f"{account.name} is an admin: admins need no grants")
    allowed = ROLE_PRIVILEGES[account.role]
    if privilege not in allowed:
        holders = [r for r in ROLES if privilege in ROLE_PRIVILEGES[r] and r != "admin"]
        raise IdentityError(f"{account.name} is {article(account.role)}, which may hold {', '.join(sorted(allowed))}: "
                            f"{privilege} needs the role {' or '.join(holders)} (formcast user role "
                            f"{account.name} {holders[-1]})")
    if privilege == "write" and (env == ANY or is_protected(env)):
        raise IdentityError(f"write is granted in {', '.join(sorted(DEV_ENVS))} only (--env dev): a protected "
                            "environment is written by operators and the scheduler running deployed versions")
    for label, value in (("namespace", namespace), ("table", table), ("env", env)):
        if value != ANY and not (value.replace("_", "").isalnum() and value.isascii() and len(value) <= 128):
            raise IdentityError(f"{label} {value!r} is not a name (letters, digits, '_') or '*'")


def add_grant(conn: Connection, account: Account, privilege: str, namespace: str, table: str, env: str, by: str
              ) -> bool:
    """Store a grant; False when it already existed."""
    namespace, table, env = namespace.lower(), table.lower(), env.lower()
    check_grant(account, privilege, namespace, table, env)
    exists = conn.execute(select(_G.c.id).where(
        _G.c.account_id == account.id, _G.c.privilege == privilege, _G.c.namespace == namespace,
        _G.c.table_name == table, _G.c.env == env)).first()
    if exists:
        return False
    conn.execute(insert(_G).values(account_id=account.id, privilege=privilege, namespace=namespace, table_name=table,
                                   env=env, granted_by=by, granted_at=utcnow()))
    return True


def remove_grant(conn: Connection, account: Account, privilege: str, namespace: str, table: str, env: str) -> bool:
    done = conn.execute(delete(_G).where(
        _G.c.account_id == account.id, _G.c.privilege == privilege, _G.c.namespace == namespace.lower(),
        _G.c.table_name == table.lower(), _G.c.env == env.lower()))
    return bool(done.rowcount)


def grants(catalog_or_conn: Any, account: str | None = None) -> list[Grant]:
    query = select(_G, _A.c.name).join(_A, _A.c.id == _G.c.account_id)
    if account is not None:
        query = query.where(_A.c.name == account)
    query = query.order_by(_A.c.name, _G.c.namespace, _G.c.table_name, _G.c.env, _G.c.privilege)
    if isinstance(catalog_or_conn, Connection):
        return [_grant(r) for r in catalog_or_conn.execute(query)]
    with transaction(engine_of(catalog_or_conn)) as conn:
        return [_grant(r) for r in conn.execute(query)]


def _has_grant(conn: Connection, account_id: int, privilege: str, namespace: str, table: str, env: str) -> bool:
    row = conn.execute(select(_G.c.id).where(and_(
        _G.c.account_id == account_id, _G.c.privilege == privilege,
        _G.c.namespace.in_([namespace, ANY]), _G.c.table_name.in_([table, ANY]), _G.c.env.in_([env, ANY]),
    )).limit(1)).first()
    return row is not None


def admins(conn: Connection) -> tuple[str, ...]:
    rows = conn.execute(select(_A.c.name).where(_A.c.role == "admin", _A.c.disabled.is_(False), _A.c.kind == "user")
                        .order_by(_A.c.name))
    return tuple(r.name for r in rows)


# --- the decision ----------------------------------------------------------------------------------


def authorize(catalog_or_conn: Any, principal: Principal | None, action: str, resource: str | None = None,
              env: str | None = None, *, deployed: bool = False, author: str | None = None,
              owner: str | None = None) -> Decision:
    """May `principal` do `action` on `resource` (`ns.table` or `ns`) in `env`? Reads nothing but accounts
    and grants, writes nothing. Facts the caller knows: `deployed` (the config is an approved version of
    its task), `author` (account name of the version to approve), `owner` (the table owner whose approval
    is needed)."""
    if isinstance(catalog_or_conn, Connection):
        return _decide(catalog_or_conn, principal, action, resource, env, deployed, author, owner)
    with transaction(engine_of(catalog_or_conn)) as conn:
        return _decide(conn, principal, action, resource, env, deployed, author, owner)


def _decide(conn: Connection, principal: Principal | None, action: str, resource: str | None, env: str | None,
            deployed: bool, author: str | None, owner: str | None) -> Decision:
    target = resource or "-"
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")

    def deny(reason: str, privilege: str | None = None, scope_env: str | None = None, who: str | None = None
             ) -> Decision:
        missing = fix = None
        if privilege is not None and resource is not None:
            namespace = split(resource)[0]  # grants are usually given per namespace; a table grant also works
            grant_env = scope_env or env or ANY
            missing = f"{privilege} on {_scope(namespace, ANY, grant_env)}"
            fix = f"formcast grant {who or name} {privilege} {namespace}" + (
                "" if grant_env == ANY else f" --env {grant_env}")
        return Decision(False, name, action, target, env, reason, missing, admins(conn) if missing else (), fix)

    name = principal.name if principal is not None else "-"
    if principal is None:
        return Decision(False, name, action, target, env, "not signed in")
    account = find_by_id(conn, principal.account_id)
    if account is None or account.name != principal.name:
        return Decision(False, name, action, target, env, f"account {name} does not exist")
    if account.disabled:
        return Decision(False, name, action, target, env, f"account {name} is disabled")
    role = account.role  # as it is now, not as it was at sign-in
    admin = role == "admin"
    held = ROLE_PRIVILEGES[role]
    where = f"{target}" + (f" in {env}" if env else "")

    if action == "view":
        return Decision(True, name, action, target, env, "any signed-in account may view")
    if action == "administer":
        if admin:
            return Decision(True, name, action, target, env, "admin")
        return Decision(False, name, action, target, env,
                        f"{name} ({role}) may not manage accounts, tokens of others or grants: that needs the admin "
                        f"role ({', '.join(admins(conn)) or 'an admin'} can do it)")
    if action == "edit":
        if "write" in held:
            return Decision(True, name, action, target, env, f"{role} may edit")
        return Decision(False, name, action, target, env,
                        f"{name} is {article(role)}: editing tasks needs the developer, approver or admin role")
    if resource is None:  # "could this account ever do it?" (starting the scheduler, showing a control)
        privilege = _ROLE_LEVEL.get(action, action)
        if privilege in held:
            return Decision(True, name, action, target, env, f"a {role} may {action}")
        holders = " or ".join(r for r in ROLES if privilege in ROLE_PRIVILEGES[r])
        return Decision(False, name, action, target, env,
                        f"{name} is {article(role)}: {action} needs the {holders} role "
                        f"({', '.join(admins(conn)) or 'an admin'} can change it: formcast user role {name} ROLE)")
    if env is None:
        raise ValueError(f"action {action!r} on {resource} needs an env")

    namespace, table = split(resource)

    def granted(privilege: str, scope_env: str) -> bool:
        return admin or _has_grant(conn, account.id, privilege, namespace, table, scope_env)

    def needs(privilege: str, scope_env: str, what: str) -> Decision:
        if privilege not in held:
            holders = " or ".join(r for r in ROLES if privilege in ROLE_PRIVILEGES[r])
            return Decision(False, name, action, target, env,
                            f"{name} is {article(role)}: {what} needs the {holders} role "
                            f"({', '.join(admins(conn)) or 'an admin'} can change it: formcast user role {name} ROLE)")
        if granted(privilege, scope_env):
            return Decision(True, name, action, target, env, f"{privilege} granted on {resource} in {scope_env}")
        return deny(f"{name} may not {what}", privilege, scope_env)

    if action == "read":
        return needs("read", env, f"read {where}")
    if action == "write":
        if not is_protected(env):
            if deployed and "operate" in held and granted("operate", env):  # the scheduler running in dev
                return Decision(True, name, action, target, env, f"operate granted on {resource} in {env}")
            return needs("write", env, f"write {where}")
        if not deployed:
            return Decision(False, name, action, target, env,
                            f"{where} is protected: it is written only by a deployed version, run by the scheduler "
                            "or an operator (formcast deploy, then formcast backfill or the scheduler); this config "
                            "is not an approved version of its task")
        return needs("operate", env, f"run deployed versions writing {where}")
    if action == "deploy":
        return needs("deploy", env, f"deploy tasks writing {where}")
    if action == "operate":
        return needs("operate", env, f"operate {where} (backfills, reruns, scheduled runs)")
    if action == "register":
        return needs("deploy" if is_protected(env) else "write", env, f"define the {env} binding of {resource}")
    if action == "stop":
        return needs("operate" if is_protected(env) else "write", env, f"stop runs writing {where}")
    # approve
    if author is not None and author == name:
        return Decision(False, name, action, target, env,
                        f"{name} is the author of this version: it must be approved by another account "
                        "(a second token or session of the same account is the same account)")
    if owner is not None:
        owner_account = find(conn, owner)
        if owner_account is not None and not owner_account.disabled and owner != name and not admin:
            return Decision(False, name, action, target, env,
                            f"{resource} belongs to {owner}: only {owner} or an admin may approve a second writer "
                            "of it or a change that puts it at risk")
    return needs("approve", env, f"approve changes to {where}")


def authorize_all(catalog: Any, principal: Principal | None, action: str, resources: Iterable[str], env: str,
                  **facts: Any) -> Decision:
    """The first denial among `resources`, or the last permission (allowed when there are none)."""
    with transaction(engine_of(catalog)) as conn:
        decision = Decision(True, principal.name if principal else "-", action, "-", env, "nothing to check")
        for resource in dict.fromkeys(resources):
            decision = _decide(conn, principal, action, resource, env, facts.get("deployed", False),
                               facts.get("author"), facts.get("owner"))
            if not decision:
                return decision
        return decision


def require(catalog: Any, principal: Principal | None, action: str, resource: str | None = None,
            env: str | None = None, *, audit_action: str | None = None, audit_target: str | None = None,
            version_hash: str | None = None, **facts: Any) -> Decision:
    """`authorize`, and on a denial: record it in the audit log and raise AccessDenied.

    Call it outside your own write transaction (the denial is committed on its own)."""
    decision = authorize(catalog, principal, action, resource, env, **facts)
    if not decision:
        _record_denial(catalog, principal, decision, audit_action or action, audit_target, version_hash)
        raise AccessDenied(decision)
    return decision


def require_all(catalog: Any, principal: Principal | None, action: str, resources: Iterable[str], env: str, *,
                audit_action: str | None = None, audit_target: str | None = None, version_hash: str | None = None,
                **facts: Any) -> Decision:
    decision = authorize_all(catalog, principal, action, resources, env, **facts)
    if not decision:
        _record_denial(catalog, principal, decision, audit_action or action, audit_target, version_hash)
        raise AccessDenied(decision)
    return decision


def _record_denial(catalog: Any, principal: Principal | None, decision: Decision, action: str, target: str | None,
                   version_hash: str | None) -> None:
    audit.record(catalog, principal if principal is not None else "-", action, target or decision.resource,
                 outcome="denied", env=decision.env, version_hash=version_hash, detail=decision.message)


def audit_scope(catalog: Any, principal: Principal | None) -> str | None:
    """Whose audit entries `principal` may read: None for everyone's (admins), else its own name."""
    if authorize(catalog, principal, "administer"):
        return None
    if principal is None:
        raise AccessDenied(Decision(False, "-", "administer", "audit", None, "not signed in"))
    return principal.name
