"""Kill a publishing process (a real subprocess, SIGKILL) at every step of the publish.

After each kill the target holds the old table or the new one, never a mix and never nothing; the
next run's recovery closes the run record (lost before the commit point, succeeded after it) and
removes every leftover, so the target's folder holds the target alone. The two-rename fallback (a
filesystem without RENAME_EXCHANGE) is killed between its renames too: recovery puts the old table back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.workflow import recovery, staging
from catalog.store import Catalog

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("publish_driver.py")

OLD = {"ds=2024-06-01/part-a.csv": "old 1", "ds=2024-06-02/part-a.csv": "old 2"}
NEW = {"ds=2024-06-02/part-b.csv": "new 2", "ds=2024-06-03/part-b.csv": "new 3"}
# What each write mode makes of OLD + NEW.
AFTER = {
    "overwrite": NEW,
    "overwrite_partition": {"ds=2024-06-01/part-a.csv": "old 1", **NEW},
    "append": {**OLD, **NEW},
}
POINTS = ["staged", "prepared", "committed", "cleaned"]


def content(folder: Path) -> dict[str, str] | None:
    """Data files of a table (hidden files such as the publish marker left out); None if it is missing."""
    if not folder.is_dir():
        return None
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)}


def write(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)


def drive(db: str, target: Path, mode: str, kill_at: str | None, fallback: bool = False) -> tuple[int, str]:
    args = {"db": db, "target": str(target), "mode": mode, "partitioned": True, "files": NEW, "kill_at": kill_at,
            "fallback": fallback}
    proc = subprocess.run([sys.executable, str(DRIVER), json.dumps(args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc.returncode, proc.stdout.strip() or proc.stderr[-2000:]


@pytest.fixture
def store(tmp_path: Path) -> Catalog:
    with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as catalog:
        yield catalog


@pytest.mark.parametrize("mode", list(AFTER))
@pytest.mark.parametrize("kill_at", POINTS)
def test_a_kill_at_every_step_leaves_old_or_new(store: Catalog, tmp_path: Path, mode: str, kill_at: str) -> None:
    target = tmp_path / "data" / "mart" / "t"
    write(target, OLD)
    code, out = drive(store.url, target, mode, kill_at)
    run_id = out.splitlines()[0]
    assert code == -9, out
    committed = kill_at in ("committed", "cleaned")
    # the moment after the kill: readers see the old table or the new one
    assert content(target) == (AFTER[mode] if committed else OLD)
    assert store.get_run(run_id).status == "running"

    closed = recovery.recover_runs(store)
    assert [(c.run_id, c.status) for c in closed] == [(run_id, "succeeded" if committed else "lost")]
    record = store.get_run(run_id)
    assert record.status == ("succeeded" if committed else "lost")
    assert "ended without recording the end of the run" in record.details["recovered"]
    if not committed:
        assert "the target is as before" in record.error
    assert content(target) == (AFTER[mode] if committed else OLD)
    assert sorted(p.name for p in target.parent.iterdir()) == ["t"], "leftovers beside the target"
    assert store.runs(status="running") == []


@pytest.mark.parametrize("kill_at", ["prepared", "committed"])
def test_a_first_publish_killed_leaves_no_table_or_the_new_one(store: Catalog, tmp_path: Path, kill_at: str) -> None:
    target = tmp_path / "mart" / "t"
    code, out = drive(store.url, target, "overwrite", kill_at)
    assert code == -9, out
    recovery.recover_runs(store)
    assert content(target) == (NEW if kill_at == "committed" else None)
    assert sorted(p.name for p in target.parent.iterdir()) == (["t"] if kill_at == "committed" else [])


@pytest.mark.parametrize("mode", list(AFTER))
def test_publishing_per_write_mode(tmp_path: Path, mode: str) -> None:
    target = tmp_path / "mart" / "t"
    write(target, OLD)
    with staging.Publication(str(target), "abc123def456", lambda p: None) as pub:
        write(Path(pub.staging), NEW)
        pub.publish(mode, True)
    assert content(target) == AFTER[mode]
    assert sorted(p.name for p in target.parent.iterdir()) == ["t"]


@pytest.mark.parametrize("kill_at", ["prepared", "moved-aside", "committed"])
def test_the_two_rename_fallback_is_repaired(store: Catalog, tmp_path: Path, kill_at: str) -> None:
    target = tmp_path / "mart" / "t"
    write(target, OLD)
    code, out = drive(store.url, target, "overwrite_partition", kill_at, fallback=True)
    assert code == -9, out
    run_id = out.splitlines()[0]
    if kill_at == "moved-aside":
        assert content(target) is None  # between the renames: what recovery is for
    closed = recovery.recover_runs(store)
    assert closed[0].status == ("succeeded" if kill_at == "committed" else "lost")
    assert content(target) == (AFTER["overwrite_partition"] if kill_at == "committed" else OLD)
    assert sorted(p.name for p in target.parent.iterdir()) == ["t"]
    if kill_at == "moved-aside":
        assert "moved back in place" in store.get_run(run_id).error


def test_a_refused_publish_leaves_nothing_beside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "mart" / "t"
    write(target, OLD)

    def guard(path: str) -> None:
        if os.path.basename(path) == "t" and refuse:
            raise staging.PublishRefused("not here")

    refuse = False
    with pytest.raises(staging.PublishRefused), staging.Publication(str(target), "abc123def456", guard) as pub:
        write(Path(pub.staging), NEW)
        refuse = True
        pub.publish("overwrite", True)
    assert content(target) == OLD
    assert sorted(p.name for p in target.parent.iterdir()) == ["t"]


def test_an_engine_failure_leaves_nothing_beside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "mart" / "t"
    write(target, OLD)
    with pytest.raises(RuntimeError), staging.Publication(str(target), "abc123def456", lambda p: None) as pub:
        write(Path(pub.staging), NEW)
        raise RuntimeError("the engine failed mid-write")
    assert content(target) == OLD
    assert sorted(p.name for p in target.parent.iterdir()) == ["t"]


def test_append_refuses_to_overwrite_a_file(tmp_path: Path) -> None:
    target = tmp_path / "mart" / "t"
    write(target, OLD)
    with pytest.raises(staging.PublishRefused), staging.Publication(str(target), "abc123def456",
                                                                    lambda p: None) as pub:
        write(Path(pub.staging), {"ds=2024-06-01/part-a.csv": "clash"})
        pub.publish("append", True)
    assert content(target) == OLD


def test_kept_rows_are_hard_links_not_copies(tmp_path: Path) -> None:
    target = tmp_path / "mart" / "t"
    write(target, OLD)
    before = (target / "ds=2024-06-01" / "part-a.csv").stat().st_ino
    with staging.Publication(str(target), "abc123def456", lambda p: None) as pub:
        write(Path(pub.staging), NEW)
        published = pub.publish("append", True)
    assert published.atomic and published.linked >= 2
    assert (target / "ds=2024-06-01" / "part-a.csv").stat().st_ino == before
    assert json.loads((target / staging.MARKER).read_text())["run_id"] == "abc123def456"


def test_sweep_removes_leftovers_of_runs_that_are_not_running(store: Catalog, tmp_path: Path) -> None:
    target = tmp_path / "mart" / "t"
    write(target, OLD)
    stale = target.parent / ".t.staging-0123456789ab"
    write(stale, NEW)
    live_id = store.start_run("x", "h", "spark", "dev")
    live = target.parent / f".t.staging-{recovery.run_key(live_id)}"
    write(live, NEW)
    other = target.parent / ".u.staging-0123456789ab"  # another table's: not ours to touch
    write(other, NEW)
    removed = recovery.sweep_target(store, str(target))
    assert removed == [str(stale)]
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(["t", live.name, other.name])
