"""Shared state of the UI: cached resources (catalog, compiler, Spark), the task being edited, helpers.

Process-wide, via `st.cache_resource`: the catalog store and the Compiler (one per FORMCAST_HOME),
and the warm Spark session. Per browser session, in `st.session_state`:

* ``doc``      — the task config being edited (a plain dict, possibly invalid);
* ``opened``   — (name, version) of the saved file it came from, or None for a new task;
* ``gen``      — the form generation; bumped when the document is replaced from outside the form
                 (JSON edit, list change, load), which re-initializes every form widget from ``doc``;
* ``auth_token`` — the sign-in session (a session token of `app.security`); ``principal`` is the account
                 it resolved to at the start of this script run (`me()`): the author of deploys, the
                 approver of others' changes. `can(...)` asks the policy whether to show a control;
                 the action itself is authorized again where it happens.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import streamlit as st

from app.ui.forms import TableInfo
from app.workflow.task_store import TaskStore

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
GALLERY_DIR = EXAMPLES / "gallery"
GALLERY = (  # ready scenarios, from the examples
    ("Daily active users by app version", "daily_active_users.json"),
    ("Event counts by dimension", "event_counts.json"),
    ("3-step chained pipeline: category revenue share", "category_revenue_share.json"),
)
_CATALOG_VERSION = [0]  # bumped when this process registers tables: keys the cached compiles


def home() -> Path:
    return Path(os.environ.get("FORMCAST_HOME", "").strip() or ".formcast").resolve()


# --- cached resources ----------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _catalog(home_dir: str) -> Any:
    from catalog.store import Catalog

    url = os.environ.get("FORMCAST_DB_URL", "").strip()
    if not url:
        Path(home_dir).mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(home_dir) / 'catalog.db'}"
    return Catalog.open(url)


@st.cache_resource(show_spinner=False)
def _compiler(home_dir: str) -> Any:
    from generators.compile import Compiler

    return Compiler(_catalog(home_dir))


def catalog() -> Any:
    return _catalog(str(home()))


def compiler() -> Any:
    return _compiler(str(home()))


def store() -> TaskStore:
    return TaskStore.for_home(home())


def catalog_changed() -> None:
    _CATALOG_VERSION[0] += 1
    _tables.clear()


@st.cache_resource(show_spinner=False, max_entries=4)
def _tables(home_dir: str, version: int) -> dict[str, TableInfo]:
    return {name: TableInfo.from_spec(spec) for name, spec in _catalog(home_dir).load_all().items()}


def tables() -> dict[str, TableInfo]:
    return _tables(str(home()), _CATALOG_VERSION[0])


@dataclass
class EngineWarmer:
    """Starts the Spark session once per process in the background; previews then reuse it."""

    thread: threading.Thread | None = None
    error: str | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="formcast-spark-warmup", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        from app.runners import spark

        try:
            spark.get_session()
        except Exception as err:  # reported on the Run page; the preview retries
            self.error = str(err)

    @property
    def ready(self) -> bool:
        return self.thread is not None and not self.thread.is_alive() and self.error is None


@st.cache_resource(show_spinner=False)
def engine_warmer() -> EngineWarmer:
    return EngineWarmer()


def warm_engine() -> EngineWarmer:
    warmer = engine_warmer()
    if os.environ.get("FORMCAST_UI_WARM", "1") != "0":
        warmer.start()
    return warmer


@st.cache_data(show_spinner=False, max_entries=512)
def compile_config(config_json: str, engine: str | None, env: str, logical_date: str, home_dir: str,
                   catalog_version: int) -> dict[str, Any]:
    """Compile a config (by its JSON): cached, so an unchanged form does not recompile."""
    from generators.loading import parse_task

    task, problems = parse_task(json.loads(config_json))
    if task is None:
        return {"ok": False, "diagnostics": [p.as_dict() for p in problems], "script": "", "query": ""}
    compiled = _compiler(home_dir).compile(task, engine=engine, env=env, logical_date=date.fromisoformat(logical_date))
    return {"ok": compiled.ok, "diagnostics": [d.as_dict() for d in compiled.diagnostics],
            "script": compiled.script, "query": compiled.query, "engine": compiled.engine}


@st.cache_data(show_spinner=False, max_entries=128)
def lineage_config(config_json: str, engine: str | None, env: str, logical_date: str, home_dir: str,
                   catalog_version: int) -> dict[str, Any]:
    """The column lineage of a config, from its compile (`generators.lineage.task_lineage`): cached like it."""
    from generators.lineage import task_lineage
    from generators.loading import parse_task

    task, problems = parse_task(json.loads(config_json))
    if task is None:
        return {"ok": False, "error": f"{len(problems)} problem(s) in the config", "lineage": None}
    compiled = _compiler(home_dir).compile(task, engine=engine, env=env, logical_date=date.fromisoformat(logical_date))
    if not compiled.ok:
        return {"ok": False, "error": "the task does not compile", "lineage": None}
    return {"ok": True, "error": None, "lineage": task_lineage(compiled)}


def lineage_doc(doc: dict[str, Any], engine: str | None, env: str, logical_date: date) -> dict[str, Any]:
    return lineage_config(json.dumps(doc, sort_keys=True), engine, env, logical_date.isoformat(), str(home()),
                          _CATALOG_VERSION[0])


def sched_state() -> Any:
    """The scheduler's state in the catalog database (instances, attempts, alerts, deployed tasks)."""
    from app.scheduler.sql_state import SqlState
    from catalog.db import engine_of

    return SqlState(engine_of(catalog()))


