"""Backup, verification and restore of a whole registry, over any Storage and BlobStore.

* :func:`create_backup` snapshots the version list first, then copies the blobs those versions
  name. A version is written only after its blobs are durable, so every listed version's blobs
  exist; a version pushed during the backup is simply not in it. The archive is closed under
  dependencies (a pinned version missing from the snapshot is fetched too).
* :func:`verify_archive` checks every entry against the manifest, every blob against its name,
  and that every version's blobs and pins are in the archive.
* :func:`restore_archive` verifies, then plans against the target without writing (a version
  stored there with different content refuses the whole restore), then writes blobs, modules,
  and versions in dependency order. Identical versions and existing modules are kept. A dry run
  stops after the plan and reports the counts the real run would (barring concurrent writers).

The archive format is in :mod:`spoke.backup_format`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from spoke import __version__
from spoke.backup_format import (
    BLOB_MEMBER,
    FORMAT,
    FORMAT_VERSION,
    MAX_MEMBER_BYTES,
    MODULES,
    VERSIONS,
    ArchiveError,
    ArchiveReader,
    ArchiveWriter,
    blob_member,
    canonical_line,
    module_record,
    version_record,
)
from spoke.backup_verify import (
    Verification,
    dependency_order,
    digests,
    order_key,
    verify_archive,
)
from spoke.domain import Module, Version, format_timestamp, utc_now
from spoke.errors import ModuleExists, ModuleNotFound, VersionNotFound
from spoke.interfaces import BlobStore, Storage, VersionAlreadyStored

__all__ = [
    "ArchiveError",
    "BackupError",
    "BackupSummary",
    "RestoreRefused",
    "RestoreSummary",
    "Verification",
    "create_backup",
    "restore_archive",
    "verify_archive",
]

PAGE_SIZE = 500
Opener = Callable[[], AbstractContextManager[IO[bytes]]]


class BackupError(Exception):
    """The backup cannot be completed (a blob is missing or corrupt in the store)."""


class RestoreRefused(Exception):
    """The restore did not run (or stopped): ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class BackupSummary:
    modules: int
    versions: int
    blobs: int
    bytes: int
    sha256: str


@dataclass(slots=True)
class RestoreSummary:
    modules_created: int = 0
    modules_kept: int = 0
    versions_created: int = 0
    versions_skipped: int = 0
    blobs_written: int = 0
    blobs_present: int = 0
    dry_run: bool = False


# ---------------------------------------------------------------------------------------------
# Backup


def _all_modules(storage: Storage) -> dict[str, Module]:
    found: dict[str, Module] = {}
    offset = 0
    while True:
        page = storage.list_modules(prefix="", limit=PAGE_SIZE, offset=offset)
        for module in page.items:  # offsets may shift while modules are created: dedup
            found.setdefault(module.name, module)
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return found


def _all_versions(storage: Storage, module: str) -> dict[str, Version]:
    found: dict[str, Version] = {}
    offset = 0
    while True:
        page = storage.list_versions(module=module, limit=PAGE_SIZE, offset=offset)
        for version in page.items:
            found.setdefault(version.version, version)
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return found


def create_backup(
    storage: Storage,
    blobs: BlobStore,
    target: IO[bytes],
    *,
    compress: bool = True,
    clock: Callable[[], datetime] = utc_now,
) -> BackupSummary:
    """Write an archive of the whole registry to ``target``. Raises :class:`BackupError`."""
    modules = _all_modules(storage)
    versions: dict[tuple[str, str], Version] = {}
    for name in sorted(modules):
        for number, version in _all_versions(storage, name).items():
            versions[(name, number)] = version
    # Pins on versions pushed after their module was listed: fetch them (never deleted).
    pending = list(versions.values())
    while pending:
        for dep in pending.pop().dependencies:
            if (dep.module, dep.version) not in versions:
                if dep.module not in modules:
                    modules[dep.module] = storage.get_module(name=dep.module)
                fetched = storage.get_version(module=dep.module, version=dep.version)
                versions[(dep.module, dep.version)] = fetched
                pending.append(fetched)

    ordered = sorted(versions.values(), key=order_key)
    owners: dict[str, Version] = {}
    for version in ordered:
        for digest in digests(version):
            owners.setdefault(digest, version)

    writer = ArchiveWriter(target, compress=compress)
    try:
        writer.add(
            MODULES,
            b"".join(canonical_line(module_record(modules[n].to_dict())) for n in sorted(modules)),
        )
        writer.add(VERSIONS, b"".join(canonical_line(version_record(v.to_dict())) for v in ordered))
        for digest in sorted(owners):
            owner = owners[digest]
            where = f"{owner.module_name}@{owner.version}"
            try:
                data = blobs.get(digest=digest)
            except FileNotFoundError:
                raise BackupError(
                    f"blob {digest} of {where} is missing from the blob store"
                ) from None
            if hashlib.sha256(data).hexdigest() != digest:
                raise BackupError(f"blob {digest} of {where} is corrupt in the blob store")
            writer.add(blob_member(digest), data)
        missing = [d for d in owners if blob_member(d) not in writer.entries]
        if missing:  # pragma: no cover - every referenced digest was added above
            raise BackupError(f"{len(missing)} referenced blobs are not in the archive")
        size, sha = writer.finish(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "spoke_version": __version__,
                "created_at": format_timestamp(clock()),
                "counts": {"modules": len(modules), "versions": len(ordered), "blobs": len(owners)},
            }
        )
    except BaseException:
        writer.abort()
        raise
    return BackupSummary(len(modules), len(ordered), len(owners), size, sha)


