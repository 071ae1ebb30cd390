"""What every `formcast` command module shares: exit codes, opening the catalog, loading a task, and who
is at the keyboard (the signed-in principal).

A principal comes from `FORMCAST_TOKEN`, else from the token `formcast login` saved for this catalog
(`app.security.credentials`); never from a typed name. Refusals (policy, identity, credentials) are
turned into a message and exit code 1 by `SecureGroup`, once for every command.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
TOKEN_ENV = "FORMCAST_TOKEN"


def open_catalog() -> Any:
    """The catalog from FORMCAST_DB_URL / FORMCAST_HOME; a bad URL is a clear error, not a traceback."""
    from catalog.errors import CatalogError
    from catalog.store import Catalog

    try:
        return Catalog.open()
    except CatalogError as err:
        raise click.ClickException(str(err)) from None


def load_task_or_exit(path: str) -> Any:
    """The task in a JSON config, or every located problem on stderr and exit code 1."""
    from generators.diagnostics import format_diagnostics
    from generators.loading import load_task_file

    task, problems = load_task_file(path)
    if task is None:
        click.echo(f"{path}: the task config is invalid", err=True)
        click.echo(format_diagnostics(problems), err=True)
        sys.exit(EXIT_INVALID)
    return task


# --- who is signed in -----------------------------------------------------------------------------


def cli_origin() -> str:
    from app.security import audit

    return audit.origin("cli")


def saved_token(store: Any) -> str | None:
    from app.security import credentials

    return credentials.load(store.url)


def signed_in(store: Any) -> Any:
    """The principal of FORMCAST_TOKEN or of this catalog's saved login; exit 1 saying how to sign in."""
    from app.security import accounts

    token = os.environ.get(TOKEN_ENV, "").strip() or saved_token(store)
    if not token:
        if not accounts.has_accounts(store):
            fail("this catalog has no accounts yet: create the first admin with "
                 "`formcast user add NAME --role admin`, then `formcast login`")
        fail(f"not signed in to {store.url}: run `formcast login` (or set {TOKEN_ENV} to an API token)")
    return accounts.authenticate(store, token, where=cli_origin())


def fail(message: str, code: int = EXIT_INVALID) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class SecureGroup(click.Group):
    """A click group that turns refusals into `denied: ...` / `error: ...` and exit code 1 (no traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        from app.security.credentials import CredentialsError
        from app.security.identity import AuthenticationError, IdentityError
        from app.security.passwords import PasswordError
        from app.security.policy import AccessDenied

        try:
            return super().invoke(ctx)
        except AccessDenied as err:
            click.echo(f"denied: {err}", err=True)
            ctx.exit(EXIT_INVALID)
        except AuthenticationError as err:
            click.echo(f"error: not signed in: {err} (formcast login, or set {TOKEN_ENV})", err=True)
            ctx.exit(EXIT_INVALID)
        except (IdentityError, PasswordError, CredentialsError) as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(EXIT_INVALID)


def refuse_typed_identity(flag: str) -> Any:
    """A hidden --author/--by that explains why a typed name is no longer accepted (exit 2)."""

    def callback(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None:
            raise click.BadParameter("a typed name is not an identity: the author or approver is the signed-in "
                                     "account (formcast whoami); sign in as that account with formcast login, "
                                     f"or set {TOKEN_ENV}", param_hint=flag)
        return value

    return click.option(flag, "typed_identity_" + flag.strip("-"), hidden=True, expose_value=False, default=None,
                        callback=callback)
