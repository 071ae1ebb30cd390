"""Who someone is: accounts, API tokens and sign-in sessions, stored in the catalog database.

This module holds the storage primitives and the rules of identity itself (valid names, token
format, expiry, revocation, disabled accounts); `accounts` puts authorization and the audit log
around them, and is what the CLI and the UI call.

A token is `fct_<id>_<secret>`: the id (12 hex digits) is public and names the token in listings and
the audit log; only a SHA-256 of the secret is stored (the secret has 256 bits of entropy, so a slow
hash adds nothing). Tokens always expire; revoked and expired tokens, and tokens of disabled
accounts, never authenticate. The same table holds the UI's sign-in sessions (kind `session`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from catalog.base import utcnow
from catalog.security import ACCOUNT_KINDS, ROLES, TOKEN_KINDS, sec_accounts, sec_tokens

_A, _T = sec_accounts, sec_tokens
NAME_RE = re.compile(r"[a-z][a-z0-9_-]{1,31}")
EMAIL_RE = re.compile(r"[^@\s]{1,128}@[^@\s]{1,126}")
TOKEN_RE = re.compile(r"fct_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
TOKEN_LIFETIME = {"api": timedelta(days=90), "login": timedelta(days=30), "session": timedelta(hours=12)}
MAX_TOKEN_DAYS = 366
_TOUCH_EVERY = timedelta(minutes=10)  # last_used_at is refreshed at most this often (a write per command is waste)


class IdentityError(ValueError):
    """Bad input for an account or token (the message names the field and what would be valid)."""


class AuthenticationError(Exception):
    """The credentials do not name an active account (the message says why, never whose secret)."""


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    kind: str  # user | service
    disabled: bool
    created_at: datetime
    created_by: str
    email: str | None = None
    display_name: str | None = None
    has_password: bool = False


@dataclass(frozen=True)
class Principal:
    """An authenticated account, as the policy and the audit log see it.

    `role` is what it was at sign-in; `policy.authorize` reads the account again, so a role change
    or a disabled account takes effect at once. `origin` says where the request came from.
    """

    account_id: int
    name: str
    role: str
    kind: str
    via: str  # password | token | session | oidc
    token_id: str | None = None
    origin: str = ""

    def at(self, origin: str) -> Principal:
        return replace(self, origin=origin)


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    account: str
    kind: str
    label: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= (now or utcnow()) else "active"


@dataclass(frozen=True)
class IssuedToken:
    """A new token: `secret` is the whole token text, shown once and never stored."""

    secret: str
    info: TokenInfo


# --- names -----------------------------------------------------------------------------------------


def check_name(name: str) -> str:
    """An account name: 2-32 characters, lower-case letters, digits, '-' and '_', starting with a letter."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        shown = name if isinstance(name, str) and len(name) <= 40 else f"{str(name)[:40]}…"
        raise IdentityError(f"account name {shown!r} is not valid: use 2-32 lower-case letters, digits, '-' or '_', "
                            "starting with a letter (e.g. alice, etl-bot)")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise IdentityError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def check_email(email: str | None) -> str | None:
    if email is None or email == "":
        return None
    if not EMAIL_RE.fullmatch(email):
        raise IdentityError(f"email {email!r} is not an address like name@example.com")
    return email.lower()


# --- accounts --------------------------------------------------------------------------------------


def _account(row: Any) -> Account:
    return Account(id=row.id, name=row.name, role=row.role, kind=row.kind, disabled=bool(row.disabled),
                   created_at=row.created_at, created_by=row.created_by, email=row.email,
                   display_name=row.display_name, has_password=row.password_hash is not None)


def account_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(_A)).scalar() or 0)


def find(conn: Connection, name: str) -> Account | None:
    row = conn.execute(select(_A).where(_A.c.name == name)).first()
    return _account(row) if row else None


def find_by_id(conn: Connection, account_id: int) -> Account | None:
    row = conn.execute(select(_A).where(_A.c.id == account_id)).first()
    return _account(row) if row else None


def find_by_email(conn: Connection, email: str) -> Account | None:
    row = conn.execute(select(_A).where(_A.c.email == email.lower())).first()
    return _account(row) if row else None


def all_accounts(conn: Connection) -> list[Account]:
    return [_account(r) for r in conn.execute(select(_A).order_by(_A.c.name))]


def password_hash(conn: Connection, account_id: int) -> str | None:
    return conn.execute(select(_A.c.password_hash).where(_A.c.id == account_id)).scalar()


def insert_account(conn: Connection, name: str, role: str, *, kind: str = "user", password_hash: str | None = None,
                   email: str | None = None, display_name: str | None = None, created_by: str) -> Account:
    check_name(name)
    check_role(role)
    if kind not in ACCOUNT_KINDS:
        raise IdentityError(f"account kind {kind!r} is not one of {', '.join(ACCOUNT_KINDS)}")
    if find(conn, name) is not None:
        raise IdentityError(f"account {name!r} already exists")
    email = check_email(email)
    if email is not None and find_by_email(conn, email) is not None:
        raise IdentityError(f"email {email!r} already belongs to another account")
    now = utcnow()
    conn.execute(insert(_A).values(name=name, display_name=display_name, email=email, role=role, kind=kind,
                                   password_hash=password_hash, disabled=False, created_at=now, created_by=created_by,
                                   disabled_at=None, password_changed_at=now if password_hash else None))
    found = find(conn, name)
    assert found is not None
    return found


