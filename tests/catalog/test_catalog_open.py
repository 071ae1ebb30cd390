"""Catalog.open: URL resolution, SQLite settings and user errors (no tracebacks)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from catalog.errors import CatalogError
from catalog.store import Catalog, resolve_url


def test_default_url_is_sqlite_in_formcast_home(tmp_path, monkeypatch) -> None:
    home = tmp_path / "nested" / "home"
    monkeypatch.delenv("FORMCAST_DB_URL", raising=False)
    monkeypatch.setenv("FORMCAST_HOME", str(home))
    with Catalog.open() as catalog:
        assert catalog.dialect == "sqlite"
        assert catalog.url == f"sqlite:///{home.resolve() / 'catalog.db'}"
    assert (home / "catalog.db").is_file()


def test_default_home_is_dot_formcast(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("FORMCAST_DB_URL", raising=False)
    monkeypatch.delenv("FORMCAST_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    with Catalog.open():
        pass
    assert (tmp_path / ".formcast" / "catalog.db").is_file()


def test_env_url_wins(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FORMCAST_DB_URL", f"sqlite:///{tmp_path / 'from_env.db'}")
    monkeypatch.setenv("FORMCAST_HOME", str(tmp_path / "unused"))
    with Catalog.open():
        pass
    assert (tmp_path / "from_env.db").is_file()
    assert not (tmp_path / "unused").exists()


def test_sqlite_foreign_keys_and_wal(tmp_path) -> None:
    with Catalog.open(f"sqlite:///{tmp_path / 'c.db'}") as catalog, catalog._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "'not a url' is not a database URL: a catalog URL looks like sqlite:///"),
        ("oracle://scott@db/orcl", "unsupported catalog database 'oracle': a catalog URL looks like"),
        ("postgresql+nodriver://u@h/db", "unknown database driver 'postgresql+nodriver'"),
        ("postgresql://u@h", "the URL names no database"),
        ("sqlite:////no/such/dir/catalog.db", "directory /no/such/dir does not exist"),
    ],
)
def test_unusable_urls_are_explained(url: str, message: str) -> None:
    with pytest.raises(CatalogError) as err:
        Catalog.open(url)
    assert message in str(err.value)


def test_bare_dialects_get_the_bundled_drivers() -> None:
    assert resolve_url("postgresql://u@h:5432/db").drivername == "postgresql+psycopg"
    assert resolve_url("mysql://u@h/db").drivername == "mysql+pymysql"
    assert resolve_url("mariadb://u@h/db").drivername == "mariadb+pymysql"


def test_unreachable_server_is_a_catalog_error_without_password() -> None:
    with pytest.raises(CatalogError) as err:
        Catalog.open("postgresql+psycopg://u:s3cret@127.0.0.1:1/db?connect_timeout=2")
    text = str(err.value)
    assert text.startswith("postgresql+psycopg://u:***@127.0.0.1:1/db")
    assert "database error" in text and "s3cret" not in text


def test_database_from_a_newer_release_is_refused(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    Catalog.open(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099_future'")
    engine.dispose()
    with pytest.raises(CatalogError, match="schema revision '0099_future', which this version of Formcast"):
        Catalog.open(url)
