"""Managing accounts, tokens and grants, and signing in: what `formcast user/grant/login` and the UI call.

Every function takes the acting principal, asks `policy` whether it may, and records the change (or
the refusal, or a failed sign-in) in the audit log in the same transaction as the change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from app.security import audit, identity, passwords, policy
from app.security.identity import Account, AuthenticationError, IdentityError, IssuedToken, Principal, TokenInfo
from catalog.base import utcnow
from catalog.db import engine_of, transaction
from catalog.security import sec_accounts, sec_audit

BOOTSTRAP = "(bootstrap)"
LOCKOUT_FAILURES = 5  # failed sign-ins in a row within the window lock the name for the rest of it
LOCKOUT_WINDOW = timedelta(minutes=15)  # created_by / actor of the first admin, made before any account existed


def _write(catalog: Any) -> Any:
    return transaction(engine_of(catalog), write=True)


def _existing(conn: Connection, name: str) -> Account:
    found = identity.find(conn, name)
    if found is None:
        raise IdentityError(f"no account named {name!r} (formcast user list shows them)")
    return found


def has_accounts(catalog: Any) -> bool:
    with transaction(engine_of(catalog)) as conn:
        return identity.account_count(conn) > 0


def account(catalog: Any, name: str) -> Account | None:
    with transaction(engine_of(catalog)) as conn:
        return identity.find(conn, name)


# --- accounts ----------------------------------------------------------------------------------------


def bootstrap_admin(catalog: Any, name: str, *, password: str | None = None, email: str | None = None,
                    where: str | None = None) -> tuple[Account, str]:
    """The first account of a catalog, an admin, created without signing in (there is nobody to sign in
    as). Refused as soon as any account exists. Returns the account and its password."""
    identity.check_name(name)
    secret = password if password is not None else passwords.generate()
    passwords.check_strength(secret, name)
    hashed = passwords.hash_password(secret)
    with _write(catalog) as conn:  # the count is read under the write lock: two bootstraps cannot both win
        if identity.account_count(conn) > 0:
            raise IdentityError("this catalog already has accounts: sign in as an admin (formcast login) to add more")
        created = identity.insert_account(conn, name, "admin", password_hash=hashed, email=email, created_by=BOOTSTRAP)
        audit.record(conn, BOOTSTRAP, "account.add", f"account {name}", detail={"role": "admin", "first": True},
                     where=where)
    return created, secret


def add(catalog: Any, actor: Principal, name: str, role: str, *, kind: str = "user", email: str | None = None,
        password: str | None = None, display_name: str | None = None) -> tuple[Account, str | None]:
    """Create an account. A user gets `password` or a generated one (returned, shown once); a service
    account has no password and signs in with tokens only."""
    identity.check_name(name)
    identity.check_role(role)
    policy.require(catalog, actor, "administer", audit_action="account.add", audit_target=f"account {name}")
    secret = None
    if kind == "user":
        secret = password if password is not None else passwords.generate()
        passwords.check_strength(secret, name)
    elif password is not None:
        raise IdentityError("a service account has no password: create a token for it (formcast user token create)")
    with _write(catalog) as conn:
        created = identity.insert_account(conn, name, role, kind=kind, email=email, display_name=display_name,
                                          password_hash=passwords.hash_password(secret) if secret else None,
                                          created_by=actor.name)
        audit.record(conn, actor, "account.add", f"account {name}", detail={"role": role, "kind": kind})
    return created, secret


def list_accounts(catalog: Any, actor: Principal) -> list[Account]:
    policy.require(catalog, actor, "view")
    with transaction(engine_of(catalog)) as conn:
        return identity.all_accounts(conn)


def _enabled_admins(conn: Connection) -> int:
    a = sec_accounts
    return int(conn.execute(select(func.count()).select_from(a).where(a.c.role == "admin", a.c.disabled.is_(False),
                                                                      a.c.kind == "user")).scalar() or 0)


def set_disabled(catalog: Any, actor: Principal, name: str, disabled: bool = True) -> tuple[Account, int]:
    """Disable (every token and session revoked at once) or enable an account; returns it and the
    number of tokens revoked. The last enabled admin cannot be disabled."""
    action = "account.disable" if disabled else "account.enable"
    policy.require(catalog, actor, "administer", audit_action=action, audit_target=f"account {name}")
    with _write(catalog) as conn:
        target = _existing(conn, name)
        if disabled and target.role == "admin" and not target.disabled and _enabled_admins(conn) <= 1:
            raise IdentityError(f"{name} is the last enabled admin: add another admin before disabling it")
        identity.update_account(conn, target.id, disabled=disabled,
                                disabled_at=utcnow() if disabled else None)
        revoked = identity.revoke_all(conn, target.id, actor.name) if disabled else 0
        audit.record(conn, actor, action, f"account {name}", detail={"tokens_revoked": revoked} if disabled else None)
        found = identity.find(conn, name)
    assert found is not None
    return found, revoked


def set_role(catalog: Any, actor: Principal, name: str, role: str) -> tuple[Account, int]:
    """Change an account's role; grants the new role cannot hold are removed (returned: how many)."""
    identity.check_role(role)
    policy.require(catalog, actor, "administer", audit_action="account.role", audit_target=f"account {name}")
    with _write(catalog) as conn:
        target = _existing(conn, name)
        if target.role == "admin" and role != "admin" and _enabled_admins(conn) <= 1 and not target.disabled:
            raise IdentityError(f"{name} is the last enabled admin: add another admin first")
        identity.update_account(conn, target.id, role=role)
        removed = 0
        for g in policy.grants(conn, name):
            if role == "admin" or g.privilege not in policy.ROLE_PRIVILEGES[role]:
                removed += policy.remove_grant(conn, target, g.privilege, g.namespace, g.table, g.env)
        audit.record(conn, actor, "account.role", f"account {name}",
                     detail={"from": target.role, "to": role, "grants_removed": removed})
        found = identity.find(conn, name)
    assert found is not None
    return found, removed


