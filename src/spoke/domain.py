"""Domain objects: frozen records that storage backends return and the service works with.

Nothing else crosses the plugin boundary: no driver row, client or file handle. Each record knows
how to turn itself into plain JSON-ready data and back (``to_dict``/``from_dict``), which the
filesystem backend, the cache and backups share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, NewType, TypeVar

from spoke.semver import parse_semver

__all__ = [
    "COMPATIBILITY_MODES",
    "COMPATIBILITY_RULES",
    "CompatibilityPolicy",
    "DependencyRef",
    "FileRef",
    "Module",
    "ModuleName",
    "Page",
    "SourceInfo",
    "Version",
    "VersionString",
    "format_timestamp",
    "parse_timestamp",
    "utc_now",
]

ModuleName = NewType("ModuleName", str)
VersionString = NewType("VersionString", str)
T = TypeVar("T")

COMPATIBILITY_MODES = (
    "NONE",
    "BACKWARD",
    "FORWARD",
    "FULL",
    "BACKWARD_TRANSITIVE",
    "FORWARD_TRANSITIVE",
    "FULL_TRANSITIVE",
)
COMPATIBILITY_RULES = ("FILE", "PACKAGE", "WIRE_JSON", "WIRE", "CSR")


def utc_now() -> datetime:
    """The current time in UTC, truncated to microseconds (what every backend can store)."""
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: ``2026-11-27T10:00:00.123456Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    """Inverse of :func:`format_timestamp`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class CompatibilityPolicy:
    """How pushes to a module are checked against earlier versions (Buf rule category + mode)."""

    mode: str = "BACKWARD"
    rules: str = "FILE"

    def to_dict(self) -> dict[str, str]:
        return {"mode": self.mode, "rules": self.rules}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompatibilityPolicy:
        return cls(mode=data["mode"], rules=data["rules"])


@dataclass(frozen=True, slots=True)
class Module:
    """A named collection of versions. ``latest_version`` is derived by the storage backend."""

    name: ModuleName
    description: str
    compatibility: CompatibilityPolicy
    created_at: datetime
    updated_at: datetime
    latest_version: VersionString | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "compatibility": self.compatibility.to_dict(),
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
            "latest_version": self.latest_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Module:
        return cls(
            name=ModuleName(data["name"]),
            description=data["description"],
            compatibility=CompatibilityPolicy.from_dict(data["compatibility"]),
            created_at=parse_timestamp(data["created_at"]),
            updated_at=parse_timestamp(data["updated_at"]),
            latest_version=data.get("latest_version"),
        )


@dataclass(frozen=True, slots=True)
class FileRef:
    """One ``.proto`` file of a version; its bytes live in the blob store under ``sha256``."""

    path: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileRef:
        return cls(path=data["path"], sha256=data["sha256"], size=int(data["size"]))


@dataclass(frozen=True, slots=True, order=True)
class DependencyRef:
    """A pin on another module's version: ``module@version``."""

    module: ModuleName
    version: VersionString

    def __str__(self) -> str:
        return f"{self.module}@{self.version}"

    def to_dict(self) -> dict[str, str]:
        return {"module": self.module, "version": self.version}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DependencyRef:
        return cls(module=ModuleName(data["module"]), version=VersionString(data["version"]))


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Where a version came from, as CI reports it. Every field is optional."""

    repository: str | None = None
    commit_sha: str | None = None
    branch: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"repository": self.repository, "commit_sha": self.commit_sha, "branch": self.branch}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceInfo:
        return cls(
            repository=data.get("repository"),
            commit_sha=data.get("commit_sha"),
            branch=data.get("branch"),
        )


@dataclass(frozen=True, slots=True)
class Version:
    """An immutable, compiled version of a module.

    ``files`` are sorted by path. ``descriptor_sha256`` names the blob holding the serialized
    FileDescriptorSet (the version's files and everything they import, with source info).
    """

    module_name: ModuleName
    version: VersionString
    created_at: datetime
    fingerprint: str
    descriptor_sha256: str
    files: tuple[FileRef, ...]
    dependencies: tuple[DependencyRef, ...] = ()
    source_info: SourceInfo | None = None
    sort_key: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.sort_key:
            object.__setattr__(self, "sort_key", parse_semver(self.version).sort_key)

    @property
    def is_prerelease(self) -> bool:
        return parse_semver(self.version).is_prerelease

    def same_content(self, other: Version) -> bool:
        """True when ``other`` holds the same files and dependency pins (a safe CI retry)."""
        return self.files == other.files and sorted(self.dependencies) == sorted(other.dependencies)

    def to_dict(self) -> dict[str, Any]:
        return {
            "module_name": self.module_name,
            "version": self.version,
            "created_at": format_timestamp(self.created_at),
            "fingerprint": self.fingerprint,
            "descriptor_sha256": self.descriptor_sha256,
            "files": [f.to_dict() for f in self.files],
            "dependencies": [d.to_dict() for d in self.dependencies],
            "source_info": self.source_info.to_dict() if self.source_info else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Version:
        source = data.get("source_info")
        return cls(
            module_name=ModuleName(data["module_name"]),
            version=VersionString(data["version"]),
            created_at=parse_timestamp(data["created_at"]),
            fingerprint=data["fingerprint"],
            descriptor_sha256=data["descriptor_sha256"],
            files=tuple(FileRef.from_dict(f) for f in data["files"]),
            dependencies=tuple(DependencyRef.from_dict(d) for d in data["dependencies"]),
            source_info=SourceInfo.from_dict(source) if source else None,
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list plus the total number of items across all pages."""

    items: tuple[T, ...]
    total: int
