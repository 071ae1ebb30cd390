"""Stored lineage: versions, and dependencies inferred across the example project (SQLite)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.lineage.index import index_tasks
from catalog.errors import CatalogError
from catalog.lineage import LineageEdge, TaskLineage, walk
from catalog.store import Catalog
from generators.compile import Compiler
from tests.lineage.conftest import EXAMPLES_DIR

FIXTURE_V1 = Path(__file__).resolve().parents[1] / "fixtures" / "catalog_v1.sqlite"
EV = "app.client_events"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, demo_tables) -> Catalog:
    catalog = Catalog.open(f"sqlite:///{tmp_path_factory.mktemp('lineage_store') / 'catalog.db'}")
    catalog.register_many(demo_tables)
    report = index_tasks(Compiler(catalog), catalog, [EXAMPLES_DIR])
    assert report.ok and not report.incomplete, report
    assert len(report.indexed) == len(list(EXAMPLES_DIR.glob("*.json")))
    yield catalog
    catalog.close()


def test_writers_and_readers(store: Catalog) -> None:
    assert store.writers_of("mart.video_plays") == ["video_plays"]
    assert store.readers_of("mart.video_plays") == ["top_videos"]
    assert store.readers_of("APP.Client_Events") == [
        "clean_events", "daily_active_users", "event_counts", "funnel_sql", "latest_user_events",
        "plays_per_window", "video_plays"]
    # two writers; the upsert reads its own target but is not its own upstream
    assert store.writers_of("mart.users_copy") == ["users_copy", "users_upsert"]
    assert store.readers_of("mart.users_copy") == []
    assert store.readers_of("mart.users_copy", include_self=True) == ["users_upsert"]
    assert store.writers_of("app.client_events") == [] and store.readers_of("mart.nothing") == []


def test_upstream_of_a_column_crosses_tasks(store: Catalog) -> None:
    up = store.upstream("mart.top_videos", "watch_ms")
    reached = {(n.table, n.column, n.depth) for n in up.nodes}
    assert ("mart.video_plays", "watch_ms", 1) in reached
    assert (EV, "duration_ms", 2) in reached
    assert ("mart.video_plays", "plays", 1) in reached  # top_videos' ranking filter decides its rows
    assert (EV, "event", 2) in reached  # ... and video_plays' WHERE decides those
    assert up.tasks == ["top_videos", "video_plays"]
    one = store.upstream("mart.top_videos", "watch_ms", depth=1)
    assert {n.depth for n in one.nodes} == {1} and one.tasks == ["top_videos"]
    assert store.upstream("mart.top_videos", "watch_ms").edges[0].task == "top_videos"  # breadth first


def test_downstream_of_a_column(store: Catalog) -> None:
    down = store.downstream(EV, "duration_ms")
    assert down.tasks == ["clean_events", "daily_active_users", "latest_user_events", "top_videos", "video_plays"]
    reached = {(n.table, n.column, n.depth) for n in down.nodes}
    assert {("mart.video_plays", "watch_ms", 1), ("mart.top_videos", "watch_ms", 2),
            ("mart.daily_active_users", "p90_play_ms", 1), ("mart.clean_events", "duration_s", 1)} <= reached
    assert all(n.column is not None for n in down.nodes)  # value edges only: no row edge reads duration_ms


def test_downstream_of_a_filter_column_reaches_whole_tables(store: Catalog) -> None:
    down = store.downstream(EV, "video_id", depth=None)
    reached = {(n.table, n.column) for n in down.nodes}
    assert ("mart.video_plays", None) in reached  # WHERE video_id IS NOT NULL: every row of video_plays
    assert "top_videos" in down.tasks  # hence everything reading video_plays
    table_level = store.downstream("shop.orders")
    assert set(table_level.tasks) == {"category_revenue_share", "order_metrics", "orders_enriched"}


def test_versions_are_kept_and_one_is_current(store: Catalog) -> None:
    first = store.lineage("event_counts")
    assert first is not None and first.current and first.edges and first.owner == "growth-data"
    changed = replace(first, config_hash="0" * 16, edges=[e for e in first.edges if e.target_column != "users"],
                      output_columns=[c for c in first.output_columns if c[0] != "users"], computed_at=None)
    store.save_lineage(changed)
    store.save_lineage(changed)  # same config again: replaced, not duplicated
    versions = store.lineage_tasks(current=None, task="event_counts")
    assert [(v.config_hash, v.current) for v in versions] == [("0" * 16, True), (first.config_hash, False)]
    assert {e.target_column for e in store.lineage_edges(task="event_counts")} == {None, "event", "event_hour",
                                                                                   "platform"}
    assert len(store.lineage_edges(current=None, task="event_counts")) == len(first.edges) + len(changed.edges)
    assert store.lineage("event_counts", first.config_hash).edges == first.edges
    store.save_lineage(first)  # back to the original config: it becomes current again
    assert store.lineage("event_counts").config_hash == first.config_hash


def test_bad_lineage_is_refused_whole(store: Catalog) -> None:
    bad = TaskLineage("x", "h", "spark", "mart.x", [], [], [LineageEdge("mart.x", "a", "t.s", "a", "moved")])
    with pytest.raises(CatalogError, match="edge kind 'moved'"):
        store.save_lineage(bad)
    assert store.lineage("x") is None


def test_walk_handles_cycles_and_depth() -> None:
    edges = [LineageEdge("a.t", "c", "a.t", "c", "copied", "self"),
             LineageEdge("b.t", "c", "a.t", "c", "transformed", "t1"),
             LineageEdge("c.t", None, "b.t", "c", "filtered_by", "t2"),
             LineageEdge("d.t", "x", "c.t", "y", "copied", "t3")]
    down = walk(edges, "a.t", "c", "downstream")
    assert [(n.table, n.column, n.depth) for n in down.nodes] == [("b.t", "c", 1), ("c.t", None, 2), ("d.t", "x", 3)]
    assert walk(edges, "d.t", "x", "upstream", depth=2).tasks == ["t2", "t3"]
    with pytest.raises(ValueError, match="direction"):
        walk(edges, "a.t", None, "sideways")


def test_v1_catalog_upgrades_to_head_with_lineage_tables(tmp_path) -> None:
    copy = tmp_path / "catalog.db"
    shutil.copy(FIXTURE_V1, copy)
    with Catalog.open(f"sqlite:///{copy}") as catalog:
        with catalog._engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            assert {"lineage_tasks", "lineage_edges", "runs"} <= names
        assert catalog.table_names() == ["app.client_events", "dim.users"]
        catalog.save_lineage(TaskLineage("t", "h", "spark", "mart.t", ["app.client_events"], [("a", "bigint")],
                                         [LineageEdge("mart.t", "a", "app.client_events", "user_id", "copied")]))
        assert catalog.readers_of("app.client_events") == ["t"]
        assert catalog.lineage("t").edges[0].task == "t"
