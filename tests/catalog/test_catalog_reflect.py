"""reflect_database against real SQLite, PostgreSQL and MariaDB databases created here."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from catalog.errors import CatalogError
from catalog.reflect import jdbc_binding, reflect_database, sanitize_name
from catalog.spec import JdbcBinding


def columns_of(spec) -> list[tuple[str, str, bool, str]]:
    return [(c.name, c.type, c.nullable, c.description) for c in spec.columns]


def test_sqlite(tmp_path, caplog) -> None:
    path = tmp_path / "Shop-2024.sqlite"
    url = f"sqlite:///{path}"
    metadata = sa.MetaData()
    sa.Table(
        "orders",
        metadata,
        sa.Column("order_id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.BigInteger, nullable=False),
        sa.Column("qty", sa.SmallInteger),
        sa.Column("amount", sa.Numeric(12, 3)),
        sa.Column("ratio", sa.Float),
        sa.Column("status", sa.String(20)),
        sa.Column("note", sa.Text),
        sa.Column("paid", sa.Boolean),
        sa.Column("day", sa.Date),
        sa.Column("placed_at", sa.DateTime),
        sa.Column("raw", sa.LargeBinary),
        sa.Column("extra", sa.JSON),
    )
    sa.Table(
        "Line Items", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("sku", sa.String(8))
    )
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE untyped (k TEXT NOT NULL, v, PRIMARY KEY (k))")
    engine.dispose()

    warnings: list[str] = []
    with caplog.at_level(logging.WARNING, logger="formcast.catalog.reflect"):
        specs = reflect_database(url, warnings=warnings)
    assert [s.name for s in specs] == ["shop_2024.line_items", "shop_2024.orders", "shop_2024.untyped"]
    orders = specs[1]
    assert columns_of(orders) == [
        ("order_id", "bigint", False, ""),  # SQLite integers are 8 bytes
        ("customer_id", "bigint", False, ""),
        ("qty", "bigint", True, ""),
        ("amount", "decimal(12, 3)", True, ""),
        ("ratio", "double", True, ""),
        ("status", "string", True, ""),
        ("note", "string", True, ""),
        ("paid", "boolean", True, ""),
        ("day", "date", True, ""),
        ("placed_at", "timestamp", True, ""),
        ("raw", "binary", True, ""),
        ("extra", "string", True, ""),
    ]
    assert orders.primary_key == ["order_id"]
    binding = JdbcBinding(url=f"jdbc:sqlite:{path}", table="orders", driver="org.sqlite.JDBC")
    assert orders.bindings == {"spark": {"dev": binding}, "flink": {"dev": binding}}
    assert specs[0].binding("spark", "dev").table == '"Line Items"'  # quoted, as the database reads it
    untyped = specs[2]
    assert columns_of(untyped) == [("k", "string", False, ""), ("v", "string", True, "")]
    assert warnings == ["untyped.v: typed as string (no Spark type for NullType)"]
    assert "untyped.v: typed as string" in caplog.text


def test_sqlite_selected_tables_and_namespace(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE a (x INTEGER)")
        conn.exec_driver_sql("CREATE TABLE b (y INTEGER)")
    engine.dispose()
    specs = reflect_database(url, tables=["B"], namespace="Raw-Shop")
    assert [s.name for s in specs] == ["raw_shop.b"]
    with pytest.raises(CatalogError, match=r"no table missing; tables there: a, b"):
        reflect_database(url, tables=["missing"])


def test_unreachable_and_invalid_urls() -> None:
    with pytest.raises(CatalogError, match="is not a database URL"):
        reflect_database("nonsense")
    with pytest.raises(CatalogError) as err:
        reflect_database("postgresql://u:pw@127.0.0.1:1/db?connect_timeout=2")
    assert str(err.value).startswith("cannot reflect postgresql+psycopg://u:***@127.0.0.1:1/db")


@pytest.mark.parametrize(
    ("url", "jdbc", "user"),
    [
        ("postgresql+psycopg://u@h:5432/db", "jdbc:postgresql://h:5432/db", "u"),
        ("postgresql://h/db", "jdbc:postgresql://h/db", None),
        ("mysql+pymysql://root@127.0.0.1:3306/test", "jdbc:mysql://127.0.0.1:3306/test", "root"),
        ("mariadb+pymysql://etl@m/shop", "jdbc:mysql://m/shop", "etl"),
    ],
)
def test_jdbc_urls(url: str, jdbc: str, user: str | None) -> None:
    binding = jdbc_binding(sa.make_url(url), "t", "s")
    assert (binding["url"], binding.get("user"), binding["table"]) == (jdbc, user, "s.t")
    assert "password_env" not in binding


@pytest.mark.parametrize(
    ("raw", "clean"), [("Public", "public"), ("2024-sales", "_2024_sales"), ("--", "db"), ("a.b c", "a_b_c")]
)
def test_sanitize_name(raw: str, clean: str) -> None:
    assert sanitize_name(raw) == clean


@pytest.mark.postgres
def test_postgresql(pg_scratch, pg_server) -> None:
    admin_url, admin = pg_server.require()
    schema = pg_scratch.schema
    metadata = sa.MetaData(schema=schema)
    sa.Table(
        "Orders",
        metadata,
        sa.Column("order_id", sa.BigInteger, primary_key=True, comment="Order key"),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("amount", sa.Numeric(10, 2), nullable=False, comment="In EUR"),
        sa.Column("any_number", sa.Numeric),
        sa.Column("ratio", postgresql.REAL),
        sa.Column("score", postgresql.DOUBLE_PRECISION),
        sa.Column("small", sa.SmallInteger),
        sa.Column("code", sa.String(3)),
        sa.Column("flag", sa.Boolean),
        sa.Column("day", sa.Date),
        sa.Column("placed_at", sa.DateTime(timezone=True)),
        sa.Column("tags", postgresql.ARRAY(sa.Integer)),
        sa.Column("ref", postgresql.UUID),
        sa.Column("doc", postgresql.JSONB),
        sa.Column("ip", postgresql.INET),
        sa.Column("blob", postgresql.BYTEA),
        comment="One row per order line",
    )
    with admin.begin() as conn:
        metadata.create_all(conn)
        conn.exec_driver_sql(f'CREATE TABLE "{schema}".shapes (id int PRIMARY KEY, p point)')
    url = admin_url.set(password="not-a-real-secret").render_as_string(hide_password=False)
    warnings: list[str] = []
    specs = reflect_database(url, schema=schema, warnings=warnings)
    assert [s.name for s in specs] == [f"{schema}.orders", f"{schema}.shapes"]
    orders = specs[0]
    assert orders.description == "One row per order line"
    assert orders.primary_key == ["order_id", "line"]
    assert columns_of(orders) == [
        ("order_id", "bigint", False, "Order key"),
        ("line", "int", False, ""),
        ("amount", "decimal(10, 2)", False, "In EUR"),
        ("any_number", "decimal(38, 18)", True, ""),
        ("ratio", "float", True, ""),
        ("score", "double", True, ""),
        ("small", "smallint", True, ""),
        ("code", "string", True, ""),
        ("flag", "boolean", True, ""),
        ("day", "date", True, ""),
        ("placed_at", "timestamp", True, ""),
        ("tags", "array<int>", True, ""),
        ("ref", "string", True, ""),
        ("doc", "string", True, ""),
        ("ip", "string", True, ""),
        ("blob", "binary", True, ""),
    ]
    binding = orders.binding("spark", "dev")
    port = admin_url.port or 5432
    assert binding == JdbcBinding(
        url=f"jdbc:postgresql://{admin_url.host}:{port}/{admin_url.database}",
        table=f"{schema}.Orders",
        user=admin_url.username,
        password_env=f"FORMCAST_{schema.upper()}_PASSWORD",
        driver="org.postgresql.Driver",
    )
    assert "not-a-real-secret" not in orders.model_dump_json()
    assert warnings == ["shapes.p: typed as string (no Spark type for NullType)"]


@pytest.mark.mariadb
def test_mariadb(mariadb_scratch, mariadb_server) -> None:
    admin_url, _ = mariadb_server.require()
    database = mariadb_scratch.schema
    engine = sa.create_engine(mariadb_scratch.url)
    metadata = sa.MetaData()
    sa.Table(
        "customers",
        metadata,
        sa.Column("id", mysql.INTEGER(unsigned=True), primary_key=True, autoincrement=False),
        sa.Column("big", sa.BigInteger, comment="big one"),
        sa.Column("tiny", mysql.TINYINT),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("balance", mysql.DECIMAL(10, 2)),
        sa.Column("f", mysql.FLOAT),
        sa.Column("d", mysql.DOUBLE),
        sa.Column("name", sa.String(100)),
        sa.Column("bio", sa.Text),
        sa.Column("kind", sa.Enum("a", "b", name="kind")),
        sa.Column("born", sa.Date),
        sa.Column("seen", mysql.DATETIME(fsp=6)),
        sa.Column("at", sa.TIME),
        comment="Customers",
    )
    metadata.create_all(engine)
    engine.dispose()
    specs = reflect_database(mariadb_scratch.url)
    assert [s.name for s in specs] == [f"{database}.customers"]
    spec = specs[0]
    assert spec.description == "Customers"
    assert columns_of(spec) == [
        ("id", "bigint", False, ""),
        ("big", "bigint", True, "big one"),
        ("tiny", "tinyint", True, ""),
        ("active", "boolean", False, ""),
        ("balance", "decimal(10, 2)", True, ""),
        ("f", "float", True, ""),
        ("d", "double", True, ""),
        ("name", "string", True, ""),
        ("bio", "string", True, ""),
        ("kind", "string", True, ""),
        ("born", "date", True, ""),
        ("seen", "timestamp", True, ""),
        ("at", "string", True, ""),
    ]
    assert spec.primary_key == ["id"]
    binding = spec.binding("flink", "dev")
    assert (binding.url, binding.table, binding.user, binding.password_env) == (
        f"jdbc:mysql://{admin_url.host}:{admin_url.port or 3306}/{database}",
        "customers",
        admin_url.username,
        None,
    )
