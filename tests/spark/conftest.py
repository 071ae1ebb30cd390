"""One SparkSession for the whole run, and the warehouse the execution tests write into."""

from __future__ import annotations

from typing import Any

import pytest

from app.runners import spark as spark_runner
from catalog.store import Catalog
from generators.compile import Compiler
from tests.accounts import ensure_account
from tests.support import Warehouse, table_specs, write_tables


@pytest.fixture(scope="session")
def spark() -> Any:
    return spark_runner.get_session()


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Warehouse:
    base = tmp_path_factory.mktemp("warehouse")
    root, out = base / "dev", base / "out"
    write_tables(root)
    store = Catalog.open(f"sqlite:///{base / 'catalog.db'}")
    store.register_many(table_specs(root, out))
    return Warehouse(root, out, store, Compiler(store), ensure_account(store, "dev", "developer"))
