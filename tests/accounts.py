"""Real accounts for tests: the same calls as `formcast user add/grant` (argon2, grants, audit).

Tests that run workflow functions act as a principal of a real account, like the CLI, the UI and the
scheduler. `as_principal` skips the password check (argon2 costs ~0.3 s here) - the sign-in itself is
tested in tests/security.
"""

from __future__ import annotations

from typing import Any

from app.security import accounts, identity
from app.security.identity import Principal

PASSWORD = "correct-horse-battery"
# The grants `ensure_account` gives by default: enough for each role to do its job everywhere.
DEFAULT_GRANTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "viewer": (("read", "*", "*"),),
    "developer": (("read", "*", "*"), ("write", "*", "dev"), ("deploy", "*", "*")),
    "approver": (("read", "*", "*"), ("write", "*", "dev"), ("deploy", "*", "*"), ("approve", "*", "*")),
    "operator": (("read", "*", "*"), ("operate", "*", "*")),
    "admin": (),
}


def admin(catalog: Any, name: str = "admin") -> Principal:
    """The catalog's first admin (created if it has no account yet)."""
    if not accounts.has_accounts(catalog):
        accounts.bootstrap_admin(catalog, name, password=PASSWORD, where="test")
    return as_principal(catalog, name)


def as_principal(catalog: Any, name: str) -> Principal:
    """The principal of an existing account, as a sign-in would return it."""
    found = accounts.account(catalog, name)
    assert found is not None, name
    return identity.principal_of(found, "test").at("test")


def sign_in(catalog: Any, name: str, password: str = PASSWORD, kind: str = "login") -> Principal:
    return accounts.sign_in(catalog, name, password, where="test", kind=kind)[0]


def ensure_account(catalog: Any, name: str, role: str, grants: tuple[tuple[str, str, str], ...] | None = None,
                   *, kind: str = "user") -> Principal:
    """An account with `role` and grants ((privilege, namespace, env), ...), signed in (a token for services)."""
    boss = admin(catalog)
    if accounts.account(catalog, name) is None:
        accounts.add(catalog, boss, name, role, kind=kind, password=PASSWORD if kind == "user" else None)
    for privilege, namespace, env in DEFAULT_GRANTS[role] if grants is None else grants:
        accounts.grant(catalog, boss, name, privilege, namespace, env=env)
    return as_principal(catalog, name)


def token(catalog: Any, actor: Principal, name: str | None = None) -> str:
    """A fresh API token (its text) for `name` (default: the actor itself)."""
    return accounts.create_token(catalog, actor, name or actor.name, label="test").secret


def session(catalog: Any, name: str) -> str:
    """A UI sign-in session token for an existing account (what the sign-in page stores in session state)."""
    from catalog.db import engine_of, transaction

    found = accounts.account(catalog, name)
    assert found is not None, name
    with transaction(engine_of(catalog), write=True) as conn:
        return identity.issue(conn, found, "session", "test session", identity.lifetime("session")).secret
