"""PostgreSQL backends: storage ``postgres`` and blob ``postgres`` (extra ``spoke[postgres]``).

* :mod:`.storage`: modules, versions, the reverse dependency index and the artifact index
  (SQLAlchemy Core, psycopg2), writes on the primary, reads on healthy replicas with a retry on
  the primary.
* :mod:`.blob`: content-addressed bytes in a ``bytea`` table, for installs without S3.
* :mod:`.engine`: the pools, replica routing and health, error translation.
* :mod:`.migrate`: alembic migrations shipped in the package (``spoke migrate``).

Both factories refuse to start against a schema that is behind (run ``spoke migrate``). The
drivers are imported only when a factory runs, so listing plugins costs nothing without them;
the descriptors name them (``requires``), so without the ``postgres`` extra ``spoke plugins``
lists both backends as unusable and selecting one is refused with the install hint.
See ``docs/backends/postgres.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spoke.plugins import BlobBackend, StorageBackend, hookimpl, missing_extra
from spoke.settings import Settings, SettingsError

if TYPE_CHECKING:
    from spoke.interfaces import BlobStore, Storage

__all__ = ["EXTRA", "REQUIRES", "spoke_blob_backends", "spoke_storage_backends"]

EXTRA = "postgres"
# What the ``postgres`` extra installs, by import name (psycopg2-binary installs psycopg2).
REQUIRES = ("sqlalchemy", "psycopg2", "alembic")


def _storage(settings: Settings) -> Storage:
    try:
        from spoke_plugins.postgres.storage import PostgresStorage
    except ImportError as exc:  # installed but broken (the descriptor saw the modules)
        what = "the postgres storage backend"
        raise SettingsError("SPOKE_STORAGE_TYPE", f"{missing_extra(what, EXTRA)}: {exc}") from None
    return PostgresStorage.from_settings(settings)


def _blobs(settings: Settings) -> BlobStore:
    try:
        from spoke_plugins.postgres.blob import PostgresBlobStore
    except ImportError as exc:
        what = "the postgres blob backend"
        raise SettingsError("SPOKE_BLOB_TYPE", f"{missing_extra(what, EXTRA)}: {exc}") from None
    return PostgresBlobStore.from_settings(settings)


@hookimpl
def spoke_storage_backends() -> list[StorageBackend]:
    """The ``postgres`` storage backend."""
    return [
        StorageBackend(
            "postgres",
            "PostgreSQL (SPOKE_POSTGRES_URL), reads on SPOKE_POSTGRES_REPLICA_URLS replicas.",
            _storage,
            requires=REQUIRES,
            extra=EXTRA,
        )
    ]


@hookimpl
def spoke_blob_backends() -> list[BlobBackend]:
    """The ``postgres`` blob backend (bytea)."""
    return [
        BlobBackend(
            "postgres",
            "Blobs in a PostgreSQL bytea table.",
            _blobs,
            requires=REQUIRES,
            extra=EXTRA,
        )
    ]
