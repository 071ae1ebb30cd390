"""The audit log: who did what, when, to which version, from where, and whether it was allowed.

Append-only in the catalog database (`sec_audit`; the migration's triggers refuse UPDATE and
DELETE). Recorded: sign-in and sign-out (also failed ones), deploys, approvals, rollbacks, runs,
backfills, reruns, account, token and grant changes, and every denied action. A change and its
audit entry commit together when the caller passes its open connection to `record`.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from app.security.identity import Principal
from catalog.base import utcnow
from catalog.db import engine_of, transaction
from catalog.security import sec_audit

_L = sec_audit
OUTCOMES = ("ok", "denied", "failed")
# The actions the log knows, for filters and documentation (anything else is recorded as given).
ACTIONS = (
    "sign-in", "sign-out", "login", "logout",
    "account.add", "account.disable", "account.enable", "account.role", "account.password",
    "token.create", "token.revoke", "grant", "revoke",
    "deploy", "approve", "rollback", "run", "preview", "compile", "backfill", "rerun", "stop", "scheduler",
    "catalog.register", "lineage.index",
)


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    origin: str
    env: str | None = None
    version_hash: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def origin(interface: str, where: str | None = None) -> str:
    """Where a request comes from: `cli alice@host pid 123`, `ui 10.0.0.7`, `scheduler host pid 9`."""
    if where:
        return f"{interface} {where}"[:255]
    try:
        user = os.getlogin()
    except OSError:
        import getpass

        user = getpass.getuser()
    return f"{interface} {user}@{socket.gethostname()} pid {os.getpid()}"[:255]


def _values(actor: Principal | str, action: str, target: str, outcome: str, env: str | None,
            version_hash: str | None, detail: str | dict[str, Any] | None, where: str | None) -> dict[str, Any]:
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if isinstance(actor, Principal):
        name, actor_id, place = actor.name, actor.account_id, where or actor.origin
    else:
        name, actor_id, place = str(actor)[:64] or "-", None, where
    if isinstance(detail, dict):
        detail = json.dumps(detail, sort_keys=True, default=str)
    return {"at": utcnow(), "actor": name, "actor_id": actor_id, "action": action[:32], "target": str(target)[:255],
            "env": env, "version_hash": version_hash, "outcome": outcome, "detail": detail,
            "origin": (place or "unknown")[:255]}


def record(catalog_or_conn: Any, actor: Principal | str, action: str, target: str, *, outcome: str = "ok",
           env: str | None = None, version_hash: str | None = None, detail: str | dict[str, Any] | None = None,
           where: str | None = None) -> None:
    """Append one entry. With a Connection it joins the caller's transaction (the change and its entry
    commit together); with a catalog it commits on its own."""
    values = _values(actor, action, target, outcome, env, version_hash, detail, where)
    if isinstance(catalog_or_conn, Connection):
        catalog_or_conn.execute(insert(_L).values(**values))
        return
    with transaction(engine_of(catalog_or_conn), write=True) as conn:
        conn.execute(insert(_L).values(**values))


def _entry(row: Any) -> Entry:
    return Entry(id=row.id, at=row.at, actor=row.actor, action=row.action, target=row.target, outcome=row.outcome,
                 origin=row.origin, env=row.env, version_hash=row.version_hash, detail=row.detail)


def entries(catalog: Any, *, actor: str | None = None, action: str | None = None, since: datetime | None = None,
            outcome: str | None = None, target: str | None = None, limit: int = 200) -> list[Entry]:
    """Newest first. `action` matches a whole action or a prefix ending in '.', e.g. 'account.'."""
    query = select(_L)
    if actor:
        query = query.where(_L.c.actor == actor)
    if action:
        query = query.where(_L.c.action.startswith(action) if action.endswith(".") else _L.c.action == action)
    if since is not None:
        query = query.where(_L.c.at >= since)
    if outcome:
        query = query.where(_L.c.outcome == outcome)
    if target:
        query = query.where(_L.c.target.contains(target, autoescape=True))
    with transaction(engine_of(catalog)) as conn:
        return [_entry(r) for r in conn.execute(query.order_by(_L.c.id.desc()).limit(limit))]


def format_entries(items: Iterable[Entry]) -> list[str]:
    lines = []
    for e in items:
        extra = " ".join(x for x in (f"env={e.env}" if e.env else "",
                                      f"hash={e.version_hash[:12]}" if e.version_hash else "") if x)
        lines.append(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.actor:<12} {e.action:<16} {e.outcome:<6} {e.target}"
                     + (f"  {extra}" if extra else "") + f"  [{e.origin}]" + (f"  {e.detail}" if e.detail else ""))
    return lines
