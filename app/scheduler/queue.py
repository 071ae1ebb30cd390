"""The ready queue: per pool, ordered by priority class, then deadline slack, then scheduled time.

Aging: an instance waiting `aging_step` seconds moves up one class (P3 -> P2 -> ...), so a steady
stream of high-priority work cannot starve low priorities forever. Backfills start in their own
class below P3 and never age above P1: they never go ahead of a P0.

Slack is deadline minus expected duration: for two ready instances, "now" cancels out of
deadline - (now + duration), so the key is fixed when the instance is queued.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict

from app.scheduler.model import BACKFILL_CLASS, FAR, Instance

_Entry = tuple[float, float, int, int]  # (slack key, scheduled_at, token, instance id)


class _PoolQueue:
    __slots__ = ("aging", "heaps", "size")

    def __init__(self) -> None:
        self.heaps: dict[tuple[int, bool], list[_Entry]] = defaultdict(list)  # (class, is_backfill) -> heap
        self.aging: list[tuple[float, int, int]] = []  # (promote at, token, id)
        self.size = 0


class ReadyQueue:
    def __init__(self, aging_step: float) -> None:
        self.aging_step = aging_step
        self._pools: dict[str, _PoolQueue] = defaultdict(_PoolQueue)
        self._loc: dict[int, tuple[int, str, int, bool, float, float, float]] = {}
        # id -> (token, pool, class, backfill, slack key, scheduled_at, ready_at)
        self._tokens = itertools.count(1)
        self._items: dict[int, Instance] = {}

    def __len__(self) -> int:
        return len(self._loc)

    def __contains__(self, instance_id: int) -> bool:
        return instance_id in self._loc

    def push(self, inst: Instance, slack_key: float | None, now: float) -> None:
        self._place(inst, inst.cls, slack_key if slack_key is not None else FAR, inst.ready_at or now)

    def _place(self, inst: Instance, cls: int, slack: float, ready_at: float) -> None:
        token = next(self._tokens)
        backfill = inst.kind == "backfill"
        pq = self._pools[inst.pool]
        if inst.id not in self._loc:
            pq.size += 1
        self._loc[inst.id] = (token, inst.pool, cls, backfill, slack, inst.scheduled_at, ready_at)
        self._items[inst.id] = inst
        heapq.heappush(pq.heaps[(cls, backfill)], (slack, inst.scheduled_at, token, inst.id))
        floor = 1 if backfill else 0
        if cls > floor:
            steps_done = inst.cls - cls  # promotions so far
            heapq.heappush(pq.aging, (ready_at + (steps_done + 1) * self.aging_step, token, inst.id))

    def remove(self, instance_id: int) -> Instance | None:
        loc = self._loc.pop(instance_id, None)
        if loc is None:
            return None
        self._pools[loc[1]].size -= 1
        return self._items.pop(instance_id)

    def age(self, now: float) -> int:
        """Promote every instance whose wait crossed the next aging step; returns how many moved."""
        moved = 0
        for pq in self._pools.values():
            while pq.aging and pq.aging[0][0] <= now:
                _, token, iid = heapq.heappop(pq.aging)
                loc = self._loc.get(iid)
                if loc is None or loc[0] != token:
                    continue
                _, _, cls, _, slack, _, ready_at = loc
                pq.size -= 1  # _place counts it again
                del self._loc[iid]
                self._place(self._items[iid], cls - 1, slack, ready_at)
                moved += 1
        return moved

    def pools(self) -> list[str]:
        return [name for name, pq in self._pools.items() if pq.size]

    def pop(self, pool: str, allow_backfill: bool) -> Instance | None:
        """The best queued instance of `pool` (skipping backfills unless allowed), removed from the queue."""
        pq = self._pools.get(pool)
        if pq is None or not pq.size:
            return None
        best: tuple[tuple[int, float, float], list[_Entry]] | None = None
        for (cls, backfill), heap in pq.heaps.items():
            if backfill and not allow_backfill:
                continue
            while heap and self._loc.get(heap[0][3], (None,))[0] != heap[0][2]:
                heapq.heappop(heap)  # stale: removed or promoted
            if heap:
                rank = (cls, heap[0][0], heap[0][1])
                if best is None or rank < best[0]:
                    best = (rank, heap)
        if best is None:
            return None
        entry = heapq.heappop(best[1])
        return self.remove(entry[3])

    def class_of(self, instance_id: int) -> int | None:
        loc = self._loc.get(instance_id)
        return None if loc is None else loc[2]


__all__ = ["BACKFILL_CLASS", "ReadyQueue"]
