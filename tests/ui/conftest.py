"""UI test fixtures: one demo workspace (FORMCAST_HOME) for the whole package, and AppTest helpers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
APP_FILE = str(REPO / "app" / "ui" / "app.py")
EXAMPLES = REPO / "examples"
LOGICAL_DATE = "2024-06-02"
DEMO_PASSWORDS: dict[str, str] = {}  # account -> password, filled by demo_home


@pytest.fixture(scope="package")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A FORMCAST_HOME seeded with the demo and its accounts (admin, alice, bob, oscar, vera; a few seconds, once)."""
    from app.demo.seed import register_demo, seed_demo
    from app.security import demo as demo_accounts
    from catalog.store import Catalog
    from tests.accounts import PASSWORD, admin

    home = tmp_path_factory.mktemp("ui_home")
    info = seed_demo(home, days=3)
    with Catalog.open(f"sqlite:///{home / 'catalog.db'}") as catalog:
        register_demo(catalog, info)
        DEMO_PASSWORDS.update(demo_accounts.ensure(catalog, admin(catalog)).passwords)  # as `formcast demo` does
        DEMO_PASSWORDS["admin"] = PASSWORD
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORMCAST_HOME", str(home))
        mp.delenv("FORMCAST_DB_URL", raising=False)
        mp.setenv("FORMCAST_UI_WARM", "0")  # AppTest runs in this process: no JVM unless a test asks
        mp.setenv("FORMCAST_UI_DATE", LOGICAL_DATE)
        yield home


@pytest.fixture
def app(demo_home: Path) -> Any:
    """A fresh AppTest of the whole app, signed in as admin (tasks folder emptied first)."""
    import shutil

    shutil.rmtree(demo_home / "tasks", ignore_errors=True)
    return signed_in_app(demo_home, "admin")


def signed_in_app(home: Path, account: str) -> Any:
    """An AppTest of the whole app with `account` signed in (a real session token, as the sign-in page stores)."""
    from streamlit.testing.v1 import AppTest

    from catalog.store import Catalog
    from tests.accounts import session

    with Catalog.open(f"sqlite:///{home / 'catalog.db'}") as catalog:
        token = session(catalog, account)
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.session_state["auth_token"] = token
    at.run()
    assert not at.exception, at.exception
    return at


def sign_in_as(at: Any, home: Path, account: str) -> Any:
    """Switch the signed-in account of a running AppTest."""
    from catalog.store import Catalog
    from tests.accounts import session

    with Catalog.open(f"sqlite:///{home / 'catalog.db'}") as catalog:
        at.session_state["auth_token"] = session(catalog, account)
    at.run()
    assert not at.exception, at.exception
    return at


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.json"))


def open_doc(at: Any, doc: dict[str, Any], page: str = "views/editor.py") -> Any:
    """Put `doc` in the editor (as the Tasks page does) and show `page`."""
    at.session_state["doc"] = doc
    at.session_state["opened"] = None
    at.session_state["gen"] = at.session_state["gen"] + 1 if "gen" in at.session_state else 1
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def walk(node: Any) -> Iterator[Any]:
    """Every element of an AppTest tree, in page order."""
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for key in sorted(children):
            yield from walk(children[key])


def canonical(doc: dict[str, Any]) -> str:
    from app.workflow.task_store import canonical_json
    from generators.loading import parse_task

    task, problems = parse_task(doc)
    assert task is not None, problems
    return canonical_json(task)


def os_env(name: str) -> str | None:
    return os.environ.get(name)


# --- a workspace with deployed versions, stored lineage and scheduler history (Operations, lineage, review) ---

OPS_NOW = (2024, 6, 4, 1, 45)  # UTC: the simulated scheduler starts here, three days of fires behind it


@pytest.fixture(scope="package")
def ops_template(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog.db (a copy of the demo's) where video_plays (P2) and top_videos (P1, SLA 03:00, by alice,
    approved by bob) are deployed and a virtual-clock scheduler ran three logical dates with a fast fake
    executor: top_videos 2024-06-02 failed, everything else succeeded; then top_videos v2 was deployed
    (so a rerun must keep v1). No Spark: the executor only reports outcomes."""
    import shutil
    from datetime import UTC, datetime

    from app.scheduler.core import Scheduler
    from app.scheduler.model import SchedulerConfig
    from app.scheduler.sql_state import SqlState
    from app.workflow import versions
    from catalog.db import engine_of
    from catalog.store import Catalog
    from generators.compile import Compiler
    from generators.loading import parse_task
    from tests.accounts import as_principal
    from tests.scheduler.sim import Sim

    folder = tmp_path_factory.mktemp("ops_template")
    shutil.copy(demo_home / "catalog.db", folder / "catalog.db")
    top = example("top_videos") | {"priority": "P1", "owner": "content-oncall",
                                    "sla": {"deadline": "03:00", "timezone": "UTC"}}
    with Catalog.open(f"sqlite:///{folder / 'catalog.db'}") as catalog:
        compiler = Compiler(catalog)
        alice, bob = as_principal(catalog, "alice"), as_principal(catalog, "bob")
        options = versions.TaskOptions(retries=0)
        for doc in (example("video_plays"), top):
            task, problems = parse_task(doc)
            assert task is not None, problems
            version = versions.deploy(catalog, versions.propose(compiler, task), alice, options)
            if version.status == "pending":
                versions.approve(catalog, task.name, version.version, bob)
        state = SqlState(engine_of(catalog))
        core = Scheduler(state, SchedulerConfig(catchup=3 * 86400, sla_interval=0), owner="ui-test")
        start = datetime(*OPS_NOW, tzinfo=UTC).timestamp()
        sim = Sim(core, duration=120, outcome=lambda job: "failed" if (job.task, job.key) == (
            "top_videos", "2024-06-02") else "succeeded")
        sim.run(start, start + 30 * 60)
        task, _ = parse_task(top | {"description": "v2"})
        v2 = versions.deploy(catalog, versions.propose(compiler, task), alice)
        versions.approve(catalog, "top_videos", v2.version, bob)
    return folder / "catalog.db"


@pytest.fixture
def ops_home(ops_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private FORMCAST_HOME holding a copy of the ops template (tests may deploy, rerun, backfill)."""
    import shutil

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ops_template, home / "catalog.db")
    monkeypatch.setenv("FORMCAST_HOME", str(home))
    return home


@pytest.fixture
def ops_app(ops_home: Path) -> Any:
    """The ops workspace's app, signed in as admin."""
    return signed_in_app(ops_home, "admin")


def graphviz_dots(at: Any) -> list[str]:
    """The DOT source of every `st.graphviz_chart` on the page."""
    return [el.proto.spec for el in walk(at._tree) if getattr(el, "type", None) == "graphviz_chart"]
