"""The contracts every backend implements: :class:`Storage`, :class:`BlobStore`, :class:`Cache`.

Backends are shared by all server threads, so every implementation must be thread-safe. Methods
take keyword arguments only. Each docstring says what the method raises; a backend translates its
driver's exceptions into these (a lost connection is :class:`spoke.errors.BackendUnavailable`)
and never lets a driver exception out. The contract suite in :mod:`spoke.testing.contract`
checks all of it against each backend (see ``docs/plugins.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from prometheus_client.registry import Collector

from spoke.domain import CompatibilityPolicy, DependencyRef, Module, Page, Version

__all__ = [
    "BlobStore",
    "Cache",
    "ExportsMetrics",
    "HealthReport",
    "RegistryStats",
    "ReportsErrors",
    "ReportsHealth",
    "Storage",
    "VersionAlreadyStored",
]


class VersionAlreadyStored(Exception):
    """Raised by :meth:`Storage.create_version` when the version exists; carries the stored one.

    The service decides what the client sees: the stored version again (200) when the content is
    identical, ``version_exists`` (409) otherwise.
    """

    def __init__(self, existing: Version) -> None:
        super().__init__(f"{existing.module_name}@{existing.version} already exists")
        self.existing = existing


@dataclass(frozen=True, slots=True)
class RegistryStats:
    """Counts for the ``spoke_modules_total`` and ``spoke_versions_total`` gauges."""

    modules: int
    versions: int


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What a backend says about itself for ``/health/ready``.

    ``status`` is ``ok`` or ``degraded`` (serving, but with a reduced capacity: a replica out, a
    pool exhausted, a cache tier down). ``details`` is merged into the backend's entry (pool sizes,
    say); ``sub_checks`` become entries of their own (``{"replicas": {...}}``). Nothing in it may
    hold a secret: redact passwords from URLs.
    """

    status: str = "ok"
    details: Mapping[str, object] = field(default_factory=dict)
    sub_checks: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


@runtime_checkable
class ReportsHealth(Protocol):
    """Optional for any backend: a richer readiness probe than ``check()``.

    When a backend has ``health()``, readiness calls it instead of ``check()``. It raises
    ``BackendUnavailable`` exactly when ``check()`` would.
    """

    def health(self) -> HealthReport:
        """Probe the backend and describe its state. Raises ``BackendUnavailable``."""
        ...


@runtime_checkable
class ExportsMetrics(Protocol):
    """Optional for any backend: Prometheus collectors of its own (pool sizes, tier hits...).

    The application registers them in its registry once, when it is created.
    """

    def metrics_collectors(self) -> list[Collector]:
        """Collectors yielding ``spoke_*`` metrics, computed at scrape time."""
        ...


@runtime_checkable
class ReportsErrors(Protocol):
    """Optional for a cache that handles its own failures instead of raising them.

    Such a cache never lets the application see an error, so it reports each one to the listener
    the application gives it; ``spoke_cache_errors_total`` then counts them like raised ones.
    """

    def set_error_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` once for every failed call to the cache's server."""
        ...


@runtime_checkable
class Storage(Protocol):
    """Metadata: modules, versions and the reverse dependency index.

    Version strings given to and returned by storage are normalized (no leading ``v``). Ordering
    "newest first" is semver precedence, i.e. descending :attr:`Version.sort_key`, ties broken
    by descending version string.
    """

    def create_module(self, *, module: Module) -> Module:
        """Store a new module and return it. Raises ``ModuleExists`` if the name is taken."""
        ...

    def get_module(self, *, name: str) -> Module:
        """Return the module with ``latest_version`` filled in. Raises ``ModuleNotFound``."""
        ...

    def update_module(
        self,
        *,
        name: str,
        description: str | None,
        compatibility: CompatibilityPolicy | None,
        updated_at: datetime,
    ) -> Module:
        """Change the given fields (``None`` keeps one) and return the module.

        Raises ``ModuleNotFound``.
        """
        ...

    def list_modules(self, *, prefix: str, limit: int, offset: int) -> Page[Module]:
        """Modules whose name starts with ``prefix``, sorted by name. Raises nothing else."""
        ...

    def create_version(self, *, version: Version) -> None:
        """Store a version atomically; every blob it names must already be durable.

        Exactly one of several concurrent calls for the same module and version succeeds; the
        others raise :class:`VersionAlreadyStored` with the winner. Also records ``version`` in
        the reverse dependency index of each dependency. Raises ``ModuleNotFound``.
        """
        ...

    def get_version(self, *, module: str, version: str) -> Version:
        """Return one version. Raises ``ModuleNotFound`` or ``VersionNotFound``."""
        ...

    def get_latest_version(self, *, module: str) -> Version:
        """The highest release by semver; the highest prerelease only if there is no release.

        Raises ``ModuleNotFound``, or ``VersionNotFound`` (version ``latest``) when the module has
        no version.
        """
        ...

    def list_versions(self, *, module: str, limit: int, offset: int) -> Page[Version]:
        """A module's versions, newest first. Raises ``ModuleNotFound``."""
        ...

    def list_dependents(self, *, module: str, version: str) -> tuple[DependencyRef, ...]:
        """Versions that depend directly on ``module@version``, sorted. Never raises not-found."""
        ...

    def statistics(self) -> RegistryStats:
        """How many modules and versions are stored."""
        ...

    def check(self) -> None:
        """Probe the backend for readiness. Raises ``BackendUnavailable`` with the reason."""
        ...

    def close(self) -> None:
        """Release connections and files. Idempotent."""
        ...


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed bytes: ``.proto`` files, descriptor sets, generated archives.

    A digest is the lowercase hex sha256 of the bytes. Writing the same bytes twice is harmless.
    """

    def put(self, *, data: bytes) -> str:
        """Store ``data`` durably and return its digest. Raises ``BackendUnavailable``."""
        ...

    def get(self, *, digest: str) -> bytes:
        """Return the bytes. Raises ``FileNotFoundError`` when absent, ``BackendUnavailable``."""
        ...

    def exists(self, *, digest: str) -> bool:
        """Whether the digest is stored. Raises ``BackendUnavailable``."""
        ...

    def iter_digests(self) -> Iterator[str]:
        """Every stored digest, in no particular order (for backups and garbage collection)."""
        ...

    def check(self) -> None:
        """Probe the backend for readiness. Raises ``BackendUnavailable`` with the reason."""
        ...

    def close(self) -> None:
        """Release connections and files. Idempotent."""
        ...


@runtime_checkable
class Cache(Protocol):
    """A byte cache in front of storage and blobs. It may forget anything at any time.

    Callers treat every exception from a cache as a miss (the cache fails open), but a backend
    should still raise ``BackendUnavailable`` rather than a driver exception.
    """

    def get(self, *, key: str) -> bytes | None:
        """The cached value, or ``None``."""
        ...

    def set(self, *, key: str, value: bytes, ttl: float | None = None) -> None:
        """Cache ``value``; ``ttl`` in seconds, ``None`` for as long as space allows."""
        ...

    def delete(self, *, key: str) -> None:
        """Forget ``key`` (no error when absent)."""
        ...

    def check(self) -> None:
        """Probe the backend. Raises ``BackendUnavailable`` with the reason."""
        ...

    def close(self) -> None:
        """Release connections. Idempotent."""
        ...
