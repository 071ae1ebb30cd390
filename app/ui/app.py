"""Formcast's Streamlit app: the entry point for `streamlit run app/ui/app.py` (what `formcast ui` runs).

It holds what the pages share (session state, the sidebar) and routes with `st.navigation`; the
pages under `views/` are thin views over `app.ui.state`, `app.ui.forms` and `app.workflow.task_store`.
"""

import os
import sys

# `streamlit run` puts this file's folder first on sys.path, where `app.py` would shadow the `app`
# package: put the repository root there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(os.path.dirname(_HERE))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
if "app" in sys.modules and not hasattr(sys.modules["app"], "__path__"):
    del sys.modules["app"]

import streamlit as st  # noqa: E402

from app.ui import state  # noqa: E402

st.set_page_config(page_title="Formcast", page_icon="🧩", layout="wide")
state.init()
principal = state.resolve_principal()

if principal is None:  # nothing but the sign-in page until someone signs in
    st.navigation([st.Page("views/signin.py", title="Sign in", icon="🔑", default=True)], position="hidden").run()
    st.stop()

state.warm_engine()  # start Spark in the background once per process: previews then answer fast

PAGES = [
    st.Page("views/tasks.py", title="Tasks", icon="🗂️", default=True),
    st.Page("views/editor.py", title="Task editor", icon="✏️"),
    st.Page("views/run.py", title="Run", icon="▶️"),
    st.Page("views/schedule.py", title="Schedule", icon="⏰"),
    st.Page("views/catalog.py", title="Catalog", icon="📚"),
    st.Page("views/operations.py", title="Operations", icon="🛠️"),
]
if state.can("administer"):
    PAGES.append(st.Page("views/admin.py", title="Admin", icon="🔐"))
page = st.navigation(PAGES)

with st.sidebar:
    kind = ", service account" if principal.kind == "service" else ""
    st.markdown(f"Signed in as **{principal.name}** ({principal.role}{kind})")
    st.button("Sign out", key="sign_out", on_click=state.sign_out)
    current = state.doc()
    opened = state.opened()
    if current is not None:
        name = current.get("name") or "(unnamed)"
        saved = " · saved" if opened and opened[0] == current.get("name") else " · not saved"
        st.caption(f"Editing **{name}** ({current.get('kind', '?')}){saved}")
    else:
        st.caption("No task open: create or open one on the Tasks page.")
    st.date_input("Logical date", key="logical_date", help="The date runs and compiled SQL are for ({{ ds }}).")
    st.caption(f"Workspace: `{state.home()}`")

page.run()
