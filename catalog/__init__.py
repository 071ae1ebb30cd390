"""The Formcast metadata catalog: logical tables, their columns and their physical bindings.

`catalog.spec` holds the pure data model (Pydantic) that the compile pipeline reads;
`catalog.store` persists it with SQLAlchemy; `catalog.infer` and `catalog.reflect` import it.
"""

from catalog.spec import (
    Binding,
    ColumnSpec,
    EventTime,
    TableSpec,
)

__all__ = ["Binding", "ColumnSpec", "EventTime", "TableSpec"]
