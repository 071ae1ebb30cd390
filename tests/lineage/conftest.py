"""Lineage fixtures: the demo catalog (in memory, no data written) and its example task configs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.demo.seed import CATALOG_FILE, load_demo_tables
from catalog.lineage import TaskLineage
from catalog.memory import MemoryCatalog
from catalog.spec import TableSpec
from generators.compile import CompiledTask, Compiler
from generators.lineage import task_lineage
from generators.loading import parse_task

EXAMPLES_DIR = CATALOG_FILE.parents[1]
LOGICAL_DATE = date(2024, 6, 2)


@pytest.fixture(scope="session")
def demo_tables(tmp_path_factory: pytest.TempPathFactory) -> list[TableSpec]:
    return load_demo_tables(tmp_path_factory.mktemp("lineage_home"))


@pytest.fixture(scope="session")
def compiler(demo_tables: list[TableSpec]) -> Compiler:
    return Compiler(MemoryCatalog(demo_tables))


@pytest.fixture(scope="session")
def example() -> Callable[[str], dict[str, Any]]:
    def load(name: str) -> dict[str, Any]:
        return json.loads((EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))

    return load


@pytest.fixture(scope="session")
def compile_config(compiler: Compiler) -> Callable[..., CompiledTask]:
    def run(config: dict[str, Any], *, using: Compiler | None = None, **kwargs: Any) -> CompiledTask:
        task, problems = parse_task(config)
        assert task is not None, problems
        compiled = (using or compiler).compile(task, logical_date=LOGICAL_DATE, **kwargs)
        assert compiled.ok, [str(d) for d in compiled.diagnostics]
        return compiled

    return run


@pytest.fixture(scope="session")
def lineage_of(compile_config: Callable[..., CompiledTask], example: Callable[[str], dict[str, Any]]
               ) -> Callable[..., TaskLineage]:
    def run(config: str | dict[str, Any], **kwargs: Any) -> TaskLineage:
        return task_lineage(compile_config(example(config) if isinstance(config, str) else config, **kwargs))

    return run


def example_paths() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.json"))
