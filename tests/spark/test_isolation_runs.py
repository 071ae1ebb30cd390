"""The three ways a dev run reached prod (issue 10), tried for real on Spark: refused at compile time and
again at run time, and prod is byte-for-byte what it was after every attempt.

* symlink: the dev folder of mart.users_copy becomes a symlink into the prod marts;
* parent folder: a dev target that is the folder holding the prod marts;
* file://: a URI spelling of a path.

The run-time variants re-point the dev folder after the engine has written its staging folder, just
before the publish (the compile-time check saw a clean dev folder): the publish must notice, refuse,
and leave nothing behind on either side.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.workflow import runs, staging
from catalog.errors import CatalogError
from catalog.spec import TableSpec
from catalog.store import Catalog, _write_specs
from generators.compile import CompiledTask, Compiler
from generators.loading import parse_task
from tests.accounts import admin
from tests.support import Warehouse

DAY = date(2024, 6, 1)
TASK = {"name": "users_copy", "kind": "sync", "source": "app.users", "owner": "tests",
        "columns": [{"source": "user_id", "target": "id"}, {"source": "country", "target": "country_code"},
                    {"source": "is_vip", "target": "vip"}, {"source": "signup_date"}],
        "target": {"table": "mart.users_copy", "write_mode": "overwrite"}}
COLUMNS = [{"name": "id", "type": "bigint"}, {"name": "country_code", "type": "string"},
           {"name": "vip", "type": "boolean"}, {"name": "signup_date", "type": "date"}]


def fingerprint(root: Path) -> dict[str, str]:
    """Every file and folder under root (hidden ones included), files by content hash."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


@dataclass
class Site:
    root: Path
    store: Catalog
    source: Path

    @property
    def prod_mart(self) -> Path:
        return self.root / "prod" / "mart"

    def spec(self, dev_path: str) -> TableSpec:
        return TableSpec.model_validate({
            "name": "mart.users_copy", "columns": COLUMNS, "primary_key": ["id"],
            "bindings": {"spark": {"dev": {"kind": "file", "path": dev_path},
                                   "prod": {"kind": "file", "path": str(self.prod_mart / "users_copy")}}}})

    def register_unchecked(self, dev_path: str) -> None:
        """A catalog written before registration checked isolation: the compile and run checks must still hold."""
        with self.store._transaction(write=True) as conn:
            _write_specs(conn, [self.spec(dev_path)], True)
        self.store.refresh()

    def run(self, compiler: Compiler | None = None) -> runs.RunResult:
        task, problems = parse_task(TASK)
        assert task is not None, problems
        return runs.run(compiler or Compiler(self.store), task, self.store, principal=admin(self.store), env="dev",
                        logical_date=DAY)


