"""Lineage benchmark: what `generators.lineage.task_lineage` adds on top of a compile.

    .venv/bin/python benchmarks/lineage_bench.py                  # 1,000 compiles of the examples, mixed
    .venv/bin/python benchmarks/lineage_bench.py --tasks 5000 --json
    .venv/bin/python benchmarks/lineage_bench.py --generated 1000 # compile_bench's generated configs instead

Every config is compiled once (timed), then its lineage is computed from the kept AST (timed), and
again from the printed `logical_query` (parse + trace: what a consumer without the AST pays). The
baseline is `sqlglot.lineage.lineage()` called per output column, over the distinct configs only.
Target: lineage mean < 10 ms/task (reported as PASS/MISS; the exit status is 1 only if a config fails).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import sqlglot

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.demo.seed import CATALOG_FILE, load_demo_tables
from catalog.memory import MemoryCatalog
from generators.compile import Compiler
from generators.lineage import task_lineage
from generators.loading import parse_task

TARGET_MS = 10.0
LOGICAL_DATE = date(2024, 6, 2)


def example_configs() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(CATALOG_FILE.parents[1].glob("*.json"))]


def generated(n_tasks: int) -> tuple[list[Any], list[dict[str, Any]]]:
    """compile_bench's catalog and configs (its `generate`), loaded by path."""
    path = Path(__file__).with_name("compile_bench.py")
    spec = importlib.util.spec_from_file_location("formcast_compile_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.generate(max(n_tasks * 2, 100), n_tasks)


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"mean": statistics.fmean(values), "p50": ordered[len(ordered) // 2],
            "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], "max": ordered[-1]}


def baseline_ms(compiled: Any) -> float | None:
    """sqlglot.lineage.lineage() once per output column (re-qualifies the query every call)."""
    from sqlglot.lineage import lineage

    start = time.perf_counter()
    try:
        for name, _ in compiled.output_columns:
            lineage(name, compiled.logical_query, schema=None, dialect=compiled.engine)
    except Exception:  # e.g. Flink window TVFs: sqlglot cannot derive their columns
        return None
    return (time.perf_counter() - start) * 1000


def run(configs: list[dict[str, Any]], compiler: Compiler, n: int) -> dict[str, Any]:
    compile_ms: list[float] = []
    lineage_ms: list[float] = []
    reparse_ms: list[float] = []
    by_kind: dict[str, list[float]] = defaultdict(list)
    edges = failures = 0
    baselines: list[tuple[float, float]] = []
    for i in range(n):
        config = configs[i % len(configs)]
        task, problems = parse_task(config)
        if task is None:
            failures += 1
            print(f"invalid config {config.get('name')}: {problems}", file=sys.stderr)
            continue
        start = time.perf_counter()
        compiled = compiler.compile(task, logical_date=LOGICAL_DATE)
        compile_ms.append((time.perf_counter() - start) * 1000)
        if not compiled.ok:
            failures += 1
            print(f"{task.name} does not compile: {[str(d) for d in compiled.errors]}", file=sys.stderr)
            continue
        start = time.perf_counter()
        lineage = task_lineage(compiled)
        elapsed = (time.perf_counter() - start) * 1000
        lineage_ms.append(elapsed)
        by_kind[task.kind].append(elapsed)
        edges += len(lineage.edges)
        # From SQL text, as a consumer without the AST would: parse the printed query, then trace it.
        ast, text = compiled.logical_ast, compiled.logical_query
        start = time.perf_counter()
        compiled.logical_ast = sqlglot.parse_one(text, read=compiled.engine)
        task_lineage(compiled)
        reparse_ms.append((time.perf_counter() - start) * 1000)
        compiled.logical_ast = ast
        if i < len(configs):
            base = baseline_ms(compiled)
            if base is not None:
                baselines.append((base, elapsed))
    figures: dict[str, Any] = {
        "tasks": len(lineage_ms), "failures": failures, "edges_per_task": edges / max(len(lineage_ms), 1),
        "compile_ms": stats(compile_ms), "lineage_ms": stats(lineage_ms), "lineage_from_text_ms": stats(reparse_ms),
        "lineage_share_of_compile": statistics.fmean(lineage_ms) / statistics.fmean(compile_ms),
        "by_kind_mean_ms": {k: statistics.fmean(v) for k, v in sorted(by_kind.items())},
    }
    if baselines:
        figures["baseline_sqlglot_lineage_ms"] = statistics.fmean(b for b, _ in baselines)
        figures["baseline_same_tasks_ours_ms"] = statistics.fmean(o for _, o in baselines)
    figures["target"] = "PASS" if figures["lineage_ms"]["mean"] < TARGET_MS else "MISS"
    return figures


def report(figures: dict[str, Any]) -> str:
    def row(label: str, s: dict[str, float]) -> str:
        return f"{label:<24} mean {s['mean']:7.2f}  p50 {s['p50']:7.2f}  p95 {s['p95']:7.2f}  max {s['max']:7.2f} ms"

    lines = [
        f"{figures['tasks']} tasks, {figures['edges_per_task']:.1f} edges/task, {figures['failures']} failures",
        row("compile", figures["compile_ms"]),
        row("lineage (kept AST)", figures["lineage_ms"]),
        row("lineage (from SQL text)", figures["lineage_from_text_ms"]),
        f"lineage adds {figures['lineage_share_of_compile']:.1%} to a compile; "
        f"target mean < {TARGET_MS:g} ms/task: {figures['target']}",
        "by kind (mean ms): " + ", ".join(f"{k} {v:.2f}" for k, v in figures["by_kind_mean_ms"].items()),
    ]
    if "baseline_sqlglot_lineage_ms" in figures:
        lines.append(f"sqlglot.lineage per column, same tasks: {figures['baseline_sqlglot_lineage_ms']:.1f} ms/task "
                     f"vs {figures['baseline_same_tasks_ours_ms']:.2f} ms/task here")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000, help="compiles to measure (examples repeated)")
    parser.add_argument("--generated", type=int, default=0, metavar="N",
                        help="use N configs generated by compile_bench.py instead of the examples")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    if args.generated:
        tables, configs = generated(args.generated)
        n = args.generated
    else:
        tables, configs = load_demo_tables(Path(tempfile.mkdtemp(prefix="formcast_lineage_bench_"))), example_configs()
        n = args.tasks
    compiler = Compiler(MemoryCatalog(tables))
    run(configs[:5], compiler, 5)  # warm up imports and caches
    figures = run(configs, compiler, n)
    print(report(figures))
    if args.json:
        print(json.dumps(figures, indent=2))
    return 1 if figures["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
