"""The issue's story on a fresh `formcast demo`, through the CLI as a user types it: a developer cannot approve
its own P0 change, cannot write prod with `run --env prod`, cannot deploy into a namespace it has no grant on;
an approver can approve, an operator can run the deployed version in prod; every step is in `formcast audit`;
every denial names the missing grant and who can give it, exits 1 and writes nothing. Plus hostile attempts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from app.cli.main import main
from app.workflow import versions
from catalog.store import Catalog

ROOT = Path(__file__).resolve().parents[2]
P0_CHANGE = str(ROOT / "examples" / "security" / "video_plays_p0.json")
OTHER_NAMESPACE = str(ROOT / "examples" / "security" / "products_cleanup.json")


class Shell:
    """`formcast ...` in-process, with this workspace's environment (and optionally a token)."""

    def __init__(self, home: Path, config: Path) -> None:
        self.home, self.config = home, config
        self.env = {"FORMCAST_HOME": str(home), "FORMCAST_DB_URL": "", "XDG_CONFIG_HOME": str(config),
                    "FORMCAST_TOKEN": ""}

    def __call__(self, *args: str, token: str = "", stdin: str | None = None, config: Path | None = None) -> Result:
        env = {**self.env, "FORMCAST_TOKEN": token}
        if config is not None:
            env["XDG_CONFIG_HOME"] = str(config)
        return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)

    def catalog(self) -> Catalog:
        return Catalog.open(f"sqlite:///{self.home / 'catalog.db'}")

    def password(self, name: str) -> str:
        for line in (self.home / "demo-accounts.txt").read_text().splitlines():
            account, secret = line.split()
            if account == name:
                return secret
        raise KeyError(name)


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    home = tmp_path_factory.mktemp("sec_demo")
    config = tmp_path_factory.mktemp("sec_config")
    os.chmod(config, 0o700)
    sh = Shell(home, config)
    done = sh("demo", "--days", "1")
    assert done.exit_code == 0, done.output
    yield sh


@pytest.fixture(scope="module")
def tokens(shell: Shell) -> dict[str, str]:
    """An API token per demo account, created by the admin the demo signed the CLI in as."""
    found = {}
    for name in ("alice", "bob", "oscar", "vera"):
        made = shell("user", "token", "create", name, "--label", "test", "--days", "1")
        assert made.exit_code == 0, made.output
        found[name] = made.output.strip().splitlines()[-1]
    return found


def _audit(shell: Shell, *args: str) -> list[dict[str, Any]]:
    done = shell("audit", "--format", "json", "--limit", "1000", *args)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_the_demo_creates_accounts_prints_them_once_and_signs_the_cli_in_as_admin(shell: Shell) -> None:
    who = shell("whoami")
    assert who.exit_code == 0 and who.stdout.startswith("admin (admin) via token ")
    assert (shell.home / "demo-accounts.txt").stat().st_mode & 0o077 == 0
    listed = shell("user", "list").stdout
    for name, role in (("admin", "admin"), ("alice", "developer"), ("bob", "approver"), ("oscar", "operator"),
                       ("vera", "viewer"), ("scheduler", "operator")):
        assert any(line.split()[:2] == [name, role] for line in listed.splitlines()), listed
    again = shell("demo", "--days", "1")  # a second run keeps the accounts and their passwords
    assert again.exit_code == 0 and "passwords are shown once" not in again.stdout
    anonymous = shell("whoami", config=shell.config / "nobody")
    assert anonymous.exit_code == 1 and "not signed in" in anonymous.stderr and "formcast login" in anonymous.stderr


