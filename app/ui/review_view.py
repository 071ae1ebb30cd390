"""The task editor's lower half: lineage of the edited task, Review & deploy, and version history.

Review & deploy follows `app.workflow.versions` (the same rules as `formcast review/deploy/approve/rollback`):
a review renders the proposed config for dev and prod and diffs it against the deployed version; the
impact analysis (`generators.impact.analyze`, as `formcast diff` calls it) names the downstream tasks a
breaking change affects, and one affecting a P0/P1 task must be acknowledged before deploying. A
P0/P1 change is stored pending and deployed when another account than its author approves it.
Who acts is the signed-in account (`state.me()`); a control the account may not use is not shown
(`state.can`), and the action is authorized again by `app.workflow.versions` when it runs.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from app.security.policy import AccessDenied
from app.ui import lineage_view, state
from app.workflow import versions


def _doc_key(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True)


# --- lineage -----------------------------------------------------------------------------------------


def lineage_section(doc: dict[str, Any], engine: str, env: str) -> dict[str, Any] | None:
    result = state.lineage_doc(doc, engine, env, state.logical_date())
    if not result["ok"]:
        st.caption(f"No lineage: {result['error']}.")
        return None
    proposed = result["lineage"]
    st.caption(f"From the current compile ({engine}, {env}): **{proposed.task}** reads "
               f"{', '.join(proposed.reads) or 'nothing'} and writes **{proposed.target_table}**; "
               "what is up- and downstream of it comes from the stored lineage of other tasks.")
    for note in proposed.incomplete:
        st.caption(f"⚠️ lineage incomplete: {note}")
    graph = lineage_view.with_proposal(state.catalog().lineage_graph(), proposed)
    return lineage_view.render(graph, proposed.target_table, key="ed_lineage",
                               columns=[name for name, _ in proposed.output_columns])


# --- review & deploy -----------------------------------------------------------------------------


def _run_review(task: Any, doc: dict[str, Any]) -> None:
    from generators.impact import analyze
    from generators.lineage import task_lineage

    catalog = state.catalog()
    proposal = versions.propose(state.compiler(), task)
    review = versions.review(catalog, proposal)
    impact, note = None, None
    try:
        compiled = state.compiler().compile(task, env="dev", logical_date=state.logical_date())
        if compiled.ok:
            impact = analyze(task_lineage(compiled), catalog.lineage(task.name), catalog.lineage_graph())
        else:
            note = "the task does not compile for dev: no impact analysis"
    except Exception as err:  # impact is advice; a failure must not hide the SQL diff
        note = f"impact analysis failed: {err}"
    st.session_state["review"] = {"key": _doc_key(doc), "task": task.name, "proposal": proposal, "review": review,
                                  "impact": impact, "note": note}
    st.session_state.pop("review_ack", None)


def review_section(task: Any, doc: dict[str, Any]) -> None:
    ss = st.session_state
    message = ss.pop("deploy_message", None)
    if message:
        getattr(st, message[0])(message[1])
    st.caption("Renders the config for dev and prod, diffs the SQL against the deployed version and checks "
               "what a change breaks downstream. Preview it on the Run page first.")
    if st.button("🔍 Review changes", key="review_go"):
        with st.spinner("Rendering and diffing…"):
            _run_review(task, doc)
    current = ss.get("review")
    if not current or current["task"] != task.name:
        return
    stale = current["key"] != _doc_key(doc)
    if stale:
        st.warning("The config changed since this review: review again before deploying.")
    proposal, review, impact = current["proposal"], current["review"], current["impact"]
    base = (f"v{review.deployed.version} (deployed, by {review.deployed.author})" if review.deployed
            else "nothing deployed yet")
    st.markdown(f"**{task.name}** ({proposal.task.priority}): proposed change against {base}")
    for d in proposal.diagnostics:
        st.error(f"{d.path or '<task>'}: {d.message}")
    for label, diff in review.diffs.items():
        st.markdown(f"**{label}** · {'changed' if diff else 'unchanged'}")
        if diff:
            st.code(diff, language="diff")
    if not review.changed:
        st.info("Nothing changed: the proposal is the deployed version.")
    needs_ack = _impact_block(impact, current["note"])
    for reason in review.conflicts:
        st.warning(f"Needs the approval of the table's owner: {reason}.")
    if review.needs_approval and not review.conflicts:
        st.info(f"A {'/'.join(versions.NEEDS_APPROVAL)} task: after deploy the version waits for approval by "
                "another account than its author (Versions tab).")

    author = state.user()
    target = proposal.task.target.table.lower()
    allowed = state.can("deploy", target, "prod")
    if not allowed:
        st.caption(f"You ({author}) may not deploy tasks writing {target}: "
                   f"{state.decision('deploy', target, 'prod').message}.")
        return
    acknowledged = True
    if needs_ack:
        names = ", ".join(a.task for a in impact.affected if a.needs_acknowledgement)
        acknowledged = st.checkbox(f"I have agreed this breaking change with the owners of {names}", key="review_ack")
    problems = []
    if stale:
        problems.append("review the current config first")
    if not proposal.ok:
        problems.append("fix the errors above")
    if not acknowledged:
        problems.append("acknowledge the breaking change")
    if not review.changed:
        problems.append("nothing to deploy")
    if problems:
        st.caption("To deploy: " + "; ".join(problems) + ".")
    if st.button(f"🚀 Deploy as {author}", key="review_deploy", type="primary", disabled=bool(problems)):
        try:
            version = versions.deploy(state.catalog(), proposal, state.me())
        except (versions.VersionError, AccessDenied) as err:
            ss["deploy_message"] = ("error", str(err))
        else:
            if version.status == "pending":
                ss["deploy_message"] = ("warning", f"{version.task} v{version.version} stored: a {version.priority} "
                                        f"change waits for approval by another account than {author}.")
            else:
                ss["deploy_message"] = ("success", f"{version.task} v{version.version} deployed by {author}.")
            ss.pop("review", None)
        state.rerun_fragment()


def _impact_block(impact: Any, note: str | None) -> bool:
    """Show the impact analysis; True when deploying needs an acknowledgement."""
    st.markdown("**Impact downstream**")
    if note:
        st.caption(note)
    if impact is None:
        return False
    verdict = "BREAKING" if impact.breaking else "non-breaking"
    (st.error if impact.breaking else st.success)(f"{impact.task} → {impact.target_table}: {verdict} change")
    if not impact.changes:
        st.caption("No change to the output columns.")
    for change in impact.changes:
        st.markdown(f"- {'❗ ' if change.breaking else ''}{change.describe()}")
    if impact.affected:
        st.dataframe(pd.DataFrame([{
            "task": a.task, "owner": a.owner, "priority": a.priority, "writes": a.target_table,
            "how": "reads a changed column" if a.direct else "downstream", "columns": ", ".join(a.columns),
            "reads": ", ".join(a.reads), "acknowledge": a.needs_acknowledgement,
        } for a in impact.affected]), width="stretch", hide_index=True, key="review_affected")
    elif impact.breaking:
        st.caption("No stored task reads what changed.")
    for line in impact.notes:
        st.caption(f"note: {line}")
    return impact.needs_acknowledgement


# --- versions ------------------------------------------------------------------------------------


def _approve(task: str, number: int) -> None:
    try:
        versions.approve(state.catalog(), task, number, state.me())
        st.session_state["versions_message"] = ("success", f"{task} v{number} approved by {state.user()} and deployed.")
    except (versions.VersionError, AccessDenied) as err:
        st.session_state["versions_message"] = ("error", str(err))


def _rollback(task: str) -> None:
    to = st.session_state.get("rollback_to")
    try:
        version = versions.rollback(state.catalog(), task, int(to), state.me())
        if version.status == "pending":
            st.session_state["versions_message"] = (
                "warning", f"{task} v{version.version} stored (content of v{to}): a {version.priority} task's rollback "
                           "waits for approval by another account.")
        else:
            st.session_state["versions_message"] = ("success",
                                                    f"{task} v{version.version} deployed (content of v{to}).")
    except (versions.VersionError, AccessDenied, TypeError, ValueError) as err:
        st.session_state["versions_message"] = ("error", str(err))


def versions_section(task_name: str | None) -> None:
    ss = st.session_state
    message = ss.pop("versions_message", None)
    if message:
        getattr(st, message[0])(message[1])
    if not task_name:
        st.caption("Name the task to see its versions.")
        return
    catalog = state.catalog()
    history = versions.history(catalog, task_name)
    if not history:
        st.caption(f"{task_name} has never been deployed.")
        return
    current = versions.deployed(catalog, task_name)
    user = state.user()
    st.dataframe(pd.DataFrame([{
        "version": v.version, "deployed": bool(current and current.version == v.version), "status": v.status,
        "priority": v.priority, "author": v.author, "created (UTC)": v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "approved by": v.approved_by or "", "rollback of": v.rollback_of, "config": v.config_hash[:12],
    } for v in reversed(history)]), width="stretch", hide_index=True, key="versions_table")
    for v in history:
        if v.status != "pending":
            continue
        st.warning(f"v{v.version} ({v.priority}) by {v.author} waits for approval by another account than {v.author}.")
        found = versions.conflicts(catalog, task_name, v.target_table, v.priority)
        owner = versions.table_owner(catalog, v.target_table) if found else None
        decision = state.decision("approve", v.target_table, "prod", author=v.author, owner=owner)
        if not decision:
            st.caption(f"You ({user}) cannot approve v{v.version}: {decision.message}.")
            continue
        st.button(f"✅ Approve v{v.version} as {user}", key=f"approve_{v.version}", on_click=_approve,
                  args=(task_name, v.version), help="Approves and deploys it. Its author cannot approve it.")
    choices = [v.version for v in reversed(history) if v.status == "approved"
               and not (current and v.version == current.version)]
    if choices and state.can("deploy", history[-1].target_table, "prod"):
        c1, c2 = st.columns([1, 1], vertical_alignment="bottom")
        c1.selectbox("Roll back to", choices, key="rollback_to", format_func=lambda n: f"v{n}")
        c2.button(f"↩ Roll back as {user}", key="rollback_go", on_click=_rollback, args=(task_name,),
                  help="Deploys that version's content again, as a new version (a P0/P1 task's after approval).")
