"""The compile benchmark at a tiny size: every generated config compiles, the figures have their keys.

No timing is asserted: the point is that `benchmarks/compile_bench.py` keeps working (and keeps
generating valid configs) as the compiler and the task models change.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from catalog.memory import MemoryCatalog
from generators.compile import Compiler
from generators.loading import parse_task

BENCH_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "compile_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("formcast_compile_bench", BENCH_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_generated_configs_compile_without_errors(bench: ModuleType) -> None:
    specs, configs = bench.generate(200, 40, seed=7)
    assert len(specs) == 200 and len(configs) == 40
    assert len({s.name for s in specs}) == 200
    compiler = Compiler(MemoryCatalog(specs))
    failures = {}
    for config in configs:
        task, problems = parse_task(config)
        assert task is not None, (config["name"], [str(p) for p in problems])
        result = compiler.compile(task, env="dev", logical_date=bench.LOGICAL_DATE)
        if not result.ok:
            failures[task.name] = [str(d) for d in result.errors]
        else:
            assert result.script and "INSERT" in result.script
    assert not failures, failures


def test_generation_is_deterministic_and_mixes_kinds(bench: ModuleType) -> None:
    _, first = bench.generate(200, 40, seed=11)
    _, again = bench.generate(200, 40, seed=11)
    assert first == again
    _, larger = bench.generate(600, 200, seed=11)
    kinds = Counter(c["kind"] for c in larger)
    assert set(kinds) == set(bench.KINDS)
    assert all(len(c["steps"]) == 5 for c in larger if c["kind"] == "chained")
    joins = [len(c["joins"]) for c in larger if c["kind"] == "enrich"]
    assert min(joins) >= 1 and max(joins) <= 6


@pytest.mark.parametrize("catalog_kind", ["memory", "sqlite"])
def test_figures_have_expected_keys(bench: ModuleType, catalog_kind: str, tmp_path: Path) -> None:
    figures = bench.run_benchmark(n_tables=100, n_tasks=16, catalog_kind=catalog_kind, seed=3,
                                  profile=catalog_kind == "memory", workdir=str(tmp_path), trace_memory=True)
    assert figures["failures"] == []
    assert figures["compile"]["ok"] == 16
    for key in ("setup", "cold", "warm", "by_kind", "compile", "memory", "targets"):
        assert key in figures
    for name in ("cold", "warm"):
        for key in ("configs", "configs_per_s", "wall_s", "cpu_s", "p50_ms", "p95_ms", "p99_ms", "max_ms"):
            assert key in figures[name], (name, key)
        assert figures[name]["configs"] == 16
    for per_kind in figures["by_kind"].values():
        assert set(per_kind) >= {"n", "cold_p50_ms", "cold_p95_ms", "warm_p50_ms", "warm_p95_ms"}
    assert set(figures["memory"]) == {"tracemalloc_peak_mb", "tracemalloc_configs", "max_rss_mb"}
    assert set(figures["targets"]) == {"warm_p95", "cold_total"}
    if catalog_kind == "sqlite":
        assert figures["catalog_queries"]["warm"] == 0  # every table is served from the store's cache
    else:
        assert "cumulative" in figures["profile"]
    lines = list(bench.report(figures))
    assert any("PASS" in line or "MISS" in line for line in lines)
