"""Which tasks an instance waits for: table-level lineage (writers of what it reads) plus explicit deps.

`DependencyResolver` is the seam: `TableResolver` infers from task configs (reads vs targets of the
deployed versions), `LineageResolver` asks the catalog's stored column lineage (`writers_of`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from app.scheduler.model import TaskDef
from generators.tasks.cron import every_day, is_daily


class DependencyResolver(Protocol):
    def upstreams(self, task: str) -> set[str]:
        """Tasks whose output `task` reads, for the same logical key."""
        ...


class TableResolver:
    """Writers of each table `task` reads, from what task definitions declare."""

    def __init__(self, tasks: Iterable[TaskDef]) -> None:
        tasks = list(tasks)
        self._reads = {t.name: set(t.reads) for t in tasks}
        self._writers: dict[str, set[str]] = defaultdict(set)
        for t in tasks:
            if t.target:
                self._writers[t.target.lower()].add(t.name)

    def upstreams(self, task: str) -> set[str]:
        found = set()
        for table in self._reads.get(task, ()):
            found |= self._writers.get(table.lower(), set())
        found.discard(task)  # an upsert reads its own target: not a dependency
        return found


class LineageResolver:
    """Upstreams from the catalog's lineage store (`Catalog.lineage`, `Catalog.writers_of`)."""

    def __init__(self, catalog: Any, deployed: Iterable[str]) -> None:
        self._catalog = catalog
        self._deployed = set(deployed)

    def upstreams(self, task: str) -> set[str]:
        lineage = self._catalog.lineage(task)
        if lineage is None:
            return set()
        found = {w for table in lineage.reads for w in self._catalog.writers_of(table)}
        return (found & self._deployed) - {task}


class CombinedResolver:
    """The union of several resolvers and the explicit `depends_on` lists."""

    def __init__(self, *resolvers: DependencyResolver, explicit: Mapping[str, Iterable[str]] | None = None) -> None:
        self._resolvers = resolvers
        self._explicit = {k: set(v) for k, v in (explicit or {}).items()}

    def upstreams(self, task: str) -> set[str]:
        found = set(self._explicit.get(task, ()))
        for resolver in self._resolvers:
            found |= resolver.upstreams(task)
        found.discard(task)
        return found


def same_cadence(downstream: TaskDef, upstream: TaskDef) -> bool:
    """Whether `upstream` produces an instance for every key of `downstream` (else the edge is ignored):
    both daily-keyed with an every-day upstream, or the same cron."""
    if not downstream.cron or not upstream.cron:
        return False
    if downstream.cron == upstream.cron and downstream.timezone == upstream.timezone:
        return True
    return is_daily(downstream.cron) and is_daily(upstream.cron) and every_day(upstream.cron)
