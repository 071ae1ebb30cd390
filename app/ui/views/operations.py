"""Operations: scheduled instances by logical date, one instance's attempts and rerun, backfills, SLA risk board.

Everything goes through the scheduler's state in the catalog database (what `formcast scheduler`,
`formcast instances` and `formcast backfill` use); a running scheduler picks changes up at its next tick.
"""

import time
from datetime import timedelta

import pandas as pd
import streamlit as st

from app.scheduler import backfill as bf
from app.scheduler.core import Scheduler
from app.scheduler.model import TERMINAL
from app.security.policy import AccessDenied
from app.ui import ops, state

st.title("Operations")
sched = state.sched_state()
deployed = {t.name: t for t in sched.tasks()}
everything = sched.list(limit=20000)

message = st.session_state.pop("ops_message", None)
if message:
    getattr(st, message[0])(message[1])

counts = pd.Series([i.state for i in everything]).value_counts() if everything else pd.Series(dtype=int)
cols = st.columns(len(ops.ICONS) + 1)
cols[0].metric("Deployed tasks", len(deployed))
for col, (name, icon) in zip(cols[1:], ops.ICONS.items(), strict=True):
    col.metric(f"{icon} {name}", int(counts.get(name, 0)))
st.button("↻ Refresh", key="ops_refresh")

grid_tab, backfill_tab, sla_tab = st.tabs(["Instances", "Backfill", "SLA"])

with grid_tab:
    if not everything:
        st.caption("No instances yet: deploy tasks (editor → Review & deploy, or `formcast deploy`) and run "
                   "`formcast scheduler`, or queue a backfill.")
    else:
        f1, f2 = st.columns([3, 1])
        names = sorted({i.task for i in everything})
        only = f1.multiselect("Tasks", names, key="ops_tasks", placeholder="all tasks")
        dates = f2.number_input("Logical dates", min_value=1, max_value=60, value=14, key="ops_dates")
        g = ops.grid(everything, int(dates), only)
        event = st.dataframe(g.styled(), width="stretch", key="ops_grid", on_select="rerun",
                             selection_mode="single-cell")
        st.caption("Click a cell to open that instance. Sub-daily schedules show the day's worst state and "
                   "how many of its instances are in it.")
        picked = list(getattr(getattr(event, "selection", None), "cells", None) or [])
        if picked and picked != st.session_state.get("ops_grid_seen"):
            st.session_state["ops_grid_seen"] = picked
            row, day = picked[0]
            task = g.frame.index[row]
            group = g.cells.get((task, day))
            if group:
                st.session_state["ops_task"] = task
                st.session_state["ops_key"] = group[0].key

        st.subheader("Instance")
        s1, s2 = st.columns(2)
        task = s1.selectbox("Task", names, key="ops_task")
        keys = [i.key for i in everything if i.task == task]
        if st.session_state.get("ops_key") not in keys:
            st.session_state.pop("ops_key", None)
        key = s2.selectbox("Logical key", keys, key="ops_key")
        inst = sched.find(task, key) if task and key else None
        if inst is not None:
            facts = ops.instance_facts(inst)
            st.markdown(f"{ops.ICONS.get(inst.state, '')} **{inst.task}** · `{inst.key}` · {inst.state} · "
                        f"pinned **v{inst.version}** · {inst.kind} · attempts {facts['attempts']}")
            st.dataframe(pd.DataFrame([facts]), width="stretch", hide_index=True, key="ops_facts")
            if inst.error:
                st.error(inst.error)
            attempts = sched.attempts(inst.id)
            st.markdown("**Attempts**")
            if attempts:
                st.dataframe(ops.attempt_frame(attempts), width="stretch", hide_index=True, key="ops_attempts")
            else:
                st.caption("Not attempted yet.")
            with st.expander("Log", expanded=inst.state == "failed"):
                lines = []
                for a in attempts:
                    ended = f"{a.ended_at:%H:%M:%S}" if a.ended_at else "…"
                    lines.append(f"attempt {a.attempt} v{a.version} {a.status} by {a.owner} "
                                 f"{a.started_at:%Y-%m-%d %H:%M:%S} → {ended}")
                    if a.error:
                        lines.append("  " + a.error.replace("\n", "\n  "))
                    record = state.catalog().get_run(a.run_id) if a.run_id else None
                    if record is not None:
                        lines.append(f"  run {record.id}: {record.status}, {record.rows_written or 0} row(s) "
                                     f"written to {record.target or '-'} ({record.engine}/{record.env})")
                        if record.error:
                            lines.append("  " + record.error.replace("\n", "\n  "))
                st.code("\n".join(lines) or "(no attempts)", language="text")
            finished = inst.state in TERMINAL
            target = deployed[inst.task].target if inst.task in deployed else "-"
            if not state.can("operate", target, "prod"):
                st.caption(f"Reruns of {inst.task} need operate on {target}: "
                           f"{state.decision('operate', target, 'prod').message}.")
            elif st.button(f"↻ Rerun {inst.task} {inst.key} (v{inst.version})", key="ops_rerun",
                           disabled=not finished,
                           help="Reset it so the scheduler runs it again, with the version it first ran with."
                           if finished else "Only a finished (succeeded or failed) instance can be rerun."):
                try:
                    again = ops.rerun(sched, inst.id, time.time(), state.me(), target)
                    st.session_state["ops_message"] = (
                        "success", f"{again.task} {again.key} requeued ({again.state}, pinned v{again.version}): "
                                   "the scheduler runs it at its next tick.")
                except (ops.RerunError, AccessDenied) as err:
                    st.session_state["ops_message"] = ("error", str(err))
                st.rerun()

