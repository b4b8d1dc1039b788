"""Alembic environment of the ``postgres`` backends (used through :mod:`..migrate` only).

There is no ``alembic.ini``: :func:`spoke_plugins.postgres.migrate.alembic_config` builds the
configuration and hands the connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from spoke_plugins.postgres.schema import ALEMBIC_VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run Spoke's migrations with `spoke migrate`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=ALEMBIC_VERSION_TABLE,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
