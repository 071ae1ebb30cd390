"""A real browser: `formcast ui` in a subprocess, headless Chromium signs in, builds an aggregate task by clicking
and typing, sees the SQL, runs the preview, sees the rows, saves, and finds the file on disk; a viewer signs in
and sees no Save or Deploy control, and signing out ends the session."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli.ui import streamlit_command, ui_environment
from tests.ui.conftest import DEMO_PASSWORDS, LOGICAL_DATE, REPO

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_home: Path) -> Iterator[str]:
    port = _free_port()
    env = ui_environment(str(demo_home))
    env.update(FORMCAST_UI_DATE=LOGICAL_DATE, FORMCAST_UI_WARM="1")
    log = open(demo_home / "streamlit.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(streamlit_command(port), env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError((demo_home / "streamlit.log").read_text()) from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def _new_page(browser: Any) -> Any:
    """A page in a fresh context: its own cookies and Streamlit session (a new browser, as far as the app knows)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1400})
    context.set_default_timeout(30_000)
    return context.new_page()


@pytest.fixture(scope="module")
def page(browser: Any) -> Any:
    return _new_page(browser)


def _sign_in(pg: Any, server: str, account: str) -> None:
    pg.goto(server)
    pg.get_by_role("heading", name="Sign in to Formcast").wait_for()
    pg.locator(".st-key-signin_name input").fill(account)
    pg.locator(".st-key-signin_password input").fill(DEMO_PASSWORDS[account])
    pg.locator(".st-key-signin_go button").click()
    pg.get_by_text(re.compile(rf"Signed in as {account} ")).wait_for()


# --- finding generated widgets: class st-key-fc<gen>-<path with non-word characters as "-"> ------

_MAX_GEN_JS = """() => { let g = -1; for (const el of document.querySelectorAll('[class*="st-key-fc"]'))
  for (const c of el.classList) { const m = /^st-key-fc(\\d+)-/.exec(c); if (m) g = Math.max(g, +m[1]); } return g; }"""


def _gen(pg: Any) -> int:
    return pg.evaluate(_MAX_GEN_JS)


def _field(pg: Any, path: str, suffix: str = "") -> Any:
    """The newest generation's widget for a JSON path (waits for it)."""
    name = re.sub(r"[^a-zA-Z0-9_-]", "-", path + (f":{suffix}" if suffix else ""))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        gen = _gen(pg)
        loc = pg.locator(f".st-key-fc{gen}-{name}")
        if gen >= 0 and loc.count():
            return loc.first
        pg.wait_for_timeout(100)
    pg.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
    raise AssertionError(f"no widget for {path}:{suffix}")


def _settle(pg: Any) -> None:
    pg.wait_for_timeout(250)
    pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"] [data-testid*=\"Running\"]')")


def _json_has(pg: Any, text: str) -> None:
    """Wait until the JSON pane (the form's output) shows `text`."""
    pg.wait_for_function("(t) => [...document.querySelectorAll('.st-key-editor_json textarea')]"
                         ".some(e => e.value.includes(t))", arg=text)


def _type(pg: Any, path: str, text: str, expect: str | None = None) -> None:
    box = _field(pg, path).locator("input, textarea").first
    box.fill(text)
    box.press("Control+Enter" if box.evaluate("e => e.tagName") == "TEXTAREA" else "Enter")
    _settle(pg)
    _json_has(pg, expect or json.dumps(text))


def _choose(pg: Any, container: Any, option: str, editor: bool = True) -> None:
    container.locator("input").first.click()
    container.locator("input").first.fill(option)
    pg.get_by_role("option", name=re.compile(rf"^{re.escape(option)}(\b| |$)")).first.click()
    _settle(pg)
    if editor:
        _json_has(pg, json.dumps(option))


def _add(pg: Any, path: str) -> None:
    before = _gen(pg)
    _field(pg, path, "add").locator("button").click()
    pg.wait_for_function(f"() => ({_MAX_GEN_JS})() > {before}")
    _settle(pg)