with backfill_tab:
    if not deployed:
        st.caption("No deployed task: deploy one first.")
    else:
        c1, c2, c3 = st.columns(3)
        bf_task = c1.selectbox("Task", sorted(deployed), key="bf_task")
        end_default = state.logical_date()
        start = c2.date_input("From (logical date)", value=end_default - timedelta(days=2), key="bf_from")
        end = c3.date_input("To (inclusive)", value=end_default, key="bf_to")
        c4, c5 = st.columns(2)
        mode = c4.radio("Mode", list(bf.MODES), horizontal=True, key="bf_mode",
                        help="missing: dates without an instance · failed: rerun failed ones · all: both, and "
                             "rerun succeeded ones too. Queued or running instances are left alone.")
        cap = c5.number_input("Max instances", min_value=1, max_value=10000, value=31, key="bf_max")
        t = deployed[bf_task]
        params = (bf_task, str(start), str(end), mode, int(cap), t.version)
        d1, d2 = st.columns(2)
        if d1.button("Dry run", key="bf_dry"):
            try:
                plan = bf.plan(sched, t, start, end, mode)
                st.session_state["bf_plan"] = {"params": params, "plan": plan}
            except bf.BackfillError as err:
                st.session_state.pop("bf_plan", None)
                st.error(str(err))
        shown = st.session_state.get("bf_plan")
        current = shown if shown and shown["params"] == params else None
        if current is not None:
            plan = current["plan"]
            rows = ([{"logical key": k, "action": "create", "version": f"v{t.version}", "now": ""}
                     for k in plan.create]
                    + [{"logical key": k, "action": "rerun", "version": f"v{pinned}", "now": was}
                       for _, k, was, pinned in plan.rerun]
                    + [{"logical key": k, "action": "skip", "version": "", "now": was} for k, was in plan.skip])
            rows.sort(key=lambda r: r["logical key"])
            st.dataframe(pd.DataFrame(rows, columns=["logical key", "action", "version", "now"]), width="stretch",
                         hide_index=True, key="bf_rows")
            if plan.size > cap:
                st.error(f"The backfill would queue {plan.size} instances, more than the max {int(cap)}: narrow the "
                         "dates or raise the max.")
            else:
                st.info(f"Dry run: {plan.size} instance(s) would be queued "
                        f"({len(plan.create)} new, {len(plan.rerun)} rerun, {len(plan.skip)} skipped).")
        elif shown:
            st.caption("The form changed since the dry run: run it again.")
        ready = current is not None and 0 < current["plan"].size <= cap
        if not state.can("operate", t.target, "prod"):
            d2.caption(f"Backfills need operate on {t.target}: {state.decision('operate', t.target, 'prod').message}.")
        elif d2.button("Queue backfill", key="bf_go", type="primary", disabled=not ready,
                       help="Run a dry run of these settings first."):
            plan = bf.plan(sched, t, start, end, mode)  # again: the state may have moved since the dry run
            if plan.size > cap:
                st.session_state["ops_message"] = ("error", f"now {plan.size} instances, more than the max {int(cap)}")
            else:
                try:
                    queued = bf.apply(sched, Scheduler(sched), t, plan, time.time(), state.me())
                    st.session_state["ops_message"] = ("success", f"{queued} instance(s) queued for {bf_task} "
                                                                  "(backfill class: never ahead of scheduled work).")
                except AccessDenied as err:
                    st.session_state["ops_message"] = ("error", str(err))
            st.session_state.pop("bf_plan", None)
            st.rerun()

with sla_tab:
    now = time.time()
    m1, m2 = st.columns([1, 3])
    margin = m1.number_input("Risk margin (minutes)", min_value=0, max_value=1440, value=90, key="sla_margin",
                             help="A predicted finish closer than this to the deadline is at risk "
                                  "(the scheduler's --margin).")
    include = m2.toggle("Include met deadlines", key="sla_finished")
    board = ops.sla_frame(everything, now, float(margin) * 60, finished=include)
    st.markdown("**Instances with a deadline** (predicted finish by the scheduler, p90 of past runs along the "
                "critical path)")
    if board.empty:
        st.caption("No instance with a deadline (set an SLA on the Schedule page, or tier deadlines on the "
                   "scheduler).")
    else:
        st.dataframe(board, width="stretch", hide_index=True, key="sla_board")
    alerts = ops.alert_frame(sched.alerts())
    risk = alerts[alerts["condition"] == "sla_risk"]
    missed = alerts[alerts["condition"] == "sla_missed"]
    st.markdown(f"**Risk alerts** · {int(risk['open'].sum())} open, {int((~risk['open']).sum())} resolved")
    if risk.empty:
        st.caption("No risk alert raised.")
    else:
        st.dataframe(risk.sort_values(["open", "raised (UTC)"], ascending=[False, False]), width="stretch",
                     hide_index=True, key="sla_risk")
    st.markdown(f"**Violations** · {len(missed)} missed deadline(s)")
    if missed.empty:
        st.caption("No deadline missed.")
    else:
        st.dataframe(missed.sort_values("raised (UTC)", ascending=False), width="stretch", hide_index=True,
                     key="sla_missed")