def set_password(catalog: Any, actor: Principal, name: str, new: str | None = None, *, current: str | None = None
                 ) -> str:
    """Set a password: your own (with the current one), or anyone's as an admin. Returns the new one
    (generated when not given). Every session and login token of the account is revoked."""
    own = actor.name == name
    if not own:
        policy.require(catalog, actor, "administer", audit_action="account.password", audit_target=f"account {name}")
    secret = new if new is not None else passwords.generate()
    passwords.check_strength(secret, name)
    with transaction(engine_of(catalog)) as conn:
        target = _existing(conn, name)
        stored = identity.password_hash(conn, target.id)
    if target.kind == "service":
        raise IdentityError(f"{name} is a service account: it signs in with tokens only")
    if own and not passwords.verify(stored, current or ""):  # the slow check runs outside any write lock
        audit.record(catalog, actor, "account.password", f"account {name}", outcome="denied",
                     detail="the current password did not match")
        raise AuthenticationError("the current password does not match")
    hashed = passwords.hash_password(secret)
    with _write(catalog) as conn:
        identity.update_account(conn, target.id, password_hash=hashed, password_changed_at=utcnow())
        for token in identity.list_tokens(conn, name, kinds=("session", "login")):
            if token.revoked_at is None and token.token_id != actor.token_id:
                identity.revoke(conn, token.token_id, actor.name)
        audit.record(conn, actor, "account.password", f"account {name}")
    return secret


# --- tokens --------------------------------------------------------------------------------------------


def create_token(catalog: Any, actor: Principal, name: str, *, label: str = "", days: int | None = None
                 ) -> IssuedToken:
    """An API token for your own account, or (admin) for another one, e.g. a service account."""
    valid_for = identity.lifetime("api", days)
    if name != actor.name:
        policy.require(catalog, actor, "administer", audit_action="token.create", audit_target=f"account {name}")
    with _write(catalog) as conn:
        target = _existing(conn, name)
        if target.disabled:
            raise IdentityError(f"account {name} is disabled: enable it first (formcast user enable {name})")
        issued = identity.issue(conn, target, "api", label or "api token", valid_for)
        audit.record(conn, actor, "token.create", f"token {issued.info.token_id} of {name}",
                     detail={"label": issued.info.label, "expires": issued.info.expires_at.isoformat()})
    return issued


def _token_or_error(conn: Connection, token_id: str) -> TokenInfo:
    found = identity.get_token(conn, token_id)
    if found is None:
        raise IdentityError(f"no token {token_id!r} (formcast user token list shows yours)")
    return found


