"""Backup archives: format, determinism, verification, restore semantics, hostile input."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from spoke.api.app import Application, Backends, create_app
from spoke.backup import (
    BackupError,
    RestoreRefused,
    verify_archive,
)
from spoke.backup_format import MANIFEST, MODULES, VERSIONS, ArchiveError, ArchiveReader
from spoke.backup_verify import dependency_order
from spoke.domain import CompatibilityPolicy
from spoke.interfaces import Storage
from spoke.settings import load_settings
from spoke.testing.registry import (
    all_versions,
    archive_of,
    archives_while_pushing,
    assert_blobs_complete,
    billing_file,
    build_registry,
    common_file,
    manifest_of,
    proto,
    push,
    restore,
)
from spoke_plugins.filesystem import FilesystemBlobStore, FilesystemStorage
from spoke_plugins.memory import LRUCache, MemoryBlobStore, MemoryStorage
from worker_pool import shared_work

# ---------------------------------------------------------------------------------------------
# Building registries


def memory_app() -> Application:
    backends = Backends(MemoryStorage(), MemoryBlobStore(), LRUCache(max_bytes=1 << 20))
    return create_app(load_settings({}), backends=backends, work=shared_work())


def filesystem_app(root: Path) -> Application:
    backends = Backends(
        FilesystemStorage(root=root), FilesystemBlobStore(root=root), LRUCache(max_bytes=1 << 20)
    )
    return create_app(load_settings({}), backends=backends, work=shared_work())


@pytest.fixture
def source() -> Iterator[Application]:
    app = memory_app()
    build_registry(app)
    yield app
    app.close()


@pytest.fixture
def archive(source: Application) -> bytes:
    return archive_of(source.backends.storage, source.backends.blobs)


# ---------------------------------------------------------------------------------------------
# Format and determinism


def test_archive_layout_members_in_order_with_the_manifest_last(archive: bytes) -> None:
    names = [m.name for m in ArchiveReader(io.BytesIO(archive)).members()]
    assert names[:2] == [MODULES, VERSIONS]
    assert names[-1] == MANIFEST
    blobs = names[2:-1]
    assert blobs == sorted(blobs) and all(n.startswith("blobs/sha256/") for n in blobs)
    manifest = manifest_of(archive)
    assert manifest["format"] == "spoke-backup" and manifest["format_version"] == 1
    assert manifest["counts"] == {"modules": 3, "versions": 6, "blobs": len(blobs)}
    assert set(manifest["entries"]) == set(names[:-1])
    assert {"spoke_version", "created_at"} <= set(manifest)


def test_jsonl_is_canonical_sorted_and_leaves_out_derived_fields(archive: bytes) -> None:
    members = {m.name: m.data for m in ArchiveReader(io.BytesIO(archive)).members()}
    modules = [json.loads(line) for line in members[MODULES].splitlines()]
    assert [m["name"] for m in modules] == ["aaa.shop", "acme.billing", "acme.common"]
    assert all("latest_version" not in m for m in modules)
    versions = [json.loads(line) for line in members[VERSIONS].splitlines()]
    assert [(v["module_name"], v["version"]) for v in versions] == [
        ("aaa.shop", "2.0.0"),
        ("acme.billing", "0.1.0"),
        ("acme.billing", "0.2.0-beta.1"),
        ("acme.common", "1.0.0"),
        ("acme.common", "1.1.0-rc.1"),
        ("acme.common", "1.1.0"),
    ]
    for line in members[VERSIONS].splitlines():
        record = json.loads(line)
        assert line == json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    assert versions[1]["source_info"]["commit_sha"] == "abc123"


def test_backing_up_the_same_content_twice_gives_identical_entries(
    source: Application, archive: bytes
) -> None:
    again = archive_of(source.backends.storage, source.backends.blobs)
    assert manifest_of(again)["entries"] == manifest_of(archive)["entries"]


def test_round_trip_memory_to_filesystem_gives_identical_manifest_entries(
    archive: bytes, tmp_path: Path
) -> None:
    storage, blobs = FilesystemStorage(root=tmp_path), FilesystemBlobStore(root=tmp_path)
    summary = restore(archive, storage, blobs)
    assert (summary.modules_created, summary.versions_created) == (3, 6)
    assert summary.blobs_written == manifest_of(archive)["counts"]["blobs"]
    second = archive_of(storage, blobs)
    assert manifest_of(second)["entries"] == manifest_of(archive)["entries"]
    assert manifest_of(second)["counts"] == manifest_of(archive)["counts"]
    assert storage.get_module(name="acme.common").latest_version == "1.1.0"
    deps = storage.list_dependents(module="acme.common", version="1.0.0")
    assert [str(d) for d in deps] == ["aaa.shop@2.0.0", "acme.billing@0.1.0"]


def test_an_uncompressed_archive_verifies_and_restores(source: Application) -> None:
    plain = archive_of(source.backends.storage, source.backends.blobs, compress=False)
    assert plain[:2] != b"\x1f\x8b"
    assert verify_archive(io.BytesIO(plain)).ok
    target = memory_app()
    restore(plain, target.backends.storage, target.backends.blobs)
    assert assert_blobs_complete(target.backends.storage, target.backends.blobs) == 6


def test_restore_orders_versions_so_dependencies_come_first(archive: bytes) -> None:
    checked = verify_archive(io.BytesIO(archive))
    order = [f"{v.module_name}@{v.version}" for v in dependency_order(checked.versions)]
    for version in checked.versions:
        for dep in version.dependencies:
            assert order.index(str(dep)) < order.index(f"{version.module_name}@{version.version}")


def test_empty_registry_backs_up_and_verifies() -> None:
    app = memory_app()
    data = archive_of(app.backends.storage, app.backends.blobs)
    result = verify_archive(io.BytesIO(data))
    assert result.ok and result.manifest["counts"] == {"modules": 0, "versions": 0, "blobs": 0}


# ---------------------------------------------------------------------------------------------
# Backup failures and consistency


def test_a_blob_missing_from_the_store_fails_the_backup(source: Application) -> None:
    version = source.backends.storage.get_version(module="acme.billing", version="0.1.0")
    blobs = source.backends.blobs
    assert isinstance(blobs, MemoryBlobStore)
    digest = version.files[0].sha256
    del blobs._blobs[digest]
    with pytest.raises(BackupError, match=f"blob {digest} of .* is missing from the blob store"):
        archive_of(source.backends.storage, blobs)


class PushDuringListing:
    """Storage proxy that runs ``action`` once, when ``module``'s versions are first listed."""

    def __init__(self, inner: Storage, module: str, action: Callable[[], None]) -> None:
        self._inner, self._module, self._action = inner, module, action

    def list_versions(self, *, module: str, limit: int, offset: int) -> Any:
        if module == self._module and self._action is not None:
            action, self._action = self._action, None  # type: ignore[assignment]
            action()
        return self._inner.list_versions(module=module, limit=limit, offset=offset)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_pin_pushed_after_its_module_was_listed_is_fetched_into_the_archive(
    source: Application,
) -> None:
    push(source, "zzz.app", "1.0.0", {"zzz/app/v1/a.proto": proto("zzz.app.v1", "message A {}")})

    def push_meanwhile() -> None:  # acme.common is already listed when zzz.app is
        push(
            source, "acme.common", "1.2.0", common_file("int64 units", "string currency", "int32 n")
        )
        push(source, "zzz.app", "1.1.0", billing_file(), deps=("acme.common@1.2.0",))

    storage = PushDuringListing(source.backends.storage, "zzz.app", push_meanwhile)
    data = archive_of(storage, source.backends.blobs)
    result = verify_archive(io.BytesIO(data))
    assert result.ok, result.problems
    assert {f"{v.module_name}@{v.version}" for v in result.versions} >= {
        "zzz.app@1.1.0",
        "acme.common@1.2.0",
    }


