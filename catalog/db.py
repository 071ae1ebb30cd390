"""Transactions on the catalog's database, for the tables beside the catalog (versions, scheduler state)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from catalog import scheduling as s


def engine_of(catalog: Any) -> Engine:
    """The catalog's engine: scheduler state shares the catalog database (one URL, one migration chain)."""
    return catalog.engine


@contextmanager
def transaction(engine: Engine, write: bool = False) -> Iterator[Connection]:
    with engine.connect() as conn:
        if write:
            conn.execution_options(formcast_write=True)  # SQLite: BEGIN IMMEDIATE (see catalog.store)
        with conn.begin():
            yield conn


def bump_generation(conn: Connection) -> None:
    """Tell running schedulers to reload (deploys, rollbacks, backfills)."""
    t = s.sched_meta
    current = conn.execute(select(t.c.value).where(t.c.key == "generation")).scalar()
    if current is None:
        conn.execute(insert(t).values(key="generation", value="1"))
    else:
        conn.execute(update(t).where(t.c.key == "generation").values(value=str(int(current) + 1)))


def generation(conn: Connection) -> int:
    t = s.sched_meta
    return int(conn.execute(select(t.c.value).where(t.c.key == "generation")).scalar() or 0)
