"""The layout of ARCHITECTURE.md, enforced: every import points down (or stays in its own room).

Rooms are top-level packages (`catalog`, `generators`, `templates`) and the folders of `app/`.
An import from room A to room B is allowed when A is B or A sits on a higher floor than B. Imports
inside function bodies count too: a lazy import upward is still an upward dependency.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "generators", "catalog", "templates")

# Floors, from the top. Rooms on one floor do not import each other.
FLOORS: dict[str, int] = {
    "app.cli": 6, "app.ui": 6, "app.server": 6,  # interfaces
    "app.ops": 5,  # diagnostics and health look at everything below
    "app.scheduler": 4,
    "app.workflow": 3,
    "app.runners": 2, "app.lineage": 2, "app.security": 2, "app.demo": 2,
    "generators": 1,
    "catalog": 0, "templates": 0,
}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} (floor {FLOORS[self.importer]}) imports " \
               f"{self.imported} (floor {FLOORS[self.imported]})"


def room_of(module: str) -> str | None:
    """`app.workflow.runs` -> `app.workflow`; `generators.tasks.cron` -> `generators`; others -> None.

    The bare `app` package (an empty `__init__`) is no room: importing it depends on nothing.
    """
    parts = module.split(".")
    if parts[0] not in PACKAGES or module == "app":
        return None
    if parts[0] == "app" and len(parts) > 1:
        return f"app.{parts[1]}"
    return parts[0]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module) for every import, relative ones resolved, at any depth."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # `from app import workflow` imports the room app.workflow, not just `app`.
            found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
            found.append((node.lineno, target))
    return found


def check_layout(root: Path) -> tuple[list[Violation], list[str]]:
    """Every upward import under root, and every room that has no floor yet."""
    violations: list[Violation] = []
    unknown: set[str] = set()
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic revisions are frozen snapshots and import nothing of ours
            module = module_name(path, root)
            if module == "app":
                continue
            importer = room_of(module)
            if importer not in FLOORS:
                unknown.add(importer or module)
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, target in imported_modules(tree, module, path.name == "__init__.py"):
                imported = room_of(target)
                if imported is None or imported == importer:
                    continue
                if imported not in FLOORS:
                    continue  # `from app import x` of a name, not a room; real rooms are walked themselves
                if FLOORS[imported] >= FLOORS[importer]:
                    violations.append(Violation(str(path.relative_to(root)), line, importer, imported))
    return sorted(set(violations), key=lambda v: (v.path, v.line)), sorted(unknown)


def test_every_import_points_down() -> None:
    violations, unknown = check_layout(ROOT)
    assert not unknown, f"rooms without a floor (add them to FLOORS and ARCHITECTURE.md): {unknown}"
    assert not violations, "upward imports:\n" + "\n".join(map(str, violations))


def _plant(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in PACKAGES:
        (root / package).mkdir(exist_ok=True)


@pytest.mark.parametrize(("files", "expected"), [
    # a lazy import inside a function, from a runner up to the scheduler
    ({"app/runners/x.py": "def f():\n    from app.scheduler.core import Scheduler\n"},
     ("app/runners/x.py", 2, "app.runners", "app.scheduler")),
    # the catalog reaching up into the generators
    ({"catalog/x.py": "import generators.compile\n"}, ("catalog/x.py", 1, "catalog", "generators")),
    # a relative import that climbs out of workflow into the CLI
    ({"app/workflow/x.py": "from ..cli import common\n"}, ("app/workflow/x.py", 1, "app.workflow", "app.cli")),
    # two rooms on one floor
    ({"app/lineage/x.py": "from app.security import policy\n"}, ("app/lineage/x.py", 1, "app.lineage", "app.security")),
    # `from app import workflow` names the room
    ({"app/runners/x.py": "from app import workflow\n"}, ("app/runners/x.py", 1, "app.runners", "app.workflow")),
])
def test_a_planted_upward_import_is_caught(tmp_path: Path, files: dict[str, str], expected: tuple) -> None:
    _plant(tmp_path, files)
    violations, _ = check_layout(tmp_path)
    assert [(v.path, v.line, v.importer, v.imported) for v in violations] == [expected]


def test_downward_imports_pass(tmp_path: Path) -> None:
    _plant(tmp_path, {
        "app/cli/x.py": "from app.scheduler import core\nfrom app.workflow.runs import run\nimport catalog.store\n",
        "app/workflow/y.py": "from app.runners import spark\nfrom generators.compile import Compiler\n",
        "generators/z.py": "from catalog.spec import TableSpec\nimport templates\n",
    })
    assert check_layout(tmp_path) == ([], [])


def test_a_new_room_must_be_given_a_floor(tmp_path: Path) -> None:
    _plant(tmp_path, {"app/reports/x.py": "import catalog\n"})
    assert check_layout(tmp_path)[1] == ["app.reports"]


def module_cycles(root: Path) -> list[list[str]]:
    """Cycles among modules through their top-level imports (lazy imports inside functions excepted)."""
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = module_name(path, root)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            top = ast.Module(body=[n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)], type_ignores=[])
            graph[module] = {t for _, t in imported_modules(top, module, path.name == "__init__.py")}
    for module in graph:
        graph[module] = {t for t in graph[module] if t in graph and t != module}
    cycles, seen = [], set()
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in sorted(graph[node]):
                if nxt == start:
                    cycle = frozenset(trail)
                    if cycle not in seen:
                        seen.add(cycle)
                        cycles.append([*trail, start])
                elif nxt not in trail and nxt > start:
                    stack.append((nxt, [*trail, nxt]))
    return cycles


def test_no_module_imports_itself_in_a_circle() -> None:
    assert module_cycles(ROOT) == []


def test_a_planted_cycle_is_caught(tmp_path: Path) -> None:
    _plant(tmp_path, {"catalog/a.py": "from catalog.b import x\n", "catalog/b.py": "from catalog import a\n"})
    assert module_cycles(tmp_path) == [["catalog.a", "catalog.b", "catalog.a"]]
