"""Filesystem backends beyond the contract: layout, validation, error translation, read costs."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import spoke_plugins.fs_storage as fs_storage
from spoke.domain import DependencyRef, ModuleName, VersionString, utc_now
from spoke.errors import BackendUnavailable, ModuleNotFound, Unprocessable, VersionNotFound
from spoke.plugins import PluginRegistry
from spoke.settings import Settings
from spoke.testing import make_module, make_version
from spoke_plugins import filesystem
from spoke_plugins.filesystem import FilesystemBlobStore, FilesystemStorage


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "spoke-data"


@pytest.fixture
def storage(root: Path) -> FilesystemStorage:
    return FilesystemStorage(root=root)


@pytest.fixture
def blobs(root: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(root=root)


# -- layout and persistence -------------------------------------------------------------------


def test_root_is_created_with_the_documented_layout(root: Path) -> None:
    assert not root.exists()
    storage = FilesystemStorage(root=root)
    blobs = FilesystemBlobStore(root=root)
    storage.create_module(module=make_module("acme.billing"))
    storage.create_version(
        version=make_version("acme.billing", "1.0.0-rc.1+b.2", deps=["acme.common@1.0.0"])
    )
    digest = blobs.put(data=b"hello")
    assert (root / "meta" / "modules" / "acme.billing.json").is_file()
    assert (root / "meta" / "versions" / "acme.billing" / "1.0.0-rc.1+b.2.json").is_file()
    marker = root / "meta" / "dependents" / "acme.common" / "1.0.0" / "acme.billing@1.0.0-rc.1+b.2"
    assert marker.is_file()
    assert marker.stat().st_size == 0
    assert (root / "blobs" / "sha256" / digest[:2] / digest).read_bytes() == b"hello"


def test_data_survives_a_restart(root: Path) -> None:
    storage = FilesystemStorage(root=root)
    blobs = FilesystemBlobStore(root=root)
    storage.create_module(module=make_module("acme.billing", description="kept"))
    version = make_version("acme.billing", "1.0.0")
    storage.create_version(version=version)
    digest = blobs.put(data=b"kept too")
    storage.close()
    blobs.close()

    again = FilesystemStorage(root=str(root))
    assert again.get_module(name="acme.billing").description == "kept"
    assert again.get_module(name="acme.billing").latest_version == "1.0.0"
    assert again.get_version(module="acme.billing", version="1.0.0") == version
    assert FilesystemBlobStore(root=str(root)).get(digest=digest) == b"kept too"


def test_relative_root_is_pinned_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = FilesystemStorage(root="rel")
    monkeypatch.chdir("/")
    storage.create_module(module=make_module("acme.billing"))
    assert (tmp_path / "rel" / "meta" / "modules" / "acme.billing.json").is_file()


# -- validation: no path is built from unvalidated input --------------------------------------

BAD_MODULE_NAMES = ["", "..", "../x", "a/b", "Acme", "1abc", ".hidden", "a\x00b", "a b", "a" * 129]
BAD_VERSIONS = [
    "",
    "..",
    "../1.0.0",
    "1.0.0/..",
    "v1.0.0",
    "1.0",
    "1.0.0\n",
    "1.0.0 ",
    "1.\u0661.0",
]


@pytest.mark.parametrize("name", BAD_MODULE_NAMES)
def test_unusable_module_names_are_not_found(storage: FilesystemStorage, name: str) -> None:
    with pytest.raises(ModuleNotFound):
        storage.get_module(name=name)
    with pytest.raises(ModuleNotFound):
        storage.update_module(name=name, description="x", compatibility=None, updated_at=utc_now())
    with pytest.raises(ModuleNotFound):
        storage.list_versions(module=name, limit=10, offset=0)
    with pytest.raises(ModuleNotFound):
        storage.get_latest_version(module=name)
    with pytest.raises(ModuleNotFound):
        storage.get_version(module=name, version="1.0.0")
    assert storage.list_dependents(module=name, version="1.0.0") == ()


@pytest.mark.parametrize("name", BAD_MODULE_NAMES)
def test_creating_a_module_with_an_unusable_name_is_refused(
    storage: FilesystemStorage, root: Path, name: str
) -> None:
    with pytest.raises(Unprocessable):
        storage.create_module(module=make_module(name))
    assert [p for p in root.rglob("*") if not p.is_dir()] == []


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_unusable_versions_are_not_found(storage: FilesystemStorage, version: str) -> None:
    storage.create_module(module=make_module("acme.billing"))
    with pytest.raises(VersionNotFound):
        storage.get_version(module="acme.billing", version=version)
    assert storage.list_dependents(module="acme.billing", version=version) == ()


def test_creating_an_unusable_version_is_refused(storage: FilesystemStorage) -> None:
    storage.create_module(module=make_module("acme.billing"))
    bad = make_version("acme.billing", "1.0.0")
    for number in ("v1.0.0", "1.0.0/../../x"):
        with pytest.raises(Unprocessable):
            storage.create_version(version=replace(bad, version=VersionString(number)))
    with pytest.raises(Unprocessable):
        storage.create_version(
            version=replace(bad, dependencies=(DependencyRef(ModuleName("../x"), bad.version),))
        )
    with pytest.raises(Unprocessable):
        storage.create_version(
            version=replace(
                bad, dependencies=(DependencyRef(bad.module_name, VersionString("../1.0.0")),)
            )
        )
    assert storage.statistics().versions == 0
    with pytest.raises(ModuleNotFound):
        storage.create_version(version=replace(bad, module_name=ModuleName("../acme")))


@pytest.mark.parametrize(
    "digest",
    ["", "abc", "../" + "a" * 61, "A" * 64, "g" * 64, "a" * 63, "a" * 65, "a" * 63 + "\n"],
)
def test_blob_digests_are_validated(blobs: FilesystemBlobStore, digest: str) -> None:
    with pytest.raises(ValueError, match=r"64 lowercase hexadecimal"):
        blobs.get(digest=digest)
    with pytest.raises(ValueError, match=r"64 lowercase hexadecimal"):
        blobs.exists(digest=digest)


def test_blob_listing_skips_foreign_files(blobs: FilesystemBlobStore, root: Path) -> None:
    digest = blobs.put(data=b"real")
    fanout = root / "blobs" / "sha256" / digest[:2]
    (fanout / "README").write_text("not a blob")
    (fanout / ("f" * 64)).write_bytes(b"wrong directory for this name")
    (root / "blobs" / "sha256" / "zz").mkdir()
    (root / "blobs" / "sha256" / "notes.txt").write_text("x")
    assert list(blobs.iter_digests()) == [digest]


def test_putting_a_blob_again_keeps_the_file(blobs: FilesystemBlobStore, root: Path) -> None:
    digest = blobs.put(data=b"once")
    path = root / "blobs" / "sha256" / digest[:2] / digest
    inode = path.stat().st_ino
    assert blobs.put(data=b"once") == digest
    assert path.stat().st_ino == inode


# -- error translation ----------------------------------------------------------------------


def _failing(error: int) -> Any:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(error, os.strerror(error), "/secret/location/of/the/root")

    return fail


def test_disk_full_on_create_version_is_backend_unavailable(
    storage: FilesystemStorage, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.create_module(module=make_module("acme.billing"))
    monkeypatch.setattr(os, "link", _failing(errno.ENOSPC))
    with pytest.raises(BackendUnavailable) as caught:
        storage.create_version(version=make_version("acme.billing", "1.0.0"))
    assert caught.value.message == "filesystem storage: No space left on device"
    assert str(root) not in str(caught.value)
    assert "/secret" not in str(caught.value)
    monkeypatch.undo()
    assert storage.statistics().versions == 0
    assert [p for p in (root / "meta" / "versions" / "acme.billing").iterdir()] == []


def test_permission_error_on_read_is_backend_unavailable(
    storage: FilesystemStorage, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.create_module(module=make_module("acme.billing"))
    monkeypatch.setattr(Path, "read_bytes", _failing(errno.EACCES))
    with pytest.raises(BackendUnavailable, match=r"^filesystem storage: Permission denied$"):
        storage.get_module(name="acme.billing")
    monkeypatch.setattr(os, "listdir", _failing(errno.EIO))
    with pytest.raises(BackendUnavailable, match=r"Input/output error"):
        storage.list_modules(prefix="", limit=10, offset=0)
    with pytest.raises(BackendUnavailable):
        storage.statistics()


def test_disk_full_on_blob_put_is_backend_unavailable(
    blobs: FilesystemBlobStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "fsync", _failing(errno.ENOSPC))
    with pytest.raises(BackendUnavailable) as caught:
        blobs.put(data=b"data")
    assert caught.value.message == "filesystem blob store: No space left on device"
    monkeypatch.undo()
    assert list(blobs.iter_digests()) == []
    assert [p for p in root.rglob("*") if p.is_file()] == []  # the temp file was removed


def test_blob_read_error_is_backend_unavailable(
    blobs: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = blobs.put(data=b"data")
    monkeypatch.setattr(Path, "read_bytes", _failing(errno.EIO))
    with pytest.raises(BackendUnavailable, match=r"^filesystem blob store: Input/output error$"):
        blobs.get(digest=digest)


def test_missing_blob_message_names_no_path(blobs: FilesystemBlobStore, root: Path) -> None:
    digest = hashlib.sha256(b"absent").hexdigest()
    with pytest.raises(FileNotFoundError) as caught:
        blobs.get(digest=digest)
    assert str(root) not in str(caught.value)
    assert digest in str(caught.value)


@pytest.mark.parametrize(
    "content", [b"", b"{", b"[]", b"\xff\xfe", b'{"module_name": "acme.billing"}', b"null"]
)
def test_corrupt_version_file_is_backend_unavailable(
    storage: FilesystemStorage, root: Path, content: bytes
) -> None:
    storage.create_module(module=make_module("acme.billing"))
    storage.create_version(version=make_version("acme.billing", "1.0.0"))
    (root / "meta" / "versions" / "acme.billing" / "1.0.0.json").write_bytes(content)
    for call in (
        lambda: storage.get_version(module="acme.billing", version="1.0.0"),
        lambda: storage.get_latest_version(module="acme.billing"),
        lambda: storage.list_versions(module="acme.billing", limit=10, offset=0),
    ):
        with pytest.raises(BackendUnavailable) as caught:
            call()
        assert caught.value.message == (
            "filesystem storage: corrupt metadata file for acme.billing@1.0.0"
        )
    # Names alone still work.
    assert storage.get_module(name="acme.billing").latest_version == "1.0.0"
    assert storage.statistics().versions == 1


def test_version_file_under_the_wrong_name_is_corrupt(
    storage: FilesystemStorage, root: Path
) -> None:
    storage.create_module(module=make_module("acme.billing"))
    storage.create_version(version=make_version("acme.billing", "1.0.0"))
    directory = root / "meta" / "versions" / "acme.billing"
    shutil.copy(directory / "1.0.0.json", directory / "2.0.0.json")
    with pytest.raises(BackendUnavailable, match=r"corrupt"):
        storage.get_version(module="acme.billing", version="2.0.0")


def test_corrupt_module_file_is_backend_unavailable(storage: FilesystemStorage, root: Path) -> None:
    storage.create_module(module=make_module("acme.billing"))
    (root / "meta" / "modules" / "acme.billing.json").write_bytes(b'{"name": 1}')
    with pytest.raises(BackendUnavailable, match=r"corrupt metadata file for module acme.billing"):
        storage.get_module(name="acme.billing")


def test_check_fails_when_the_root_is_gone(root: Path) -> None:
    storage = FilesystemStorage(root=root)
    blobs = FilesystemBlobStore(root=root)
    storage.check()
    blobs.check()
    shutil.rmtree(root)
    with pytest.raises(BackendUnavailable, match=r"^filesystem storage: No such file"):
        storage.check()
    with pytest.raises(BackendUnavailable, match=r"^filesystem blob store: No such file"):
        blobs.check()


def test_check_leaves_no_probe_behind(
    storage: FilesystemStorage, blobs: FilesystemBlobStore, root: Path
) -> None:
    storage.check()  # a server's readiness probe makes the layout, and leaves only that
    blobs.check()
    assert [p for p in root.rglob("*") if not p.is_dir()] == []
    assert (root / "meta" / "modules").is_dir() and (root / "blobs" / "sha256").is_dir()


def test_opening_creates_and_changes_nothing_and_a_missing_root_reads_as_empty(
    tmp_path: Path,
) -> None:
    root = tmp_path / "not-yet"
    storage, blobs = FilesystemStorage(root=root), FilesystemBlobStore(root=root)
    assert storage.list_modules(prefix="", limit=10, offset=0).total == 0
    assert storage.statistics().modules == 0
    assert storage.get_artifact(key="codegen:x") is None
    assert list(blobs.iter_digests()) == []
    assert not blobs.exists(digest="0" * 64)
    with pytest.raises(ModuleNotFound):
        storage.get_module(name="acme.billing")
    assert list(tmp_path.iterdir()) == []
    storage.create_module(module=make_module("acme.billing"))  # the first write makes it
    assert (root / "meta" / "modules" / "acme.billing.json").is_file()


def test_a_root_that_cannot_be_created_fails_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read-only filesystem where the missing root would have to be created (statvfs is how
    # the backend finds out: nothing is created to try).
    real_statvfs = os.statvfs

    def read_only(path: Any) -> Any:
        result = real_statvfs(path)
        return os.statvfs_result((*result[:8], result.f_flag | os.ST_RDONLY, *result[9:]))

    monkeypatch.setattr(os, "statvfs", read_only)
    with pytest.raises(BackendUnavailable, match=r"^filesystem storage: Read-only file system$"):
        FilesystemStorage(root=tmp_path / "new")
    with pytest.raises(BackendUnavailable, match=r"^filesystem blob store: Read-only file system$"):
        FilesystemBlobStore(root=tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_the_way_of_the_root_fails_at_construction(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(BackendUnavailable, match=r"^filesystem storage: Not a directory$"):
        FilesystemStorage(root=tmp_path / "file" / "data")
    with pytest.raises(BackendUnavailable, match=r"^filesystem blob store: Not a directory$"):
        FilesystemBlobStore(root=tmp_path / "file" / "data")


def test_a_complete_data_directory_opens_without_a_writability_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A backup may read a snapshot on a read-only mount: nothing needs creating there.
    root = tmp_path / "data"
    FilesystemStorage(root=root).check()
    FilesystemBlobStore(root=root).check()
    monkeypatch.setattr(os, "statvfs", _failing(errno.EIO))
    monkeypatch.setattr(os, "access", _failing(errno.EIO))
    FilesystemStorage(root=root)
    FilesystemBlobStore(root=root)


# -- costs: listing reads only the page -------------------------------------------------------


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = fs_storage._read_json

    def counting(path: Path, what: str) -> dict[str, Any]:
        seen.append(what)
        return original(path, what)

    monkeypatch.setattr(fs_storage, "_read_json", counting)
    return seen


def test_listing_reads_only_the_page(storage: FilesystemStorage, reads: list[str]) -> None:
    for i in range(12):
        storage.create_module(module=make_module(f"acme.m{i:02d}"))
    for minor in range(20):
        storage.create_version(version=make_version("acme.m00", f"1.{minor}.0"))
    reads.clear()

    page = storage.list_modules(prefix="acme.", limit=3, offset=4)
    assert [m.name for m in page.items] == ["acme.m04", "acme.m05", "acme.m06"]
    assert page.total == 12
    assert reads == ["module acme.m04", "module acme.m05", "module acme.m06"]
    reads.clear()

    versions = storage.list_versions(module="acme.m00", limit=2, offset=1)
    assert [v.version for v in versions.items] == ["1.18.0", "1.17.0"]
    assert versions.total == 20
    assert reads == ["acme.m00@1.18.0", "acme.m00@1.17.0"]
    reads.clear()

    assert storage.get_latest_version(module="acme.m00").version == "1.19.0"
    assert reads == ["acme.m00@1.19.0"]
    reads.clear()

    assert storage.get_module(name="acme.m00").latest_version == "1.19.0"
    assert reads == ["module acme.m00"]
    reads.clear()

    assert storage.statistics().versions == 20
    assert reads == []


# -- plugin hooks -----------------------------------------------------------------------------


def test_hooks_provide_filesystem_backends_rooted_at_the_setting(root: Path) -> None:
    registry = PluginRegistry()
    registry.register(filesystem, name="filesystem")
    catalog = registry.catalog()
    assert catalog.failures == ()
    settings = Settings(filesystem_root=root)
    storage = catalog.storage_backend("filesystem").factory(settings)
    blobs = catalog.blob_backend("filesystem").factory(settings)
    assert isinstance(storage, FilesystemStorage)
    assert isinstance(blobs, FilesystemBlobStore)
    storage.create_module(module=make_module("acme.billing"))
    digest = blobs.put(data=b"x")
    assert (root / "meta" / "modules" / "acme.billing.json").is_file()
    assert (root / "blobs" / "sha256" / digest[:2] / digest).is_file()
