"""`formcast login/logout/whoami`, `formcast user ...`, `formcast grant/revoke/grants`, `formcast audit`.

Thin: parse flags, call `app.security.accounts` (which asks the policy and writes the audit log), print.
Passwords are prompted (hidden) or read from stdin with --password-stdin; they are never flags.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from app.cli.common import TOKEN_ENV, cli_origin, fail, open_catalog, signed_in
from catalog.security import PRIVILEGES, ROLES

_password_stdin = click.option("--password-stdin", is_flag=True,
                               help="Read the password from the first line of stdin instead of prompting.")


def _read_password(from_stdin: bool, prompt: str, confirm: bool = False) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            fail("--password-stdin: stdin is empty")
        return line.rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


# --- login / logout / whoami ------------------------------------------------------------------------


@click.command()
@click.option("--user", "name", default=None, help="Account name (prompted when missing).")
@click.option("--days", type=click.IntRange(1, 90), default=30, show_default=True, help="Days the login lasts.")
@_password_stdin
def login(name: str | None, days: int, password_stdin: bool) -> None:
    """Sign the CLI in to this catalog: the token is saved 0600 under your config dir ($XDG_CONFIG_HOME/formcast)."""
    from app.security import accounts, credentials

    with open_catalog() as store:
        if not accounts.has_accounts(store):
            fail("this catalog has no accounts yet: create the first admin with `formcast user add NAME --role admin`")
        name = name or click.prompt("Account")
        password = _read_password(password_stdin, "Password")
        previous = credentials.load(store.url)
        principal, issued = accounts.sign_in(store, name, password, where=cli_origin(), kind="login",
                                             label=f"formcast login ({cli_origin()})", days=days)
        path = credentials.save(store.url, issued.secret, principal.name)
        if previous and previous != issued.secret:  # the login it replaces stops working too
            accounts.discard_login(store, previous, where=cli_origin())
    click.echo(f"signed in to {store.url} as {principal.name} ({principal.role}) until "
               f"{_when(issued.info.expires_at)} UTC; token saved in {path}")
    if os.environ.get(TOKEN_ENV):
        click.echo(f"note: {TOKEN_ENV} is set and takes precedence over this login", err=True)


@click.command()
def logout() -> None:
    """Revoke and forget this catalog's saved login."""
    from app.security import accounts, credentials

    with open_catalog() as store:
        token = credentials.forget(store.url)
        if token is None:
            click.echo(f"not signed in to {store.url}")
            return
        accounts.discard_login(store, token, where=cli_origin())  # expired or revoked: forgetting it is enough
    click.echo(f"signed out of {store.url}")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def whoami(fmt: str) -> None:
    """Who the CLI acts as here, and that account's grants."""
    from app.security import policy

    with open_catalog() as store:
        principal = signed_in(store)
        grants = policy.grants(store, principal.name)
    if fmt == "json":
        click.echo(json.dumps({"account": principal.name, "role": principal.role, "kind": principal.kind,
                               "via": principal.via, "token": principal.token_id,
                               "grants": [{"privilege": g.privilege, "namespace": g.namespace, "table": g.table,
                                           "env": g.env} for g in grants]}, indent=2))
        return
    click.echo(f"{principal.name} ({principal.role}{', service account' if principal.kind == 'service' else ''}) "
               f"via {principal.via} {principal.token_id or ''} on {store.url}".rstrip())
    if principal.role == "admin":
        click.echo("  admin: every privilege everywhere (still not: approving your own change, writing a protected "
                   "env from an undeployed config)")
    for g in grants:
        click.echo(f"  {g.privilege:<8} {g.scope}")


# --- accounts ----------------------------------------------------------------------------------------


