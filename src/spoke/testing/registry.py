"""Build a small registry through the service and inspect backup archives, for tests.

Shared by Spoke's backup tests and usable by plugin authors who want a realistic registry (three
modules, cross-module pins, a prerelease, source info) on their backend.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import IO, Any

from spoke.api.app import Application
from spoke.backup import create_backup, restore_archive
from spoke.backup_format import MANIFEST, ArchiveReader
from spoke.domain import CompatibilityPolicy, DependencyRef, ModuleName, SourceInfo, VersionString
from spoke.interfaces import BlobStore, Storage
from spoke.service import PushRequest

__all__ = [
    "all_versions",
    "archive_of",
    "archives_while_pushing",
    "assert_blobs_complete",
    "billing_file",
    "build_registry",
    "common_file",
    "manifest_of",
    "opener",
    "proto",
    "push",
    "restore",
]


def proto(package: str, body: str, imports: tuple[str, ...] = ()) -> str:
    lines = ['syntax = "proto3";', f"package {package};", *(f'import "{i}";' for i in imports)]
    return "\n".join(lines) + "\n" + body + "\n"


def push(
    app: Application,
    module: str,
    version: str,
    files: dict[str, str],
    deps: tuple[str, ...] = (),
    source: SourceInfo | None = None,
) -> None:
    try:
        app.service.get_module(name=module)
    except Exception:
        # The histories built here are arbitrary (files deleted, fields retyped): the modules
        # check nothing, so what they exercise does not depend on the compatibility rules.
        app.service.create_module(
            name=module,
            description=f"{module} things",
            compatibility=CompatibilityPolicy(mode="NONE"),
        )
    pins = tuple(
        DependencyRef(ModuleName(d.split("@")[0]), VersionString(d.split("@")[1])) for d in deps
    )
    request = PushRequest(
        version=VersionString(version), files=files, dependencies=pins, source_info=source
    )
    app.service.push_version(module=module, request=request)


def common_file(*fields: str) -> dict[str, str]:
    body = "message Money {\n" + "".join(f"  {f} = {n};\n" for n, f in enumerate(fields, start=1))
    return {"acme/common/v1/money.proto": proto("acme.common.v1", body + "}")}


def billing_file(field: str = "string id") -> dict[str, str]:
    body = f"message Invoice {{\n  {field} = 1;\n  acme.common.v1.Money total = 2;\n}}"
    return {
        "acme/billing/v1/invoice.proto": proto(
            "acme.billing.v1", body, ("acme/common/v1/money.proto",)
        )
    }


def build_registry(app: Application) -> None:
    """Three modules, cross-module pins (one module sorting before its dependency), a
    prerelease, source info."""
    push(app, "acme.common", "1.0.0", common_file("int64 units"))
    push(app, "acme.common", "1.1.0-rc.1", common_file("int64 units", "string currency"))
    push(app, "acme.common", "1.1.0", common_file("int64 units", "string currency"))
    push(
        app,
        "acme.billing",
        "0.1.0",
        billing_file(),
        deps=("acme.common@1.0.0",),
        source=SourceInfo(
            repository="https://git.example/acme", commit_sha="abc123", branch="main"
        ),
    )
    push(app, "acme.billing", "0.2.0-beta.1", billing_file(), deps=("acme.common@1.1.0",))
    body = "message Order {\n  acme.billing.v1.Invoice invoice = 1;\n}"
    files = {
        "aaa/shop/v1/order.proto": proto("aaa.shop.v1", body, ("acme/billing/v1/invoice.proto",))
    }
    push(app, "aaa.shop", "2.0.0", files, deps=("acme.billing@0.1.0", "acme.common@1.0.0"))


def archive_of(storage: Storage, blobs: BlobStore, *, compress: bool = True) -> bytes:
    out = io.BytesIO()
    create_backup(storage, blobs, out, compress=compress)
    return out.getvalue()


def manifest_of(archive: bytes) -> dict[str, Any]:
    members = {m.name: m.data for m in ArchiveReader(io.BytesIO(archive)).members()}
    manifest: dict[str, Any] = json.loads(members[MANIFEST])
    return manifest


def opener(archive: bytes) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    return lambda: io.BytesIO(archive)


def restore(archive: bytes, storage: Storage, blobs: BlobStore, **kwargs: Any) -> Any:
    return restore_archive(opener(archive), storage, blobs, **kwargs)


def all_versions(storage: Storage) -> list[Any]:
    found: list[Any] = []
    for module in storage.list_modules(prefix="", limit=1000, offset=0).items:
        found += storage.list_versions(module=module.name, limit=1000, offset=0).items
    return found


def assert_blobs_complete(storage: Storage, blobs: BlobStore) -> int:
    """Every stored version's blobs are present and hash to their names; returns the count."""
    count = 0
    for version in all_versions(storage):
        for digest in [version.descriptor_sha256, *(f.sha256 for f in version.files)]:
            assert hashlib.sha256(blobs.get(digest=digest)).hexdigest() == digest
        count += 1
    return count


def archives_while_pushing(
    app: Application, *, major: int, min_archives: int, min_pushes: int
) -> list[bytes]:
    """Back up ``app`` repeatedly while a thread pushes new versions (``<major>.0.N``).

    Keeps backing up until at least ``min_archives`` archives exist and ``min_pushes`` pushes
    happened in between (or the pusher is done): no timing assumptions. Re-raises a push error.
    """
    stop = threading.Event()
    errors: list[BaseException] = []
    pushed: list[int] = []

    def pusher() -> None:
        try:
            for n in range(1, 1000):
                if stop.is_set():
                    return
                fields = [f"int64 f{i}" for i in range(1, n + 1)]
                push(app, "acme.common", f"{major}.0.{n}", common_file("int64 units", *fields))
                deps = (f"acme.common@{major}.0.{n}",)
                push(app, "busy.app", f"1.0.{n}", billing_file(), deps=deps)
                pushed.append(n)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=pusher)
    thread.start()
    archives: list[bytes] = []
    try:
        while len(archives) < min_archives or (len(pushed) < min_pushes and thread.is_alive()):
            archives.append(archive_of(app.backends.storage, app.backends.blobs))
    finally:
        stop.set()
        thread.join()
    if errors:
        raise errors[0]
    assert pushed, "no push happened while backing up"
    return archives