def revoke_token(catalog: Any, actor: Principal, token_id: str) -> TokenInfo:
    """Revoke one of your tokens, or (admin) anyone's. `token_id` is the public id or the whole token."""
    token_id = identity.token_id_of(token_id) or token_id.strip().lower()
    with transaction(engine_of(catalog)) as conn:
        found = _token_or_error(conn, token_id)
    if found.account != actor.name:
        policy.require(catalog, actor, "administer", audit_action="token.revoke", audit_target=f"token {token_id}")
    with _write(catalog) as conn:
        identity.revoke(conn, token_id, actor.name)
        audit.record(conn, actor, "token.revoke", f"token {token_id} of {found.account}")
        return _token_or_error(conn, token_id)


def list_tokens(catalog: Any, actor: Principal, name: str | None = None) -> list[TokenInfo]:
    """Your API and login tokens; an admin may list anyone's (name) or everyone's (name='*')."""
    wanted = actor.name if name is None else name
    if wanted != actor.name:
        policy.require(catalog, actor, "administer", audit_action="token.list", audit_target=f"account {wanted}")
    with transaction(engine_of(catalog)) as conn:
        return identity.list_tokens(conn, None if wanted == "*" else wanted, kinds=("api", "login"))


# --- grants --------------------------------------------------------------------------------------------


def grant(catalog: Any, actor: Principal, name: str, privilege: str, namespace: str, *, table: str = "*",
          env: str = "*") -> bool:
    """Give `privilege` on namespace[.table] in env; False when the account already had exactly it."""
    target_text = f"{name}: {privilege} on {namespace}.{table} in {env}"
    policy.require(catalog, actor, "administer", audit_action="grant", audit_target=target_text)
    with _write(catalog) as conn:
        target = _existing(conn, name)
        added = policy.add_grant(conn, target, privilege, namespace, table, env, actor.name)
        if added:
            audit.record(conn, actor, "grant", target_text, env=None if env == "*" else env)
    return added


def revoke(catalog: Any, actor: Principal, name: str, privilege: str, namespace: str, *, table: str = "*",
           env: str = "*") -> bool:
    target_text = f"{name}: {privilege} on {namespace}.{table} in {env}"
    policy.require(catalog, actor, "administer", audit_action="revoke", audit_target=target_text)
    with _write(catalog) as conn:
        target = _existing(conn, name)
        removed = policy.remove_grant(conn, target, privilege, namespace, table, env)
        if removed:
            audit.record(conn, actor, "revoke", target_text, env=None if env == "*" else env)
    return removed


# --- signing in ----------------------------------------------------------------------------------------


def authenticate(catalog: Any, token: str, *, where: str, kinds: tuple[str, ...] = ("api", "login")) -> Principal:
    """The principal of a token (CLI, automation); a refused token is recorded in the audit log."""
    try:
        return _resolve(catalog, token, kinds, where)
    except AuthenticationError as err:
        token_id = identity.token_id_of(token)
        with transaction(engine_of(catalog)) as conn:
            known = identity.get_token(conn, token_id) if token_id else None
        audit.record(catalog, known.account if known else "-", "authenticate", f"token {token_id or '(malformed)'}",
                     outcome="denied", detail=str(err), where=where)
        raise


def resume_session(catalog: Any, token: str, *, where: str) -> Principal | None:
    """The principal of a UI session token, or None when it ended (expired, revoked, account disabled)."""
    try:
        return _resolve(catalog, token, ("session",), where)
    except AuthenticationError:
        return None


def _resolve(catalog: Any, token: str, kinds: tuple[str, ...], where: str) -> Principal:
    with transaction(engine_of(catalog)) as conn:
        principal = identity.resolve(conn, token, kinds=kinds).at(where)
        stale = principal.token_id is not None and identity.needs_touch(conn, principal.token_id)
    if stale:
        with _write(catalog) as conn:
            identity.touch(conn, principal.token_id or "")
    return principal


