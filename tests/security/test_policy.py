"""The one policy: roles bound grants, grants scope actions, denials name the missing grant and who gives it."""

from __future__ import annotations

import pytest

from app.security import accounts, audit, policy
from app.security.identity import IdentityError
from app.security.policy import AccessDenied, authorize
from catalog.store import Catalog
from tests.accounts import admin, as_principal, ensure_account


def test_a_role_bounds_what_can_be_granted(catalog: Catalog) -> None:
    boss = admin(catalog)
    ensure_account(catalog, "alice", "developer", ())
    ensure_account(catalog, "oscar", "operator", ())
    with pytest.raises(IdentityError, match=r"alice is a developer.*approve needs the role approver"):
        accounts.grant(catalog, boss, "alice", "approve", "mart", env="prod")
    with pytest.raises(IdentityError, match="operate needs the role operator"):
        accounts.grant(catalog, boss, "alice", "operate", "mart", env="prod")
    with pytest.raises(IdentityError, match="write is granted in dev only"):
        accounts.grant(catalog, boss, "alice", "write", "mart", env="prod")
    with pytest.raises(IdentityError, match="write is granted in dev only"):
        accounts.grant(catalog, boss, "alice", "write", "mart")  # every env includes prod
    with pytest.raises(IdentityError, match=r"oscar is an operator.*write needs the role developer or approver"):
        accounts.grant(catalog, boss, "oscar", "write", "mart", env="dev")
    with pytest.raises(IdentityError, match="admins need no grants"):
        accounts.grant(catalog, boss, "admin", "read", "*")
    with pytest.raises(IdentityError, match="namespace 'ma;rt' is not a name"):
        accounts.grant(catalog, boss, "alice", "read", "ma;rt")
    assert policy.grants(catalog, "alice") == []


def test_grants_scope_by_namespace_table_and_env(catalog: Catalog) -> None:
    boss = admin(catalog)
    alice = ensure_account(catalog, "alice", "developer", (("read", "app", "dev"), ("deploy", "mart", "prod")))
    accounts.grant(catalog, boss, "alice", "read", "shop", table="orders", env="*")
    assert authorize(catalog, alice, "read", "app.client_events", "dev")
    assert not authorize(catalog, alice, "read", "app.client_events", "prod")
    assert authorize(catalog, alice, "read", "shop.orders", "prod")
    assert not authorize(catalog, alice, "read", "shop.products", "dev")
    assert authorize(catalog, alice, "deploy", "mart.dau", "prod")
    denied = authorize(catalog, alice, "deploy", "shop.daily_sales", "prod")
    assert not denied and denied.missing == "deploy on shop.* in prod" and denied.grantors == ("admin",)
    assert denied.message == ("alice may not deploy tasks writing shop.daily_sales in prod; missing grant: deploy on "
                              "shop.* in prod; admin can give it (formcast grant alice deploy shop --env prod)")
    assert accounts.revoke(catalog, boss, "alice", "read", "shop", table="orders")
    assert not authorize(catalog, alice, "read", "shop.orders", "prod")


def test_writing_a_protected_env_needs_a_deployed_config_and_operate_even_for_admins(catalog: Catalog) -> None:
    boss = admin(catalog)
    alice = ensure_account(catalog, "alice", "developer")
    oscar = ensure_account(catalog, "oscar", "operator")
    assert authorize(catalog, alice, "write", "mart.dau", "dev")
    for who in (alice, oscar, boss):
        refused = authorize(catalog, who, "write", "mart.dau", "prod", deployed=False)
        assert not refused and "written only by a deployed version" in refused.reason
    assert authorize(catalog, oscar, "write", "mart.dau", "prod", deployed=True)
    assert authorize(catalog, boss, "write", "mart.dau", "prod", deployed=True)
    refused = authorize(catalog, alice, "write", "mart.dau", "prod", deployed=True)
    assert not refused and "alice is a developer: run deployed versions" in refused.reason
    assert not authorize(catalog, oscar, "write", "mart.dau", "dev")  # an operator writes dev only through operate
    assert authorize(catalog, oscar, "write", "mart.dau", "dev", deployed=True)  # e.g. a scheduler run in dev
    refused = authorize(catalog, oscar, "write", "mart.dau", "dev", deployed=False)
    assert refused.reason.startswith("oscar is an operator")


def test_nobody_approves_their_own_version_not_even_an_admin(catalog: Catalog) -> None:
    boss = admin(catalog)
    bob = ensure_account(catalog, "bob", "approver")
    alice = ensure_account(catalog, "alice", "developer")
    for who in (boss, bob):
        refused = authorize(catalog, who, "approve", "mart.dau", "prod", author=who.name)
        assert not refused and "author of this version" in refused.reason
    assert authorize(catalog, bob, "approve", "mart.dau", "prod", author="alice")
    assert not authorize(catalog, alice, "approve", "mart.dau", "prod", author="bob")
    # a table whose owner is an account: only that account (or an admin) approves its second writer
    ensure_account(catalog, "growth", "approver")
    refused = authorize(catalog, bob, "approve", "mart.dau", "prod", author="alice", owner="growth")
    assert not refused and "belongs to growth" in refused.reason
    assert authorize(catalog, as_principal(catalog, "growth"), "approve", "mart.dau", "prod", author="alice",
                     owner="growth")
    assert authorize(catalog, boss, "approve", "mart.dau", "prod", author="alice", owner="growth")
    assert authorize(catalog, bob, "approve", "mart.dau", "prod", author="alice", owner="growth-data")  # a team


def test_role_changes_and_disabling_take_effect_for_principals_already_signed_in(catalog: Catalog) -> None:
    boss = admin(catalog)
    bob = ensure_account(catalog, "bob", "approver")
    assert authorize(catalog, bob, "approve", "mart.dau", "prod", author="alice")
    accounts.set_role(catalog, boss, "bob", "developer")  # the approve grant goes with the role
    assert not authorize(catalog, bob, "approve", "mart.dau", "prod", author="alice")
    assert "approve" not in {g.privilege for g in policy.grants(catalog, "bob")}
    accounts.set_disabled(catalog, boss, "bob")
    refused = authorize(catalog, bob, "read", "mart.dau", "dev")
    assert not refused and refused.reason == "account bob is disabled"


def test_require_records_the_denial_and_raises(catalog: Catalog) -> None:
    admin(catalog)
    vera = ensure_account(catalog, "vera", "viewer")
    with pytest.raises(AccessDenied, match=r"vera is a viewer: deploy tasks writing mart\.dau in prod needs"):
        policy.require(catalog, vera, "deploy", "mart.dau", "prod", audit_target="task dau", version_hash="abc")
    (entry,) = audit.entries(catalog, outcome="denied")
    assert (entry.actor, entry.action, entry.target, entry.env, entry.version_hash) == (
        "vera", "deploy", "task dau", "prod", "abc")
    assert "needs the developer or approver or admin role" in (entry.detail or "")


def test_only_admins_administer_and_read_everyones_audit(catalog: Catalog) -> None:
    boss = admin(catalog)
    bob = ensure_account(catalog, "bob", "approver")
    with pytest.raises(AccessDenied, match="needs the admin role"):
        accounts.add(catalog, bob, "mallory", "admin")
    with pytest.raises(AccessDenied):
        accounts.grant(catalog, bob, "bob", "approve", "*")
    with pytest.raises(AccessDenied):
        accounts.create_token(catalog, bob, "admin")  # a token for someone else
    assert accounts.create_token(catalog, bob, "bob").info.account == "bob"  # your own: yes
    assert policy.audit_scope(catalog, boss) is None and policy.audit_scope(catalog, bob) == "bob"