def test_build_preview_and_save_an_aggregate_task(page: Any, server: str, demo_home: Path) -> None:
    pg = page
    pg.goto(server)
    pg.get_by_role("heading", name="Sign in to Formcast").wait_for()
    assert not pg.get_by_role("heading", name="Tasks", exact=True).count()  # nothing before signing in
    pg.locator(".st-key-signin_name input").fill("alice")
    pg.locator(".st-key-signin_password input").fill("not her password")
    pg.locator(".st-key-signin_go button").click()
    pg.get_by_text("the account name or password is wrong").wait_for()
    _sign_in(pg, server, "alice")  # a developer
    pg.get_by_role("heading", name="Tasks", exact=True).wait_for()
    _choose(pg, pg.locator(".st-key-new_kind"), "aggregate", editor=False)
    pg.locator(".st-key-new_name input").fill("browser_dau")
    pg.locator(".st-key-new_name input").press("Enter")
    _settle(pg)
    pg.locator(".st-key-new_create button").click()
    pg.get_by_role("heading", name="Task editor", exact=True).wait_for()

    _choose(pg, _field(pg, "source"), "app.client_events")
    _choose(pg, _field(pg, "target.table"), "mart.daily_active_users")
    _add(pg, "target.partition")
    _type(pg, "target.partition.{0}:key", "ds", expect='"ds": ""')
    _type(pg, "target.partition.{0}", "{{ ds }}")
    _type(pg, "filter", "ds = '{{ ds }}'", expect='"filter"')
    for i, column in enumerate(["app_version", "platform"]):
        _add(pg, "dimensions")
        _choose(pg, _field(pg, f"dimensions[{i}].expr"), column)
    _add(pg, "metrics")
    _type(pg, "metrics[0].name", "dau")
    _choose(pg, _field(pg, "metrics[0].agg"), "count_distinct")
    _choose(pg, _field(pg, "metrics[0].expr"), "user_id")
    _add(pg, "metrics")
    _type(pg, "metrics[1].name", "plays")

    sql = pg.locator('[data-testid="stCode"]').filter(has_text="INSERT OVERWRITE")
    sql.wait_for()
    text = sql.inner_text()
    assert "COUNT(DISTINCT" in text.upper() and "`mart`.`daily_active_users`" in text
    pg.screenshot(path=str(ARTIFACTS / "editor.png"), full_page=True)

    pg.locator(".st-key-editor_save button").click()
    pg.get_by_text(re.compile(r"^Saved /")).wait_for()
    saved = demo_home / "tasks" / "browser_dau.json"
    data = json.loads(saved.read_text())
    assert data == {
        "name": "browser_dau", "kind": "aggregate", "source": "app.client_events",
        "target": {"table": "mart.daily_active_users", "partition": {"ds": "{{ ds }}"}},
        "dimensions": [{"expr": "app_version"}, {"expr": "platform"}],
        "metrics": [{"name": "dau", "agg": "count_distinct", "expr": "user_id"}, {"name": "plays", "agg": "count"}],
        "filter": "ds = '{{ ds }}'",
    }

    pg.get_by_role("link", name="Run").click()
    pg.get_by_role("heading", name="Run", exact=True).wait_for()
    timings = []
    for attempt in range(3):
        pg.locator(".st-key-run_preview button").first.click()
        done = pg.get_by_text(re.compile(rf"^Preview #{attempt + 1}: \d+ row\(s\) in [\d.]+ s"))
        done.wait_for(timeout=120_000)
        timings.append(float(re.search(r"in ([\d.]+) s", done.inner_text()).group(1)))
        if attempt == 0:
            pg.screenshot(path=str(ARTIFACTS / "preview.png"), full_page=True)
    grid = pg.locator('[data-testid="stDataFrame"]').first
    grid.wait_for()
    rows = int(re.search(r"(\d+) row\(s\)", done.inner_text()).group(1))
    assert rows > 10  # 9 app versions x 3 platforms in the demo
    (ARTIFACTS / "timings.json").write_text(json.dumps({"preview_seconds": timings}))
    assert not list((demo_home / "data" / "dev" / "mart").glob("daily_active_users/ds=2024-06-02"))  # never writes


def test_a_viewer_sees_no_save_or_deploy_and_signing_out_ends_the_session(browser: Any, server: str,
                                                                           demo_home: Path) -> None:
    from app.security import identity
    from app.workflow.task_store import TaskStore
    from catalog.db import engine_of, transaction
    from catalog.store import Catalog
    from generators.loading import parse_task
    from tests.ui.conftest import example

    task, _ = parse_task(example("video_plays"))
    store = TaskStore.for_home(demo_home)
    if not store.exists("video_plays"):
        store.save(task, None)
    pg = _new_page(browser)
    _sign_in(pg, server, "vera")
    pg.get_by_role("heading", name="Tasks", exact=True).wait_for()
    pg.get_by_text(re.compile("You are a viewer")).wait_for()
    assert not pg.locator(".st-key-new_create").count()  # no creating, importing, deleting
    pg.locator(".st-key-open_video_plays button").click()
    pg.get_by_role("heading", name="Task editor", exact=True).wait_for()
    try:  # the SQL is visible (the first compile of a page can be slow on a busy machine)
        pg.locator('[data-testid="stCode"]').filter(has_text="INSERT").first.wait_for(timeout=120_000)
    except Exception:
        pg.screenshot(path=str(ARTIFACTS / "viewer-failure.png"), full_page=True)
        raise
    pg.get_by_text(re.compile("Read-only: viewers do not edit tasks")).wait_for()
    pg.get_by_role("tab", name=re.compile("Review & deploy")).click()
    pg.locator(".st-key-review_go button").click()
    pg.get_by_text(re.compile("may not deploy tasks writing mart.video_plays")).wait_for()
    assert not pg.locator(".st-key-editor_save").count() and not pg.locator(".st-key-review_deploy").count()
    assert not pg.get_by_role("link", name="Admin").count()
    pg.screenshot(path=str(ARTIFACTS / "viewer.png"), full_page=True)

    pg.locator(".st-key-sign_out button").click()
    pg.get_by_role("heading", name="Sign in to Formcast").wait_for()
    with Catalog.open(f"sqlite:///{demo_home / 'catalog.db'}") as catalog, transaction(engine_of(catalog)) as conn:
        sessions = identity.list_tokens(conn, "vera", kinds=("session",))
    assert sessions and all(t.state() == "revoked" for t in sessions)  # signing out ended the session for good
    pg.reload()
    pg.get_by_role("heading", name="Sign in to Formcast").wait_for()