def compile_doc(doc: dict[str, Any], engine: str | None, env: str, logical_date: date) -> dict[str, Any]:
    return compile_config(json.dumps(doc, sort_keys=True), engine, env, logical_date.isoformat(), str(home()),
                          _CATALOG_VERSION[0])


# --- session state -------------------------------------------------------------------------------


def default_logical_date() -> date:
    configured = os.environ.get("FORMCAST_UI_DATE", "").strip()
    if configured:
        return date.fromisoformat(configured)
    return date.today() - timedelta(days=1)


def init() -> None:
    ss = st.session_state
    ss.setdefault("doc", None)
    ss.setdefault("opened", None)
    ss.setdefault("gen", 0)
    ss.setdefault("logical_date", default_logical_date())
    ss.setdefault("json_error", None)


def set_doc(doc: dict[str, Any] | None, opened: tuple[str, str] | None = None, *, keep_opened: bool = False) -> None:
    """Replace the edited document from outside the form (load, JSON edit, list change)."""
    ss = st.session_state
    ss["doc"] = doc
    if not keep_opened:
        ss["opened"] = opened
    ss["gen"] = ss.get("gen", 0) + 1
    ss["json_error"] = None
    ss.pop("editor_json", None)


def doc() -> dict[str, Any] | None:
    return st.session_state.get("doc")


def opened() -> tuple[str, str] | None:
    return st.session_state.get("opened")


# --- who is signed in ------------------------------------------------------------------------------

AUTH_KEY = "auth_token"


def origin() -> str:
    """Where requests come from, for the audit log: the browser's address as Streamlit sees it."""
    from app.security import audit

    try:
        address = st.context.ip_address
    except Exception:  # no browser behind this run (bare mode)
        address = None
    return audit.origin("ui", address if isinstance(address, str) and address else "local")  # AppTest: a mock


def resolve_principal() -> Any:
    """Resolve this browser session's sign-in once per script run (app.py); None when signed out or ended."""
    from app.security import accounts

    token = st.session_state.get(AUTH_KEY)
    found = accounts.resume_session(catalog(), token, where=origin()) if token else None
    if token and found is None:
        st.session_state.pop(AUTH_KEY, None)
        st.session_state["auth_message"] = "Your session ended (expired, signed out elsewhere, or the account was " \
                                           "disabled): sign in again."
    st.session_state["principal"] = found
    return found


def me() -> Any:
    """The signed-in principal (resolved at the start of this run), or None."""
    return st.session_state.get("principal")


def user() -> str:
    found = me()
    return found.name if found is not None else ""


def can(action: str, resource: str | None = None, env: str | None = None, **facts: Any) -> bool:
    """Should a control for `action` be shown? The policy's answer for the signed-in account."""
    from app.security import policy

    return bool(policy.authorize(catalog(), me(), action, resource, env, **facts))


def decision(action: str, resource: str | None = None, env: str | None = None, **facts: Any) -> Any:
    """The policy's whole answer (its message names what is missing), for a caption beside a hidden control."""
    from app.security import policy

    return policy.authorize(catalog(), me(), action, resource, env, **facts)


def sign_in(name: str, password: str) -> Any:
    from app.security import accounts

    principal, issued = accounts.sign_in(catalog(), name, password, where=origin(), kind="session",
                                         label="ui session")
    st.session_state[AUTH_KEY] = issued.secret
    st.session_state["principal"] = principal
    return principal


def sign_in_oidc(email: str, provider: str) -> Any:
    from app.security import accounts

    principal, issued = accounts.sign_in_oidc(catalog(), email, where=origin(), provider=provider)
    st.session_state[AUTH_KEY] = issued.secret
    st.session_state["principal"] = principal
    return principal


def sign_out() -> None:
    """End the session: the token is revoked, and everything this browser session held is dropped."""
    from app.security import accounts

    found = me()
    if found is not None:
        accounts.sign_out(catalog(), found)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    try:
        single_sign_on = st.user.get("is_logged_in") is True
    except Exception:  # no auth configured
        single_sign_on = False
    if single_sign_on:
        st.logout()  # else the identity provider's cookie would sign this browser straight back in


def logical_date() -> date:
    return st.session_state.get("logical_date") or default_logical_date()


def load_example(file_name: str) -> dict[str, Any]:
    path = GALLERY_DIR / file_name if (GALLERY_DIR / file_name).is_file() else EXAMPLES / file_name
    return json.loads(path.read_text(encoding="utf-8"))


def parsed_task() -> tuple[Any, list[Any]]:
    from generators.loading import parse_task

    current = doc()
    if current is None:
        return None, []
    return parse_task(current)


def rerun_fragment() -> None:
    """Rerun the current fragment if there is one, else the whole app."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:
        st.rerun()
