"""Admin (admins only; the page is not listed for others): accounts, tokens, grants and the audit log.

Everything goes through `app.security.accounts` (what `formcast user/grant/revoke` call), which asks the
policy again and writes the audit log; secrets (new passwords, tokens) are shown once, right here.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from app.security import accounts, audit, policy
from app.security.identity import AuthenticationError, IdentityError
from app.security.passwords import PasswordError
from app.security.policy import AccessDenied
from app.ui import state
from catalog.security import PRIVILEGES, ROLES

st.title("Admin")
if not state.can("administer"):
    st.error("This page is for admins.")
    st.stop()

catalog = state.catalog()
me = state.me()
REFUSALS = (AccessDenied, IdentityError, PasswordError, AuthenticationError)

message = st.session_state.pop("admin_message", None)
if message:
    getattr(st, message[0])(message[1])
secret = st.session_state.pop("admin_secret", None)
if secret:
    st.warning(f"{secret[0]} (shown once, copy it now):")
    st.code(secret[1], language="text")


def _do(action: Callable[[], Any], success: str, secret_label: str | None = None) -> None:
    try:
        result = action()
    except REFUSALS as err:
        st.session_state["admin_message"] = ("error", str(err))
        return
    st.session_state["admin_message"] = ("success", success)
    if secret_label and result:
        st.session_state["admin_secret"] = (secret_label, result)


users_tab, grants_tab, audit_tab = st.tabs(["Accounts", "Grants", "Audit log"])

with users_tab:
    found = accounts.list_accounts(catalog, me)
    st.dataframe(pd.DataFrame([{
        "account": a.name, "role": a.role, "kind": a.kind, "state": "disabled" if a.disabled else "active",
        "email": a.email or "", "created (UTC)": a.created_at.strftime("%Y-%m-%d %H:%M"), "by": a.created_by,
    } for a in found]), width="stretch", hide_index=True, key="admin_accounts")

    st.markdown("**Add an account**")
    c1, c2, c3, c4 = st.columns([2, 2, 3, 1], vertical_alignment="bottom")
    new_name = c1.text_input("Name", key="admin_new_name", placeholder="alice")
    new_role = c2.selectbox("Role", ROLES, index=1, key="admin_new_role")
    new_email = c3.text_input("Email (for single sign-on)", key="admin_new_email")
    service = c4.checkbox("Service", key="admin_new_service", help="Automation: signs in with tokens only.")
    if st.button("Add account", key="admin_add", type="primary", disabled=not new_name):
        _do(lambda: accounts.add(catalog, me, new_name.strip(), new_role, kind="service" if service else "user",
                                 email=new_email.strip() or None)[1],
            f"Added {new_name.strip()} ({new_role}).", f"Password of {new_name.strip()}")
        st.rerun()

    st.markdown("**Change an account**")
    names = [a.name for a in found]
    picked = st.selectbox("Account", names, key="admin_pick")
    account = next((a for a in found if a.name == picked), None)
    if account is not None:
        b1, b2, b3, b4 = st.columns(4, vertical_alignment="bottom")
        role = b1.selectbox("Role", ROLES, index=ROLES.index(account.role), key="admin_role")
        if b1.button("Set role", key="admin_set_role", disabled=role == account.role):
            _do(lambda: accounts.set_role(catalog, me, account.name, role), f"{account.name} is now a {role}.")
            st.rerun()
        if account.disabled:
            if b2.button("Enable", key="admin_enable"):
                _do(lambda: accounts.set_disabled(catalog, me, account.name, False), f"Enabled {account.name}.")
                st.rerun()
        elif b2.button("Disable", key="admin_disable", help="Every token and session of it stops working at once."):
            _do(lambda: accounts.set_disabled(catalog, me, account.name, True), f"Disabled {account.name}.")
            st.rerun()
        if account.kind == "user" and account.name != me.name and b3.button("Reset password", key="admin_reset"):
            _do(lambda: accounts.set_password(catalog, me, account.name),
                f"New password for {account.name}; its sessions were signed out.", f"Password of {account.name}")
            st.rerun()
        if b4.button("Create API token", key="admin_token", disabled=account.disabled):
            _do(lambda: accounts.create_token(catalog, me, account.name, label="created on the admin page").secret,
                f"Token created for {account.name}.", f"Token for {account.name} (use it as FORMCAST_TOKEN)")
            st.rerun()
        tokens = accounts.list_tokens(catalog, me, account.name)
        if tokens:
            st.dataframe(pd.DataFrame([{
                "token": t.token_id, "kind": t.kind, "state": t.state(), "label": t.label,
                "expires (UTC)": t.expires_at.strftime("%Y-%m-%d %H:%M"),
                "last used": t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "",
            } for t in tokens]), width="stretch", hide_index=True, key="admin_tokens")
            active = [t.token_id for t in tokens if t.state() == "active"]
            if active:
                r1, r2 = st.columns([2, 1], vertical_alignment="bottom")
                token_id = r1.selectbox("Token", active, key="admin_revoke_pick")
                if r2.button("Revoke token", key="admin_revoke_token"):
                    _do(lambda: accounts.revoke_token(catalog, me, token_id), f"Token {token_id} revoked.")
                    st.rerun()

with grants_tab:
    all_grants = policy.grants(catalog)
    st.dataframe(pd.DataFrame([{
        "account": g.account, "privilege": g.privilege, "namespace": g.namespace, "table": g.table, "env": g.env,
        "by": g.granted_by, "at (UTC)": g.granted_at.strftime("%Y-%m-%d %H:%M"),
    } for g in all_grants], columns=["account", "privilege", "namespace", "table", "env", "by", "at (UTC)"]),
        width="stretch", hide_index=True, key="admin_grants")
    st.caption("Admins need no grants. Roles bound what a grant can give: viewer read; developer read, write, "
               "deploy; approver + approve; operator read, operate. write is granted in dev only.")
    g1, g2, g3, g4, g5 = st.columns(5, vertical_alignment="bottom")
    grantee = g1.selectbox("Account", [a.name for a in accounts.list_accounts(catalog, me) if a.role != "admin"],
                           key="admin_grant_account")
    privilege = g2.selectbox("Privilege", PRIVILEGES, key="admin_grant_privilege")
    namespace = g3.text_input("Namespace (* for all)", value="*", key="admin_grant_ns")
    table = g4.text_input("Table (* for all)", value="*", key="admin_grant_table")
    env = g5.text_input("Env (* for all)", value="*", key="admin_grant_env")
    a1, a2 = st.columns(2)
    if a1.button("Grant", key="admin_grant", type="primary", disabled=not grantee):
        _do(lambda: accounts.grant(catalog, me, grantee, privilege, namespace.strip(), table=table.strip(),
                                   env=env.strip()),
            f"Granted {privilege} on {namespace}.{table} in {env} to {grantee}.")
        st.rerun()
    if a2.button("Revoke", key="admin_revoke", disabled=not grantee):
        _do(lambda: accounts.revoke(catalog, me, grantee, privilege, namespace.strip(), table=table.strip(),
                                    env=env.strip()) or None,
            f"Revoked {privilege} on {namespace}.{table} in {env} from {grantee} (if it had exactly that grant).")
        st.rerun()

with audit_tab:
    f1, f2, f3, f4 = st.columns(4)
    who = f1.text_input("Account", key="audit_actor")
    what = f2.selectbox("Action", ["(any)", *audit.ACTIONS], key="audit_action")
    outcome = f3.selectbox("Outcome", ["(any)", *audit.OUTCOMES], key="audit_outcome")
    days = f4.number_input("Last days", min_value=1, max_value=3650, value=7, key="audit_days")
    found_entries = audit.entries(catalog, actor=who.strip() or None, action=None if what == "(any)" else what,
                                  outcome=None if outcome == "(any)" else outcome,
                                  since=datetime.now(UTC) - timedelta(days=int(days)), limit=1000)
    st.caption(f"{len(found_entries)} entr{'y' if len(found_entries) == 1 else 'ies'}, newest first (at most 1000). "
               "Append-only: the database refuses to change or delete entries.")
    st.dataframe(pd.DataFrame([{
        "at (UTC)": e.at.strftime("%Y-%m-%d %H:%M:%S"), "account": e.actor, "action": e.action, "outcome": e.outcome,
        "target": e.target, "env": e.env or "", "version": (e.version_hash or "")[:12], "from": e.origin,
        "detail": e.detail or "",
    } for e in found_entries], columns=["at (UTC)", "account", "action", "outcome", "target", "env", "version",
                                        "from", "detail"]), width="stretch", hide_index=True, key="admin_audit")
