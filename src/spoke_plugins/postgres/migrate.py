"""Schema migrations of the ``postgres`` backends: alembic, configured in code.

The scripts ship inside the package (``migrations/``); there is no ``alembic.ini``. Alembic keeps
the applied revision in ``spoke_alembic_version``.

* :func:`upgrade` brings a database to the newest revision. It holds a PostgreSQL advisory lock
  (:data:`MIGRATION_LOCK_ID`) on a connection of its own for the whole upgrade, so several
  ``spoke migrate`` runs at once (one per pod) are safe: the first migrates, the others wait and
  then find nothing to do.
* :func:`pending` says whether the database is behind (``spoke migrate --check``).
* :func:`require_current` is what the storage factory calls: it refuses a schema that is behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from spoke.errors import BackendUnavailable
from spoke_plugins.postgres.engine import normalize_url, translate_errors
from spoke_plugins.postgres.schema import ALEMBIC_VERSION_TABLE

__all__ = [
    "MIGRATIONS_DIR",
    "MIGRATION_LOCK_ID",
    "UpgradeResult",
    "alembic_config",
    "current_revision",
    "head_revision",
    "pending",
    "require_current",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Key of the advisory lock taken by :func:`upgrade` ("spoke" in ASCII, as a bigint).
MIGRATION_LOCK_ID = 0x73706F6B65


@dataclass(frozen=True, slots=True)
class UpgradeResult:
    """The revision before and after :func:`upgrade` (``None``: an empty database)."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic :class:`Config` pointing at the package's scripts, with ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision this Spoke knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("no migration scripts found")
    return head


def _engine(url: str, timeout: float) -> Engine:
    return create_engine(
        normalize_url(url),
        poolclass=NullPool,
        connect_args={
            "connect_timeout": max(1, round(timeout)),
            "application_name": "spoke-migrate",
            "options": "-c timezone=UTC",
        },
    )


def revision_of(connection: Connection) -> str | None:
    """The revision recorded in the database ``connection`` is on (``None``: none yet)."""
    context = MigrationContext.configure(connection, opts={"version_table": ALEMBIC_VERSION_TABLE})
    return context.get_current_revision()


def current_revision(url: str, *, timeout: float = 10.0) -> str | None:
    """The database's revision. Raises ``BackendUnavailable``, ``ValueError`` for a bad URL."""
    engine = _engine(url, timeout)
    try:
        with translate_errors(), engine.connect() as connection:
            return revision_of(connection)
    finally:
        engine.dispose()


def pending(url: str, *, timeout: float = 10.0) -> bool:
    """Whether the database is behind this Spoke's newest revision."""
    return current_revision(url, timeout=timeout) != head_revision()


def upgrade(url: str, *, timeout: float = 10.0) -> UpgradeResult:
    """Migrate the database to the newest revision under an advisory lock. Idempotent.

    Raises ``BackendUnavailable`` when the database cannot be reached, ``ValueError`` for a bad
    URL.
    """
    engine = _engine(url, timeout)
    try:
        with translate_errors(), engine.connect() as lock_connection:
            lock_connection.execute(
                text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_ID}
            )
            lock_connection.commit()
            try:
                with engine.connect() as connection:
                    before = revision_of(connection)
                    connection.commit()
                    command.upgrade(alembic_config(connection), "head")
                    connection.commit()
                    after = revision_of(connection)
                    connection.commit()
            finally:
                lock_connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_ID}
                )
                lock_connection.commit()
        return UpgradeResult(before=before, after=after or "")
    finally:
        engine.dispose()


def require_current(connection: Connection) -> None:
    """Raise ``BackendUnavailable`` unless the schema is exactly at this Spoke's head revision."""
    current = revision_of(connection)
    head = head_revision()
    if current == head:
        return
    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    if current is not None and current not in known:
        raise BackendUnavailable(
            f"postgres: the database schema is at revision {current}, which this Spoke does not "
            f"know (it needs {head}): a newer Spoke migrated it; upgrade Spoke"
        )
    raise BackendUnavailable(
        f"postgres: the database schema is at revision {current or 'none (empty database)'}, "
        f"this Spoke needs {head}: run `spoke migrate`"
    )
