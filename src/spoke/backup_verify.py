"""Verification of a ``spoke backup`` archive, and the dependency order restore writes in."""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from spoke.backup_format import (
    BLOB_MEMBER,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MAX_MEMBER_BYTES,
    MODULES,
    VERSIONS,
    ArchiveError,
    ArchiveReader,
    blob_member,
)
from spoke.domain import Module, Version

__all__ = ["Verification", "dependency_order", "digests", "order_key", "verify_archive"]


@dataclass(slots=True)
class Verification:
    """What :func:`verify_archive` found; ``ok`` when ``problems`` is empty."""

    problems: list[str] = field(default_factory=list)
    modules: list[Module] = field(default_factory=list)
    versions: list[Version] = field(default_factory=list)
    blobs: int = 0
    blob_digests: list[str] = field(default_factory=list)  # of the blob members, in order
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def order_key(version: Version) -> tuple[str, str, str]:
    return (version.module_name, version.sort_key, version.version)


def digests(version: Version) -> list[str]:
    return [version.descriptor_sha256, *(f.sha256 for f in version.files)]


# ---------------------------------------------------------------------------------------------
# Verification


def _parse_lines(name: str, data: bytes, problems: list[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line:
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            problems.append(f"{name} line {number}: not a JSON object ({exc})")
            continue
        yield record


def _records(name: str, texts: dict[str, bytes], problems: list[str]) -> Iterator[dict[str, Any]]:
    if name not in texts:
        problems.append(f"{name}: missing from the archive")
        return iter(())
    return _parse_lines(name, texts[name], problems)


def _check_manifest(
    manifest_data: bytes | None, actual: dict[str, dict[str, Any]], result: Verification
) -> None:
    problems = result.problems
    if manifest_data is None:
        problems.append(f"{MANIFEST}: missing (not the last member, or the archive is truncated)")
        return
    try:
        manifest = json.loads(manifest_data)
        entries = manifest["entries"]
        if not isinstance(entries, dict):
            raise TypeError("entries is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{MANIFEST}: unreadable ({exc})")
        return
    result.manifest = manifest
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        problems.append(
            f"{MANIFEST}: unsupported format {manifest.get('format')!r} "
            f"version {manifest.get('format_version')!r}"
        )
    for name in sorted(set(entries) | set(actual)):
        if name not in actual:
            problems.append(f"{name}: listed in the manifest but missing from the archive")
        elif name not in entries:
            problems.append(f"{name}: in the archive but not listed in the manifest")
        elif entries[name] != actual[name]:
            problems.append(
                f"{name}: checksum mismatch (manifest sha256 {entries[name].get('sha256')} size "
                f"{entries[name].get('size')}, actual {actual[name]['sha256']} size "
                f"{actual[name]['size']})"
            )


def _check_records(result: Verification, blob_names: set[str]) -> None:
    problems = result.problems
    module_names = {m.name for m in result.modules}
    seen: set[tuple[str, str]] = set()
    for version in result.versions:
        key = (version.module_name, version.version)
        where = f"{version.module_name}@{version.version}"
        if key in seen:
            problems.append(f"{VERSIONS}: {where} appears twice")
        seen.add(key)
        if version.module_name not in module_names:
            problems.append(f"{VERSIONS}: {where} belongs to no module in {MODULES}")
        for digest in digests(version):
            if blob_member(digest) not in blob_names:
                problems.append(f"{where}: blob {digest} is not in the archive")
    for version in result.versions:
        for dep in version.dependencies:
            if (dep.module, dep.version) not in seen:
                problems.append(
                    f"{version.module_name}@{version.version}: depends on {dep}, "
                    "which is not in the archive"
                )
    counts = result.manifest.get("counts")
    expected = {"modules": len(module_names), "versions": len(seen), "blobs": result.blobs}
    if result.manifest and counts != expected:
        problems.append(f"{MANIFEST}: counts {counts} do not match the archive's {expected}")


def verify_archive(source: IO[bytes], *, max_member: int = MAX_MEMBER_BYTES) -> Verification:
    """Read the whole archive and report every problem found (an empty list: it is sound)."""
    result = Verification()
    problems = result.problems
    actual: dict[str, dict[str, Any]] = {}
    texts: dict[str, bytes] = {}
    manifest_data: bytes | None = None
    try:
        for member in ArchiveReader(source, max_member=max_member).members():
            if manifest_data is not None:
                problems.append(f"{member.name}: found after {MANIFEST}, which must be last")
            sha = hashlib.sha256(member.data).hexdigest()
            if member.name == MANIFEST:
                manifest_data = member.data
                continue
            actual[member.name] = {"sha256": sha, "size": len(member.data)}
            match = BLOB_MEMBER.fullmatch(member.name)
            if match:
                result.blobs += 1
                result.blob_digests.append(match.group(2))
                if match.group(2) != sha:
                    problems.append(f"{member.name}: content does not hash to its name ({sha})")
            else:
                texts[member.name] = member.data
    except ArchiveError as exc:
        problems.append(str(exc))
        return result
    _check_manifest(manifest_data, actual, result)
    for record in _records(MODULES, texts, problems):
        try:
            result.modules.append(Module.from_dict(record))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            problems.append(f"{MODULES}: invalid record {str(record)[:120]} ({exc!r})")
    for record in _records(VERSIONS, texts, problems):
        try:
            result.versions.append(Version.from_dict(record))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            problems.append(f"{VERSIONS}: invalid record {str(record)[:120]} ({exc!r})")
    _check_records(result, {n for n in actual if BLOB_MEMBER.fullmatch(n)})
    try:
        dependency_order(result.versions)
    except ValueError as exc:
        problems.append(str(exc))
    return result


def dependency_order(versions: list[Version]) -> list[Version]:
    """``versions`` so that each comes after the versions it pins (ties: module, semver)."""
    by_key: dict[tuple[str, str], Version] = {(v.module_name, v.version): v for v in versions}
    waiting: dict[tuple[str, str], int] = {}
    dependents: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, version in by_key.items():
        inside = [
            (d.module, d.version) for d in version.dependencies if (d.module, d.version) in by_key
        ]
        waiting[key] = len(inside)
        for dep in inside:
            dependents.setdefault(dep, []).append(key)
    ready = [order_key(by_key[k]) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    ordered: list[Version] = []
    while ready:
        module, _, number = heapq.heappop(ready)
        ordered.append(by_key[(module, number)])
        for child in dependents.get((module, number), []):
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, order_key(by_key[child]))
    if len(ordered) != len(by_key):
        raise ValueError(f"{VERSIONS}: the dependency pins form a cycle")
    return ordered
