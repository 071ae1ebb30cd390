"""Sign in: a local account (name and password), or single sign-on through Streamlit's `st.login` when
`.streamlit/secrets.toml` has an [auth] section. An SSO identity maps to the account with its email."""

import streamlit as st

from app.security import accounts
from app.security.identity import AuthenticationError
from app.ui import state


def _sso_providers() -> list[str]:
    """[auth] alone is one provider (''); [auth.NAME] sections are named providers."""
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets.toml at all
        return []
    if not section:
        return []
    named = [key for key, value in section.items() if hasattr(value, "items")]
    return named or [""]


def _submit() -> None:
    ss = st.session_state
    try:
        state.sign_in(ss.get("signin_name", ""), ss.get("signin_password", ""))
    except AuthenticationError as err:
        ss["auth_message"] = str(err)


st.title("Sign in to Formcast")
message = st.session_state.pop("auth_message", None)
if message:
    st.error(message)
if not accounts.has_accounts(state.catalog()):
    st.warning("This workspace has no accounts yet. Create the first admin on the command line: "
               "`formcast user add NAME --role admin` (or `formcast demo`, which prints the demo accounts).")

providers = _sso_providers()
sso_user = getattr(st, "user", None)
if providers and sso_user is not None and sso_user.get("is_logged_in"):
    email = sso_user.get("email") or ""
    try:
        state.sign_in_oidc(email, "sso")
        st.rerun()
    except AuthenticationError as err:
        st.error(str(err))
        st.button("Sign out of single sign-on", key="sso_logout", on_click=st.logout)

with st.form("signin", clear_on_submit=True, width=420):
    st.text_input("Account", key="signin_name", placeholder="alice")
    st.text_input("Password", key="signin_password", type="password")
    st.form_submit_button("Sign in", key="signin_go", type="primary", on_click=_submit)
for provider in providers:
    label = f"Sign in with {provider}" if provider else "Sign in with single sign-on"
    st.button(label, key=f"sso_{provider or 'default'}", on_click=st.login, args=(provider,) if provider else ())
st.caption("`formcast demo` prints the demo accounts' passwords (also in `demo-accounts.txt` in the workspace).")
