"""In-process backends: storage ``memory``, blob ``memory``, cache ``memory`` and ``none``.

The memory storage and blob store keep everything in dictionaries and lose it on restart: they
are for tests, demos and as the reference a new backend is compared with. The memory cache is a
bounded LRU and is the default L1 cache in production.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import threading
from collections.abc import Iterator
from datetime import datetime

from spoke.domain import (
    CompatibilityPolicy,
    DependencyRef,
    Module,
    ModuleName,
    Page,
    Version,
    VersionString,
)
from spoke.errors import ModuleExists, ModuleNotFound, VersionNotFound
from spoke.interfaces import (
    Artifact,
    RegistryStats,
    VersionAlreadyStored,
    check_artifact,
    check_artifact_key,
)
from spoke.lru import LRUCache
from spoke.plugins import BlobBackend, CacheBackend, StorageBackend, hookimpl
from spoke.settings import Settings

__all__ = ["LRUCache", "MemoryBlobStore", "MemoryStorage", "NullCache"]


def _newest_first(version: Version) -> tuple[str, str]:
    return (version.sort_key, version.version)


def _copy(artifact: Artifact) -> Artifact:
    """An artifact whose metadata dict is its own: callers cannot change what is stored."""
    return dataclasses.replace(artifact, metadata=dict(artifact.metadata))


class MemoryStorage:
    """Metadata in dictionaries behind one lock; implements the optional artifact index too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modules: dict[str, Module] = {}
        self._module_names: list[str] = []  # sorted, for prefix scans
        self._versions: dict[str, dict[str, Version]] = {}
        self._ordered: dict[str, list[tuple[str, str]]] = {}  # ascending (sort_key, version)
        self._dependents: dict[DependencyRef, set[DependencyRef]] = {}
        self._version_count = 0
        self._artifacts: dict[str, Artifact] = {}

    def create_module(self, *, module: Module) -> Module:
        with self._lock:
            if module.name in self._modules:
                raise ModuleExists(module.name)
            self._modules[module.name] = module
            bisect.insort(self._module_names, module.name)
            self._versions[module.name] = {}
            self._ordered[module.name] = []
            return module

    def get_module(self, *, name: str) -> Module:
        with self._lock:
            return self._with_latest(self._module(name))

    def update_module(
        self,
        *,
        name: str,
        description: str | None,
        compatibility: CompatibilityPolicy | None,
        updated_at: datetime,
    ) -> Module:
        with self._lock:
            current = self._module(name)
            updated = Module(
                name=current.name,
                description=current.description if description is None else description,
                compatibility=current.compatibility if compatibility is None else compatibility,
                created_at=current.created_at,
                updated_at=updated_at,
            )
            self._modules[name] = updated
            return self._with_latest(updated)

    def list_modules(self, *, prefix: str, limit: int, offset: int) -> Page[Module]:
        with self._lock:
            names = self._module_names
            start = bisect.bisect_left(names, prefix)
            end = bisect.bisect_left(names, prefix + "\U0010ffff") if prefix else len(names)
            # Slice only the page: the cost is O(log n + page), not O(matching modules).
            first = min(start + offset, end)
            page = names[first : min(first + limit, end)]
            return Page(tuple(self._with_latest(self._modules[n]) for n in page), end - start)

    def create_version(self, *, version: Version) -> None:
        with self._lock:
            self._module(version.module_name)
            versions = self._versions[version.module_name]
            existing = versions.get(version.version)
            if existing is not None:
                raise VersionAlreadyStored(existing)
            versions[version.version] = version
            bisect.insort(self._ordered[version.module_name], _newest_first(version))
            self._version_count += 1
            me = DependencyRef(version.module_name, version.version)
            for dependency in version.dependencies:
                self._dependents.setdefault(dependency, set()).add(me)

    def get_version(self, *, module: str, version: str) -> Version:
        with self._lock:
            self._module(module)
            found = self._versions[module].get(version)
            if found is None:
                raise VersionNotFound(module, version)
            return found

    def get_latest_version(self, *, module: str) -> Version:
        with self._lock:
            self._module(module)
            latest = self._latest(module)
            if latest is None:
                raise VersionNotFound(module, "latest")
            return self._versions[module][latest]

    def list_versions(self, *, module: str, limit: int, offset: int) -> Page[Version]:
        with self._lock:
            self._module(module)
            ordered = self._ordered[module]
            total = len(ordered)
            # Newest first: walk the ascending list from its end.
            stop = max(total - offset, 0)
            start = max(stop - limit, 0)
            keys = reversed(ordered[start:stop])
            versions = self._versions[module]
            return Page(tuple(versions[v] for _, v in keys), total)

    def list_dependents(self, *, module: str, version: str) -> tuple[DependencyRef, ...]:
        with self._lock:
            key = DependencyRef(ModuleName(module), VersionString(version))
            return tuple(sorted(self._dependents.get(key, ())))

    # -- artifact index (optional StoresArtifacts) ----------------------------------------

    def get_artifact(self, *, key: str) -> Artifact | None:
        check_artifact_key(key)
        with self._lock:
            found = self._artifacts.get(key)
        return None if found is None else _copy(found)

    def put_artifact(self, *, artifact: Artifact) -> Artifact:
        stored = check_artifact(artifact)  # a copy: the caller's metadata dict is not kept
        with self._lock:
            return _copy(self._artifacts.setdefault(stored.key, stored))

    def delete_artifact(self, *, key: str) -> bool:
        check_artifact_key(key)
        with self._lock:
            return self._artifacts.pop(key, None) is not None

    def statistics(self) -> RegistryStats:
        with self._lock:
            return RegistryStats(modules=len(self._modules), versions=self._version_count)

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None

    def _module(self, name: str) -> Module:
        module = self._modules.get(name)
        if module is None:
            raise ModuleNotFound(name)
        return module

    def _latest(self, name: str) -> str | None:
        ordered = self._ordered[name]
        for sort_key, version in reversed(ordered):
            if "-" not in sort_key:  # release keys hold only digits, dots and the final "~"
                return version
        return ordered[-1][1] if ordered else None

    def _with_latest(self, module: Module) -> Module:
        latest = self._latest(module.name)
        return Module(
            name=module.name,
            description=module.description,
            compatibility=module.compatibility,
            created_at=module.created_at,
            updated_at=module.updated_at,
            latest_version=VersionString(latest) if latest else None,
        )


