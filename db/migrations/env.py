"""Alembic environment for Anxin: runs against the models' metadata.

Invoked through :mod:`anxin.db.migrate` (no ``alembic.ini`` needed): the Config is built
in code, and the caller may hand over an open connection in
``config.attributes["connection"]``; otherwise the URL is ``sqlalchemy.url`` of the
config or :func:`anxin.db.engine.database_url`.
"""
from __future__ import annotations

from alembic import context

from anxin.db.engine import database_url, make_engine
from anxin.db.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection=None, url=None) -> None:
    dialect = connection.dialect.name if connection is not None else url.split(":", 1)[0]
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=dialect.startswith("sqlite"),  # ALTER TABLE support on SQLite
        compare_type=True,
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    url = config.get_main_option("sqlalchemy.url") or database_url()
    _configure(url=url)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or database_url())
    try:
        with engine.connect() as conn:
            _configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