def test_backup_while_pushes_run_restores_to_a_consistent_registry(tmp_path: Path) -> None:
    app = memory_app()
    build_registry(app)
    archives = archives_while_pushing(app, major=2, min_archives=4, min_pushes=10)
    for number, data in enumerate(archives[:: max(1, len(archives) // 6)]):
        result = verify_archive(io.BytesIO(data))
        assert result.ok, result.problems
        root = tmp_path / f"restore-{number}"
        storage, blobs = FilesystemStorage(root=root), FilesystemBlobStore(root=root)
        restore(data, storage, blobs)
        assert assert_blobs_complete(storage, blobs) == len(result.versions)


# ---------------------------------------------------------------------------------------------
# Verification


def rewrite(archive: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """The archive with each member passed through ``change`` (``None`` drops it)."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as src,
        tarfile.open(fileobj=out, mode="w:gz") as dst,
    ):
        for info in src.getmembers():
            handle = src.extractfile(info)
            assert handle is not None
            data = change(info.name, handle.read())
            if data is not None:
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))
    return out.getvalue()


def first_blob(archive: bytes) -> str:
    return str(next(n for n in manifest_of(archive)["entries"] if n.startswith("blobs/")))


def test_a_sound_archive_verifies(archive: bytes) -> None:
    result = verify_archive(io.BytesIO(archive))
    assert result.ok, result.problems
    assert (len(result.modules), len(result.versions)) == (3, 6)


def test_verify_detects_a_flipped_byte_in_a_blob(archive: bytes) -> None:
    name = first_blob(archive)

    def flip(member: str, data: bytes) -> bytes:
        return bytes([data[0] ^ 1]) + data[1:] if member == name else data

    problems = verify_archive(io.BytesIO(rewrite(archive, flip))).problems
    assert any(p.startswith(f"{name}: content does not hash to its name") for p in problems)
    assert any(p.startswith(f"{name}: checksum mismatch") for p in problems)


def test_verify_detects_a_missing_blob_even_when_the_manifest_was_edited_too(
    archive: bytes,
) -> None:
    name = first_blob(archive)
    digest = name.rsplit("/", 1)[1]
    dropped = rewrite(archive, lambda member, data: None if member == name else data)
    problems = verify_archive(io.BytesIO(dropped)).problems
    assert f"{name}: listed in the manifest but missing from the archive" in problems

    def forge(member: str, data: bytes) -> bytes | None:
        if member == name:
            return None
        if member == MANIFEST:
            manifest = json.loads(data)
            del manifest["entries"][name]
            manifest["counts"]["blobs"] -= 1
            return json.dumps(manifest).encode()
        return data

    problems = verify_archive(io.BytesIO(rewrite(archive, forge))).problems
    assert any(p.endswith(f"blob {digest} is not in the archive") for p in problems), problems


def test_verify_detects_a_tampered_versions_file(archive: bytes) -> None:
    def tamper(member: str, data: bytes) -> bytes:
        return data.replace(b'"branch":"main"', b'"branch":"evil"') if member == VERSIONS else data

    problems = verify_archive(io.BytesIO(rewrite(archive, tamper))).problems
    assert len(problems) == 1 and problems[0].startswith(f"{VERSIONS}: checksum mismatch")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_verify_detects_a_truncated_archive(archive: bytes, keep: float) -> None:
    truncated = archive[: int(len(archive) * keep)]
    problems = verify_archive(io.BytesIO(truncated)).problems
    assert problems
    assert any("truncated" in p or "missing" in p for p in problems), problems


def test_verify_refuses_garbage_and_an_empty_file() -> None:
    assert verify_archive(io.BytesIO(b"not a tar at all" * 100)).problems
    assert verify_archive(io.BytesIO(b"")).problems


def test_restore_refuses_a_corrupt_archive_and_writes_nothing(archive: bytes) -> None:
    name = first_blob(archive)
    bad = rewrite(archive, lambda m, d: d + b"x" if m == name else d)
    target = memory_app()
    with pytest.raises(RestoreRefused):
        restore(bad, target.backends.storage, target.backends.blobs)
    assert target.backends.storage.statistics().modules == 0
    assert list(target.backends.blobs.iter_digests()) == []


# ---------------------------------------------------------------------------------------------
# Restore semantics


def test_restore_refuses_a_conflicting_version_and_writes_nothing(archive: bytes) -> None:
    target = memory_app()
    push(target, "acme.common", "1.1.0", common_file("int64 amount"))  # same number, other content
    storage, blobs = target.backends.storage, target.backends.blobs
    blobs_before = set(blobs.iter_digests())
    with pytest.raises(RestoreRefused) as refused:
        restore(archive, storage, blobs)
    assert refused.value.problems == [
        "acme.common@1.1.0: already stored with different content; refusing to overwrite it"
    ]
    assert [m.name for m in storage.list_modules(prefix="", limit=10, offset=0).items] == [
        "acme.common"
    ]
    assert storage.statistics().versions == 1
    assert set(blobs.iter_digests()) == blobs_before


def test_restore_is_idempotent(archive: bytes, tmp_path: Path) -> None:
    storage, blobs = FilesystemStorage(root=tmp_path), FilesystemBlobStore(root=tmp_path)
    restore(archive, storage, blobs)
    again = restore(archive, storage, blobs)
    assert (again.modules_created, again.modules_kept) == (0, 3)
    assert (again.versions_created, again.versions_skipped) == (0, 6)
    assert again.blobs_written == 0 and again.blobs_present > 0


def test_restore_keeps_other_modules_and_existing_descriptions(archive: bytes) -> None:
    target = memory_app()
    push(target, "other.mod", "1.0.0", {"other/v1/o.proto": proto("other.v1", "message O {}")})
    target.service.create_module(
        name="acme.common", description="kept", compatibility=CompatibilityPolicy(mode="NONE")
    )
    storage = target.backends.storage
    summary = restore(archive, storage, target.backends.blobs)
    assert (summary.modules_created, summary.modules_kept) == (2, 1)
    assert storage.get_module(name="acme.common").description == "kept"
    assert storage.get_version(module="other.mod", version="1.0.0")
    assert storage.statistics().versions == 7
    assert_blobs_complete(storage, target.backends.blobs)


def test_a_dry_run_reports_the_plan_and_writes_nothing(archive: bytes) -> None:
    target = memory_app()
    summary = restore(archive, target.backends.storage, target.backends.blobs, dry_run=True)
    assert (summary.modules_created, summary.versions_created) == (3, 6)
    assert target.backends.storage.statistics().modules == 0
    assert list(target.backends.blobs.iter_digests()) == []


def test_a_dry_run_counts_exactly_what_the_real_run_writes(archive: bytes) -> None:
    target = memory_app()
    storage, blobs = target.backends.storage, target.backends.blobs
    for _ in range(2):  # into an empty registry, then into the restored one
        planned = restore(archive, storage, blobs, dry_run=True)
        done = restore(archive, storage, blobs)
        assert replace(planned, dry_run=False) == done
    assert done.blobs_present > 0 and done.blobs_written == 0


def test_restored_versions_keep_their_metadata(source: Application, archive: bytes) -> None:
    target = memory_app()
    restore(archive, target.backends.storage, target.backends.blobs)
    for version in all_versions(source.backends.storage):
        restored = target.backends.storage.get_version(
            module=version.module_name, version=version.version
        )
        assert restored == version
        assert restored.created_at == version.created_at


# ---------------------------------------------------------------------------------------------
# Hostile archives


def tar_with(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def regular(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def link(name: str, kind: bytes, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


def huge_member() -> bytes:
    info = tarfile.TarInfo(MODULES)
    info.size = 1 << 40  # declared one TiB; only a few bytes follow
    return info.tobuf(format=tarfile.PAX_FORMAT) + b"\0" * 1024


HOSTILE = {
    "parent": tar_with(regular("../escaped.txt")),
    "nested-parent": tar_with(regular("blobs/sha256/../../../escaped.txt")),
    "absolute": tar_with(regular("/tmp/spoke-escaped.txt")),
    "symlink": tar_with(link(MODULES, tarfile.SYMTYPE, "/etc/passwd")),
    "hardlink": tar_with(link(VERSIONS, tarfile.LNKTYPE, "/etc/passwd")),
    "directory": tar_with(link("blobs", tarfile.DIRTYPE, "")),
    "unknown": tar_with(regular("evil.sh", b"#!/bin/sh\n")),
    "duplicate": tar_with(regular(MODULES), regular(MODULES)),
    "huge": huge_member(),
    "huge-gzipped": gzip.compress(huge_member()),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_archives_are_refused_without_writing_anything(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = HOSTILE[kind]
    with pytest.raises(ArchiveError):
        list(ArchiveReader(io.BytesIO(data)).members())
    problems = verify_archive(io.BytesIO(data)).problems
    assert len(problems) == 1 and "refused" in problems[0], problems
    root = tmp_path / "target"
    storage, blobs = FilesystemStorage(root=root), FilesystemBlobStore(root=root)
    with pytest.raises(RestoreRefused):
        restore(data, storage, blobs)
    assert list(tmp_path.iterdir()) == []  # not even the target's directory
    assert not Path("/tmp/spoke-escaped.txt").exists()
    assert storage.statistics().modules == 0 and list(blobs.iter_digests()) == []


def test_member_size_limit_is_applied_before_reading(archive: bytes) -> None:
    result = verify_archive(io.BytesIO(archive), max_member=64)
    assert len(result.problems) == 1 and "exceeds 64" in result.problems[0]


def test_a_huge_extended_header_is_refused_before_it_is_read_into_memory() -> None:
    # A pax header declaring 64 MiB of attributes, gzipped to almost nothing.
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 64 * 1024 * 1024
    bomb = gzip.compress(header.tobuf(format=tarfile.USTAR_FORMAT) + b"\0" * header.size)
    problems = verify_archive(io.BytesIO(bomb), max_member=1024).problems
    assert len(problems) == 1 and "exceed the size limit" in problems[0], problems
