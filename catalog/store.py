"""The catalog store: TableSpecs and task runs persisted in SQLite, PostgreSQL or MariaDB.

Writes are single transactions (a failed `register` leaves the previous definition); reads that
the compile pipeline makes (`get_table`) are served from an in-memory cache that this instance
invalidates on its own writes. Other processes' writes become visible after `refresh()`.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from pydantic import ValidationError
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from catalog import lineage as _lineage
from catalog.base import COLUMN_NAME_LEN, NAME_LEN, RUN_STATUSES, utcnow
from catalog.errors import CatalogError, Problem, problems_from_validation
from catalog.isolation import registration_problems
from catalog.lineage import LineageEdge, LineageGraph, TaskLineage, Walk
from catalog.models import BindingRow, ColumnRow, RunRow, TableRow
from catalog.spec import TableSpec

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
URL_HELP = (
    "a catalog URL looks like sqlite:///path/to/catalog.db, "
    "postgresql+psycopg://user@host:5432/dbname or mysql+pymysql://user@host:3306/dbname"
)
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_SQLITE_BUSY_TIMEOUT_S = 30

_T = TableRow.__table__
_C = ColumnRow.__table__
_B = BindingRow.__table__
_R = RunRow.__table__


@dataclass(frozen=True)
class RunRecord:
    """One task run as recorded in the catalog; times are timezone-aware UTC."""

    id: str
    task: str
    config_hash: str
    engine: str
    env: str
    logical_date: str | None
    status: str
    started_at: datetime
    ended_at: datetime | None = None
    rows_written: int | None = None
    error: str | None = None
    target: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_seconds(self) -> float | None:
        return (self.ended_at - self.started_at).total_seconds() if self.ended_at else None


# --- URL and engine --------------------------------------------------------------------------


def default_url() -> str:
    """`FORMCAST_DB_URL`, else a SQLite file in `FORMCAST_HOME` (default ./.formcast), created if needed."""
    env_url = os.environ.get("FORMCAST_DB_URL", "").strip()
    if env_url:
        return env_url
    home = Path(os.environ.get("FORMCAST_HOME", "").strip() or ".formcast")
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home.resolve() / 'catalog.db'}"


def resolve_url(url: str | URL | None) -> URL:
    """Parse and check a catalog URL; bare `postgresql://` / `mysql://` get the bundled drivers."""
    raw = default_url() if url is None else url
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError) as err:
        raise CatalogError(f"{str(raw)!r} is not a database URL: {URL_HELP}") from err
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise CatalogError(f"unsupported catalog database '{backend}': {URL_HELP}")
    if parsed.drivername in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS[parsed.drivername])
    try:
        parsed.get_dialect()
    except NoSuchModuleError as err:
        raise CatalogError(f"unknown database driver '{parsed.drivername}': {URL_HELP}") from err
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=os.path.expanduser(parsed.database))  # SQLite itself would not
        parent = Path(parsed.database).resolve().parent
        if not parent.is_dir():
            raise CatalogError(f"cannot create the catalog database: directory {parent} does not exist")
    elif backend != "sqlite" and not parsed.database:
        raise CatalogError(f"{parsed.render_as_string()}: the URL names no database: {URL_HELP}")
    return parsed


def _enable_wal(cursor: Any) -> None:
    """WAL lets readers run beside the writer. Switching to it needs a moment of exclusive access, which
    SQLite refuses at once (no busy wait) while another new connection is switching too: retry briefly."""
    import sqlite3
    import time

    for attempt in range(50):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or attempt == 49:
                raise
            time.sleep(0.02 * (attempt + 1))


def create_catalog_engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_recycle=3600)
    engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy (not pysqlite) emit BEGIN, so DDL and migrations are transactional too.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a read-then-write transaction cannot deadlock
        # against another writer (SQLite would fail it with "database is locked" at once).
        write = conn.get_execution_options().get("formcast_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


# --- Migrations ------------------------------------------------------------------------------


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code: no alembic.ini; migrations run on `connection` if given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))  # ConfigParser syntax
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def migrate(connection: Connection, revision: str = "head") -> None:
    """Upgrade the catalog schema to `revision` on `connection`, inside the caller's transaction.

    MariaDB commits DDL implicitly, so there a failed migration is not rolled back.
    """
    current = current_revision(connection)
    script = ScriptDirectory.from_config(alembic_config())
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError as err:
            raise CatalogError(
                f"the catalog database is at schema revision '{current}', which this version of "
                "Formcast does not know: upgrade Formcast or use another catalog"
            ) from err
    if revision == "head" and current == script.get_current_head():
        return
    command.upgrade(alembic_config(connection), revision)


def _upgrade_on_open(conn: Connection) -> None:
    """Migrate to head in one transaction, serialised against other processes opening the catalog.

    MariaDB's named lock is per session, so it is taken before and released after the transaction:
    releasing it before COMMIT would let the next opener see the old revision.
    """
    conn.execution_options(formcast_write=True)  # SQLite: BEGIN IMMEDIATE serialises openers
    backend = conn.dialect.name
    lock_name = f"formcast_migrate_{conn.engine.url.database}"[:64]
    if backend in ("mysql", "mariadb"):
        got = conn.execute(text("SELECT GET_LOCK(:n, 120)"), {"n": lock_name}).scalar()
        conn.commit()
        if got != 1:
            raise CatalogError("timed out waiting for another process that is upgrading the catalog schema")
    try:
        with conn.begin():
            if backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(7324001)"))  # released at commit
            migrate(conn)
    finally:
        if backend in ("mysql", "mariadb"):
            conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": lock_name})
            conn.commit()


# --- Spec <-> rows ---------------------------------------------------------------------------


def _table_values(spec: TableSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "namespace": spec.namespace,
        "description": spec.description,
        "owner": spec.owner,
        "primary_key": list(spec.primary_key),
        "partition_by": list(spec.partition_by),
        "event_time": spec.event_time.model_dump(mode="json") if spec.event_time else None,
    }


def _child_rows(table_id: int, spec: TableSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    columns = [
        {
            "table_id": table_id,
            "position": i,
            "name": c.name,
            "type": c.type,
            "nullable": c.nullable,
            "description": c.description,
        }
        for i, c in enumerate(spec.columns)
    ]
    bindings = [
        {
            "table_id": table_id,
            "engine": engine,
            "env": env,
            "kind": binding.kind,
            "properties": binding.model_dump(mode="json", exclude={"kind"}),
        }
        for engine, envs in spec.bindings.items()
        for env, binding in envs.items()
    ]
    return columns, bindings


def _check_lengths(spec: TableSpec) -> list[Problem]:
    """Limits of the database columns that TableSpec itself does not impose."""
    problems = []
    if len(spec.name) > NAME_LEN:
        problems.append(Problem("name", f"is {len(spec.name)} characters; at most {NAME_LEN} are stored"))
    if len(spec.owner) > NAME_LEN:
        problems.append(Problem("owner", f"is {len(spec.owner)} characters; at most {NAME_LEN} are stored"))
    for i, column in enumerate(spec.columns):
        if len(column.name) > COLUMN_NAME_LEN:
            problems.append(Problem(f"columns[{i}].name", f"at most {COLUMN_NAME_LEN} characters"))
    return problems


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """Keep IN lists well under every driver's parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _ids_by_name(conn: Connection, names: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(names):
        rows = conn.execute(select(_T.c.name, _T.c.id).where(_T.c.name.in_(chunk)))
        found.update((row.name, row.id) for row in rows)
    return found