@click.group("user")
def user_group() -> None:
    """Accounts and their API tokens (admins manage others; anyone manages their own tokens)."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--service", is_flag=True, help="A service account (automation, the scheduler): tokens only.")
@click.option("--email", default=None, help="Matches the identity provider's email at single sign-on.")
@click.option("--set-password", is_flag=True, help="Choose the password (prompted) instead of a generated one.")
@_password_stdin
def user_add(name: str, role: str, service: bool, email: str | None, set_password: bool, password_stdin: bool
             ) -> None:
    """Create an account. The first account of a catalog must be an admin, and needs no sign-in."""
    from app.security import accounts

    with open_catalog() as store:
        password = (_read_password(password_stdin, "Password", confirm=True)
                    if (set_password or password_stdin) and not service else None)
        if not accounts.has_accounts(store):
            if role != "admin" or service:
                fail("the first account of a catalog is a user with --role admin")
            created, secret = accounts.bootstrap_admin(store, name, password=password, email=email,
                                                       where=cli_origin())
        else:
            principal = signed_in(store)
            created, secret = accounts.add(store, principal, name, role, kind="service" if service else "user",
                                           email=email, password=password)
    click.echo(f"created {created.kind} account {created.name} ({created.role})")
    if secret and password is None:
        click.echo(f"password (shown once): {secret}")
    if service:
        click.echo(f"it signs in with a token: formcast user token create {created.name}")
    elif created.role != "admin":
        click.echo(f"it has no grants yet: formcast grant {created.name} PRIVILEGE NAMESPACE [--env ENV]")


@user_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def user_list(fmt: str) -> None:
    """List accounts with their role and state."""
    from app.security import accounts

    with open_catalog() as store:
        found = accounts.list_accounts(store, signed_in(store))
    if fmt == "json":
        click.echo(json.dumps([{"name": a.name, "role": a.role, "kind": a.kind, "disabled": a.disabled,
                                "email": a.email, "created_at": a.created_at.isoformat(),
                                "created_by": a.created_by} for a in found], indent=2))
        return
    for a in found:
        click.echo(f"{a.name:<16} {a.role:<10} {a.kind:<8} {'disabled' if a.disabled else 'active':<9} "
                   f"{a.email or '-':<28} created {_when(a.created_at)} by {a.created_by}")


@user_group.command("disable")
@click.argument("name")
def user_disable(name: str) -> None:
    """Disable an account: it cannot sign in, and every token and session of it stops working at once."""
    from app.security import accounts

    with open_catalog() as store:
        _, revoked = accounts.set_disabled(store, signed_in(store), name, True)
    click.echo(f"disabled {name}; {revoked} token(s) revoked")


@user_group.command("enable")
@click.argument("name")
def user_enable(name: str) -> None:
    """Enable a disabled account again (its old tokens stay revoked)."""
    from app.security import accounts

    with open_catalog() as store:
        accounts.set_disabled(store, signed_in(store), name, False)
    click.echo(f"enabled {name}")


@user_group.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
def user_role(name: str, role: str) -> None:
    """Change an account's role (grants the new role cannot hold are removed)."""
    from app.security import accounts

    with open_catalog() as store:
        _, removed = accounts.set_role(store, signed_in(store), name, role)
    click.echo(f"{name} is now a {role}" + (f"; {removed} grant(s) it can no longer hold removed" if removed else ""))


@user_group.command("password")
@click.argument("name", required=False)
@click.option("--generate", is_flag=True, help="Admin reset: generate the new password and print it once.")
@_password_stdin
def user_password(name: str | None, generate: bool, password_stdin: bool) -> None:
    """Change your password (asks for the current one), or reset another account's as an admin."""
    from app.security import accounts

    with open_catalog() as store:
        principal = signed_in(store)
        name = name or principal.name
        current = None
        if name == principal.name:
            if generate:
                fail("--generate is for resetting another account's password")
            current = _read_password(password_stdin, "Current password")
        new = None if generate else _read_password(password_stdin, "New password", confirm=not password_stdin)
        secret = accounts.set_password(store, principal, name, new, current=current)
    click.echo(f"password of {name} changed; its sessions and logins elsewhere were signed out")
    if generate:
        click.echo(f"new password (shown once): {secret}")


@user_group.group("token")
def token_group() -> None:
    """API tokens: for automation and the scheduler (FORMCAST_TOKEN). Shown once, stored hashed, expiring."""


@token_group.command("create")
@click.argument("name", required=False)
@click.option("--label", default="", help="What the token is for (shown in listings and the audit log).")
@click.option("--days", type=click.IntRange(1, 366), default=90, show_default=True, help="Days until it expires.")
def token_create(name: str | None, label: str, days: int) -> None:
    """Create an API token for yourself, or (admin) for NAME, e.g. a service account."""
    from app.security import accounts

    with open_catalog() as store:
        principal = signed_in(store)
        issued = accounts.create_token(store, principal, name or principal.name, label=label, days=days)
    click.echo(f"token {issued.info.token_id} for {issued.info.account}, expires {_when(issued.info.expires_at)} UTC")
    click.echo("shown once; use it as FORMCAST_TOKEN:")
    click.echo(issued.secret)


