"""The contracts every backend implements: :class:`Storage`, :class:`BlobStore`, :class:`Cache`.

Optional capabilities a backend may add are ``runtime_checkable`` protocols checked with
``isinstance``: :class:`ReportsHealth`, :class:`ExportsMetrics`, :class:`ReportsErrors` and, for
storage, :class:`StoresArtifacts` (the index of generated archives kept in the blob store).

Backends are shared by all server threads, so every implementation must be thread-safe. Methods
take keyword arguments only. Each docstring says what the method raises; a backend translates its
driver's exceptions into these (a lost connection is :class:`spoke.errors.BackendUnavailable`)
and never lets a driver exception out. The contract suite in :mod:`spoke.testing.contract`
checks all of it against each backend (see ``docs/plugins.md``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from prometheus_client.registry import Collector

from spoke.domain import (
    CompatibilityPolicy,
    DependencyRef,
    Module,
    Page,
    Version,
    format_timestamp,
    parse_timestamp,
)

__all__ = [
    "ARTIFACT_KEY_PATTERN",
    "MAX_ARTIFACT_METADATA_BYTES",
    "Artifact",
    "BlobStore",
    "Cache",
    "ExportsMetrics",
    "HealthReport",
    "RegistryStats",
    "ReportsErrors",
    "ReportsHealth",
    "Storage",
    "StoresArtifacts",
    "VersionAlreadyStored",
    "check_artifact",
    "check_artifact_key",
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


#: What an artifact key may look like: chosen by the service (``codegen:<64 hex>``), opaque to
#: storage. Backends refuse any other key with ``ValueError`` before touching their data.
ARTIFACT_KEY_PATTERN = r"[a-z0-9:._-]{1,200}"
#: The largest an artifact's metadata may be, as compact UTF-8 JSON.
MAX_ARTIFACT_METADATA_BYTES = 8192

_ARTIFACT_KEY = re.compile(ARTIFACT_KEY_PATTERN)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_MEDIA_TYPE = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,254}")


@dataclass(frozen=True, slots=True)
class Artifact:
    """One entry of the artifact index: a derived archive, found again by its ``key``.

    The bytes are in the blob store under ``digest`` (lowercase hex sha256); the index only maps
    a key the service derives (from fingerprint, language, options and generator version) to
    them. ``metadata`` is small and descriptive (language, generator versions, module, version,
    fingerprint): string keys to string values, at most :data:`MAX_ARTIFACT_METADATA_BYTES` as
    JSON. ``created_at`` is timezone-aware; backends return it in UTC.
    """

    key: str
    digest: str
    size: int
    media_type: str
    created_at: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``created_at`` as RFC 3339 UTC with microseconds."""
        return {
            "key": self.key,
            "digest": self.digest,
            "size": self.size,
            "media_type": self.media_type,
            "created_at": format_timestamp(self.created_at),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Artifact:
        """Inverse of :meth:`to_dict`, validated; ``KeyError``, ``TypeError`` or ``ValueError``."""
        created_at = data["created_at"]
        metadata = data["metadata"]
        size = data["size"]
        if not isinstance(created_at, str) or not isinstance(metadata, Mapping):
            raise TypeError("not an artifact record")
        if not isinstance(size, int):
            raise TypeError("not an artifact record")
        return check_artifact(
            cls(
                key=str(data["key"]),
                digest=str(data["digest"]),
                size=size,
                media_type=str(data["media_type"]),
                created_at=parse_timestamp(created_at),
                metadata=metadata,
            )
        )


def check_artifact_key(key: object) -> str:
    """Return ``key`` if it matches :data:`ARTIFACT_KEY_PATTERN`; raise ``ValueError`` otherwise."""
    if not isinstance(key, str) or _ARTIFACT_KEY.fullmatch(key) is None:
        raise ValueError(f"invalid artifact key {key!r}: expected {ARTIFACT_KEY_PATTERN}")
    return key


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"artifact {what} must be strings, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"artifact {what} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"artifact {what} must be valid Unicode (no lone surrogates)") from None
    return value


def check_artifact(artifact: Artifact) -> Artifact:
    """Validate every field; return the artifact as backends store and return it.

    The copy has ``created_at`` in UTC and ``metadata`` as a plain ``dict`` of its own. Raises
    ``ValueError`` for a bad key, a digest that is not 64 lowercase hex characters, a negative
    size, an empty or non-ASCII media type, a naive ``created_at``, or metadata that is not
    string to string (no NUL, valid Unicode) or larger than :data:`MAX_ARTIFACT_METADATA_BYTES`.
    """
    if not isinstance(artifact, Artifact):
        raise ValueError(f"expected an Artifact, got {type(artifact).__name__}")
    check_artifact_key(artifact.key)
    if not isinstance(artifact.digest, str) or _SHA256_HEX.fullmatch(artifact.digest) is None:
        raise ValueError("an artifact digest is 64 lowercase hexadecimal characters")
    if type(artifact.size) is not int or artifact.size < 0:
        raise ValueError(f"invalid artifact size {artifact.size!r}")
    if not isinstance(artifact.media_type, str) or not _MEDIA_TYPE.fullmatch(artifact.media_type):
        raise ValueError(f"invalid artifact media type {artifact.media_type!r}")
    created_at = artifact.created_at
    if not isinstance(created_at, datetime) or created_at.utcoffset() is None:
        raise ValueError("an artifact's created_at must be a timezone-aware datetime")
    if not isinstance(artifact.metadata, Mapping):
        raise ValueError("artifact metadata must be a mapping of strings to strings")
    metadata = {
        _check_text(name, "metadata keys"): _check_text(value, "metadata values")
        for name, value in artifact.metadata.items()
    }
    encoded = json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(encoded) > MAX_ARTIFACT_METADATA_BYTES:
        raise ValueError(
            f"artifact metadata is {len(encoded)} bytes as JSON, "
            f"more than {MAX_ARTIFACT_METADATA_BYTES}"
        )
    return Artifact(
        key=artifact.key,
        digest=artifact.digest,
        size=artifact.size,
        media_type=artifact.media_type,
        created_at=created_at.astimezone(UTC),
        metadata=metadata,
    )


@runtime_checkable
class StoresArtifacts(Protocol):
    """Optional for storage: the artifact index, generated archives' keys to their blobs.

    Generated code archives are content-addressed blobs; this index finds them again by a key
    the service derives from what determines their content. Without it (a third-party storage
    that does not implement it) Spoke keeps generated archives in the cache only, and
    regenerates them when the cache forgets. Keys are checked with :func:`check_artifact_key`
    and artifacts with :func:`check_artifact` (``ValueError``) before any data is touched.
    """

    def get_artifact(self, *, key: str) -> Artifact | None:
        """The entry for ``key``, or ``None``. Raises ``BackendUnavailable``, ``ValueError``."""
        ...

    def put_artifact(self, *, artifact: Artifact) -> Artifact:
        """Store the entry unless ``artifact.key`` is taken; return the stored entry.

        First writer wins: when the key exists, the stored entry is returned unchanged (two
        replicas generating the same deterministic archive race harmlessly), and exactly one of
        several concurrent calls, from threads or processes, stores its entry. The blob must
        already be durable: the service writes the blob first, then the index, so a crash leaves
        an orphan blob but never an entry naming missing bytes. Raises ``BackendUnavailable``,
        ``ValueError``.
        """
        ...

    def delete_artifact(self, *, key: str) -> bool:
        """Remove the entry (a repair: its blob turned out missing); whether there was one.

        Raises ``BackendUnavailable``, ``ValueError``.
        """
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
