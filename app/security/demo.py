"""The demo's accounts: one per role, with grants that let the README's story be tried.

* admin     — admin (created first; the CLI is signed in as it)
* alice     — developer: reads everything, writes `mart` in dev, deploys `mart` to prod (not `shop`, `app`, ...)
* bob       — approver: reads everything, writes dev, deploys and approves in prod
* oscar     — operator: reads everything, runs deployed versions, backfills and reruns, every env
* vera      — viewer: reads everything, changes nothing
* scheduler — service account (token only), operator: what `formcast scheduler` runs as in production

Passwords are random and printed once by `formcast demo` (and written 0600 to the workspace's
`demo-accounts.txt`, for the demo only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.security import accounts
from app.security.identity import Principal

ADMIN = "admin"
# name, role, kind, grants (privilege, namespace, env)
ACCOUNTS: tuple[tuple[str, str, str, tuple[tuple[str, str, str], ...]], ...] = (
    ("alice", "developer", "user", (("read", "*", "*"), ("write", "mart", "dev"), ("deploy", "mart", "prod"))),
    ("bob", "approver", "user", (("read", "*", "*"), ("write", "*", "dev"), ("deploy", "*", "prod"),
                                 ("approve", "*", "prod"))),
    ("oscar", "operator", "user", (("read", "*", "*"), ("operate", "*", "*"))),
    ("vera", "viewer", "user", (("read", "*", "*"),)),
    ("scheduler", "operator", "service", (("read", "*", "*"), ("operate", "*", "*"))),
)
CREDENTIALS_FILE = "demo-accounts.txt"


@dataclass
class DemoAccounts:
    passwords: dict[str, str] = field(default_factory=dict)  # accounts created now -> their password
    existing: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"  {name:<10} {password}" for name, password in self.passwords.items()]


def ensure(catalog: Any, actor: Principal) -> DemoAccounts:
    """Create the demo accounts that are missing and give every one its grants (idempotent)."""
    result = DemoAccounts()
    for name, role, kind, grants in ACCOUNTS:
        if accounts.account(catalog, name) is None:
            _, password = accounts.add(catalog, actor, name, role, kind=kind)
            if password:
                result.passwords[name] = password
        else:
            result.existing.append(name)
        for privilege, namespace, env in grants:
            accounts.grant(catalog, actor, name, privilege, namespace, env=env)
    return result


def write_credentials(home: Path, passwords: dict[str, str]) -> Path:
    """Append new demo passwords to `demo-accounts.txt` in the workspace, readable by its owner only."""
    file = home / CREDENTIALS_FILE
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        for name, password in passwords.items():
            out.write(f"{name} {password}\n")
    os.chmod(file, 0o600)
    return file