def _write_specs(conn: Connection, specs: list[TableSpec], replace: bool) -> None:
    """Insert or replace `specs` with a handful of bulk statements, not several per table."""
    ids = _ids_by_name(conn, [spec.name for spec in specs])
    if ids and not replace:
        names = ", ".join(sorted(ids))
        raise CatalogError(f"already registered: {names} (register with replace=True to overwrite)")
    if ids:
        now = utcnow()
        conn.execute(
            update(TableRow).where(_T.c.id == bindparam("b_id")),
            [{**_table_values(s), "updated_at": now, "b_id": ids[s.name]} for s in specs if s.name in ids],
        )
        for chunk in _chunks(list(ids.values())):
            conn.execute(delete(ColumnRow).where(_C.c.table_id.in_(chunk)))
            conn.execute(delete(BindingRow).where(_B.c.table_id.in_(chunk)))
    new = [spec for spec in specs if spec.name not in ids]
    if new:
        conn.execute(insert(TableRow), [_table_values(spec) for spec in new])
        ids.update(_ids_by_name(conn, [spec.name for spec in new]))
    columns: list[dict[str, Any]] = []
    bindings: list[dict[str, Any]] = []
    for spec in specs:
        spec_columns, spec_bindings = _child_rows(ids[spec.name], spec)
        columns += spec_columns
        bindings += spec_bindings
    conn.execute(insert(ColumnRow), columns)
    if bindings:
        conn.execute(insert(BindingRow), bindings)


