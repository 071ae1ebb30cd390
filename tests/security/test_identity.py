"""Accounts, passwords, tokens and sessions: hashed at rest, shown once, expiring, revocable; hostile names refused."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from app.security import accounts, audit, credentials, identity, passwords
from app.security.identity import AuthenticationError, IdentityError
from catalog.db import engine_of, transaction
from catalog.security import sec_tokens
from catalog.store import Catalog
from tests.accounts import PASSWORD, admin, ensure_account


@pytest.mark.parametrize("name", [
    "alice'; DROP TABLE sec_accounts; --", "../../etc/passwd", "bob/../admin", "a", "Admin", "ädmin", "x" * 40,
    "1abc", "alice bob", "", "al\x00ice", "-rf",
])
def test_hostile_and_invalid_account_names_are_refused(catalog: Catalog, name: str) -> None:
    boss = admin(catalog)
    with pytest.raises(IdentityError, match="is not valid: use 2-32 lower-case letters"):
        accounts.add(catalog, boss, name, "viewer")
    assert [a.name for a in accounts.list_accounts(catalog, boss)] == ["admin"]


def test_the_first_account_is_an_admin_made_once(catalog: Catalog) -> None:
    assert not accounts.has_accounts(catalog)
    created, password = accounts.bootstrap_admin(catalog, "root", where="test")
    assert created.role == "admin" and len(password) >= passwords.MIN_LENGTH
    with pytest.raises(IdentityError, match="already has accounts"):
        accounts.bootstrap_admin(catalog, "mallory", where="test")
    assert [e.target for e in audit.entries(catalog, action="account.add")] == ["account root"]


def test_passwords_are_argon2id_hashes_and_never_stored(catalog: Catalog, tmp_path: Path) -> None:
    boss = admin(catalog)
    _, generated = accounts.add(catalog, boss, "alice", "developer")
    raw = (tmp_path / "catalog.db").read_bytes()
    assert generated.encode() not in raw and PASSWORD.encode() not in raw
    with sqlite3.connect(tmp_path / "catalog.db") as conn:
        hashes = [r[0] for r in conn.execute("SELECT password_hash FROM sec_accounts")]
    assert all(h.startswith("$argon2id$") for h in hashes)
    with pytest.raises(passwords.PasswordError, match="at least 10"):
        accounts.add(catalog, boss, "bob", "viewer", password="short")
    with pytest.raises(passwords.PasswordError, match="may not be the account name"):
        accounts.add(catalog, boss, "carolcarol", "viewer", password="CarolCarol")


def test_tokens_are_shown_once_hashed_at_rest_and_named_by_their_id(catalog: Catalog, tmp_path: Path) -> None:
    boss = admin(catalog)
    issued = accounts.create_token(catalog, boss, "admin", label="ci", days=7)
    assert issued.secret.startswith(f"fct_{issued.info.token_id}_")
    secret_half = issued.secret.split("_", 2)[2]
    assert secret_half.encode() not in (tmp_path / "catalog.db").read_bytes()
    assert accounts.authenticate(catalog, issued.secret, where="test").name == "admin"
    forged = issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B")  # right id, wrong secret
    with pytest.raises(AuthenticationError, match="not known"):
        accounts.authenticate(catalog, forged, where="test")
    with pytest.raises(AuthenticationError, match="not a Formcast token"):
        accounts.authenticate(catalog, "admin", where="test")
    listed = accounts.list_tokens(catalog, boss)
    assert issued.info.token_id in {t.token_id for t in listed} and all(not hasattr(t, "secret") for t in listed)
    with pytest.raises(IdentityError, match="1 to 366 days"):
        accounts.create_token(catalog, boss, "admin", days=5000)


def test_expired_revoked_and_disabled_tokens_never_authenticate(catalog: Catalog) -> None:
    boss = admin(catalog)
    ensure_account(catalog, "alice", "developer")
    expired = accounts.create_token(catalog, boss, "alice")
    with transaction(engine_of(catalog), write=True) as conn:
        conn.execute(update(sec_tokens).where(sec_tokens.c.token_id == expired.info.token_id)
                     .values(expires_at=identity.utcnow() - timedelta(seconds=1)))
    with pytest.raises(AuthenticationError, match="expired"):
        accounts.authenticate(catalog, expired.secret, where="test")

    revoked = accounts.create_token(catalog, boss, "alice")
    accounts.revoke_token(catalog, boss, revoked.info.token_id)
    with pytest.raises(AuthenticationError, match="revoked"):
        accounts.authenticate(catalog, revoked.secret, where="test")

    live = accounts.create_token(catalog, boss, "alice")
    session = accounts.sign_in(catalog, "alice", PASSWORD, where="test")[1]
    _, count = accounts.set_disabled(catalog, boss, "alice")
    assert count >= 2  # every token and the session, revoked at once
    with pytest.raises(AuthenticationError):
        accounts.authenticate(catalog, live.secret, where="test")
    assert accounts.resume_session(catalog, session.secret, where="test") is None
    with pytest.raises(AuthenticationError, match="wrong, or the account is disabled"):
        accounts.sign_in(catalog, "alice", PASSWORD, where="test")
    refused = audit.entries(catalog, outcome="denied")
    assert {e.action for e in refused} >= {"authenticate", "sign-in"}


def test_a_session_token_is_not_an_api_token_and_back(catalog: Catalog) -> None:
    admin(catalog)
    _, session = accounts.sign_in(catalog, "admin", PASSWORD, where="test")
    with pytest.raises(AuthenticationError, match="session token, not usable here"):
        accounts.authenticate(catalog, session.secret, where="test")  # the CLI accepts api and login tokens only


def test_repeated_failed_sign_ins_lock_the_name(catalog: Catalog) -> None:
    admin(catalog)
    for _ in range(accounts.LOCKOUT_FAILURES):
        with pytest.raises(AuthenticationError, match="wrong"):
            accounts.sign_in(catalog, "admin", "guess-guess-guess", where="test")
    with pytest.raises(AuthenticationError, match="too many failed sign-ins"):
        accounts.sign_in(catalog, "admin", PASSWORD, where="test")  # even the right password, for now


def test_the_last_admin_cannot_be_disabled_or_demoted(catalog: Catalog) -> None:
    boss = admin(catalog)
    with pytest.raises(IdentityError, match="last enabled admin"):
        accounts.set_disabled(catalog, boss, "admin")
    with pytest.raises(IdentityError, match="last enabled admin"):
        accounts.set_role(catalog, boss, "admin", "viewer")


def test_changing_a_password_needs_the_current_one_and_ends_other_sessions(catalog: Catalog) -> None:
    ensure_account(catalog, "alice", "developer")
    me, _ = accounts.sign_in(catalog, "alice", PASSWORD, where="test", kind="login")
    _, other = accounts.sign_in(catalog, "alice", PASSWORD, where="elsewhere")
    with pytest.raises(AuthenticationError, match="current password"):
        accounts.set_password(catalog, me, "alice", "a-new-password-1", current="wrong")
    assert audit.entries(catalog, action="account.password")[0].outcome == "denied"  # recorded, not rolled back
    accounts.set_password(catalog, me, "alice", "a-new-password-1", current=PASSWORD)
    assert accounts.resume_session(catalog, other.secret, where="test") is None
    assert accounts.sign_in(catalog, "alice", "a-new-password-1", where="test")[0].name == "alice"


def test_credentials_file_is_private_and_refused_when_others_can_read_it(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = credentials.save("sqlite:////x/catalog.db", "fct_000000000000_" + "a" * 43, "alice")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert credentials.load("sqlite:////x/catalog.db").startswith("fct_")
    assert credentials.load("sqlite:////other/catalog.db") is None  # one token per catalog
    os.chmod(path, 0o644)
    with pytest.raises(credentials.CredentialsError, match=r"accessible by other users \(mode 0644\).*revoke them"):
        credentials.load("sqlite:////x/catalog.db")
    os.chmod(path, 0o600)
    path.write_text("{not json")
    with pytest.raises(credentials.CredentialsError, match="not readable JSON"):
        credentials.load("sqlite:////x/catalog.db")


def test_single_sign_on_maps_the_providers_email_to_an_existing_account_only(catalog: Catalog) -> None:
    boss = admin(catalog)
    accounts.add(catalog, boss, "dora", "developer", email="Dora@Example.com")
    principal, session = accounts.sign_in_oidc(catalog, "dora@example.com", where="ui 10.0.0.7")
    assert (principal.name, principal.via) == ("dora", "oidc")
    assert accounts.resume_session(catalog, session.secret, where="ui").name == "dora"
    with pytest.raises(AuthenticationError, match=r"no enabled Formcast account has the email eve@example\.com"):
        accounts.sign_in_oidc(catalog, "eve@example.com", where="ui 10.0.0.8")
    with pytest.raises(IdentityError, match="already belongs to another account"):
        accounts.add(catalog, boss, "dora2", "viewer", email="dora@example.com")
    (refused,) = audit.entries(catalog, action="sign-in", outcome="denied")
    assert refused.origin == "ui 10.0.0.8"
