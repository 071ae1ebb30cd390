"""Import table definitions from a live database (PostgreSQL, MySQL/MariaDB, SQLite) via SQLAlchemy.

Each reflected table gets JDBC bindings for Spark and Flink in `dev`. Passwords never go into a
binding: when the URL carries one, the binding names an environment variable instead.
"""

from __future__ import annotations

import logging
import re
import warnings as pywarnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import create_engine, inspect
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SAWarning, SQLAlchemyError

from catalog.errors import CatalogError, problems_from_validation
from catalog.spec import TableSpec

log = logging.getLogger("formcast.catalog.reflect")

_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_JDBC_DRIVERS = {
    "postgresql": "org.postgresql.Driver",
    "mysql": "com.mysql.cj.jdbc.Driver",
    "mariadb": "com.mysql.cj.jdbc.Driver",
    "sqlite": "org.sqlite.JDBC",
}
# Types with no Spark equivalent that read fine as text: no warning for these.
_STRING_LIKE = {"INET", "CIDR", "MACADDR", "MACADDR8", "CITEXT", "TSVECTOR", "XML"}


def sanitize_name(value: str, fallback: str = "db") -> str:
    """A name part usable in `namespace.table`: lower-case `[a-z_][a-z0-9_]*`."""
    name = re.sub(r"[^a-z0-9_]+", "_", value.lower()).strip("_")
    if not name:
        return fallback
    return f"_{name}" if name[0].isdigit() else name


def sqlalchemy_to_spark(sa_type: Any, dialect: str = "") -> str:
    """Spark SQL spelling of a reflected column type; ValueError if there is no sensible one."""
    if isinstance(sa_type, sqltypes.ARRAY):
        return f"array<{sqlalchemy_to_spark(sa_type.item_type, dialect)}>"
    if isinstance(sa_type, sqltypes.Boolean):
        return "boolean"
    if isinstance(sa_type, sqltypes.Integer):
        # SQLite stores every INTEGER as up to 8 bytes, whatever the declared name.
        return "bigint" if dialect == "sqlite" else _integer(sa_type)
    if isinstance(sa_type, sqltypes.Float):  # before Numeric: Float subclasses it
        return _float(sa_type, dialect)
    if isinstance(sa_type, sqltypes.Numeric):
        if sa_type.precision is None:
            return "decimal(38,18)"  # unconstrained NUMERIC, as Spark's JDBC source reads it
        if sa_type.precision > 38:
            raise ValueError(f"{sa_type} exceeds Spark's maximum decimal precision of 38")
        return f"decimal({sa_type.precision},{sa_type.scale or 0})"
    if isinstance(sa_type, sqltypes.DateTime):
        return "timestamp"
    if isinstance(sa_type, sqltypes.Date):
        return "date"
    if isinstance(sa_type, sqltypes.String | sqltypes.Uuid | sqltypes.JSON | sqltypes.Enum):
        return "string"
    if isinstance(sa_type, sqltypes._Binary):
        return "binary"
    if isinstance(sa_type, sqltypes.Time | sqltypes.Interval):
        return "string"  # Spark has no time-of-day or interval column type
    if type(sa_type).__name__.upper() in _STRING_LIKE:
        return "string"
    raise ValueError(f"no Spark type for {type(sa_type).__name__}")


def _float(sa_type: Any, dialect: str) -> str:
    if isinstance(sa_type, sqltypes.Double):
        return "double"
    # 4-byte floats: PostgreSQL REAL, MySQL FLOAT, FLOAT(p) with p <= 24. SQLite's and MySQL's REAL are 8.
    if dialect == "postgresql" and isinstance(sa_type, sqltypes.REAL):
        return "float"
    if dialect in ("mysql", "mariadb") and type(sa_type).__name__ == "FLOAT" and sa_type.precision is None:
        return "float"
    return "float" if sa_type.precision is not None and sa_type.precision <= 24 else "double"


def _integer(sa_type: Any) -> str:
    name = type(sa_type).__name__.upper()
    unsigned = bool(getattr(sa_type, "unsigned", False))
    if name == "TINYINT":
        if getattr(sa_type, "display_width", None) == 1:
            return "boolean"  # MySQL's BOOLEAN; Spark's JDBC source reads tinyint(1) the same way
        return "smallint" if unsigned else "tinyint"
    if isinstance(sa_type, sqltypes.BigInteger):
        return "decimal(20,0)" if unsigned else "bigint"
    if isinstance(sa_type, sqltypes.SmallInteger):
        return "int" if unsigned else "smallint"
    return "bigint" if unsigned else "int"


def jdbc_binding(
    url: URL, table: str, schema: str | None = None, password_env: str | None = None
) -> dict[str, Any]:
    """A JdbcBinding (as a dict) for `table` in the database `url` points at; never with a password."""
    backend = url.get_backend_name()
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    if backend == "postgresql":
        jdbc_url = f"jdbc:postgresql://{host}{port}/{url.database or ''}"
    elif backend in ("mysql", "mariadb"):
        jdbc_url = f"jdbc:mysql://{host}{port}/{url.database or ''}"
    elif backend == "sqlite":
        database = url.database or ":memory:"
        path = database if database == ":memory:" else str(Path(database).expanduser().resolve())
        jdbc_url = f"jdbc:sqlite:{path}"
    else:
        jdbc_url = f"jdbc:{backend}://{host}{port}/{url.database or ''}"
    qualified = ".".join(_db_identifier(part, backend) for part in ((schema, table) if schema else (table,)))
    binding: dict[str, Any] = {"kind": "jdbc", "url": jdbc_url, "table": qualified}
    if url.username:
        binding["user"] = url.username
    if password_env:
        binding["password_env"] = password_env
    if backend in _JDBC_DRIVERS:
        binding["driver"] = _JDBC_DRIVERS[backend]
    return binding