def test_a_developer_cannot_self_approve_write_prod_or_deploy_without_a_grant_an_approver_can(
        shell: Shell, tokens: dict[str, str]) -> None:
    alice, bob = tokens["alice"], tokens["bob"]
    stored = shell("deploy", P0_CHANGE, token=alice)
    assert stored.exit_code == 0 and "v1: stored" in stored.stdout and "another account than alice" in stored.stdout

    own = shell("approve", "video_plays", "--version", "1", token=alice)
    assert own.exit_code == 1 and "denied: alice is the author of this version" in own.stderr
    second = shell("user", "token", "create", token=alice).stdout.strip().splitlines()[-1]  # her own second token
    again = shell("approve", "video_plays", "--version", "1", token=second)
    assert again.exit_code == 1 and "author of this version" in again.stderr
    typed = shell("approve", "video_plays", "--version", "1", "--by", "bob", token=alice)
    assert typed.exit_code == 2 and "a typed name is not an identity" in typed.stderr

    prod = shell("run", P0_CHANGE, "--env", "prod", "--date", "2024-06-01", token=alice)
    assert prod.exit_code == 1 and "mart.video_plays in prod is protected" in prod.stderr

    elsewhere = shell("deploy", OTHER_NAMESPACE, token=alice)
    assert elsewhere.exit_code == 1
    assert ("missing grant: deploy on shop.* in prod; admin can give it (formcast grant alice deploy shop --env prod)"
            in elsewhere.stderr)

    with shell.catalog() as catalog:
        assert versions.get(catalog, "video_plays", 1).status == "pending"  # nothing written by the denials
        assert versions.history(catalog, "products_cleanup") == []
        assert catalog.runs(task="video_plays") == []

    approved = shell("approve", "video_plays", "--version", "1", token=bob)
    assert approved.exit_code == 0 and "approved by bob and deployed" in approved.stdout
    after = shell("run", P0_CHANGE, "--env", "prod", "--date", "2024-06-01", token=alice)  # deployed now, but...
    assert after.exit_code == 1 and "alice is a developer: run deployed versions" in after.stderr

    entries = _audit(shell)
    seen = {(e["actor"], e["action"], e["outcome"]) for e in entries}
    assert {("alice", "deploy", "ok"), ("alice", "approve", "denied"), ("alice", "run", "denied"),
            ("alice", "deploy", "denied"), ("bob", "approve", "ok")} <= seen
    deploy = next(e for e in entries if (e["actor"], e["action"], e["outcome"]) == ("alice", "deploy", "ok"))
    approve = next(e for e in entries if (e["actor"], e["action"], e["outcome"]) == ("bob", "approve", "ok"))
    assert deploy["version_hash"] and deploy["version_hash"] == approve["version_hash"]  # which version, exactly
    assert approve["target"] == "task video_plays v1" and approve["origin"].startswith("cli ")
    mine = _audit(shell, "--user", "alice", "--action", "approve")
    assert {e["outcome"] for e in mine} == {"denied"} and len(mine) == 2


def test_grant_changes_and_the_audit_filters(shell: Shell, tokens: dict[str, str]) -> None:
    granted = shell("grant", "alice", "deploy", "shop", "--env", "prod")
    assert granted.exit_code == 0 and "granted deploy on shop.* in prod to alice" in granted.stdout
    assert "deploy   shop.* in prod" in shell("whoami", token=tokens["alice"]).stdout
    by_alice = shell("grant", "alice", "approve", "*", token=tokens["alice"])
    assert by_alice.exit_code == 1 and "needs the admin role" in by_alice.stderr
    revoked = shell("revoke", "alice", "deploy", "shop", "--env", "prod")
    assert revoked.exit_code == 0
    changes = _audit(shell, "--since", "1h", "--action", "grant")
    assert [(e["actor"], e["outcome"], e["target"]) for e in changes[:2]] == [
        ("alice", "denied", "alice: approve on *.* in *"), ("admin", "ok", "alice: deploy on shop.* in prod")]
    assert _audit(shell, "--action", "revoke")[0]["target"] == "alice: deploy on shop.* in prod"
    others = shell("audit", "--user", "admin", token=tokens["alice"])  # not an admin: own entries only
    assert others.exit_code == 1 and "own audit entries only" in others.stderr
    bad = shell("audit", "--since", "last tuesday")
    assert bad.exit_code == 2 and "--since" in bad.stderr


