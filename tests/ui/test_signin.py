"""Sign-in, sign-out, sessions that end, what each role is shown, and the admin page (AppTest)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from app.security import accounts, audit, identity
from catalog.db import engine_of, transaction
from catalog.security import sec_tokens
from catalog.store import Catalog
from tests.ui.conftest import APP_FILE, DEMO_PASSWORDS, REPO, example, open_doc, signed_in_app


def _catalog(home: Path) -> Catalog:
    return Catalog.open(f"sqlite:///{home / 'catalog.db'}")


def _signed_out(demo_home: Path) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def _sign_in(at: Any, name: str, password: str) -> None:
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_password").input(password)
    at.button(key="signin_go").click().run()
    assert not at.exception, at.exception


def test_nothing_but_the_sign_in_page_until_a_password_matches(demo_home: Path) -> None:
    at = _signed_out(demo_home)
    assert [t.value for t in at.title] == ["Sign in to Formcast"]
    assert not [b for b in at.button if b.key == "new_create"]
    _sign_in(at, "alice", "wrong-password")
    assert any("name or password is wrong" in e.value for e in at.error)
    assert [t.value for t in at.title] == ["Sign in to Formcast"]
    _sign_in(at, "alice", DEMO_PASSWORDS["alice"])
    assert [t.value for t in at.title] == ["Tasks"]
    assert any(m.value == "Signed in as **alice** (developer)" for m in at.sidebar.markdown)
    assert not [t for t in at.text_input if t.label == "Your name"]  # a typed name is no identity any more
    with _catalog(demo_home) as catalog:
        entries = audit.entries(catalog, actor="alice", action="sign-in")
    assert [e.outcome for e in entries[:2]] == ["ok", "denied"] and entries[0].origin == "ui local"  # no browser

    at.button(key="sign_out").click().run()
    assert [t.value for t in at.title] == ["Sign in to Formcast"]
    assert "auth_token" not in at.session_state


def test_an_expired_or_revoked_session_ends_at_the_next_click(demo_home: Path) -> None:
    at = signed_in_app(demo_home, "bob")
    token_id = identity.token_id_of(at.session_state["auth_token"])
    with _catalog(demo_home) as catalog, transaction(engine_of(catalog), write=True) as conn:
        conn.execute(update(sec_tokens).where(sec_tokens.c.token_id == token_id)
                     .values(expires_at=identity.utcnow() - timedelta(seconds=1)))
    at.run()
    assert [t.value for t in at.title] == ["Sign in to Formcast"]
    assert any("session ended" in e.value for e in at.error)


def test_a_viewer_sees_no_controls_that_change_anything(demo_home: Path) -> None:
    at = signed_in_app(demo_home, "vera")
    assert any("You are a viewer" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key in ("new_create", "import_go", "gallery_0")]
    open_doc(at, example("video_plays"))
    assert not [b for b in at.button if b.key == "editor_save"]
    at.button(key="review_go").click().run()
    assert not [b for b in at.button if b.key == "review_deploy"]
    assert any("may not deploy tasks writing mart.video_plays" in c.value for c in at.caption)
    at.switch_page("views/catalog.py").run()
    assert [t.label for t in at.tabs] == ["Browse"]
    at.switch_page("views/schedule.py").run()
    assert not [b for b in at.button if b.key == "sched_save"]


def test_a_developer_sees_deploy_only_where_granted(demo_home: Path) -> None:
    at = signed_in_app(demo_home, "alice")  # the demo's alice deploys `mart` only
    open_doc(at, example("video_plays"))
    assert [b for b in at.button if b.key == "editor_save"]
    at.button(key="review_go").click().run()
    assert [b for b in at.button if b.key == "review_deploy"]
    other = json.loads((REPO / "examples" / "security" / "products_cleanup.json").read_text())  # writes shop
    open_doc(at, other)
    at.button(key="review_go").click().run()
    assert not [b for b in at.button if b.key == "review_deploy"]
    assert any("missing grant: deploy on shop.* in prod" in c.value for c in at.caption)


def test_the_admin_page_manages_accounts_and_grants_and_shows_the_audit_log(demo_home: Path) -> None:
    at = signed_in_app(demo_home, "alice")
    with pytest.raises(ValueError, match=r"Could not find a navigation page.*Known pages: \[.*tasks\.py"):
        at.switch_page("views/admin.py")  # not in alice's navigation at all
    at = signed_in_app(demo_home, "admin")
    at.switch_page("views/admin.py").run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Admin"]
    at.text_input(key="admin_new_name").input("dora")
    at.selectbox(key="admin_new_role").set_value("developer").run()
    at.button(key="admin_add").click().run()
    assert any("Added dora (developer)" in s.value for s in at.success)
    (password,) = [c.value for c in at.code]  # shown once
    with _catalog(demo_home) as catalog:
        assert accounts.sign_in(catalog, "dora", password, where="test")[0].role == "developer"
    at.selectbox(key="admin_grant_account").set_value("dora")
    at.selectbox(key="admin_grant_privilege").set_value("deploy")
    at.text_input(key="admin_grant_ns").input("mart")
    at.text_input(key="admin_grant_env").input("prod").run()
    at.button(key="admin_grant").click().run()
    assert any("Granted deploy on mart.* in prod to dora" in s.value for s in at.success)
    at.selectbox(key="admin_grant_privilege").set_value("approve").run()
    at.button(key="admin_grant").click().run()
    assert any("dora is a developer" in e.value and "approve needs the role approver" in e.value for e in at.error)
    log = next(d.value for d in at.dataframe if "action" in d.value.columns and "from" in d.value.columns)
    assert {"account.add", "grant", "sign-in"} <= set(log["action"])
