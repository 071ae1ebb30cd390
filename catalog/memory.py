"""An in-memory catalog with the same read API as the SQLAlchemy store (tests, benchmarks, previews)."""

from __future__ import annotations

from collections.abc import Iterable

from catalog.spec import TableSpec


class MemoryCatalog:
    def __init__(self, tables: Iterable[TableSpec] = ()) -> None:
        self._tables: dict[str, TableSpec] = {}
        for table in tables:
            self.register(table)

    def register(self, spec: TableSpec, *, replace: bool = True) -> None:
        if not replace and spec.name in self._tables:
            raise ValueError(f"table {spec.name} is already registered")
        self._tables[spec.name] = spec

    def get_table(self, name: str) -> TableSpec | None:
        return self._tables.get(name.lower())

    def table_names(self) -> list[str]:
        return sorted(self._tables)

    def load_all(self) -> dict[str, TableSpec]:
        return dict(self._tables)
