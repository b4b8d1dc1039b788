"""The plugin module that the ``spoke`` entry point names: it offers the ``sqlite`` storage backend.

Spoke imports this module at startup and calls its hooks to build its catalog of backends
(``spoke plugins`` prints it). Nothing is opened here: Spoke calls the factory only when
``SPOKE_STORAGE_TYPE=sqlite`` selects the backend.

Options, read from ``settings.environ`` (every ``SPOKE_*`` variable as given):

``SPOKE_SQLITE_PATH``
    The database file, created with its directory when missing. Unset or empty:
    ``<SPOKE_FILESYSTEM_ROOT>/spoke.sqlite3``.
"""

from __future__ import annotations

from pathlib import Path

from spoke.plugins import StorageBackend, hookimpl
from spoke.settings import Settings

from spoke_plugin_example.storage import SqliteStorage

__all__ = ["PATH_VARIABLE", "create_storage", "database_path", "spoke_storage_backends"]

PATH_VARIABLE = "SPOKE_SQLITE_PATH"


def database_path(settings: Settings) -> Path:
    """``SPOKE_SQLITE_PATH``, or ``spoke.sqlite3`` in ``SPOKE_FILESYSTEM_ROOT`` when unset."""
    configured = settings.environ.get(PATH_VARIABLE, "").strip()
    if configured:
        return Path(configured).expanduser()
    return settings.filesystem_root / "spoke.sqlite3"


def create_storage(settings: Settings) -> SqliteStorage:
    """The factory of the ``sqlite`` backend: opens (or creates) the database file."""
    return SqliteStorage(path=database_path(settings))


@hookimpl
def spoke_storage_backends() -> list[StorageBackend]:
    """The ``sqlite`` storage backend."""
    return [
        StorageBackend(
            "sqlite",
            "Metadata in one SQLite file (SPOKE_SQLITE_PATH); thread- and process-safe.",
            create_storage,
        )
    ]