def _load_specs(conn: Connection, where: Any = None) -> list[TableSpec]:
    """Tables matching `where` (a condition on the tables table) in three queries, ordered by name."""
    query = select(_T).order_by(_T.c.name)
    column_query = select(_C).order_by(_C.c.table_id, _C.c.position)
    binding_query = select(_B).order_by(_B.c.table_id, _B.c.engine, _B.c.env)
    if where is not None:
        ids = select(_T.c.id).where(where)
        query = query.where(where)
        column_query = column_query.where(_C.c.table_id.in_(ids))
        binding_query = binding_query.where(_B.c.table_id.in_(ids))
    tables = conn.execute(query).all()
    if not tables:
        return []
    columns: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(column_query):
        columns[row.table_id].append(
            {"name": row.name, "type": row.type, "nullable": row.nullable, "description": row.description}
        )
    bindings: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in conn.execute(binding_query):
        bindings[row.table_id].setdefault(row.engine, {})[row.env] = {"kind": row.kind, **row.properties}
    specs = []
    for row in tables:
        data = {
            "name": row.name,
            "description": row.description,
            "owner": row.owner,
            "columns": columns[row.id],
            "primary_key": row.primary_key,
            "partition_by": row.partition_by,
            "event_time": row.event_time,
            "bindings": bindings[row.id],
        }
        try:
            specs.append(TableSpec.model_validate(data))
        except ValidationError as err:  # written by another version with other rules
            raise CatalogError(
                "stored definition is no longer valid", problems_from_validation(err, data), source=row.name
            ) from err
    return specs


