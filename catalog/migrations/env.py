"""Alembic environment for the catalog database.

`catalog.store.migrate()` configures Alembic in code and hands over an open connection (already
inside the caller's transaction) as ``config.attributes["connection"]``; no alembic.ini is needed.
For ad-hoc use, ``sqlalchemy.url`` may be set on the Config instead (also enables ``--sql`` mode).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from catalog.schema import metadata

config = context.config
OPTIONS = {"target_metadata": metadata, "render_as_batch": True, "compare_type": True}


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():  # a no-op when the caller's transaction is open
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