def update_account(conn: Connection, account_id: int, **values: Any) -> None:
    if "role" in values:
        check_role(values["role"])
    conn.execute(update(_A).where(_A.c.id == account_id).values(**values))


# --- tokens ----------------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _info(row: Any, account: str) -> TokenInfo:
    return TokenInfo(token_id=row.token_id, account=account, kind=row.kind, label=row.label,
                     created_at=row.created_at, expires_at=row.expires_at, last_used_at=row.last_used_at,
                     revoked_at=row.revoked_at)


def lifetime(kind: str, days: int | None = None) -> timedelta:
    if kind not in TOKEN_KINDS:
        raise IdentityError(f"token kind {kind!r} is not one of {', '.join(TOKEN_KINDS)}")
    if days is None:
        return TOKEN_LIFETIME[kind]
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise IdentityError(f"a token lives 1 to {MAX_TOKEN_DAYS} days, not {days}")
    return timedelta(days=days)


def issue(conn: Connection, account: Account, kind: str, label: str, valid_for: timedelta) -> IssuedToken:
    """Store a new token for `account` and return its text (the only time it exists in clear)."""
    label = (label or kind).strip()[:200] or kind
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(insert(_T).values(token_id=token_id, account_id=account.id, secret_hash=_digest(secret), kind=kind,
                                   label=label, created_at=now, expires_at=now + valid_for, last_used_at=None,
                                   revoked_at=None, revoked_by=None))
    row = conn.execute(select(_T).where(_T.c.token_id == token_id)).one()
    return IssuedToken(f"fct_{token_id}_{secret}", _info(row, account.name))


def token_id_of(text: str) -> str | None:
    """The public id of a token text, if it is one (for messages and the audit log)."""
    match = TOKEN_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    return match.group(1) if match else None


def resolve(conn: Connection, text: str, *, kinds: tuple[str, ...] = TOKEN_KINDS) -> Principal:
    """The principal a token text authenticates, or AuthenticationError saying why not (reads only)."""
    match = TOKEN_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise AuthenticationError("that is not a Formcast token (they look like fct_<12 hex>_<43 characters>)")
    token_id, secret = match.groups()
    row = conn.execute(select(_T).where(_T.c.token_id == token_id)).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
        raise AuthenticationError(f"token {token_id} is not known to this catalog")
    if row.kind not in kinds:
        raise AuthenticationError(f"token {token_id} is a {row.kind} token, not usable here")
    account = find_by_id(conn, row.account_id)
    if account is None or account.disabled:
        raise AuthenticationError(f"token {token_id} belongs to a disabled account")
    if row.revoked_at is not None:
        raise AuthenticationError(f"token {token_id} was revoked at {row.revoked_at:%Y-%m-%d %H:%M} UTC")
    if row.expires_at <= utcnow():
        raise AuthenticationError(f"token {token_id} expired at {row.expires_at:%Y-%m-%d %H:%M} UTC")
    via = "session" if row.kind == "session" else "token"
    return Principal(account.id, account.name, account.role, account.kind, via, token_id)


def needs_touch(conn: Connection, token_id: str) -> bool:
    """Is the token's last-use time older than the refresh interval? (Checked in a read transaction, so the
    UI, which resolves its session on every rerun, takes the write lock only every few minutes.)"""
    last = conn.execute(select(_T.c.last_used_at).where(_T.c.token_id == token_id)).scalar()
    return last is None or utcnow() - last > _TOUCH_EVERY


def touch(conn: Connection, token_id: str) -> None:
    conn.execute(update(_T).where(_T.c.token_id == token_id).values(last_used_at=utcnow()))


def principal_of(account: Account, via: str, token_id: str | None = None) -> Principal:
    return Principal(account.id, account.name, account.role, account.kind, via, token_id)


def get_token(conn: Connection, token_id: str) -> TokenInfo | None:
    row = conn.execute(select(_T, _A.c.name).join(_A, _A.c.id == _T.c.account_id)
                       .where(_T.c.token_id == token_id)).first()
    return _info(row, row.name) if row else None


def list_tokens(conn: Connection, account: str | None = None, *, kinds: tuple[str, ...] = TOKEN_KINDS
                ) -> list[TokenInfo]:
    query = select(_T, _A.c.name).join(_A, _A.c.id == _T.c.account_id).where(_T.c.kind.in_(kinds))
    if account is not None:
        query = query.where(_A.c.name == account)
    return [_info(r, r.name) for r in conn.execute(query.order_by(_T.c.created_at, _T.c.id))]


def revoke(conn: Connection, token_id: str, by: str) -> bool:
    """Revoke one token; False when it was already revoked."""
    done = conn.execute(update(_T).where(_T.c.token_id == token_id, _T.c.revoked_at.is_(None))
                        .values(revoked_at=utcnow(), revoked_by=by))
    return bool(done.rowcount)


def revoke_all(conn: Connection, account_id: int, by: str) -> int:
    done = conn.execute(update(_T).where(_T.c.account_id == account_id, _T.c.revoked_at.is_(None))
                        .values(revoked_at=utcnow(), revoked_by=by))
    return int(done.rowcount or 0)
