"""Tasks: saved configs (open, duplicate, delete, export), new tasks from a kind or the gallery, import."""

from datetime import datetime

import streamlit as st

from app.security.policy import article
from app.ui import state
from app.workflow.task_store import ConflictError, InvalidTaskError, TaskStoreError
from generators.tasks import KINDS

st.title("Tasks")
store = state.store()


def _open(name: str) -> None:
    stored = store.load(name)
    state.set_doc(stored.data, (stored.name, stored.version))
    st.session_state["goto_editor"] = True


def _new(doc: dict) -> None:
    state.set_doc(doc, None)
    st.session_state["goto_editor"] = True


if st.session_state.pop("goto_editor", False):
    st.switch_page("views/editor.py")

editable = state.can("edit")
if editable:
    new_col, gallery_col, import_col = st.columns(3, gap="large")
    with new_col, st.container(border=True):
        st.subheader("New task")
        kind = st.selectbox("Kind", list(KINDS), key="new_kind",
                            format_func=lambda k: f"{k} — {(KINDS[k].__doc__ or '').strip()}")
        name = st.text_input("Name", key="new_name", placeholder="daily_active_users")
        if st.button("Create", key="new_create", type="primary", disabled=not name):
            _new({"name": name, "kind": kind})
            st.rerun()
    with gallery_col, st.container(border=True):
        st.subheader("From the gallery")
        for i, (title, file_name) in enumerate(state.GALLERY):
            example = state.load_example(file_name)
            if st.button(title, key=f"gallery_{i}", help=example.get("description"), width="stretch"):
                _new(example)
                st.rerun()
    with import_col, st.container(border=True):
        st.subheader("Import")
        upload = st.file_uploader("Task config (JSON)", type=["json"], key="import_file")
        overwrite = st.checkbox("Overwrite a saved task of the same name", key="import_overwrite")
        if upload is not None and st.button("Import", key="import_go"):
            try:
                stored = store.import_text(upload.getvalue().decode("utf-8"), overwrite=overwrite)
                st.success(f"Imported {stored.name}")
            except InvalidTaskError as err:
                st.error(str(err) + "\n\n" + "\n".join(f"- `{d.path or '<task>'}`: {d.message}"
                                                       for d in err.diagnostics))
            except (ConflictError, TaskStoreError) as err:
                st.error(str(err))
else:
    st.caption(f"You are {article(state.me().role)}: you can open and export tasks, not create, change or delete them.")

st.subheader("Saved tasks")
entries = store.list()
if not entries:
    st.caption(f"No saved tasks yet in `{store.root}`.")
confirm = st.session_state.get("confirm_delete")
for entry in entries:
    with st.container(border=True):
        info, actions = st.columns([3, 2], vertical_alignment="center")
        with info:
            flag = "" if entry.valid else " · ⚠️ invalid"
            st.markdown(f"**{entry.name}** · `{entry.kind}`{flag}")
            st.caption(f"{entry.source or ''} → {entry.target or ''} · modified "
                       f"{datetime.fromtimestamp(entry.modified):%Y-%m-%d %H:%M:%S} · {entry.description[:120]}")
        with actions:
            b1, b2, b3, b4 = st.columns(4)
            b1.button("Open", key=f"open_{entry.name}", on_click=_open, args=(entry.name,))
            b3.download_button("Export", data=store.export_text(entry.name), file_name=f"{entry.name}.json",
                               mime="application/json", key=f"export_{entry.name}")
            if not editable:
                continue
            with b2.popover("Duplicate"):
                copy = st.text_input("New name", value=f"{entry.name}_copy", key=f"dup_name_{entry.name}")
                if st.button("Duplicate", key=f"dup_{entry.name}"):
                    try:
                        store.duplicate(entry.name, copy)
                        st.rerun()
                    except TaskStoreError as err:
                        st.error(str(err))
            if b4.button("Delete", key=f"delete_{entry.name}"):
                st.session_state["confirm_delete"] = (entry.name, entry.version)
                st.rerun()
        if confirm and confirm[0] == entry.name:
            st.warning(f"Delete **{entry.name}**? Its last version stays in `tasks/.history/`.")
            y, n = st.columns(2)
            if y.button("Yes, delete", key=f"confirm_delete_{entry.name}", type="primary"):
                try:
                    store.delete(entry.name, confirm[1])
                    if state.opened() and state.opened()[0] == entry.name:
                        st.session_state["opened"] = None
                except TaskStoreError as err:
                    st.error(str(err))
                st.session_state.pop("confirm_delete", None)
                st.rerun()
            if n.button("Cancel", key=f"cancel_delete_{entry.name}"):
                st.session_state.pop("confirm_delete", None)
                st.rerun()