def sign_in(catalog: Any, name: str, password: str, *, where: str, kind: str = "session", label: str = "",
            days: int | None = None) -> tuple[Principal, IssuedToken]:
    """Check a password and open a session (UI) or issue a login token (CLI). Failures say only that the
    name or password is wrong, and are recorded."""
    typed = (name or "").strip().lower()
    valid_for = identity.lifetime(kind, days)
    action = "sign-in" if kind == "session" else "login"
    with transaction(engine_of(catalog)) as conn:  # the slow hash check runs outside any write lock
        locked_until = _locked_until(conn, typed)
        found = identity.find(conn, typed) if identity.NAME_RE.fullmatch(typed) else None
        stored = identity.password_hash(conn, found.id) if found else None
    if locked_until is not None:
        audit.record(catalog, typed[:64] or "-", action, f"account {typed[:64]}", outcome="denied",
                     detail="locked after repeated failures", where=where)
        raise AuthenticationError(f"too many failed sign-ins for {typed[:64]}: try again after "
                                  f"{locked_until:%H:%M} UTC")
    ok = passwords.verify(stored, password or "")
    if not ok or found is None or found.disabled:
        audit.record(catalog, typed[:64] or "-", action, f"account {typed[:64]}", outcome="denied",
                     detail="wrong name or password" if not ok or found is None else "account disabled", where=where)
        raise AuthenticationError("the account name or password is wrong, or the account is disabled")
    rehashed = passwords.hash_password(password) if stored and passwords.needs_rehash(stored) else None
    with _write(catalog) as conn:
        if rehashed:
            identity.update_account(conn, found.id, password_hash=rehashed)
        issued = identity.issue(conn, found, kind, label or kind, valid_for)
        principal = identity.principal_of(found, "password", issued.info.token_id).at(where)
        audit.record(conn, principal, action, f"account {found.name}",
                     detail={"token": issued.info.token_id, "expires": issued.info.expires_at.isoformat()})
    return principal, issued


def _locked_until(conn: Connection, typed: str) -> datetime | None:
    """After LOCKOUT_FAILURES failed sign-ins within LOCKOUT_WINDOW, the name is locked for the rest of the window."""
    if not typed:
        return None
    log = sec_audit
    since = utcnow() - LOCKOUT_WINDOW
    rows = conn.execute(select(log.c.at, log.c.outcome).where(
        log.c.actor == typed[:64], log.c.action.in_(("sign-in", "login")), log.c.at >= since,
    ).order_by(log.c.id.desc()).limit(LOCKOUT_FAILURES)).all()
    if len(rows) < LOCKOUT_FAILURES or any(r.outcome == "ok" for r in rows):
        return None
    return rows[-1].at + LOCKOUT_WINDOW


def sign_in_oidc(catalog: Any, email: str, *, where: str, provider: str = "oidc") -> tuple[Principal, IssuedToken]:
    """Open a session for the account whose email the identity provider vouched for (Streamlit `st.login`).
    No account is created: an admin adds it first (formcast user add NAME --email ...)."""
    address = (email or "").strip().lower()
    with _write(catalog) as conn:
        found = identity.find_by_email(conn, address) if address else None
        if found is None or found.disabled:
            reason = f"no enabled Formcast account has the email {address or '(none)'}"
            audit.record(conn, address[:64] or "-", "sign-in", f"{provider} {address[:200]}", outcome="denied",
                         detail=reason, where=where)
            failure = AuthenticationError(f"{reason}: ask an admin to add one (formcast user add NAME --email "
                                          f"{address or 'ADDRESS'})")
        else:
            issued = identity.issue(conn, found, "session", f"{provider} session", identity.lifetime("session"))
            principal = identity.principal_of(found, "oidc", issued.info.token_id).at(where)
            audit.record(conn, principal, "sign-in", f"account {found.name}", detail={"via": provider})
            return principal, issued
    raise failure


def sign_out(catalog: Any, principal: Principal) -> None:
    """End a session or logout: revoke the token it came with."""
    if principal.token_id is None:
        return
    with _write(catalog) as conn:
        identity.revoke(conn, principal.token_id, principal.name)
        audit.record(conn, principal, "sign-out" if principal.via in ("session", "password", "oidc") else "logout",
                     f"token {principal.token_id}")


def discard_login(catalog: Any, token: str, *, where: str) -> bool:
    """Revoke a saved CLI login being replaced or logged out of; quietly nothing when it no longer works."""
    try:
        with transaction(engine_of(catalog)) as conn:
            principal = identity.resolve(conn, token, kinds=("login", "api")).at(where)
    except AuthenticationError:
        return False
    sign_out(catalog, principal)
    return True
