"""Filesystem backends: storage ``filesystem`` and blob ``filesystem``.

Both keep their data under ``SPOKE_FILESYSTEM_ROOT`` (created by the first write or readiness
check, never by merely opening it, so reading a missing root creates nothing): metadata as JSON
files under ``<root>/meta/`` (:mod:`spoke_plugins.fs_storage`), blobs under
``<root>/blobs/sha256/<2 hex>/<64 hex>`` (:mod:`spoke_plugins.fs_blob`). Every write is crash-safe
(temp file, fsync, rename or link, fsync of the directory) and creating a module or a version is
exclusive across processes, so several Spoke processes may share one data directory on a local
filesystem.

Listing is O(n) in directory entries but O(page) in file reads: module and version listings sort
file *names* (versions by :func:`spoke.semver.parse_semver`) and read only the requested page;
``latest_version`` is chosen from the names too. See those modules for the details.
"""

from __future__ import annotations

from spoke.plugins import BlobBackend, StorageBackend, hookimpl
from spoke_plugins.fs_blob import FilesystemBlobStore
from spoke_plugins.fs_storage import FilesystemStorage

__all__ = ["FilesystemBlobStore", "FilesystemStorage"]


@hookimpl
def spoke_storage_backends() -> list[StorageBackend]:
    """The ``filesystem`` storage backend."""
    return [
        StorageBackend(
            "filesystem",
            "JSON files under SPOKE_FILESYSTEM_ROOT/meta; crash-safe, multi-process safe.",
            lambda settings: FilesystemStorage(root=settings.filesystem_root),
        )
    ]


@hookimpl
def spoke_blob_backends() -> list[BlobBackend]:
    """The ``filesystem`` blob backend."""
    return [
        BlobBackend(
            "filesystem",
            "Content-addressed files under SPOKE_FILESYSTEM_ROOT/blobs.",
            lambda settings: FilesystemBlobStore(root=settings.filesystem_root),
        )
    ]
