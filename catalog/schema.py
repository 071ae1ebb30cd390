"""The complete schema of the catalog database: every module that declares tables, on one metadata.

Alembic's autogenerate (`migrations/env.py`) and the migration test compare against this.
"""

from __future__ import annotations

from catalog import models, scheduling, security  # noqa: F401 - imported for the tables they declare
from catalog.base import Base

metadata = Base.metadata
