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


@pytest.fixture(scope="package")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A FORMCAST_HOME seeded with the demo (a few seconds, once)."""
    from app.demo import register_demo, seed_demo
    from catalog.store import Catalog

    home = tmp_path_factory.mktemp("ui_home")
    info = seed_demo(home, days=3)
    with Catalog.open(f"sqlite:///{home / 'catalog.db'}") as catalog:
        register_demo(catalog, info)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORMCAST_HOME", str(home))
        mp.delenv("FORMCAST_DB_URL", raising=False)
        mp.setenv("FORMCAST_UI_WARM", "0")  # AppTest runs in this process: no JVM unless a test asks
        mp.setenv("FORMCAST_UI_DATE", LOGICAL_DATE)
        yield home


@pytest.fixture
def app(demo_home: Path) -> Any:
    """A fresh AppTest of the whole app (tasks folder emptied first)."""
    import shutil

    from streamlit.testing.v1 import AppTest

    shutil.rmtree(demo_home / "tasks", ignore_errors=True)
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.json"))


def open_doc(at: Any, doc: dict[str, Any], page: str = "pages/editor.py") -> Any:
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
    from app.task_store import canonical_json
    from generators.loading import parse_task

    task, problems = parse_task(doc)
    assert task is not None, problems
    return canonical_json(task)


def os_env(name: str) -> str | None:
    return os.environ.get(name)