def _iso(value: date | datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


def _run_record(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id,
        task=row.task,
        config_hash=row.config_hash,
        engine=row.engine,
        env=row.env,
        logical_date=row.logical_date,
        status=row.status,
        started_at=row.started_at,
        ended_at=row.ended_at,
        rows_written=row.rows_written,
        error=row.error,
        target=row.target,
        details=dict(row.details or {}),
    )


# --- The store -------------------------------------------------------------------------------


class Catalog:
    """Registered tables and recorded runs. Open with `Catalog.open()`; use as a context manager.

    TableSpecs returned by reads are shared with the cache: treat them as read-only.
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._cache: dict[str, TableSpec | None] = {}
        self._cache_complete = False  # after load_all(): a name not in the cache does not exist...
        self._stale: set[str] = set()  # ...unless this instance wrote it since
        self._closed = False

    @classmethod
    def open(cls, url: str | None = None) -> Catalog:
        """Connect and upgrade the schema to the newest revision (one transaction)."""
        parsed = resolve_url(url)
        engine = create_catalog_engine(parsed)
        catalog = cls(engine)
        try:
            with catalog._errors(), engine.connect() as conn:
                _upgrade_on_open(conn)
        except BaseException:
            engine.dispose()
            raise
        return catalog

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @property
    def engine(self) -> Engine:
        """The database engine: versions, scheduler state and audit share the catalog's database."""
        return self._engine

    def __repr__(self) -> str:
        return f"Catalog({self.url!r})"

    def close(self) -> None:
        self._closed = True
        self._engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Unreachable server, locked file, lost race on a unique name: say so, no traceback."""
        try:
            yield
        except DBAPIError as err:
            reason = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
            raise CatalogError(f"{self.url}: database error: {reason}") from err

    @contextmanager
    def _transaction(self, write: bool = False) -> Iterator[Connection]:
        if self._closed:
            raise CatalogError(f"{self.url}: the catalog is closed")
        with self._errors(), self._engine.connect() as conn:
            if write:
                conn.execution_options(formcast_write=True)
            with conn.begin():
                yield conn

    # --- tables ---

    def register(self, spec: TableSpec, *, replace: bool = True) -> None:
        """Store `spec` (replacing the definition of the same name unless replace=False)."""
        self.register_many([spec], replace=replace)

    def register_many(self, specs: Iterable[TableSpec], *, replace: bool = True) -> None:
        """Store all `specs` in one transaction: either all are registered or none is."""
        specs = list(specs)
        problems: list[Problem] = []
        seen: set[str] = set()
        for i, spec in enumerate(specs):
            if not isinstance(spec, TableSpec):
                raise TypeError(f"register expects TableSpec, got {type(spec).__name__}")
            prefix = f"tables[{i}]" if len(specs) > 1 else ""
            if spec.name in seen:
                problems.append(Problem(prefix or "name", f"table '{spec.name}' is given twice"))
            seen.add(spec.name)
            for p in _check_lengths(spec):
                problems.append(Problem(f"{prefix}.{p.path}" if prefix else p.path, p.message))
        if problems:
            raise CatalogError("cannot register", problems)
        try:
            with self._transaction(write=True) as conn:
                # Isolation is checked against what is stored inside the same write transaction, so two
                # registrations cannot each pass against the other's old state.
                existing = {spec.name: spec for spec in _load_specs(conn)}
                reaching = registration_problems(specs, existing)
                if reaching:
                    raise CatalogError("cannot register: a binding outside prod reaches a prod location", reaching)
                _write_specs(conn, specs, replace)
        finally:
            # Reload on next read rather than cache the caller's object, which it may still mutate.
            self._invalidate(spec.name for spec in specs)

    def get_table(self, name: str) -> TableSpec | None:
        """The table called `name` (case-insensitive), or None. Cached: the compile hot path."""
        key = name.strip().lower()
        if key in self._cache:
            return self._cache[key]
        if self._cache_complete and key not in self._stale:
            return None
        with self._transaction() as conn:
            found = _load_specs(conn, _T.c.name == key)
        spec = found[0] if found else None
        self._cache[key] = spec
        self._stale.discard(key)
        return spec

    def load_all(self) -> dict[str, TableSpec]:
        """Every table by name, in three queries; also fills the `get_table` cache."""
        with self._transaction() as conn:
            specs = _load_specs(conn)
        tables = {spec.name: spec for spec in specs}
        self._cache = dict(tables)
        self._cache_complete = True
        self._stale = set()
        return tables

    def table_names(self) -> list[str]:
        with self._transaction() as conn:
            return list(conn.execute(select(_T.c.name).order_by(_T.c.name)).scalars())

    def list_tables(self, namespace: str | None = None, search: str | None = None) -> list[TableSpec]:
        """Tables in `namespace` whose name, description or a column name contains `search`."""
        conditions = []
        if namespace:
            conditions.append(_T.c.namespace == namespace.strip().lower())
        if search and search.strip():
            term = search.strip()
            in_columns = select(_C.c.table_id).where(_C.c.name.icontains(term, autoescape=True))
            conditions.append(
                or_(
                    _T.c.name.icontains(term, autoescape=True),
                    _T.c.description.icontains(term, autoescape=True),
                    _T.c.id.in_(in_columns),
                )
            )
        where = and_(*conditions) if conditions else None
        with self._transaction() as conn:
            return _load_specs(conn, where)

    def drop_table(self, name: str) -> bool:
        """Remove a table with its columns and bindings; False if it was not registered."""
        key = name.strip().lower()
        try:
            with self._transaction(write=True) as conn:
                return conn.execute(delete(TableRow).where(_T.c.name == key)).rowcount > 0
        finally:
            self._invalidate([key])

    def refresh(self) -> None:
        """Forget cached tables, e.g. to see what another process registered."""
        self._forget_cache()

    def _forget_cache(self) -> None:
        self._cache = {}
        self._cache_complete = False
        self._stale = set()

    def _invalidate(self, names: Iterable[str]) -> None:
        for name in names:
            self._cache.pop(name, None)
            self._stale.add(name)

    # --- runs ---

    def start_run(
        self,
        task: str,
        config_hash: str,
        engine: str,
        env: str,
        logical_date: date | datetime | str | None = None,
        target: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
    ) -> str:
        """Record a run as 'running'; returns its id (a uuid4 string)."""
        run_id = str(uuid.uuid4())
        with self._transaction(write=True) as conn:
            conn.execute(
                insert(RunRow).values(
                    id=run_id,
                    task=task,
                    config_hash=config_hash,
                    engine=engine,
                    env=env,
                    logical_date=_iso(logical_date),
                    status="running",
                    started_at=utcnow(),
                    target=target,
                    details=dict(details or {}),
                )
            )
        return run_id

    def finish_run(
        self,
        run_id: str,
        status: str,
        rows_written: int | None = None,
        error: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Close a running run; `details` are merged into those given at start."""
        final = [s for s in RUN_STATUSES if s != "running"]
        if status not in final:
            raise CatalogError(f"run status '{status}' is not valid: use {', '.join(final)}")
        with self._transaction(write=True) as conn:
            row = conn.execute(select(_R.c.status, _R.c.details).where(_R.c.id == run_id)).first()
            if row is None:
                raise CatalogError(f"no run with id '{run_id}'")
            if row.status != "running":
                raise CatalogError(f"run '{run_id}' already finished with status '{row.status}'")
            conn.execute(
                update(RunRow)
                .where(_R.c.id == run_id)
                .values(
                    status=status,
                    ended_at=utcnow(),
                    rows_written=rows_written,
                    error=error,
                    details={**(row.details or {}), **(details or {})},
                )
            )

    def runs(self, task: str | None = None, limit: int = 50, *, status: str | None = None) -> list[RunRecord]:
        """The most recent runs first, optionally of one task and/or with one status."""
        query = select(_R).order_by(_R.c.started_at.desc(), _R.c.id).limit(limit)
        if task is not None:
            query = query.where(_R.c.task == task)
        if status is not None:
            query = query.where(_R.c.status == status)
        with self._transaction() as conn:
            return [_run_record(row) for row in conn.execute(query)]

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._transaction() as conn:
            row = conn.execute(select(_R).where(_R.c.id == run_id)).first()
        return _run_record(row) if row else None

    # --- lineage ---

    def save_lineage(self, lineage: TaskLineage) -> None:
        """Store `lineage` as its task's current version, in one transaction; older versions are kept."""
        with self._transaction(write=True) as conn:
            _lineage.save(conn, lineage)

    def lineage(self, task: str, config_hash: str | None = None) -> TaskLineage | None:
        """The current lineage of `task` (or its version `config_hash`), edges included; None if not stored."""
        current = None if config_hash else True
        with self._transaction() as conn:
            found = [t for t in _lineage.load_tasks(conn, task=task, current=current)
                     if config_hash is None or t.config_hash == config_hash]
            if not found:
                return None
            found[0].edges = _lineage.load_edges(conn, task=task, config_hash=found[0].config_hash, current=None)
        return found[0]

    def lineage_tasks(self, current: bool | None = True, task: str | None = None) -> list[TaskLineage]:
        """Task versions (without edges): current ones by default, all with current=None."""
        with self._transaction() as conn:
            return _lineage.load_tasks(conn, task=task, current=current)

    def lineage_edges(self, current: bool | None = True, task: str | None = None) -> list[LineageEdge]:
        with self._transaction() as conn:
            return _lineage.load_edges(conn, task=task, current=current)

    def lineage_graph(self) -> LineageGraph:
        """Every task's current lineage, in one read transaction (what impact analysis walks)."""
        with self._transaction() as conn:
            tasks = _lineage.load_tasks(conn)
            edges = _lineage.load_edges(conn)
        return LineageGraph({t.task: t for t in tasks}, edges)

    def writers_of(self, table: str) -> list[str]:
        """Tasks whose current version writes `table`: upstream, per logical date, of its readers."""
        return self.lineage_graph().writers_of(table)

    def readers_of(self, table: str, *, include_self: bool = False) -> list[str]:
        """Tasks whose current version reads `table` (a task merging into its own target only with include_self)."""
        return self.lineage_graph().readers_of(table, include_self=include_self)

    def upstream(self, table: str, column: str | None = None, depth: int | None = None) -> Walk:
        """What `table` (or `table.column`) derives from, across tasks, `depth` task hops deep (None: all)."""
        return self.lineage_graph().upstream(table, column, depth)

    def downstream(self, table: str, column: str | None = None, depth: int | None = None) -> Walk:
        """What derives from `table` (or `table.column`), across tasks."""
        return self.lineage_graph().downstream(table, column, depth)