class MemoryBlobStore:
    """Bytes by sha256 in a dictionary."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[str, bytes] = {}

    def put(self, *, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._blobs.setdefault(digest, bytes(data))
        return digest

    def get(self, *, digest: str) -> bytes:
        with self._lock:
            try:
                return self._blobs[digest]
            except KeyError:
                raise FileNotFoundError(f"blob {digest} not found") from None

    def exists(self, *, digest: str) -> bool:
        with self._lock:
            return digest in self._blobs

    def iter_digests(self) -> Iterator[str]:
        with self._lock:
            digests = list(self._blobs)
        return iter(digests)

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None


class NullCache:
    """The ``none`` cache: remembers nothing."""

    def get(self, *, key: str) -> bytes | None:
        return None

    def set(self, *, key: str, value: bytes, ttl: float | None = None) -> None:
        return None

    def delete(self, *, key: str) -> None:
        return None

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None


@hookimpl
def spoke_storage_backends() -> list[StorageBackend]:
    """The ``memory`` storage backend."""
    return [
        StorageBackend(
            "memory", "In-process dictionaries; data is lost on restart.", lambda _: MemoryStorage()
        )
    ]


@hookimpl
def spoke_blob_backends() -> list[BlobBackend]:
    """The ``memory`` blob backend."""
    return [
        BlobBackend(
            "memory", "In-process dictionary; data is lost on restart.", lambda _: MemoryBlobStore()
        )
    ]


def _lru(settings: Settings) -> LRUCache:
    return LRUCache(max_bytes=settings.l1_cache_size)


@hookimpl
def spoke_cache_backends() -> list[CacheBackend]:
    """The ``memory`` (bounded LRU) and ``none`` cache backends."""
    return [
        CacheBackend("memory", "In-process LRU bounded by SPOKE_L1_CACHE_SIZE bytes.", _lru),
        CacheBackend("none", "No caching.", lambda _: NullCache()),
    ]