def test_hostile_attempts_are_refused(shell: Shell, tokens: dict[str, str], tmp_path: Path) -> None:
    for name in ("x'; DROP TABLE sec_accounts; --", "../../etc/passwd"):
        made = shell("user", "add", name, "--role", "admin")
        assert made.exit_code == 1 and "is not valid" in made.stderr and "Traceback" not in made.output
    # a disabled approver's token stops working at once
    assert shell("user", "add", "carl", "--role", "approver").exit_code == 0
    assert shell("grant", "carl", "approve", "*", "--env", "prod").exit_code == 0
    carl = shell("user", "token", "create", "carl").stdout.strip().splitlines()[-1]
    assert shell("whoami", token=carl).exit_code == 0
    assert shell("user", "disable", "carl").exit_code == 0
    refused = shell("approve", "video_plays", "--version", "1", token=carl)
    assert refused.exit_code == 1 and "disabled account" in refused.stderr
    # a revoked token, and a made-up one
    spare = shell("user", "token", "create", token=tokens["vera"]).stdout.strip().splitlines()[-1]
    assert shell("user", "token", "revoke", spare.split("_")[1], token=tokens["vera"]).exit_code == 0
    gone = shell("whoami", token=spare)
    assert gone.exit_code == 1 and "was revoked" in gone.stderr
    forged = shell("whoami", token="fct_000000000000_" + "x" * 43)
    assert forged.exit_code == 1 and "not known to this catalog" in forged.stderr
    # a viewer may read, not deploy
    viewer = shell("deploy", P0_CHANGE, token=tokens["vera"])
    assert viewer.exit_code == 1 and "vera is a viewer" in viewer.stderr
    # login saves a private token file; a file others can read is refused, not trusted
    config = tmp_path / "config"
    login = shell("login", "--user", "vera", "--password-stdin", stdin=shell.password("vera") + "\n", config=config)
    assert login.exit_code == 0 and "signed in to" in login.stdout
    assert shell("whoami", config=config).stdout.startswith("vera (viewer)")
    wrong = shell("login", "--user", "vera", "--password-stdin", stdin="nope-nope-nope\n", config=config)
    assert wrong.exit_code == 1 and "name or password is wrong" in wrong.stderr
    os.chmod(config / "formcast" / "credentials.json", 0o644)
    leaked = shell("whoami", config=config)
    assert leaked.exit_code == 1 and "accessible by other users" in leaked.stderr
    os.chmod(config / "formcast" / "credentials.json", 0o600)
    assert shell("logout", config=config).exit_code == 0
    assert shell("whoami", config=config).exit_code == 1


@pytest.mark.spark
def test_an_operator_runs_the_deployed_version_in_prod(shell: Shell, tokens: dict[str, str]) -> None:
    done = shell("run", P0_CHANGE, "--env", "prod", "--date", "2024-06-01", token=tokens["oscar"])
    assert done.exit_code == 0, done.output
    with shell.catalog() as catalog:
        (record,) = catalog.runs(task="video_plays")
        assert (record.env, record.status) == ("prod", "succeeded") and record.rows_written
    (entry,) = [e for e in _audit(shell, "--action", "run") if e["outcome"] == "ok"]
    assert (entry["actor"], entry["env"], entry["target"]) == ("oscar", "prod", "task video_plays")


def test_defining_tables_and_indexing_lineage_need_their_grants(shell: Shell, tokens: dict[str, str],
                                                                 tmp_path: Path) -> None:
    spec = tmp_path / "tables.yaml"
    spec.write_text(
        "tables:\n"
        "  - name: shop.returns\n"
        "    columns: [{name: order_id, type: bigint}]\n"
        "    bindings:\n"
        f"      spark: {{dev: {{kind: file, path: {tmp_path}/dev/returns, format: parquet}},\n"
        f"              prod: {{kind: file, path: {tmp_path}/prod/returns, format: parquet}}}}\n")
    viewer = shell("catalog", "add", str(spec), token=tokens["vera"])
    assert viewer.exit_code == 1 and "vera is a viewer" in viewer.stderr
    developer = shell("catalog", "add", str(spec), token=tokens["alice"])  # alice writes mart only
    assert developer.exit_code == 1 and "missing grant: write on shop.* in dev" in developer.stderr
    show = shell("catalog", "show", "shop.returns", token=tokens["alice"])
    assert show.exit_code == 1 and "not in the catalog" in show.stderr  # nothing was registered
    assert shell("catalog", "add", str(spec)).exit_code == 0  # the admin may
    index = shell("lineage", "--index", str(ROOT / "examples"), token=tokens["vera"])
    assert index.exit_code == 1 and "editing tasks needs the developer" in index.stderr
    assert shell("lineage", "mart.video_plays", token=tokens["vera"]).exit_code == 0  # reading it is fine
