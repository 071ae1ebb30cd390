"""What every `formcast` command module shares: exit codes, opening the catalog, loading a task."""

from __future__ import annotations

import sys
from typing import Any

import click

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


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