@token_group.command("list")
@click.argument("name", required=False)
@click.option("--all", "everyone", is_flag=True, help="Every account's tokens (admin).")
def token_list(name: str | None, everyone: bool) -> None:
    """Your API and login tokens (admin: NAME's, or --all)."""
    from app.security import accounts

    with open_catalog() as store:
        principal = signed_in(store)
        found = accounts.list_tokens(store, principal, "*" if everyone else name)
    for t in found:
        click.echo(f"{t.token_id}  {t.account:<14} {t.kind:<6} {t.state():<8} expires {_when(t.expires_at)}  "
                   f"last used {_when(t.last_used_at)}  {t.label}")


@token_group.command("revoke")
@click.argument("token")
def token_revoke(token: str) -> None:
    """Revoke a token by its id (or the whole token text): it stops working at once."""
    from app.security import accounts

    with open_catalog() as store:
        info = accounts.revoke_token(store, signed_in(store), token)
    click.echo(f"token {info.token_id} of {info.account} revoked")


# --- grants ------------------------------------------------------------------------------------------


def _grant_options(func: Any) -> Any:
    func = click.option("--env", default="*", show_default=True, help="Environment (dev, prod, ...) or *.")(func)
    func = click.option("--table", default="*", show_default=True, help="One table of the namespace, or *.")(func)
    func = click.argument("namespace")(func)
    func = click.argument("privilege", type=click.Choice(PRIVILEGES))(func)
    return click.argument("name")(func)


@click.command()
@_grant_options
def grant(name: str, privilege: str, namespace: str, table: str, env: str) -> None:
    """Give NAME a PRIVILEGE on NAMESPACE (or * for all) [--table T] [--env E] (admin)."""
    from app.security import accounts

    with open_catalog() as store:
        added = accounts.grant(store, signed_in(store), name, privilege, namespace, table=table, env=env)
    scope = f"{namespace}.{table} in {'every env' if env == '*' else env}"
    click.echo(f"granted {privilege} on {scope} to {name}" if added else f"{name} already had {privilege} on {scope}")


@click.command()
@_grant_options
def revoke(name: str, privilege: str, namespace: str, table: str, env: str) -> None:
    """Take a grant back (the exact grant: same namespace, table and env) (admin)."""
    from app.security import accounts

    with open_catalog() as store:
        removed = accounts.revoke(store, signed_in(store), name, privilege, namespace, table=table, env=env)
    scope = f"{namespace}.{table} in {'every env' if env == '*' else env}"
    if not removed:
        fail(f"{name} has no grant of {privilege} on {scope} (formcast grants {name} lists them)")
    click.echo(f"revoked {privilege} on {scope} from {name}")


@click.command("grants")
@click.argument("name", required=False)
def grants_command(name: str | None) -> None:
    """List grants (of NAME, or of everyone)."""
    from app.security import policy

    with open_catalog() as store:
        signed_in(store)
        found = policy.grants(store, name)
    for g in found:
        click.echo(f"{g.account:<16} {g.privilege:<8} {g.scope:<32} by {g.granted_by} {_when(g.granted_at)}")


# --- audit -------------------------------------------------------------------------------------------

_AGO = re.compile(r"(\d+)([mhd])")


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    match = _AGO.fullmatch(value.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return datetime.now(UTC) - timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is neither a duration (30m, 24h, 7d) nor a date (2024-06-01 or "
                                 "2024-06-01T08:00)", param_hint="--since") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.command("audit")
@click.option("--user", "actor", default=None, help="Only this account's entries.")
@click.option("--action", default=None, help="deploy, approve, run, grant, sign-in, ... or a prefix like account.")
@click.option("--outcome", type=click.Choice(["ok", "denied", "failed"]), default=None)
@click.option("--since", default=None, metavar="7d|24h|DATE", help="Entries since a duration ago or a date (UTC).")
@click.option("--limit", type=click.IntRange(1, 100000), default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def audit_command(actor: str | None, action: str | None, outcome: str | None, since: str | None, limit: int,
                  fmt: str) -> None:
    """The audit log, newest first: who did what, when, which version, from where (admins see everyone's)."""
    from app.security import audit, policy

    start = _since(since)
    with open_catalog() as store:
        principal = signed_in(store)
        scope = policy.audit_scope(store, principal)
        if scope is not None and actor not in (None, scope):
            fail(f"{principal.name} may read its own audit entries only (admins read everyone's)")
        found = audit.entries(store, actor=scope or actor, action=action, since=start, outcome=outcome, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([e.as_dict() for e in found], indent=2))
        return
    for line in audit.format_entries(found):
        click.echo(line)


COMMANDS = (login, logout, whoami, user_group, grant, revoke, grants_command, audit_command)