# ---------------------------------------------------------------------------------------------
# Restore


def restore_archive(
    open_archive: Opener,
    storage: Storage,
    blobs: BlobStore,
    *,
    dry_run: bool = False,
    max_member: int = MAX_MEMBER_BYTES,
) -> RestoreSummary:
    """Load an archive into ``storage`` and ``blobs``. Raises :class:`RestoreRefused`.

    ``open_archive`` opens the archive for reading; it is called twice (verify, then write).
    A corrupt archive or a conflicting version refuses the restore before anything is written.
    """
    with open_archive() as source:
        checked = verify_archive(source, max_member=max_member)
    if not checked.ok:
        raise RestoreRefused(checked.problems)
    ordered = dependency_order(checked.versions)
    summary = RestoreSummary(dry_run=dry_run)

    # Dry pass: what exists, what is new, what conflicts. Nothing is written.
    new_modules: list[Module] = []
    for module in checked.modules:
        try:
            storage.get_module(name=module.name)
            summary.modules_kept += 1
        except ModuleNotFound:
            new_modules.append(module)
    new_names = {m.name for m in new_modules}
    to_create: list[Version] = []
    conflicts: list[str] = []
    for version in ordered:
        if version.module_name in new_names:
            to_create.append(version)
            continue
        try:
            stored = storage.get_version(module=version.module_name, version=version.version)
        except VersionNotFound:
            to_create.append(version)
            continue
        if stored.same_content(version):
            summary.versions_skipped += 1
        else:
            conflicts.append(_conflict(version))
    if conflicts:
        raise RestoreRefused(conflicts)
    if dry_run:
        summary.modules_created = len(new_modules)
        summary.versions_created = len(to_create)
        # What _put_blobs would do with each blob member, asked the same way.
        for digest in checked.blob_digests:
            if blobs.exists(digest=digest):
                summary.blobs_present += 1
            else:
                summary.blobs_written += 1
        return summary

    # Blobs first: a blob store failing here leaves orphan blobs (harmless), no metadata.
    try:
        with open_archive() as source:
            _put_blobs(ArchiveReader(source, max_member=max_member), blobs, summary)
    except ArchiveError as exc:
        raise RestoreRefused([f"the archive changed since it was verified: {exc}"]) from None
    for module in new_modules:
        try:
            storage.create_module(module=module)
            summary.modules_created += 1
        except ModuleExists:  # created meanwhile by someone else: keep theirs
            summary.modules_kept += 1
    for version in to_create:
        try:
            storage.create_version(version=version)
            summary.versions_created += 1
        except VersionAlreadyStored as race:  # pushed meanwhile
            if not race.existing.same_content(version):
                conflicts.append(_conflict(version))
            else:
                summary.versions_skipped += 1
    if conflicts:
        raise RestoreRefused(conflicts)
    return summary


def _conflict(version: Version) -> str:
    return (
        f"{version.module_name}@{version.version}: already stored with different content; "
        "refusing to overwrite it"
    )


def _put_blobs(reader: ArchiveReader, blobs: BlobStore, summary: RestoreSummary) -> None:
    for member in reader.members():
        match = BLOB_MEMBER.fullmatch(member.name)
        if not match:
            continue
        digest = match.group(2)
        if hashlib.sha256(member.data).hexdigest() != digest:
            raise RestoreRefused([f"{member.name}: changed since it was verified"])
        if blobs.exists(digest=digest):
            summary.blobs_present += 1
        elif blobs.put(data=member.data) != digest:
            raise RestoreRefused([f"{member.name}: the blob store stored other bytes"])
        else:
            summary.blobs_written += 1
