"""Impact analysis of a config change against stored lineage (pure: no database)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from catalog.lineage import LineageEdge, LineageGraph, TaskLineage
from catalog.memory import MemoryCatalog
from generators.compile import Compiler
from generators.impact import analyze, column_changes, widens
from generators.lineage import task_lineage
from tests.lineage.conftest import example_paths


@pytest.fixture(scope="module")
def project(lineage_of, example) -> dict[str, TaskLineage]:
    """The examples as stored, with top_videos promoted to a P0 task with an on-call owner."""
    tasks = {p.stem: lineage_of(p.stem) for p in example_paths()}
    top = example("top_videos") | {"priority": "P0", "owner": "content-oncall"}
    tasks["top_videos"] = lineage_of(top)
    return tasks


def graph_of(tasks: dict[str, TaskLineage]) -> LineageGraph:
    return LineageGraph(tasks, [e for t in tasks.values() for e in t.edges])


def proposed_video_plays(demo_tables, compile_config, example) -> TaskLineage:
    """video_plays without `viewers` and with `watch_ms` renamed, compiled against the target's new schema."""
    config = example("video_plays")
    config["metrics"] = [m for m in config["metrics"] if m["name"] != "viewers"]
    next(m for m in config["metrics"] if m["name"] == "watch_ms")["name"] = "watch_time_ms"
    tables = []
    for spec in demo_tables:
        if spec.name == "mart.video_plays":
            data = spec.model_dump(mode="json")
            data["columns"] = [c | {"name": "watch_time_ms"} if c["name"] == "watch_ms" else c
                               for c in data["columns"] if c["name"] != "viewers"]
            spec = type(spec).model_validate(data)
        tables.append(spec)
    return task_lineage(compile_config(config, using=Compiler(MemoryCatalog(tables))))


def test_breaking_change_names_the_downstream_p0_task(project, demo_tables, compile_config, example) -> None:
    proposed = proposed_video_plays(demo_tables, compile_config, example)
    impact = analyze(proposed, project["video_plays"], graph_of(project))
    assert [(c.kind, c.column, c.new_column, c.breaking) for c in impact.changes] == [
        ("removed", "viewers", None, True),
        ("renamed", "watch_ms", "watch_time_ms", True),  # same sources (SUM(duration_ms)), new name
    ]
    assert impact.breaking and impact.needs_acknowledgement
    [top] = impact.affected
    assert (top.task, top.owner, top.priority, top.target_table, top.direct) == (
        "top_videos", "content-oncall", "P0", "mart.top_videos", True)
    assert set(top.reads) == {"mart.video_plays.viewers", "mart.video_plays.watch_ms"}
    # viewers is copied, ranks the rows (rank_in_country) and, as a ranking filter, decides all rows
    assert {"viewers", "watch_ms", "rank_in_country", "*"} <= set(top.columns)
    data = impact.to_dict()
    assert data["needs_acknowledgement"] and data["affected"][0]["priority"] == "P0"


def test_breaking_change_to_low_priority_readers_needs_no_acknowledgement(project, demo_tables, compile_config,
                                                                          example, lineage_of) -> None:
    project = dict(project, top_videos=lineage_of("top_videos"))  # back to P2
    impact = analyze(proposed_video_plays(demo_tables, compile_config, example), project["video_plays"],
                     graph_of(project))
    assert impact.breaking and not impact.needs_acknowledgement
    assert [(a.task, a.priority) for a in impact.affected] == [("top_videos", "P2")]


def test_transitive_downstream_is_affected_too(project) -> None:
    current = project["latest_user_events"]
    extra = TaskLineage("sessions", "h", "spark", "mart.sessions", ["mart.latest_user_events"], [("uid", "bigint")],
                        [LineageEdge("mart.sessions", "uid", "mart.latest_user_events", "user_id", "copied",
                                     "sessions")], owner="growth", priority="P2")
    report = TaskLineage("weekly", "h", "spark", "mart.weekly", ["mart.sessions"], [("n", "bigint")],
                         [LineageEdge("mart.weekly", "n", "mart.sessions", "uid", "aggregated", "weekly")],
                         owner="exec", priority="P1")
    graph = graph_of({**project, "sessions": extra, "weekly": report})
    proposed = replace(current, config_hash="new", output_columns=[c for c in current.output_columns
                                                                   if c[0] != "user_id"],
                       edges=[e for e in current.edges if e.target_column != "user_id"])
    impact = analyze(proposed, current, graph)
    assert [(a.task, a.direct, a.priority) for a in impact.affected] == [("sessions", True, "P2"),
                                                                         ("weekly", False, "P1")]
    assert impact.needs_acknowledgement  # the P1 report is downstream, two hops away


def test_type_changes_widening_and_added_columns() -> None:
    edge = LineageEdge("mart.t", "a", "s.t", "a", "copied", "t")
    old = TaskLineage("t", "1", "spark", "mart.t", ["s.t"], [("a", "int"), ("b", "decimal(10, 2)")], [edge])
    wider = replace(old, config_hash="2", output_columns=[("a", "bigint"), ("b", "decimal(12,2)"), ("c", "string")])
    changes = column_changes(old, wider)
    assert [(c.kind, c.column, c.breaking) for c in changes] == [
        ("type_changed", "a", False), ("type_changed", "b", False), ("added", "c", False)]
    narrower = replace(old, config_hash="3", output_columns=[("a", "string"), ("b", "decimal(10,1)")])
    assert [(c.kind, c.breaking) for c in column_changes(old, narrower)] == [("type_changed", True)] * 2
    assert widens("int", "double") and widens("float", "double") and not widens("bigint", "int")
    assert not widens("decimal(10,2)", "decimal(10,4)")  # fewer integer digits


def test_a_column_left_null_is_breaking() -> None:
    edge = LineageEdge("mart.t", "a", "s.t", "a", "aggregated", "t")
    old = TaskLineage("t", "1", "spark", "mart.t", ["s.t"], [("a", "bigint")], [edge])
    new = replace(old, config_hash="2", edges=[])  # the target column is now filled with NULL
    [change] = column_changes(old, new)
    assert (change.kind, change.breaking) == ("emptied", True)


def test_new_task_and_target_change(project) -> None:
    fresh = replace(project["video_plays"], task="brand_new")
    impact = analyze(fresh, None, graph_of(project))
    assert not impact.stored and not impact.breaking and {c.kind for c in impact.changes} == {"added"}
    moved = replace(project["video_plays"], target_table="mart.video_plays_v2", config_hash="x")
    impact = analyze(moved, project["video_plays"], graph_of(project))
    assert impact.changes[0].kind == "target_changed" and impact.breaking
    assert [a.task for a in impact.affected] == ["top_videos"]


def test_reader_with_incomplete_lineage_is_reported(project) -> None:
    opaque = TaskLineage("opaque", "h", "spark", "mart.o", ["mart.video_plays"], [("x", None)], [],
                         incomplete=["SELECT * could not be expanded"], owner="ops", priority="P1")
    graph = graph_of({**project, "opaque": opaque})
    current = project["video_plays"]
    proposed = replace(current, config_hash="n", output_columns=current.output_columns[:-1],
                       edges=[e for e in current.edges if e.target_column != "watch_ms"])
    impact = analyze(proposed, current, graph)
    opaque_hit = next(a for a in impact.affected if a.task == "opaque")
    assert "incomplete" in opaque_hit.reason and impact.needs_acknowledgement
