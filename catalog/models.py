"""SQLAlchemy ORM for the catalog database (SQLite, PostgreSQL, MariaDB).

These mirror the *head* Alembic revision; migrations never import them (a revision is a frozen
snapshot), so a change here needs a new file in `catalog/migrations/versions/`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.base import COLUMN_NAME_LEN, ENGINE_LEN, ENV_LEN, NAME_LEN, Base, UtcDateTime, utcnow


class TableRow(Base):
    __tablename__ = "tables"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), unique=True)  # lower-case namespace.table
    namespace: Mapped[str] = mapped_column(String(NAME_LEN), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(NAME_LEN), default="")
    primary_key: Mapped[list[str]] = mapped_column(JSON, default=list)
    partition_by: Mapped[list[str]] = mapped_column(JSON, default=list)
    # none_as_null: "no event time" is SQL NULL, not the JSON literal null.
    event_time: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    columns: Mapped[list[ColumnRow]] = relationship(
        back_populates="table",
        order_by="ColumnRow.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    bindings: Mapped[list[BindingRow]] = relationship(
        back_populates="table", cascade="all, delete-orphan", passive_deletes=True
    )


class ColumnRow(Base):
    __tablename__ = "columns"
    __table_args__ = (UniqueConstraint("table_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(COLUMN_NAME_LEN))
    type: Mapped[str] = mapped_column(Text)  # struct<...> types can be long
    nullable: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str] = mapped_column(Text, default="")

    table: Mapped[TableRow] = relationship(back_populates="columns")


class BindingRow(Base):
    __tablename__ = "bindings"
    __table_args__ = (UniqueConstraint("table_id", "engine", "env"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    engine: Mapped[str] = mapped_column(String(ENGINE_LEN))
    env: Mapped[str] = mapped_column(String(ENV_LEN))
    kind: Mapped[str] = mapped_column(String(ENGINE_LEN))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the binding minus `kind`

    table: Mapped[TableRow] = relationship(back_populates="bindings")


class RunRow(Base):
    """One execution of a task, written by the app's runners."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'succeeded', 'failed', 'cancelled', 'lost')", name="status"),
        Index(None, "task", "started_at"),
        Index(None, "status"),  # recovery looks up the running ones at every run
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4 text
    task: Mapped[str] = mapped_column(String(NAME_LEN))
    config_hash: Mapped[str] = mapped_column(String(128))
    engine: Mapped[str] = mapped_column(String(ENGINE_LEN))
    env: Mapped[str] = mapped_column(String(ENV_LEN))
    logical_date: Mapped[str | None] = mapped_column(String(64), nullable=True)  # ISO 8601 date/datetime
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    rows_written: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    target: Mapped[str | None] = mapped_column(String(NAME_LEN), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LineageTaskRow(Base):
    """One version (config hash) of a task's lineage; exactly one version per task is current."""

    __tablename__ = "lineage_tasks"
    __table_args__ = (
        UniqueConstraint("task", "config_hash"),
        Index(None, "task", "current"),
        Index(None, "target_table"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(NAME_LEN))
    config_hash: Mapped[str] = mapped_column(String(128))
    engine: Mapped[str] = mapped_column(String(ENGINE_LEN))
    target_table: Mapped[str] = mapped_column(String(NAME_LEN))
    owner: Mapped[str] = mapped_column(String(NAME_LEN), default="")
    priority: Mapped[str] = mapped_column(String(8), default="P2")
    reads: Mapped[list[str]] = mapped_column(JSON, default=list)
    output_columns: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[name, type | null], ...]
    incomplete: Mapped[list[str]] = mapped_column(JSON, default=list)
    current: Mapped[bool] = mapped_column(default=True)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class LineageEdgeRow(Base):
    """`target_table.target_column` derives from `source_table.source_column`; target_column NULL: a row edge."""

    __tablename__ = "lineage_edges"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('copied', 'transformed', 'aggregated', 'filtered_by', 'joined_on')", name="kind"
        ),
        Index(None, "lineage_id"),
        Index(None, "source_table"),
        Index(None, "target_table"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lineage_id: Mapped[int] = mapped_column(ForeignKey("lineage_tasks.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(NAME_LEN))
    config_hash: Mapped[str] = mapped_column(String(128))
    target_table: Mapped[str] = mapped_column(String(NAME_LEN))
    target_column: Mapped[str | None] = mapped_column(String(COLUMN_NAME_LEN), nullable=True)
    source_table: Mapped[str] = mapped_column(String(NAME_LEN))
    source_column: Mapped[str] = mapped_column(String(COLUMN_NAME_LEN))
    kind: Mapped[str] = mapped_column(String(16))

