"""Populate stored lineage: compile task configs against the catalog and save each task's lineage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from generators.compile import Compiler
from generators.diagnostics import format_diagnostics
from generators.lineage import task_lineage
from generators.loading import load_task_file


@dataclass
class IndexReport:
    indexed: list[str] = field(default_factory=list)  # task names stored
    failed: list[tuple[str, str]] = field(default_factory=list)  # (config path, why)
    incomplete: dict[str, list[str]] = field(default_factory=dict)  # task -> notes

    @property
    def ok(self) -> bool:
        return not self.failed


def task_files(paths: Iterable[str | Path]) -> list[Path]:
    """Config files named by `paths`: files as given, folders' `*.json` (not recursive), sorted."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return files


def index_tasks(compiler: Compiler, store: Any, paths: Iterable[str | Path], *, env: str = "dev",
                logical_date: date | None = None) -> IndexReport:
    """Compile every task config in `paths` (for its own engine) and store its lineage as current.

    `store` is a `catalog.store.Catalog` (anything with `save_lineage`). A config that does not load or
    compile is reported and skipped; the others are still stored.
    """
    report = IndexReport()
    for file in task_files(paths):
        task, problems = load_task_file(file)
        if task is None:
            report.failed.append((str(file), format_diagnostics(problems)))
            continue
        compiled = compiler.compile(task, env=env, logical_date=logical_date)
        if not compiled.ok:
            report.failed.append((str(file), format_diagnostics(compiled.errors)))
            continue
        lineage = task_lineage(compiled)
        store.save_lineage(lineage)
        report.indexed.append(task.name)
        if lineage.incomplete:
            report.incomplete[task.name] = list(lineage.incomplete)
    return report
