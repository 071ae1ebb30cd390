"""Task editor: the generated form and the JSON side by side, live validation, the compiled SQL, Save;
below, the task's lineage graph, Review & deploy (SQL diff per env, impact, approval) and its versions."""

import json
import time

import streamlit as st

from app.ui import review_view, state
from app.ui.forms import Form
from app.workflow.task_store import ConflictError, InvalidTaskError, canonical_json
from generators.diagnostics import Diagnostic
from generators.loading import parse_task

st.title("Task editor")

if state.doc() is None:
    st.info("No task is open. Create one from a kind or the gallery, or open a saved task.")
    if st.button("Go to Tasks"):
        st.switch_page("views/tasks.py")
    st.stop()


def _apply_json() -> None:
    """The JSON pane was edited: replace the document (the form re-renders from it)."""
    text = st.session_state.get("editor_json", "")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        st.session_state["json_error"] = f"invalid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        return
    if not isinstance(data, dict):
        st.session_state["json_error"] = "a task config is a JSON object"
        return
    state.set_doc(data, keep_opened=True)


def _save(overwrite: bool = False) -> None:
    task, problems = parse_task(state.doc())
    if task is None:
        st.session_state["save_message"] = ("error", f"Not saved: {len(problems)} problem(s) in the config.")
        return
    opened = state.opened()
    expected = opened[1] if opened and opened[0] == task.name else None
    try:
        stored = state.store().save(task, expected, overwrite=overwrite)
    except ConflictError as err:
        st.session_state["conflict"] = {"message": str(err), "name": err.name}
        return
    except InvalidTaskError as err:
        st.session_state["save_message"] = ("error", str(err))
        return
    st.session_state["opened"] = (stored.name, stored.version)
    st.session_state.pop("conflict", None)
    st.session_state["save_message"] = ("success", f"Saved {stored.path}")


def _reload() -> None:
    name = st.session_state.get("conflict", {}).get("name")
    st.session_state.pop("conflict", None)
    if name and state.store().exists(name):
        stored = state.store().load(name)
        state.set_doc(stored.data, (stored.name, stored.version))
        st.session_state["save_message"] = ("info", f"Reloaded {name} from disk; your edits were discarded.")


@st.fragment
def editor_pane() -> None:
    ss = st.session_state
    current = state.doc() or {}
    controls = st.columns([1, 1, 2, 2], vertical_alignment="bottom")
    engine = controls[0].selectbox("Engine", ["spark", "flink"], key="editor_engine",
                                   index=0 if current.get("engine", "spark") == "spark" else 1)
    env = controls[1].selectbox("Environment", ["dev", "prod"], key="editor_env")
    editable = state.can("edit")
    if editable:
        controls[2].button("💾 Save", key="editor_save", type="primary", on_click=_save, width="stretch")
    else:
        controls[2].caption(f"Read-only: {state.me().role}s do not edit tasks.")
    controls[3].download_button("⬇ Export JSON", data=json.dumps(current, indent=2) + "\n",
                                file_name=f"{current.get('name') or 'task'}.json", mime="application/json",
                                key="editor_export", width="stretch")
    message = ss.pop("save_message", None)
    if message:
        getattr(st, message[0])(message[1])
    if ss.get("conflict") and editable:
        st.warning(ss["conflict"]["message"] + ". Reload the saved version (your edits are lost) or overwrite it?")
        c1, c2 = st.columns(2)
        c1.button("Reload from disk", key="conflict_reload", on_click=_reload)
        c2.button("Overwrite", key="conflict_overwrite", on_click=_save, kwargs={"overwrite": True})

    form_col, side_col = st.columns([3, 2], gap="large")
    with form_col:
        form = Form(tables=state.tables(), generation=ss["gen"])
        started = time.perf_counter()
        new_doc = form.render(current)
        ss["form_render_ms"] = (time.perf_counter() - started) * 1000
        ss["form_fields"] = len(form.titles)
    if form.changed:
        state.set_doc(new_doc, keep_opened=True)
        state.rerun_fragment()
    ss["doc"] = new_doc
    task, problems = parse_task(new_doc)
    diagnostics = list(problems)
    compiled = None
    if task is not None:
        compiled = state.compile_doc(new_doc, engine, env, state.logical_date())
        diagnostics = [Diagnostic(**d) for d in compiled["diagnostics"]]
    form.show_diagnostics(diagnostics)
    ss["editor_diagnostics"] = [(d.path, d.severity, d.message) for d in diagnostics]

    with side_col:
        errors = [d for d in diagnostics if d.severity == "error"]
        if errors:
            st.error(f"{len(errors)} problem(s): see the fields marked below them.")
        elif task is not None:
            st.success("Valid" + (f" · {len(diagnostics)} warning(s)" if diagnostics else ""))
        if not ss.get("json_error"):
            ss["editor_json"] = canonical_json(task) if task is not None else json.dumps(new_doc, indent=2) + "\n"
        st.text_area("JSON", key="editor_json", height=380, on_change=_apply_json,
                     help="Edit and press Ctrl+Enter (or leave the field): the form follows.")
        if ss.get("json_error"):
            st.error(ss["json_error"])
        st.markdown(f"**Compiled SQL** · {engine} · {env} · {state.logical_date()}")
        if compiled and compiled.get("script"):
            st.code(compiled["script"], language="sql")
        else:
            st.caption("The SQL appears when the task is valid.")

    valid = task is not None and not errors
    lineage_tab, review_tab, versions_tab = st.tabs(["🕸️ Lineage", "🔍 Review & deploy", "🗃️ Versions"])
    with lineage_tab:
        if valid:
            review_view.lineage_section(new_doc, engine, env)
        else:
            st.caption("The lineage appears when the task is valid.")
    with review_tab:
        if valid:
            review_view.review_section(task, new_doc)
        else:
            st.caption("Fix the problems above to review and deploy.")
    with versions_tab:
        review_view.versions_section(task.name if task is not None else new_doc.get("name"))


editor_pane()
