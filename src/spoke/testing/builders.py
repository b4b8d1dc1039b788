"""Builders of valid domain records, so backend tests stay short. Importable without pytest.

::

    module = make_module("acme.billing")
    version = make_version("acme.billing", "1.2.0", deps=["acme.common@1.0.0"])

Everything not given gets a deterministic default; file and descriptor digests are the real
sha256 of the bytes (see :func:`default_files` and :func:`descriptor_bytes`), so a test can put
those bytes in a blob store and check them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from spoke.domain import (
    CompatibilityPolicy,
    DependencyRef,
    FileRef,
    Module,
    ModuleName,
    SourceInfo,
    Version,
    VersionString,
)

__all__ = [
    "DEFAULT_TIME",
    "SEMVER_PRECEDENCE",
    "default_files",
    "descriptor_bytes",
    "make_module",
    "make_version",
]

#: The default timestamp: UTC, with microseconds, so round trips are checked to the microsecond.
DEFAULT_TIME = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)

#: Versions in ascending semver precedence (the list of semver.org plus minor/major bumps).
SEMVER_PRECEDENCE: tuple[str, ...] = (
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.2.0",
    "1.10.0",
    "2.0.0",
)


def make_module(
    name: str = "acme.widgets",
    *,
    description: str = "",
    compatibility: CompatibilityPolicy | None = None,
    created_at: datetime = DEFAULT_TIME,
    updated_at: datetime | None = None,
) -> Module:
    """A new module (no ``latest_version``) with the default policy unless given."""
    return Module(
        name=ModuleName(name),
        description=description,
        compatibility=compatibility or CompatibilityPolicy(),
        created_at=created_at,
        updated_at=updated_at or created_at,
    )


def default_files(module: str) -> dict[str, bytes]:
    """The one ``.proto`` file :func:`make_version` uses when no ``files`` are given."""
    path = module.replace(".", "/") + "/v1/api.proto"
    return {path: f'syntax = "proto3";\npackage {module}.v1;\n'.encode()}


def descriptor_bytes(files: Mapping[str, bytes]) -> bytes:
    """Stand-in bytes for the descriptor set of ``files`` (deterministic, distinct per content)."""
    lines = [f"{path} {hashlib.sha256(data).hexdigest()}" for path, data in sorted(files.items())]
    return ("descriptor-set\n" + "\n".join(lines) + "\n").encode()


def _dependency(dep: str | DependencyRef) -> DependencyRef:
    if isinstance(dep, DependencyRef):
        return dep
    module, sep, version = dep.partition("@")
    if not sep:
        raise ValueError(f"a dependency is written module@version, got {dep!r}")
    return DependencyRef(ModuleName(module), VersionString(version))


def make_version(
    module: str,
    version: str,
    *,
    deps: Iterable[str | DependencyRef] = (),
    files: Mapping[str, bytes] | None = None,
    descriptor: bytes | None = None,
    source_info: SourceInfo | None = None,
    created_at: datetime = DEFAULT_TIME,
) -> Version:
    """A version of ``module`` whose file references are the sha256 of ``files``' bytes.

    ``deps`` are ``"module@version"`` strings or :class:`DependencyRef`; ``files`` maps paths to
    bytes (default :func:`default_files`); ``descriptor`` defaults to :func:`descriptor_bytes`.
    """
    contents = dict(default_files(module) if files is None else files)
    refs = tuple(
        FileRef(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
        for path, data in sorted(contents.items())
    )
    dependencies = tuple(_dependency(d) for d in deps)
    descriptor_data = descriptor_bytes(contents) if descriptor is None else descriptor
    fingerprint = hashlib.sha256(
        "\n".join([*(f"{r.path}:{r.sha256}" for r in refs), *map(str, dependencies)]).encode()
    ).hexdigest()
    return Version(
        module_name=ModuleName(module),
        version=VersionString(version),
        created_at=created_at,
        fingerprint=fingerprint,
        descriptor_sha256=hashlib.sha256(descriptor_data).hexdigest(),
        files=refs,
        dependencies=dependencies,
        source_info=source_info,
    )
