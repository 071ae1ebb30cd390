"""Versions and review: immutable history, SQL diffs per env, approval rules, rollback, CLI exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.scheduler.sql_state import SqlState
from app.security.policy import AccessDenied
from app.workflow import versions
from catalog.db import engine_of
from catalog.store import Catalog
from generators.compile import Compiler
from generators.loading import load_task_file
from tests.accounts import admin, as_principal, ensure_account, token

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(demo_home: Path, tmp_path: Path):
    """A private copy of the demo catalog (versions tests write to it)."""
    import shutil

    shutil.copy(demo_home / "catalog.db", tmp_path / "catalog.db")
    with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as opened:
        yield opened


def _task(name: str, **changes: object):
    data = json.loads((ROOT / "examples" / f"{name}.json").read_text())
    data.update(changes)
    task, problems = load_task_file_from(data)
    assert task is not None, problems
    return task


def load_task_file_from(data: dict):
    from generators.loading import parse_task

    return parse_task(data)


def _deploy(store, task, author: str = "alice") -> versions.Version:
    return versions.deploy(store, versions.propose(Compiler(store), task), as_principal(store, author))


def test_p2_change_deploys_without_approval_and_renders_every_env(store) -> None:
    v1 = _deploy(store, _task("video_plays"))
    assert (v1.version, v1.status, v1.author) == (1, "approved", "alice")
    assert set(v1.rendered) == {"spark"} and set(v1.rendered["spark"]) == {"dev", "prod"}
    assert "mart" in v1.reads[0] or v1.reads == ["app.client_events"]
    assert versions.deployed(store, "video_plays") == v1
    assert store.lineage("video_plays") is not None  # deploy keeps the catalog's lineage in step


def test_review_shows_the_sql_diff_per_env(store) -> None:
    _deploy(store, _task("video_plays"))
    changed = _task("video_plays", filter="ds = '{{ ds }}' AND event = 'play' AND duration_ms > 1000")
    review = versions.review(store, versions.propose(Compiler(store), changed))
    assert review.deployed is not None and review.deployed.version == 1
    assert set(review.diffs) == {"spark/dev", "spark/prod"}
    for diff in review.diffs.values():
        assert "--- spark/" in diff and "+++ spark/" in diff
        assert any(line.startswith("+") and "1000" in line for line in diff.splitlines())
    assert not review.needs_approval


def test_an_author_cannot_approve_their_own_p0_change(store) -> None:
    ensure_account(store, "carol", "approver")
    v1 = _deploy(store, _task("video_plays", priority="P0"), "carol")
    assert v1.status == "pending" and versions.deployed(store, "video_plays") is None
    with pytest.raises(AccessDenied, match="author of this version"):  # an approver, but the author
        versions.approve(store, "video_plays", 1, as_principal(store, "carol"))
    with pytest.raises(AccessDenied, match="alice is a developer: approve changes"):  # not an approver at all
        versions.approve(store, "video_plays", 1, as_principal(store, "alice"))
    assert versions.get(store, "video_plays", 1).status == "pending"
    approved = versions.approve(store, "video_plays", 1, as_principal(store, "bob"))
    assert (approved.status, approved.approved_by) == ("approved", "bob")
    assert versions.deployed(store, "video_plays").version == 1
    # downgrading a P0 task to P3 is still a change to a P0 task: it needs approval too
    v2 = _deploy(store, _task("video_plays", priority="P3"), "carol")
    assert v2.status == "pending" and versions.deployed(store, "video_plays").version == 1


def test_rollback_creates_a_new_version_with_old_content(store) -> None:
    _deploy(store, _task("video_plays"))
    _deploy(store, _task("video_plays", description="second"))
    v3 = versions.rollback(store, "video_plays", 1, as_principal(store, "bob"))
    history = versions.history(store, "video_plays")
    assert [v.version for v in history] == [1, 2, 3]
    assert v3.rollback_of == 1 and v3.config == history[0].config and v3.rendered == history[0].rendered
    assert versions.deployed(store, "video_plays").version == 3
    (t,) = SqlState(engine_of(store)).tasks()
    assert t.version == 3  # what the scheduler will pin next
    with pytest.raises(versions.VersionError, match="no version 9"):
        versions.rollback(store, "video_plays", 9, as_principal(store, "bob"))


def _cli(home: Path, *args: str, token: str = "") -> Any:
    """The commands in-process (click's runner): exit codes and both streams, without a process per call."""
    from click.testing import CliRunner

    from app.cli.scheduling import _standalone

    env = {"FORMCAST_HOME": str(home), "FORMCAST_DB_URL": "", "FORMCAST_TOKEN": token}
    result = CliRunner().invoke(_standalone, list(args), env=env, catch_exceptions=False)
    result.returncode = result.exit_code
    return result


def test_cli_workflow_and_exit_codes(demo_home: Path, tmp_path: Path) -> None:
    import functools
    import shutil

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(demo_home / "catalog.db", home / "catalog.db")
    with Catalog.open(f"sqlite:///{home / 'catalog.db'}") as store:
        boss = admin(store)
        alice, bob, oscar = (functools.partial(_cli, home, token=token(store, boss, name))
                             for name in ("alice", "bob", "oscar"))
    dau = str(ROOT / "examples" / "daily_active_users.json")  # P1
    plays = str(ROOT / "examples" / "video_plays.json")  # P2
    anonymous = _cli(home, "deploy", plays)
    assert anonymous.returncode == 1 and "not signed in" in anonymous.stderr
    done = alice("deploy", plays)
    assert done.returncode == 0 and "video_plays v1: deployed by alice" in done.stdout
    done = alice("deploy", dau)
    assert done.returncode == 0 and "waits for approval" in done.stdout
    typed = alice("approve", "daily_active_users", "--version", "1", "--by", "bob")  # a typed name is no identity
    assert typed.returncode == 2 and "--by" in typed.stderr and "signed-in account" in typed.stderr
    refused = alice("approve", "daily_active_users", "--version", "1")
    assert refused.returncode == 1 and "author of this version" in refused.stderr
    assert bob("approve", "daily_active_users", "--version", "1").returncode == 0
    review = alice("review", plays)
    assert review.returncode == 0 and "spark/dev: unchanged" in review.stdout
    bad = oscar("backfill", "video_plays", "--from", "2024-06-03", "--to", "2024-06-01")
    assert bad.returncode == 2 and "--to" in bad.stderr
    bad = oscar("backfill", "video_plays", "--from", "2024-13-01", "--to", "2024-06-01")
    assert bad.returncode == 2 and "--from" in bad.stderr
    capped = oscar("backfill", "video_plays", "--from", "2024-01-01", "--to", "2024-06-01", "--max", "5")
    assert capped.returncode == 2 and "--max" in capped.stderr
    dry = oscar("backfill", "video_plays", "--from", "2024-06-01", "--to", "2024-06-03", "--dry-run")
    assert dry.returncode == 0 and "3 instance(s) would be queued" in dry.stdout
    assert oscar("instances").stdout.count("\n") == 1  # header only: a dry run wrote nothing
    denied = alice("backfill", "video_plays", "--from", "2024-06-01", "--to", "2024-06-03")
    assert denied.returncode == 1 and "operate" in denied.stderr  # a developer does not operate prod
    assert oscar("backfill", "video_plays", "--from", "2024-06-01", "--to", "2024-06-03").returncode == 0
    listed = oscar("instances", "--task", "video_plays", "--json")
    assert sorted((i["key"], i["kind"], i["version"]) for i in json.loads(listed.stdout)) == [
        ("2024-06-01", "backfill", 1), ("2024-06-02", "backfill", 1), ("2024-06-03", "backfill", 1)]
    missing = alice("rollback", "nope", "--to", "1")
    assert missing.returncode == 1 and "no version" in missing.stderr
    unknown = oscar("backfill", "nope", "--from", "2024-06-01", "--to", "2024-06-01")
    assert unknown.returncode == 1 and "not deployed" in unknown.stderr


def test_load_example_files_parse() -> None:
    task, problems = load_task_file(ROOT / "examples" / "top_videos.json")
    assert task is not None and not problems


def test_a_second_writer_of_a_table_waits_for_its_owner(store) -> None:
    first = _deploy(store, _task("users_copy"))  # P3, writes mart.users_copy
    assert first.status == "approved"
    second = _deploy(store, _task("users_upsert"))  # writes mart.users_copy too
    assert second.status == "pending"
    review = versions.review(store, versions.propose(Compiler(store), _task("users_upsert")))
    assert review.conflicts == ["mart.users_copy is already written by the deployed task users_copy: a table has "
                                "one writing task"]
    with pytest.raises(AccessDenied, match="author of this version"):
        versions.approve(store, "users_upsert", 1, as_principal(store, "alice"))
    # the table's owner (crm-data) is a team, not an account: an approver with `approve` on it decides
    assert versions.approve(store, "users_upsert", 1, as_principal(store, "bob")).approved_by == "bob"


def test_a_p3_writer_of_a_p0_input_needs_the_owner_account(store) -> None:
    ensure_account(store, "content-data", "approver")  # mart.video_plays' owner, as an account
    top = _deploy(store, _task("top_videos", priority="P0"))  # reads mart.video_plays
    versions.approve(store, "top_videos", top.version, as_principal(store, "bob"))
    plays = _deploy(store, _task("video_plays", priority="P3"))
    assert plays.status == "pending"
    with pytest.raises(AccessDenied, match=r"mart\.video_plays belongs to content-data"):
        versions.approve(store, "video_plays", plays.version, as_principal(store, "bob"))
    approved = versions.approve(store, "video_plays", plays.version, as_principal(store, "content-data"))
    assert approved.approved_by == "content-data" and versions.deployed(store, "video_plays").version == 1


def test_rolling_back_a_p1_task_waits_for_another_account(store) -> None:
    v1 = _deploy(store, _task("daily_active_users"))  # P1
    versions.approve(store, "daily_active_users", v1.version, as_principal(store, "bob"))
    v2 = _deploy(store, _task("daily_active_users", description="second"))
    versions.approve(store, "daily_active_users", v2.version, as_principal(store, "bob"))
    back = versions.rollback(store, "daily_active_users", 1, as_principal(store, "alice"))
    assert (back.version, back.status, back.rollback_of) == (3, "pending", 1)
    assert versions.deployed(store, "daily_active_users").version == 2  # nothing moved yet
    with pytest.raises(AccessDenied, match="author of this version"):
        versions.approve(store, "daily_active_users", 3, as_principal(store, "alice"))
    versions.approve(store, "daily_active_users", 3, as_principal(store, "bob"))
    assert versions.deployed(store, "daily_active_users").version == 3
    with pytest.raises(AccessDenied, match="vera"):
        versions.rollback(store, "daily_active_users", 1, ensure_account(store, "vera", "viewer"))
