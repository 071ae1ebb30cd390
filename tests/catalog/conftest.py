"""Catalog test fixtures: one catalog database per test on SQLite, PostgreSQL and MariaDB.

Server databases get a fresh schema (PostgreSQL) or database (MariaDB) per test, named after this
session, so concurrent test runs on the same servers never see each other; all are dropped after.
Server-backed tests skip with a reason when the server is unreachable.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from catalog.store import Catalog

SESSION = f"fc_{uuid.uuid4().hex[:10]}"
_counter = itertools.count(1)

# An environment variable replaces the defaults (the local servers trust `postgres` or `root`).
PG_URLS = (
    [os.environ["FORMCAST_TEST_PG_URL"]]
    if os.environ.get("FORMCAST_TEST_PG_URL")
    else [
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "postgresql+psycopg://root@127.0.0.1:5432/test",
    ]
)
MARIADB_URLS = [os.environ.get("FORMCAST_TEST_MARIADB_URL") or "mysql+pymysql://root@127.0.0.1:3306/test"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mariadb: needs the MariaDB server on 127.0.0.1:3306")


_SERVER_MARKS = {"postgresql": "postgres", "mariadb": "mariadb"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselection
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the server-backed variants of `scratch` tests (markers are added here, not at import:
    this conftest may be imported before its pytest_configure has registered `mariadb`)."""
    for item in items:
        backend = getattr(getattr(item, "callspec", None), "params", {}).get("scratch")
        if backend in _SERVER_MARKS:
            item.add_marker(_SERVER_MARKS[backend])


@dataclass
class Server:
    """An admin connection to a database server, or why there is none."""

    url: URL | None
    engine: sa.Engine | None
    reason: str = ""

    def require(self) -> tuple[URL, sa.Engine]:
        if self.url is None or self.engine is None:
            pytest.skip(self.reason)
        return self.url, self.engine


def _connect(candidates: list[str], connect_args: dict[str, object], label: str) -> Server:
    errors = []
    for raw in filter(None, candidates):
        url = make_url(raw)
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args=connect_args)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return Server(url, engine)
        except sa.exc.DBAPIError as err:
            errors.append(f"{url.render_as_string()}: {str(err.orig).strip().splitlines()[0]}")
            engine.dispose()
    return Server(None, None, f"{label} unreachable ({'; '.join(errors)})")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    server = _connect(PG_URLS, {"connect_timeout": 3}, "PostgreSQL")
    yield server
    if server.engine is not None:
        with server.engine.connect() as conn:  # leftovers of failed teardowns
            names = conn.execute(
                sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"), {"p": f"{SESSION}%"}
            ).scalars()
            for name in list(names):
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        server.engine.dispose()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[Server]:
    server = _connect(MARIADB_URLS, {"connect_timeout": 3}, "MariaDB")
    yield server
    if server.engine is not None:
        with server.engine.connect() as conn:
            for name in list(conn.execute(sa.text("SHOW DATABASES")).scalars()):
                if name.startswith(SESSION):
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.engine.dispose()


@dataclass
class ScratchDb:
    """A fresh, empty place for one test: `url` opens it, `schema` names it (None on SQLite)."""

    url: str
    schema: str | None
    backend: str


@pytest.fixture
def pg_scratch(pg_server: Server) -> Iterator[ScratchDb]:
    url, admin = pg_server.require()
    schema = f"{SESSION}_{next(_counter)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
    yield ScratchDb(scoped.render_as_string(hide_password=False), schema, "postgresql")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def mariadb_scratch(mariadb_server: Server) -> Iterator[ScratchDb]:
    url, admin = mariadb_server.require()
    database = f"{SESSION}_{next(_counter)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
    yield ScratchDb(url.set(database=database).render_as_string(hide_password=False), database, "mariadb")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{database}`"))


@pytest.fixture
def sqlite_scratch(tmp_path) -> ScratchDb:
    return ScratchDb(f"sqlite:///{tmp_path / 'catalog.db'}", None, "sqlite")


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def scratch(request: pytest.FixtureRequest) -> ScratchDb:
    """The same test on SQLite, PostgreSQL and MariaDB."""
    fixtures = {"sqlite": "sqlite_scratch", "postgresql": "pg_scratch", "mariadb": "mariadb_scratch"}
    return request.getfixturevalue(fixtures[request.param])


@pytest.fixture
def catalog(scratch: ScratchDb) -> Iterator[Catalog]:
    with Catalog.open(scratch.url) as opened:
        yield opened
