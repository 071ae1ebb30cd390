"""What every table of the catalog database shares: the declarative base, name lengths, UTC times.

`catalog.models` (tables, runs, lineage) and `catalog.scheduling` (versions, scheduler state) both
declare on this `Base.metadata`; `catalog.schema` imports both to get the complete schema.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Lengths are bounded for MariaDB (VARCHAR needs one; unique indexes are limited to 3072 bytes).
NAME_LEN = 255
COLUMN_NAME_LEN = 128
ENGINE_LEN = 16
ENV_LEN = 32
# lost: the process running it died before it recorded an end (closed by the next run or scheduler start)
RUN_STATUSES = ("running", "succeeded", "failed", "cancelled", "lost")

# Explicit constraint names keep Alembic migrations identical across dialects.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# MariaDB's DATETIME drops microseconds unless asked; run ordering needs them.
_DATETIME = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (portable: SQLite and MariaDB have no time zones), returned aware UTC."""

    impl = _DATETIME
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, datetime: UtcDateTime}
