"""The demo catalog, its seeded data, and every example task compiling against them.

No JVM here: examples are compiled (not run) for spark/dev and spark/prod, and the seeder's files
are read back with pyarrow.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.demo.seed import CATALOG_FILE, SIZES, load_demo_tables, register_demo, seed_demo
from catalog.memory import MemoryCatalog
from catalog.spec import FileBinding, TableSpec
from generators.compile import Compiler
from generators.loading import load_task_file
from generators.tasks import KINDS, ChainedTask

EXAMPLES_DIR = CATALOG_FILE.parents[1]
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.json"))
LOGICAL_DATE = date(2024, 6, 2)
# Warnings an example produces on purpose (file stem → rule ids). None today: keep it that way.
EXPECTED_WARNINGS: dict[str, set[str]] = {}

SOURCES = ["app.client_events", "app.users", "app.videos", "app.creators", "shop.orders", "shop.products",
           "ref.countries"]
FACTS = ["app.client_events", "shop.orders"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("formcast_home").resolve()


@pytest.fixture(scope="module")
def tables(home: Path) -> list[TableSpec]:
    return load_demo_tables(home)


@pytest.fixture(scope="module")
def compiler(tables: list[TableSpec]) -> Compiler:
    return Compiler(MemoryCatalog(tables))


# --- the catalog -----------------------------------------------------------------------------------


def test_catalog_has_the_demo_tables(tables: list[TableSpec]) -> None:
    names = {t.name for t in tables}
    assert set(SOURCES) <= names
    assert len([n for n in names if n.startswith("mart.")]) >= 8


def test_catalog_tables_are_documented_and_bound_everywhere(tables: list[TableSpec], home: Path) -> None:
    for table in tables:
        assert table.description and table.owner, table.name
        assert all(c.description for c in table.columns), table.name
        for engine, fmt in (("spark", "parquet"), ("flink", "csv")):
            for env in ("dev", "prod"):
                binding = table.binding(engine, env)
                assert isinstance(binding, FileBinding), (table.name, engine, env)
                assert binding.format == fmt
                sub = "csv/" if engine == "flink" else ""
                assert binding.path == f"{home}/data/{env}/{sub}{table.namespace}/{table.short_name}"
                assert "${" not in binding.path


def test_catalog_semantics(tables: list[TableSpec]) -> None:
    by_name = {t.name: t for t in tables}
    for name in FACTS:
        assert by_name[name].partition_by == ["ds"]
    for name in SOURCES:
        assert by_name[name].primary_key, name
    events = by_name["app.client_events"]
    assert events.event_time is not None and events.event_time.column == "event_ts"
    assert events.event_time.watermark_delay == "5 seconds"
    assert by_name["mart.users_copy"].primary_key == ["user_id"]


# --- the examples ----------------------------------------------------------------------------------


def test_every_kind_has_an_example() -> None:
    kinds = set()
    for file in EXAMPLES:
        task, problems = load_task_file(file)
        assert task is not None, problems
        kinds.add(task.kind)
        if isinstance(task, ChainedTask):
            assert len(task.steps) >= 3
    assert kinds == set(KINDS)


@pytest.mark.parametrize("file", EXAMPLES, ids=lambda f: f.stem)
def test_example_header(file: Path) -> None:
    task, problems = load_task_file(file)
    assert task is not None, problems
    assert task.name == file.stem
    assert task.description and task.owner and task.schedule
    # Streaming-first examples declare flink; every other example runs on spark by default.
    assert task.engine == ("flink" if task.kind == "window_aggregate" else "spark")


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("file", EXAMPLES, ids=lambda f: f.stem)
def test_example_compiles(file: Path, env: str, compiler: Compiler, home: Path) -> None:
    task, problems = load_task_file(file)
    assert task is not None, problems
    result = compiler.compile(task, engine="spark", env=env, logical_date=LOGICAL_DATE)
    assert result.ok, [str(d) for d in result.errors]
    warnings = {d.rule for d in result.diagnostics}
    assert warnings == EXPECTED_WARNINGS.get(file.stem, set()), [str(d) for d in result.diagnostics]
    assert result.script and result.statements()
    assert sum(s.startswith("INSERT") for s in result.statements()) == 1

    other = "prod" if env == "dev" else "dev"
    assert f"{home}/data/{env}/" in result.script
    assert f"{home}/data/{other}/" not in result.script
    assert "/csv/" not in result.script  # spark reads the parquet bindings
    for source in result.sources:
        assert isinstance(source.binding, FileBinding)
        assert source.binding.path.startswith(f"{home}/data/{env}/")
    assert result.target is not None and result.target.binding.path.startswith(f"{home}/data/{env}/mart/")
    if "{{ ds }}" in file.read_text(encoding="utf-8"):
        assert "'2024-06-02'" in result.script and "{{" not in result.query  # {{ ds }} was rendered


def test_enrich_example_joins_six_tables(compiler: Compiler) -> None:
    task, _ = load_task_file(EXAMPLES_DIR / "orders_enriched.json")
    assert task is not None
    result = compiler.compile(task, engine="spark", env="dev", logical_date=LOGICAL_DATE)
    assert len(result.sources) >= 6
    assert result.query.count("JOIN") >= 5


# --- the seeder ------------------------------------------------------------------------------------

ARROW_TO_CATALOG = {pa.int64(): "bigint", pa.int32(): "int", pa.string(): "string", pa.bool_(): "boolean",
                    pa.date32(): "date"}


def _catalog_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision}, {arrow_type.scale})"
    return ARROW_TO_CATALOG[arrow_type]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("seeded")
    return seed_demo(home, days=1)


def test_seeder_writes_parquet_and_csv_for_every_source(seeded) -> None:
    for env in ("dev", "prod"):
        for table in seeded.sources():
            parquet = Path(table.binding("spark", env).path)
            csv = Path(table.binding("flink", env).path)
            sub = "ds=2024-06-01/" if table.partition_by else ""
            assert (parquet / f"{sub}part-0.parquet").is_file(), (env, table.name)
            assert (csv / f"{sub}part-0.csv").is_file(), (env, table.name)
            # Files hold the non-partition columns, with the catalog's types.
            schema = pq.read_schema(parquet / f"{sub}part-0.parquet")
            expected = [(c.name, c.type) for c in table.columns if c.name not in table.partition_by]
            assert [(f.name, _catalog_type(f.type)) for f in schema] == expected, table.name


def test_seeder_row_counts(seeded) -> None:
    for env in ("dev", "prod"):
        size = SIZES[env]
        counts = seeded.row_counts[env]
        assert counts["app.users"] == size.users
        assert counts["app.videos"] == size.videos
        assert counts["app.creators"] == size.creators
        assert counts["shop.products"] == size.products
        assert counts["ref.countries"] == 30
        assert counts["shop.orders"] == size.orders_per_day
        # A few retried events repeat an event_id: more rows than distinct ids.
        events = pq.read_table(Path(seeded.table("app.client_events").binding("spark", env).path))
        assert events.num_rows == counts["app.client_events"] > size.events_per_day
        assert len(set(events.column("event_id").to_pylist())) == size.events_per_day
    assert SIZES["dev"].users == 2_000 and SIZES["dev"].events_per_day == 20_000
    assert seeded.row_counts["prod"]["app.users"] < seeded.row_counts["dev"]["app.users"]


def test_seeded_data_is_realistic(seeded) -> None:
    events = pq.read_table(Path(seeded.table("app.client_events").binding("spark", "dev").path)).to_pylist()
    assert {e["event"] for e in events} == {"open", "play", "like", "share", "purchase", "close"}
    assert {e["platform"] for e in events} == {"ios", "android", "web"}
    versions = {"3.1.0", "3.1.1", "3.2.0", "3.2.1", "3.3.0", "3.3.1", "3.4.0", "3.4.1", "3.4.2"}
    assert {e["app_version"] for e in events} <= versions
    plays = [e for e in events if e["event"] == "play"]
    assert all(e["video_id"] is not None and e["duration_ms"] is not None for e in plays)
    assert all(e["video_id"] is None for e in events if e["event"] in ("open", "close"))
    assert all(str(e["ds"]) == "2024-06-01" and e["event_ts"].date() == date(2024, 6, 1) for e in events)
    per_user: dict[int, int] = {}
    for e in events:
        per_user[e["user_id"]] = per_user.get(e["user_id"], 0) + 1
    assert max(per_user.values()) > 20 * len(events) / len(per_user)  # some users are very active
    orders = pq.read_table(Path(seeded.table("shop.orders").binding("spark", "dev").path)).to_pylist()
    assert {o["status"] for o in orders} == {"paid", "refunded", "cancelled"}
    assert all(0 <= o["discount"] <= 0.5 for o in orders)
    assert len({o["order_id"] for o in orders}) == len(orders)


def test_flink_csv_has_no_header_and_flink_timestamps(seeded) -> None:
    table = seeded.table("app.client_events")
    csv = Path(table.binding("flink", "dev").path) / "ds=2024-06-01" / "part-0.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    assert len(lines) == seeded.row_counts["dev"]["app.client_events"]
    assert "event_id" not in lines[0]
    first = lines[0].split(",")
    assert len(first) == len(table.columns) - 1  # ds is the folder, not a field
    assert re.fullmatch(r'"?\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}"?', first[-1])


def test_seeder_is_deterministic(tmp_path: Path) -> None:
    a = seed_demo(tmp_path / "a", days=1, seed=11)
    b = seed_demo(tmp_path / "b", days=1, seed=11)
    c = seed_demo(tmp_path / "c", days=1, seed=12)
    for name in ("app.client_events", "shop.orders", "app.users"):
        paths = [Path(info.table(name).binding("spark", "dev").path) for info in (a, b, c)]
        files = [sorted(p.rglob("*.parquet")) for p in paths]
        assert [f.relative_to(paths[0]) for f in files[0]] == [f.relative_to(paths[1]) for f in files[1]]
        for fa, fb in zip(files[0], files[1], strict=True):
            assert fa.read_bytes() == fb.read_bytes(), fa
            assert pq.read_table(fa).equals(pq.read_table(fb))
        assert not pq.read_table(paths[0]).equals(pq.read_table(paths[2]))


def test_reseeding_replaces_the_data_cleanly(tmp_path: Path) -> None:
    first = seed_demo(tmp_path, days=2)
    stray = first.env_dirs["dev"] / "mart" / "old_output" / "part-0.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"stale")
    second = seed_demo(tmp_path, days=1)
    assert not stray.exists()
    events = Path(second.table("app.client_events").binding("spark", "dev").path)
    assert sorted(p.name for p in events.iterdir()) == ["ds=2024-06-01"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["dev", "prod"]  # no staging left over


def test_register_demo_in_the_catalog_store(seeded, tmp_path: Path) -> None:
    store = pytest.importorskip("catalog.store")
    catalog = store.Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        register_demo(catalog, seeded)
        assert set(catalog.table_names()) == {t.name for t in seeded.tables}
        assert catalog.get_table("app.client_events") == seeded.table("app.client_events")
    finally:
        catalog.close()
