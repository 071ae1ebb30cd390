"""`formcast lineage` and `formcast diff` through click's CliRunner, on a temporary SQLite catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli.lineage import diff_command, lineage_command
from catalog.store import Catalog
from tests.accounts import ensure_account, token
from tests.lineage.conftest import EXAMPLES_DIR


@pytest.fixture()
def env(tmp_path: Path, demo_tables) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    with Catalog.open(url) as catalog:
        catalog.register_many(demo_tables)
        signed = token(catalog, ensure_account(catalog, "dev", "developer"))
    return {"FORMCAST_DB_URL": url, "FORMCAST_TOKEN": signed}


def invoke(command, args: list[str], env: dict[str, str], code: int = 0):
    result = CliRunner().invoke(command, args, env=env)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_index_list_and_query(env: dict[str, str]) -> None:
    indexed = invoke(lineage_command, ["--index", str(EXAMPLES_DIR)], env)
    assert "indexed 13 task(s)" in indexed.output and "skipped" not in indexed.output
    listing = invoke(lineage_command, [], env).output
    assert "top_videos [P2 content-data]: mart.video_plays -> mart.top_videos" in listing

    up = json.loads(invoke(lineage_command, ["mart.top_videos.watch_ms", "--upstream", "--format", "json"], env).output)
    assert list(up) == ["upstream"]
    nodes = {(n["table"], n["column"], n["depth"]) for n in up["upstream"]["nodes"]}
    assert ("app.client_events", "duration_ms", 2) in nodes
    assert up["upstream"]["tasks"] == ["top_videos", "video_plays"]

    down = invoke(lineage_command, ["app.client_events.duration_ms", "--downstream", "--depth", "1"], env).output
    assert down.startswith("downstream of app.client_events.duration_ms, at most 1 hop(s)")
    assert "mart.video_plays.watch_ms <-aggregated- app.client_events.duration_ms  [video_plays]" in down
    assert "top_videos" not in down

    both = invoke(lineage_command, ["mart.video_plays"], env).output
    assert "upstream of mart.video_plays" in both and "downstream of mart.video_plays" in both
    dot = invoke(lineage_command, ["mart.video_plays", "--format", "dot"], env).output
    assert dot.startswith("digraph lineage {") and '"mart.video_plays.plays" -> "mart.top_videos.plays"' in dot

    task = invoke(lineage_command, ["top_videos"], env).output
    assert "reads mart.video_plays; writes mart.top_videos" in task
    assert invoke(lineage_command, ["nope"], env, code=1).output.startswith("Error: no stored lineage")
    assert "not TABLE or TABLE.COLUMN" in invoke(lineage_command, ["a.b.c.d"], env, code=2).output


def test_diff_blocks_a_breaking_change_to_a_p0_reader(env: dict[str, str], tmp_path: Path, demo_tables) -> None:
    configs = tmp_path / "tasks"
    configs.mkdir()
    for name in ("video_plays", "top_videos", "daily_active_users"):
        data = json.loads((EXAMPLES_DIR / f"{name}.json").read_text())
        if name == "top_videos":
            data |= {"priority": "P0", "owner": "content-oncall"}
        (configs / f"{name}.json").write_text(json.dumps(data))
    invoke(lineage_command, ["--index", str(configs)], env)

    unchanged = invoke(diff_command, [str(configs / "video_plays.json")], env).output
    assert "non-breaking change" in unchanged and "no change to the output columns" in unchanged

    # The proposal: drop `viewers` from the task and from its target table in the catalog.
    proposal = json.loads((configs / "video_plays.json").read_text())
    proposal["metrics"] = [m for m in proposal["metrics"] if m["name"] != "viewers"]
    changed = tmp_path / "video_plays.json"
    changed.write_text(json.dumps(proposal))
    with Catalog.open(env["FORMCAST_DB_URL"]) as catalog:
        spec = catalog.get_table("mart.video_plays").model_dump(mode="json")
        spec["columns"] = [c for c in spec["columns"] if c["name"] != "viewers"]
        catalog.register(type(catalog.get_table("mart.video_plays")).model_validate(spec))

    blocked = CliRunner().invoke(diff_command, [str(changed)], env=env)
    assert blocked.exit_code == 1, blocked.output
    assert "video_plays -> mart.video_plays: BREAKING change" in blocked.output
    assert "! viewers removed" in blocked.output
    assert "top_videos [P0 owner content-oncall] -> mart.top_videos" in blocked.output
    assert "blocked: breaking change affects P0/P1 task(s) top_videos" in blocked.output

    report = json.loads(invoke(diff_command, [str(changed), "--format", "json", "--save"], env, code=1).output)
    assert report["needs_acknowledgement"] and not report["saved"]
    assert report["affected"][0]["task"] == "top_videos" and report["affected"][0]["owner"] == "content-oncall"

    accepted = invoke(diff_command, [str(changed), "--acknowledge", "--save"], env).output
    assert "acknowledged" in accepted and "saved as the current lineage version" in accepted
    with Catalog.open(env["FORMCAST_DB_URL"]) as catalog:
        assert "viewers" not in {c for c, _ in catalog.lineage("video_plays").output_columns}
        assert len(catalog.lineage_tasks(current=None, task="video_plays")) == 2
    again = invoke(diff_command, [str(changed)], env).output  # compared with the saved version now
    assert "no change to the output columns" in again


def test_diff_of_an_invalid_config(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "kind": "aggregate"}')
    assert "the task config is invalid" in invoke(diff_command, [str(bad)], env, code=1).output
