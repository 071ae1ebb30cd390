"""Lineage graphs (Catalog page, task editor) and the editor's Review & deploy and Versions through AppTest,
on a private copy of the ops workspace: video_plays (P2) and top_videos (P1, reads mart.video_plays) are
deployed and their lineage is stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.security import audit
from app.workflow import versions
from catalog.store import Catalog
from tests.ui.conftest import example, graphviz_dots, open_doc, sign_in_as


def _catalog(home: Path) -> Catalog:
    return Catalog.open(f"sqlite:///{home / 'catalog.db'}")


def test_catalog_page_draws_the_table_and_column_lineage(ops_app: Any) -> None:
    ops_app.switch_page("views/catalog.py").run()
    ops_app.text_input(key="cat_search").set_value("video_plays").run()
    ops_app.selectbox(key="cat_table").set_value("mart.video_plays").run()
    assert not ops_app.exception
    (dot,) = graphviz_dots(ops_app)
    assert dot.startswith("digraph lineage {")
    assert '"app.client_events" -> "mart.video_plays" [label="video_plays"' in dot  # upstream, table level
    assert '"mart.video_plays" -> "mart.top_videos" [label="top_videos"' in dot  # downstream
    assert '"mart.video_plays" [style="rounded,filled"' in dot  # the selected table stands out
    edges = next(d.value for d in ops_app.dataframe if "direction" in d.value.columns)
    assert set(edges["direction"]) == {"upstream", "downstream"} and set(edges["task"]) == {"video_plays",
                                                                                             "top_videos"}
    ops_app.toggle(key="cat_lineage_columns").set_value(True).run()
    ops_app.selectbox(key="cat_lineage_column").set_value("viewers").run()
    (dot,) = graphviz_dots(ops_app)
    assert '"app.client_events.user_id" -> "mart.video_plays.viewers" [label="aggregated"' in dot
    assert '"mart.video_plays.viewers" -> "mart.top_videos.viewers" [label="copied"' in dot
    assert '"mart.video_plays.watch_ms"' not in dot  # one column only
    ops_app.select_slider(key="cat_lineage_depth").set_value("1").run()
    ops_app.segmented_control(key="cat_lineage_direction").set_value("upstream").run()
    (dot,) = graphviz_dots(ops_app)
    assert "mart.top_videos" not in dot and "app.client_events.user_id" in dot


def test_editor_draws_the_lineage_of_the_unsaved_task_from_its_compile(ops_app: Any) -> None:
    doc = example("daily_active_users") | {"name": "dau_draft"}  # never stored: only the compile knows it
    open_doc(ops_app, doc)
    (dot,) = graphviz_dots(ops_app)
    assert '"app.client_events" -> "mart.daily_active_users" [label="dau_draft"' in dot
    ops_app.toggle(key="ed_lineage_columns").set_value(True).run()
    (dot,) = graphviz_dots(ops_app)
    assert '"app.client_events.user_id" -> "mart.daily_active_users.dau"' in dot
    # an edited task replaces its stored lineage: top_videos' graph reaches up through video_plays
    ops_app.toggle(key="ed_lineage_columns").set_value(False)
    open_doc(ops_app, example("top_videos"))
    (dot,) = graphviz_dots(ops_app)
    assert '"app.client_events" -> "mart.video_plays"' in dot and '"mart.video_plays" -> "mart.top_videos"' in dot


def test_review_diff_deploy_and_the_author_cannot_approve_a_p0_change(ops_app: Any, ops_home: Path) -> None:
    sign_in_as(ops_app, ops_home, "alice")  # a developer
    changed = example("video_plays") | {"priority": "P0",
                                        "filter": "ds = '{{ ds }}' AND event = 'play' AND duration_ms > 1000"}
    open_doc(ops_app, changed)
    ops_app.button(key="review_go").click().run()
    assert not ops_app.exception
    diffs = [c.value for c in ops_app.code if c.language == "diff"]
    assert len(diffs) == 2 and all("1000" in d for d in diffs)  # spark/dev and spark/prod
    assert {"**spark/dev** · changed", "**spark/prod** · changed"} <= {m.value for m in ops_app.markdown}
    assert any("non-breaking change" in s.value for s in ops_app.success)
    assert any("waits for approval" in i.value for i in ops_app.info)
    ops_app.button(key="review_deploy").click().run()
    assert any("v2 stored" in w.value and "another account than alice" in w.value for w in ops_app.warning)
    with _catalog(ops_home) as catalog:
        assert versions.deployed(catalog, "video_plays").version == 1  # pending, not deployed
        assert versions.get(catalog, "video_plays", 2).status == "pending"
    assert not [b for b in ops_app.button if b.key == "approve_2"]  # the author sees no Approve button...
    assert any("cannot approve v2" in c.value and "author of this version" in c.value for c in ops_app.caption)
    sign_in_as(ops_app, ops_home, "bob")  # ...an approver does
    ops_app.button(key="approve_2").click().run()
    assert any("v2 approved by bob and deployed" in s.value for s in ops_app.success)
    with _catalog(ops_home) as catalog:
        deployed = versions.deployed(catalog, "video_plays")
        assert (deployed.version, deployed.author, deployed.approved_by) == (2, "alice", "bob")
        assert [(e.actor, e.outcome) for e in audit.entries(catalog, action="approve", target="video_plays")] == [
            ("bob", "ok")]
    history = next(d.value for d in ops_app.dataframe if "approved by" in d.value.columns)
    assert list(history["version"]) == [2, 1] and list(history["deployed"]) == [True, False]
    # rolling a P0 task back is a change like any other: it waits for another account's approval
    ops_app.selectbox(key="rollback_to").set_value(1)
    ops_app.button(key="rollback_go").click().run()
    assert any("waits for approval" in w.value for w in ops_app.warning)
    assert not [b for b in ops_app.button if b.key == "approve_3"]  # bob rolled back: bob cannot approve it
    sign_in_as(ops_app, ops_home, "admin")
    ops_app.button(key="approve_3").click().run()
    with _catalog(ops_home) as catalog:
        rolled = versions.deployed(catalog, "video_plays")
        assert (rolled.version, rolled.rollback_of, rolled.author, rolled.approved_by) == (3, 1, "bob", "admin")


def test_a_breaking_change_read_by_a_p1_task_needs_acknowledgement(ops_app: Any, ops_home: Path) -> None:
    with _catalog(ops_home) as catalog:  # the proposal drops `viewers`, from the task and from its target table
        spec = catalog.get_table("mart.video_plays")
        data = spec.model_dump(mode="json")
        data["columns"] = [c for c in data["columns"] if c["name"] != "viewers"]
        catalog.register(type(spec).model_validate(data))
    sign_in_as(ops_app, ops_home, "alice")
    proposal = example("video_plays")
    proposal["metrics"] = [m for m in proposal["metrics"] if m["name"] != "viewers"]
    open_doc(ops_app, proposal)
    ops_app.button(key="review_go").click().run()
    assert not ops_app.exception
    assert any("BREAKING change" in e.value for e in ops_app.error)
    affected = next(d.value for d in ops_app.dataframe if "acknowledge" in d.value.columns)
    assert affected.iloc[0][["task", "owner", "priority"]].tolist() == ["top_videos", "content-oncall", "P1"]
    assert bool(affected.iloc[0]["acknowledge"])
    assert ops_app.button(key="review_deploy").disabled
    ops_app.checkbox(key="review_ack").check().run()
    assert not ops_app.button(key="review_deploy").disabled
    ops_app.button(key="review_deploy").click().run()
    assert any("v2 deployed by alice" in s.value for s in ops_app.success)  # a P2 task: no approval needed
    with _catalog(ops_home) as catalog:
        assert "viewers" not in json.dumps(versions.deployed(catalog, "video_plays").config["metrics"])


def test_editing_after_a_review_asks_for_a_new_one(ops_app: Any, ops_home: Path) -> None:
    sign_in_as(ops_app, ops_home, "alice")
    open_doc(ops_app, example("video_plays") | {"description": "changed"})
    ops_app.button(key="review_go").click().run()
    assert any("unchanged" in m.value for m in ops_app.markdown)  # the SQL does not change...
    assert not ops_app.button(key="review_deploy").disabled  # ...the config does
    ops_app.text_input(key=f"fc{ops_app.session_state['gen']}:owner").set_value("someone").run()
    assert any("changed since this review" in w.value for w in ops_app.warning)
    assert ops_app.button(key="review_deploy").disabled
