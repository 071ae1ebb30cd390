"""`formcast catalog ...`: register, import and inspect logical tables."""

from __future__ import annotations

import json
import sys

import click

from app.cli.common import EXIT_INVALID, open_catalog, signed_in


@click.group("catalog")
def catalog_group() -> None:
    """Register, import and inspect logical tables."""


@catalog_group.command("add")
@click.argument("file", type=click.Path(dir_okay=False))
def catalog_add(file: str) -> None:
    """Register the tables defined in a JSON or YAML FILE."""
    from app.workflow import access
    from catalog.errors import CatalogError
    from catalog.loader import load_table_specs

    try:
        specs = load_table_specs(file)
        with open_catalog() as store:
            access.register_tables(store, signed_in(store), specs)
    except CatalogError as err:
        click.echo(str(err), err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"registered {len(specs)} table(s): {', '.join(s.name for s in specs)}")


@catalog_group.command("infer")
@click.argument("path", type=click.Path())
@click.option("--name", required=True, metavar="NS.TABLE", help="Logical name to register.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "json"]), default=None)
def catalog_infer(path: str, name: str, fmt: str | None) -> None:
    """Infer a table's schema from a data file or folder at PATH and register it."""
    from app.workflow import access
    from catalog.errors import CatalogError
    from catalog.infer import infer_table

    try:
        spec = infer_table(path, name, format=fmt)
        with open_catalog() as store:
            access.register_tables(store, signed_in(store), [spec])
    except CatalogError as err:
        click.echo(str(err), err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"registered {spec.name} ({len(spec.columns)} columns"
               + (f", partitioned by {', '.join(spec.partition_by)}" if spec.partition_by else "") + ")")


@catalog_group.command("reflect")
@click.argument("url")
@click.option("--schema", "db_schema", default=None, help="Database schema to reflect.")
@click.option("--namespace", default=None, help="Logical namespace (default: the schema or database name).")
def catalog_reflect(url: str, db_schema: str | None, namespace: str | None) -> None:
    """Register every table of the database at URL (any SQLAlchemy URL)."""
    from app.workflow import access
    from catalog.errors import CatalogError
    from catalog.reflect import reflect_database

    try:
        specs = reflect_database(url, schema=db_schema, namespace=namespace)
        specs = specs[0] if isinstance(specs, tuple) else specs
        with open_catalog() as store:
            access.register_tables(store, signed_in(store), specs)
    except CatalogError as err:
        click.echo(str(err), err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"registered {len(specs)} table(s): {', '.join(s.name for s in specs)}")


@catalog_group.command("list")
@click.option("--namespace", default=None)
@click.option("--search", default=None, help="Match names, descriptions and column names.")
def catalog_list(namespace: str | None, search: str | None) -> None:
    """List registered tables."""
    with open_catalog() as store:
        signed_in(store)
        for spec in store.list_tables(namespace=namespace, search=search):
            envs = sorted({f"{e}/{v}" for e, envs in spec.bindings.items() for v in envs})
            click.echo(f"{spec.name:<36} {len(spec.columns):>3} cols  {' '.join(envs)}")


@catalog_group.command("show")
@click.argument("name")
def catalog_show(name: str) -> None:
    """Show one table's definition as JSON."""
    with open_catalog() as store:
        signed_in(store)
        spec = store.get_table(name)
        if spec is None:
            from generators.expressions import suggest

            hint = suggest(name, store.table_names())
            click.echo(f"table '{name}' is not in the catalog" + (f"; {hint}" if hint else ""), err=True)
            sys.exit(EXIT_INVALID)
    click.echo(json.dumps(spec.model_dump(mode="json", exclude_defaults=True), indent=2))
