"""Schedule: cron (presets or free text) with the next runs, priority, SLA deadline, upstream tasks."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, available_timezones

import streamlit as st
from croniter import croniter

from app.security.policy import article
from app.ui import state
from app.workflow.task_store import ConflictError, referenced_tables

PRESETS = {
    "Daily at 02:00": "0 2 * * *",
    "Hourly at :15": "15 * * * *",
    "Every 10 minutes": "*/10 * * * *",
    "Weekdays at 06:30": "30 6 * * 1-5",
    "Weekly, Sunday 03:00": "0 3 * * 0",
    "Monthly, 1st at 04:00": "0 4 1 * *",
    "Custom": None,
    "Manual only (no schedule)": "",
}

st.title("Schedule")
doc = state.doc()
if doc is None:
    st.info("No task is open: open or create one on the Tasks page.")
    st.stop()

st.markdown(f"**{doc.get('name') or '(unnamed)'}** · `{doc.get('kind', '?')}`")
current_cron = doc.get("schedule") or ""
preset_names = list(PRESETS)
initial = next((k for k, v in PRESETS.items() if v == current_cron and v is not None), "Custom")
preset = st.selectbox("Schedule", preset_names, index=preset_names.index(initial), key="sched_preset")
if PRESETS[preset] is None:
    cron = st.text_input("Cron (minute hour day month weekday)", value=current_cron, key="sched_cron",
                         placeholder="0 2 * * *").strip()
else:
    cron = PRESETS[preset]

sla = doc.get("sla") or {}
zones = sorted(available_timezones())
c1, c2, c3 = st.columns(3)
levels = ["P0", "P1", "P2", "P3"]
priority = c1.radio("Priority", levels, index=levels.index(doc.get("priority", "P2")), horizontal=True,
                    key="sched_priority", help="P0 is the most critical.")
deadline = c2.text_input("SLA deadline (HH:MM, empty: none)", value=sla.get("deadline", ""), key="sched_deadline")
tz_name = sla.get("timezone", "UTC")
timezone = c3.selectbox("Time zone", zones, index=zones.index(tz_name) if tz_name in zones else zones.index("UTC"),
                        key="sched_tz")

valid_cron = not cron or (len(cron.split()) == 5 and croniter.is_valid(cron))
if cron and not valid_cron:
    st.error(f"'{cron}' is not a five-field cron expression, e.g. 0 2 * * *")
elif cron:
    now = datetime.now(ZoneInfo(timezone))
    it = croniter(cron, now.astimezone(UTC).replace(tzinfo=None))
    nxt = [it.get_next(datetime).replace(tzinfo=UTC) for _ in range(5)]
    st.markdown("**Next 5 runs** (cron in UTC)")
    st.table([{"UTC": t.strftime("%Y-%m-%d %H:%M"), timezone: t.astimezone(ZoneInfo(timezone)).strftime(
        "%Y-%m-%d %H:%M")} for t in nxt])
else:
    st.caption("Manual runs only.")

st.markdown("**Upstream dependencies** (suggested: saved tasks whose target this task reads)")
reads = referenced_tables(doc)
upstream = []
for entry in state.store().list():
    if entry.name != doc.get("name") and entry.target and entry.target.lower() in reads:
        upstream.append({"task": entry.name, "writes": entry.target, "kind": entry.kind})
st.caption("Reads: " + (", ".join(sorted(reads)) or "nothing"))
if upstream:
    st.table(upstream)
else:
    st.caption("No saved task writes what this task reads.")

deadline_ok = not deadline or (len(deadline) == 5 and deadline[2] == ":" and deadline.replace(":", "").isdigit())
if not deadline_ok:
    st.error("The SLA deadline is HH:MM, e.g. 08:00")
if not state.can("edit"):
    st.caption(f"You are {article(state.me().role)}: schedules are changed by developers, approvers and admins.")
elif st.button("Apply to the task and save", key="sched_save", type="primary",
               disabled=not (valid_cron and deadline_ok)):
    new_doc = dict(doc)
    new_doc.pop("schedule", None)
    new_doc.pop("sla", None)
    if cron:
        new_doc["schedule"] = cron
    new_doc["priority"] = priority
    if deadline:
        new_doc["sla"] = {"deadline": deadline, "timezone": timezone}
    state.set_doc(new_doc, keep_opened=True)
    task, problems = state.parsed_task()
    if task is None:
        st.error("Applied, but not saved: the task has problems — " + "; ".join(
            f"{p.path}: {p.message}" for p in problems))
    else:
        opened = state.opened()
        try:
            stored = state.store().save(task, opened[1] if opened and opened[0] == task.name else None)
            st.session_state["opened"] = (stored.name, stored.version)
            st.success(f"Saved {stored.path}")
        except ConflictError as err:
            st.error(f"{err}. Open the editor to reload or overwrite.")
            st.session_state["conflict"] = {"message": str(err), "name": err.name}