def _db_identifier(name: str, backend: str) -> str:
    """A name as the database reads it: plain when it is an identifier, else quoted (`Line Items`)."""
    if re.match(r"^[A-Za-z_][A-Za-z0-9_$]*$", name):
        return name
    quote = "`" if backend in ("mysql", "mariadb") else '"'
    return f"{quote}{name.replace(quote, quote * 2)}{quote}"


def _parse_url(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as err:
        raise CatalogError(
            f"{str(url)!r} is not a database URL: use e.g. postgresql+psycopg://user@host:5432/db, "
            "mysql+pymysql://user@host:3306/db or sqlite:///path/to/file.db"
        ) from err
    if parsed.drivername in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS[parsed.drivername])
    return parsed


def _default_namespace(url: URL, schema: str | None) -> str:
    if schema:
        return sanitize_name(schema)
    database = url.database or ""
    if url.get_backend_name() == "sqlite":
        database = Path(database).stem if database not in ("", ":memory:") else "main"
    return sanitize_name(database)


def _warn(collected: list[str] | None, message: str) -> None:
    log.warning("%s", message)
    if collected is not None:
        collected.append(message)


def reflect_database(
    url: str | URL,
    *,
    schema: str | None = None,
    namespace: str | None = None,
    tables: Iterable[str] | None = None,
    password_env: str | None = None,
    warnings: list[str] | None = None,
) -> list[TableSpec]:
    """TableSpecs for the tables of a database (optionally one `schema`, optionally only `tables`).

    Unmappable column types become `string`; each such case is logged and appended to `warnings`
    when a list is given. `password_env` overrides the variable named in bindings when the URL has
    a password (default FORMCAST_<NAMESPACE>_PASSWORD).
    """
    parsed = _parse_url(url)
    shown = parsed.render_as_string(hide_password=True)
    ns = sanitize_name(namespace) if namespace else _default_namespace(parsed, schema)
    if parsed.password and not password_env:
        password_env = f"FORMCAST_{ns.upper()}_PASSWORD"
    try:
        engine = create_engine(parsed)
    except (ArgumentError, NoSuchModuleError) as err:
        raise CatalogError(f"cannot use {shown}: {err}") from err
    try:
        with engine.connect() as conn, pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore", SAWarning)  # "did not recognize type": reported below
            inspector = inspect(conn)
            available = inspector.get_table_names(schema=schema)
            selected = _select(available, tables, shown)
            raw = [(name, _reflect_table(inspector, name, schema)) for name in selected]
    except SQLAlchemyError as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise CatalogError(f"cannot reflect {shown}: {reason}") from err
    finally:
        engine.dispose()
    return _build_specs(raw, parsed, schema, ns, password_env, warnings)


def _select(available: list[str], wanted: Iterable[str] | None, shown: str) -> list[str]:
    if wanted is None:
        return sorted(available)
    by_lower = {name.lower(): name for name in available}
    wanted = list(wanted)
    missing = [w for w in wanted if w not in available and w.lower() not in by_lower]
    if missing:
        have = ", ".join(sorted(available)) or "none"
        raise CatalogError(f"{shown}: no table {', '.join(missing)}; tables there: {have}")
    return [w if w in available else by_lower[w.lower()] for w in wanted]


def _reflect_table(inspector: Any, name: str, schema: str | None) -> dict[str, Any]:
    try:
        comment = inspector.get_table_comment(name, schema=schema).get("text") or ""
    except NotImplementedError:  # SQLite keeps no comments
        comment = ""
    return {
        "columns": inspector.get_columns(name, schema=schema),
        "primary_key": inspector.get_pk_constraint(name, schema=schema).get("constrained_columns") or [],
        "comment": comment,
    }


def _build_specs(
    raw: list[tuple[str, dict[str, Any]]],
    url: URL,
    schema: str | None,
    namespace: str,
    password_env: str | None,
    warnings: list[str] | None,
) -> list[TableSpec]:
    specs = []
    used: set[str] = set()
    for table, info in raw:
        short = sanitize_name(table, fallback="table")
        if short in used:  # e.g. "Users" and "users" in PostgreSQL
            base, n = short, 2
            while f"{base}_{n}" in used:
                n += 1
            short = f"{base}_{n}"
            _warn(warnings, f"{table}: registered as {namespace}.{short} (name taken)")
        used.add(short)
        primary_key = list(info["primary_key"])
        columns = []
        for col in info["columns"]:
            try:
                spark_type = sqlalchemy_to_spark(col["type"], url.get_backend_name())
            except ValueError as err:
                _warn(warnings, f"{table}.{col['name']}: typed as string ({err})")
                spark_type = "string"
            columns.append(
                {
                    "name": col["name"],
                    "type": spark_type,
                    "nullable": bool(col.get("nullable", True)) and col["name"] not in primary_key,
                    "description": col.get("comment") or "",
                }
            )
        binding = jdbc_binding(url, table, schema, password_env)
        data = {
            "name": f"{namespace}.{short}",
            "description": info["comment"],
            "columns": columns,
            "primary_key": primary_key,
            "bindings": {"spark": {"dev": binding}, "flink": {"dev": dict(binding)}},
        }
        try:
            specs.append(TableSpec.model_validate(data))
        except ValidationError as err:
            raise CatalogError("", problems_from_validation(err, data), source=f"table {table}") from err
    return specs