@pytest.fixture
def site(tmp_path: Path, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.chdir(tmp_path)
    prod = tmp_path / "prod" / "mart" / "users_copy"
    prod.mkdir(parents=True)
    pq.write_table(pa.table({"id": list(range(200)), "country_code": ["NL"] * 200, "vip": [False] * 200,
                             "signup_date": [date(2020, 1, 1)] * 200}), prod / "part-0.parquet")
    (tmp_path / "prod" / "mart" / "orders").mkdir()
    (tmp_path / "prod" / "mart" / "orders" / "part-0.parquet").write_bytes(b"prod orders")
    (tmp_path / "dev" / "mart").mkdir(parents=True)
    with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as store:
        store.register(TableSpec.model_validate({
            "name": "app.users",
            "columns": [{"name": "user_id", "type": "bigint"}, {"name": "country", "type": "string"},
                        {"name": "is_vip", "type": "boolean"}, {"name": "signup_date", "type": "date"}],
            "bindings": {"spark": {"dev": {"kind": "file", "path": str(warehouse.root / "app" / "users")}}}}))
        yield Site(tmp_path, store, warehouse.root)
    staging.set_fault_hook(None)


def errors(result: runs.RunResult) -> list[tuple[str, str]]:
    return [(d.path, d.rule) for d in result.diagnostics if d.severity == "error"]


def assert_refused_and_prod_intact(site: Site, result: runs.RunResult, before: dict[str, str]) -> None:
    assert result.status in ("invalid", "failed"), result.log
    assert fingerprint(site.root / "prod") == before
    assert not (site.root / "file:").exists() and not any(site.root.glob("file:*"))


# --- compile time -------------------------------------------------------------------------------


def test_symlink_into_prod_is_refused_at_compile_time(site: Site) -> None:
    site.store.register(site.spec(str(site.root / "dev" / "mart" / "users_copy")))
    (site.root / "dev" / "mart").rmdir()
    os.symlink(site.prod_mart, site.root / "dev" / "mart")  # planted after registration
    before = fingerprint(site.root / "prod")
    result = site.run()
    assert errors(result) == [("target.table", "env-isolation")]
    assert "is the prod location of mart.users_copy" in result.diagnostics[0].message
    assert_refused_and_prod_intact(site, result, before)


@pytest.mark.parametrize("dev", ["{prod_mart}", "{prod_mart}/..", "file://{prod_mart}/users_copy/",
                                 "file:{prod_mart}/users_copy", "FILE://localhost{prod_mart}/./users_copy"])
def test_parent_folder_and_uri_spellings_are_refused_at_compile_time(site: Site, dev: str) -> None:
    path = dev.format(prod_mart=site.prod_mart)
    if "users_copy" in dev:
        # Its own prod location under another spelling: registering is allowed (dev may read prod data),
        # every write is not.
        site.store.register(site.spec(path))
    else:
        with pytest.raises(CatalogError, match=r"contains the prod location of mart\.users_copy"):
            site.store.register(site.spec(path))  # `catalog add` refuses a dev location above prod
        site.register_unchecked(path)
    before = fingerprint(site.root / "prod")
    result = site.run()
    assert errors(result) == [("target.table", "env-isolation")]
    assert_refused_and_prod_intact(site, result, before)
    assert site.store.runs() == []  # nothing ran


# --- run time -----------------------------------------------------------------------------------


def _repoint(folder: Path, to: Path) -> Callable[[str], None]:
    """A fault hook that, once the engine has written, swaps `folder` for a symlink to `to`."""

    def hook(point: str) -> None:
        if point == "staged":
            folder.rename(folder.with_name(folder.name + ".moved"))
            os.symlink(to, folder)

    return hook


@pytest.mark.parametrize("bypass", ["symlink", "parent folder", "file://"])
def test_bypasses_planted_after_compile_are_refused_at_publish(site: Site, bypass: str) -> None:
    dev = site.root / "dev"
    if bypass == "parent folder":
        (dev / "x").mkdir()
        target, folder, to = dev / "x" / "mart", dev / "x", site.root / "prod"  # becomes prod/mart: the marts' parent
    else:
        target, folder, to = dev / "mart" / "users_copy", dev / "mart", site.prod_mart  # becomes prod users_copy
    path = f"file://{target}" if bypass == "file://" else str(target)
    site.store.register(site.spec(path))  # a clean dev location when registered and compiled
    before = fingerprint(site.root / "prod")
    staging.set_fault_hook(_repoint(folder, to))
    result = site.run()
    assert result.status == "failed", result.log
    assert result.error.startswith("refused: ") and "moved or re-pointed" in result.error
    assert site.store.get_run(result.run_id).status == "failed"
    assert_refused_and_prod_intact(site, result, before)
    moved = folder.with_name(folder.name + ".moved")
    assert [p.name for p in moved.rglob(".*staging*")] == [], "the staging folder was left behind"


def test_a_symlink_planted_between_compile_and_run_is_refused(site: Site) -> None:
    site.store.register(site.spec(str(site.root / "dev" / "mart" / "users_copy")))
    before = fingerprint(site.root / "prod")

    class Planting(Compiler):
        def compile(self, *args: Any, **kwargs: Any) -> CompiledTask:
            compiled = super().compile(*args, **kwargs)
            if not (site.root / "dev" / "mart").is_symlink():
                (site.root / "dev" / "mart").rmdir()
                os.symlink(site.prod_mart, site.root / "dev" / "mart")
            return compiled

    result = site.run(Planting(site.store))
    assert result.status == "failed" and result.error.startswith("refused: "), result.log
    assert "is the prod location of mart.users_copy" in result.error  # the run-time isolation check
    assert site.store.get_run(result.run_id).error == result.error  # the attempt is on record
    assert_refused_and_prod_intact(site, result, before)


def test_a_file_uri_dev_binding_runs_without_strays(site: Site) -> None:
    target = site.root / "dev" / "mart" / "users_copy"
    site.store.register(site.spec(f"file://{target}"))
    before = fingerprint(site.root / "prod")
    result = site.run()
    assert result.status == "succeeded", (result.error, result.log)
    assert result.rows_written == 6
    assert sorted(p.name for p in target.parent.iterdir()) == ["users_copy"]
    assert not any(site.root.glob("file:*")) and not (Path.cwd() / "file:").exists()
    assert fingerprint(site.root / "prod") == before
    rows = pq.read_table(target).num_rows
    assert rows == 6


@pytest.mark.parametrize("call", ["reflect('org.apache.hadoop.fs.FileUtil', 'symLink', '/etc/passwd', '{link}')",
                                  "java_method('org.apache.hadoop.fs.FileUtil', 'symLink', '/etc/passwd', '{link}')"])
def test_a_preview_cannot_run_java(site: Site, tmp_path: Path, call: str) -> None:
    """The issue's preview: one click on a filter that would create a symlink through Java."""
    site.store.register(site.spec(str(site.root / "dev" / "mart" / "users_copy")))
    link = tmp_path / "pwned"
    task, _ = parse_task({**TASK, "filter": f"{call.format(link=link)} IS NULL"})
    result = runs.preview(Compiler(site.store), task, principal=admin(site.store), env="dev", logical_date=DAY)
    assert result.status == "invalid"
    assert errors(result) == [("filter", "forbidden-function")]
    assert not os.path.lexists(link)
