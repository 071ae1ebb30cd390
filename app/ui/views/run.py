"""Run: a one-click preview of the open task on a sample in dev (never writes), and the run history."""

import time

import pandas as pd
import streamlit as st

from app.ui import state

st.title("Run")
warmer = state.warm_engine()
task, problems = state.parsed_task()

if state.doc() is None:
    st.info("No task is open: open or create one on the Tasks page.")
elif task is None:
    st.error(f"The task config has {len(problems)} problem(s); fix them in the editor first.")
else:
    st.markdown(f"**{task.name}** · `{task.kind}` · engine {task.engine} · env **dev** · "
                f"logical date {state.logical_date()}")
    engine_note = "engine warm" if warmer.ready else ("starting the engine…" if warmer.thread else "")
    limit = st.number_input("Rows", min_value=1, max_value=1000, value=50, step=10, key="preview_limit")
    if st.button("▶ Preview on a sample (dev)", key="run_preview", type="primary", help=engine_note):
        from app.security.policy import AccessDenied
        from app.workflow.runs import RunResult, preview

        started = time.perf_counter()
        with st.status("Running the preview on Spark…", expanded=True) as status:
            try:
                result = preview(state.compiler(), task, principal=state.me(), env="dev",
                                 logical_date=state.logical_date(), limit=int(limit), emit=status.write)
            except AccessDenied as err:  # read on a source is missing: nothing ran
                result = RunResult(run_id="", status="denied", error=f"denied: {err}")
            elapsed = time.perf_counter() - started
            label = f"Preview {result.status} in {elapsed:.2f} s"
            status.update(label=label, state="complete" if result.status == "succeeded" else "error",
                          expanded=result.status != "succeeded")
        st.session_state["preview_count"] = st.session_state.get("preview_count", 0) + 1
        st.session_state["last_preview"] = {"n": st.session_state["preview_count"], "task": task.name,
                                            "status": result.status, "error": result.error,
                                            "rows": result.preview, "columns": result.columns,
                                            "log": list(result.log), "seconds": elapsed,
                                            "diagnostics": [str(d) for d in result.diagnostics]}
    last = st.session_state.get("last_preview")
    if last and last["task"] == task.name:
        if last["status"] == "succeeded":
            st.success(f"Preview #{last['n']}: {len(last['rows'])} row(s) in {last['seconds']:.2f} s")
            st.dataframe(pd.DataFrame(last["rows"], columns=last["columns"]), width="stretch",
                         hide_index=True, key="preview_rows")
        else:
            st.error(last["error"] or last["status"])
            for line in last["diagnostics"]:
                st.caption(line)
        with st.expander("Log", expanded=False):
            st.code("\n".join(last["log"]) or "(empty)", language="text")

st.subheader("Run history")
current = state.doc() or {}
only_this = st.toggle("Only this task", value=bool(current.get("name")), key="history_only_task")
runs = state.catalog().runs(task=current.get("name") if only_this and current.get("name") else None, limit=100)
if runs:
    st.dataframe(pd.DataFrame([{
        "started": r.started_at, "task": r.task, "status": r.status, "engine": r.engine, "env": r.env,
        "logical date": r.logical_date, "rows written": r.rows_written, "seconds": r.duration_seconds,
        "target": r.target, "error": r.error, "id": r.id,
    } for r in runs]), width="stretch", hide_index=True)
else:
    st.caption("No runs recorded yet (runs are recorded by `formcast run`; previews write nothing).")
