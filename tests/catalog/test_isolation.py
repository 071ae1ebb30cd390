"""Isolation: spellings of one place are one place, and no write outside prod can reach a prod location.

The property tests build real folder trees with symlinks, spell paths to them every way a user (or an
attacker) could, and take the kernel's word for where a path lands: the folder a spelled path creates
is compared with the prod folders by inode, walking `..` through the filesystem itself. Whenever the
kernel says a write lands on, inside or above a prod folder, the check must say so too — and it must
not cry wolf when the kernel says the places are apart.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog import isolation
from catalog.errors import CatalogError
from catalog.isolation import (
    Owned,
    ProdIndex,
    catalog_table_location,
    jdbc_location,
    kafka_location,
    path_location,
    relation,
)
from catalog.spec import TableSpec
from catalog.store import Catalog

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def owned(location: isolation.Location, table: str = "mart.t") -> Owned:
    return Owned(location, table, "spark", "prod")


# --- spellings ----------------------------------------------------------------------------------


def test_uri_spellings_of_a_local_path_are_one_place(tmp_path: Path) -> None:
    (tmp_path / "prod" / "mart").mkdir(parents=True)
    plain = str(tmp_path / "prod" / "mart")
    spellings = [plain, plain + "/", f"file:{plain}", f"file://{plain}", f"file:///{plain.lstrip('/')}",
                 f"FILE://localhost{plain}", f"file://{quote(plain)}", plain.replace("/prod/", "//prod/./"),
                 str(tmp_path / "prod" / "x" / ".." / "mart"), f"file:{plain}/"]
    assert {path_location(s).shown for s in spellings} == {plain}


def test_relative_paths_resolve_from_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert path_location("data/prod").shown == str(tmp_path / "data" / "prod")
    assert path_location("x", cwd="/srv").shown == "/srv/x"


def test_dotdot_after_a_symlink_climbs_from_its_target(tmp_path: Path) -> None:
    (tmp_path / "prod" / "mart").mkdir(parents=True)
    (tmp_path / "dev").mkdir()
    os.symlink(tmp_path / "prod" / "mart", tmp_path / "dev" / "link")
    # Lexically dev/link/../users is dev/users; the kernel (and the engine) reach prod/users.
    assert path_location(str(tmp_path / "dev" / "link" / ".." / "users")).shown == str(tmp_path / "prod" / "users")


def test_case_is_folded_only_where_the_filesystem_ignores_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Prod").mkdir()
    assert path_location(str(tmp_path / "Prod")) != path_location(str(tmp_path / "prod"))  # ext4 keeps case
    monkeypatch.setattr(isolation, "_folds_case", lambda real: True)
    assert path_location(str(tmp_path / "Prod" / "Mart")) == path_location(str(tmp_path / "prod" / "MART"))
    assert path_location("/x/Cafe\u0301") == path_location("/x/CAF\u00c9")  # NFD and NFC are one name there


def test_the_case_probe_asks_the_filesystem(tmp_path: Path) -> None:
    (tmp_path / "Probe").mkdir()
    assert isolation._folds_case(str(tmp_path / "Probe" / "new")) is False


def test_remote_paths_normalize_scheme_authority_and_path() -> None:
    assert path_location("s3a://bucket/a/../b/").shown == "s3://bucket/b"
    assert path_location("S3N://bucket/b") == path_location("s3://bucket//b/.")
    assert path_location("hdfs://NN/x") == path_location("hdfs://nn:8020/x")
    assert relation(path_location("hdfs:///warehouse/t"), path_location("hdfs://nn:8020/warehouse")) == "inside"
    assert relation(path_location("hdfs://other:8020/warehouse/t"), path_location("hdfs://nn/warehouse")) is None
    assert relation(path_location("s3://bucket/x"), path_location("/bucket/x")) is None


def test_a_remote_file_host_is_not_this_machine() -> None:
    assert path_location("file://otherhost/data").scope == ("file", "otherhost")
    assert path_location("file://localhost/data").scope == ("file", "")


def test_nul_bytes_are_refused() -> None:
    with pytest.raises(isolation.LocationError):
        path_location("/data/prod\x00x")


def test_jdbc_identities() -> None:
    shop = jdbc_location("jdbc:postgresql://db.example:5432/shop", "public.orders")
    assert jdbc_location("jdbc:postgresql://DB.example/shop?ssl=true", "orders") == shop
    assert jdbc_location("jdbc:postgresql://db.example/shop?currentSchema=public", '"ORDERS"') == shop
    assert jdbc_location("jdbc:postgresql://db.example/shop", "staging.orders") != shop
    assert jdbc_location("jdbc:postgresql://db.example/other", "orders") != shop
    # several hosts: one shared host is the same cluster
    assert relation(jdbc_location("jdbc:postgresql://a:5432,db.example:5432/shop", "orders"), shop) == "equal"
    assert relation(jdbc_location("jdbc:postgresql://replica/shop", "orders"), shop) is None
    # MySQL and MariaDB are one family; `db.table` names another database; localhost has many names
    mysql = jdbc_location("jdbc:mysql://localhost:3306/shop", "orders")
    assert jdbc_location("jdbc:mariadb://127.0.0.1/other", "shop.orders") == mysql
    assert jdbc_location("jdbc:postgresql:shop", "orders") == jdbc_location("jdbc:postgresql://localhost/shop",
                                                                           "orders")
    assert jdbc_location("jdbc:sqlserver://h\\inst;databaseName=Sales", "t").shown == "sqlserver://h:1433/sales/dbo.t"
    assert jdbc_location("jdbc:oracle:thin:@h:1521:orcl", "s.t").shown == "oracle://h:1521/orcl/s.t"


def test_a_file_database_is_its_file(tmp_path: Path) -> None:
    db = tmp_path / "prod" / "shop.db"
    db.parent.mkdir()
    inside = jdbc_location(f"jdbc:sqlite:{tmp_path}/x/../prod/shop.db", "orders")
    assert relation(inside, path_location(str(tmp_path / "prod"))) == "inside"
    assert relation(inside, jdbc_location(f"jdbc:sqlite:{db}", "ORDERS")) == "equal"
    assert relation(inside, jdbc_location(f"jdbc:sqlite:{db}", "users")) is None


def test_catalog_tables_and_topics() -> None:
    assert catalog_table_location("spark_catalog.mart.users") == catalog_table_location("MART.users")
    assert catalog_table_location("default_catalog.default_database.t") == catalog_table_location("t")
    assert catalog_table_location("iceberg.mart.users") != catalog_table_location("mart.users")
    events = kafka_location("k1:9092,k2:9092", "events")
    assert relation(kafka_location("K2", "events"), events) == "equal"
    assert relation(kafka_location("k3:9092", "events"), events) is None
    assert relation(kafka_location("k1", "Events"), events) is None  # topic names are case-sensitive


# --- the index agrees with the pairwise rule ------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "ds=1"])
PARTS = st.lists(NAMES, min_size=0, max_size=4).map(tuple)


@SETTINGS
@given(prod=st.lists(PARTS, min_size=1, max_size=8), candidate=PARTS)
def test_index_finds_exactly_the_pairwise_conflicts(prod: list[tuple[str, ...]], candidate: tuple[str, ...]) -> None:
    def loc(parts: tuple[str, ...]) -> isolation.Location:
        return isolation.Location("path", ("file", ""), parts, "/" + "/".join(parts))

    index = ProdIndex(owned(loc(p), f"t.t{i}") for i, p in enumerate(prod))
    found = sorted((c.prod.table, c.relation) for c in index.conflicts(loc(candidate)))
    expected = sorted((f"t.t{i}", rel) for i, p in enumerate(prod) if (rel := relation(loc(candidate), loc(p))))
    assert found == expected


# --- property: no dev write reaches a prod location --------------------------------------------------

FOLDERS = ["prod", "prod/mart", "prod/mart/users", "prod/mart/orders", "prod/raw", "dev", "dev/mart", "shared",
           "shared/dev"]
PROD_FOLDERS = ["prod/mart/users", "prod/mart/orders", "prod/raw", "shared"]


def _identity(path: str) -> tuple[int, int]:
    st_ = os.stat(path)
    return st_.st_dev, st_.st_ino


def _chain(path: str) -> list[tuple[int, int]]:
    """Inodes of a folder and of each of its parents, found by the kernel through `..`."""
    chain, current = [], path
    while True:
        ident = _identity(current)
        if chain and chain[-1] == ident:
            return chain
        chain.append(ident)
        current = os.path.join(current, "..")


@st.composite
def tree_and_spelling(draw: st.DrawFn) -> tuple[list[tuple[str, str, bool]], list[str], int]:
    """Symlinks to plant (name, target, absolute?), the components of a path to spell, a URI style."""
    links = draw(st.lists(st.tuples(st.sampled_from(["dev", "dev/mart", "shared/dev", ""]),
                                    st.sampled_from(FOLDERS), st.booleans()), max_size=4))
    planted = [(f"{where}/l{i}".lstrip("/"), target, absolute) for i, (where, target, absolute) in enumerate(links)]
    steps = draw(st.lists(st.sampled_from(["prod", "mart", "users", "orders", "raw", "dev", "shared", "..", ".",
                                           "", "new", "ds=1", *[name.rpartition("/")[2] for name, _, _ in planted]]),
                          min_size=1, max_size=7))
    return planted, steps, draw(st.integers(0, 5))


def _spell(root: str, steps: list[str], style: int) -> tuple[str, str]:
    """(the spelling given to the check, the plain path the kernel is asked to create)."""
    plain = root + "/" + "/".join(steps)
    spelled = {0: plain, 1: f"file:{plain}", 2: f"file://{plain}", 3: f"file://localhost{plain}",
               4: f"file://{quote(plain)}", 5: plain + "/"}[style]
    return spelled, plain


@SETTINGS
@given(case=tree_and_spelling())
def test_no_dev_write_reaches_a_prod_location(case: tuple[list[tuple[str, str, bool]], list[str], int]) -> None:
    planted, steps, style = case
    root = tempfile.mkdtemp(prefix="iso-")
    try:
        for folder in FOLDERS:
            os.makedirs(os.path.join(root, folder), exist_ok=True)
        for name, target, absolute in planted:
            link = os.path.join(root, name)
            to = os.path.join(root, target) if absolute else os.path.relpath(os.path.join(root, target),
                                                                              os.path.dirname(link))
            os.symlink(to, link)
        index = ProdIndex(owned(path_location(os.path.join(root, p)), p) for p in PROD_FOLDERS)
        spelled, plain = _spell(root, steps, style)
        verdict = {(c.prod.table, c.relation) for c in index.conflicts(path_location(spelled))}

        try:  # where does the kernel put a folder written at that path?
            os.makedirs(plain, exist_ok=True)
        except OSError:
            return  # the kernel cannot write there (a path through a file, a loop): nothing to reach
        if not os.path.isdir(plain):
            return
        written = _chain(plain)
        truth: set[tuple[str, str]] = set()
        for prod in PROD_FOLDERS:
            prod_chain = _chain(os.path.join(root, prod))
            if written[0] == prod_chain[0]:
                truth.add((prod, "equal"))
            elif prod_chain[0] in written:
                truth.add((prod, "inside"))
            elif written[0] in prod_chain:
                truth.add((prod, "contains"))
        assert verdict == truth, (spelled, planted)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- registration --------------------------------------------------------------------------------


def _spec(name: str, dev: str | None, prod: str | None) -> TableSpec:
    envs = {env: {"kind": "file", "path": path} for env, path in (("dev", dev), ("prod", prod)) if path}
    return TableSpec.model_validate({"name": name, "columns": [{"name": "id", "type": "bigint"}],
                                     "bindings": {"spark": envs}})


@pytest.fixture
def store(tmp_path: Path) -> Catalog:
    with Catalog.open(f"sqlite:///{tmp_path / 'c.db'}") as catalog:
        catalog.register(_spec("mart.users", str(tmp_path / "dev/mart/users"), str(tmp_path / "prod/mart/users")))
        yield catalog


@pytest.mark.parametrize("dev", ["prod/mart/users", "prod/mart", "prod/mart/users/ds=1", "prod", "prodlink/users",
                                 "file:{root}/prod/mart/../mart/users/"])
def test_registration_refuses_a_dev_binding_in_a_prod_tree(store: Catalog, tmp_path: Path, dev: str) -> None:
    (tmp_path / "prod" / "mart").mkdir(parents=True)
    os.symlink(tmp_path / "prod" / "mart", tmp_path / "prodlink")
    path = dev.format(root=tmp_path) if dev.startswith("file:") else str(tmp_path / dev)
    with pytest.raises(CatalogError) as raised:
        store.register(_spec("mart.copy", path, str(tmp_path / "prod/mart/copy")))
    assert "bindings.spark.dev" in str(raised.value) and "prod location of mart.users" in str(raised.value)
    assert store.get_table("mart.copy") is None


def test_registration_allows_dev_to_read_its_own_prod_data(store: Catalog, tmp_path: Path) -> None:
    store.register(_spec("raw.logs", str(tmp_path / "prod/raw/logs"), str(tmp_path / "prod/raw/logs")))
    assert store.get_table("raw.logs") is not None


def test_registration_refuses_a_prod_binding_over_a_dev_tree(store: Catalog, tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as raised:
        store.register_many([_spec("mart.a", None, str(tmp_path / "x")),
                             _spec("mart.everything", None, str(tmp_path / "dev"))])
    assert "tables[1].bindings.spark.prod" in str(raised.value)
    assert "dev location of mart.users" in str(raised.value)
    assert store.get_table("mart.a") is None  # all or nothing


def test_replacing_a_table_is_checked_against_its_new_bindings(store: Catalog, tmp_path: Path) -> None:
    store.register(_spec("mart.users", str(tmp_path / "dev2/users"), str(tmp_path / "prod/mart/users")))
    with pytest.raises(CatalogError):
        store.register(_spec("mart.users", str(tmp_path / "prod/mart/users/dev"), str(tmp_path / "prod/mart/users")))
