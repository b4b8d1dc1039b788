"""The filesystem backends survive a writer killed at any moment, and ignore what it leaves."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from spoke.domain import DependencyRef, ModuleName, VersionString
from spoke.testing import make_module, make_version
from spoke_plugins.filesystem import FilesystemBlobStore, FilesystemStorage

MODULE = "crash.test"

# Pushes versions forever, as the service does: blobs first, then the version; also rewrites the
# module (update_module) so that its file is replaced while the writer may die.
WRITER = textwrap.dedent(
    """
    import os, sys
    from spoke.errors import ModuleExists
    from spoke.interfaces import VersionAlreadyStored
    from spoke.domain import utc_now
    from spoke.testing import descriptor_bytes, make_module, make_version
    from spoke_plugins.filesystem import FilesystemBlobStore, FilesystemStorage

    root, run = sys.argv[1], int(sys.argv[2])
    storage = FilesystemStorage(root=root)
    blobs = FilesystemBlobStore(root=root)
    try:
        storage.create_module(module=make_module("crash.test"))
    except ModuleExists:
        pass
    print("ready", flush=True)
    number = 0
    while True:
        files = {f"crash/test/f{j}.proto": os.urandom(48 * 1024 + j) for j in range(3)}
        for data in files.values():
            blobs.put(data=data)
        blobs.put(data=descriptor_bytes(files))
        deps = [f"crash.test@{run}.{number - 1}.0"] if number else []
        version = make_version("crash.test", f"{run}.{number}.0", files=files, deps=deps)
        try:
            storage.create_version(version=version)
        except VersionAlreadyStored:
            pass
        storage.update_module(
            name="crash.test", description=f"run {run} at {number}", compatibility=None,
            updated_at=utc_now(),
        )
        number += 1
    """
)


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".tmp-*") if p.is_file()]


@pytest.mark.slow
def test_a_writer_killed_at_random_moments_leaves_only_complete_data(tmp_path: Path) -> None:
    root = tmp_path / "data"
    rng = random.Random(20261127)
    for run in range(1, 6):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(run)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.35))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        writer.stdout.close()
        assert writer.returncode == -signal.SIGKILL

    storage = FilesystemStorage(root=root)
    blobs = FilesystemBlobStore(root=root)

    # Every metadata file that has its final name is complete JSON.
    for path in (root / "meta").rglob("*.json"):
        if not path.name.startswith("."):
            json.loads(path.read_bytes())

    module = storage.get_module(name=MODULE)
    page = storage.list_versions(module=MODULE, limit=10_000, offset=0)
    assert page.total == len(page.items) == storage.statistics().versions
    assert page.total > 0, "the writer never got a version in; give it more time"
    assert module.latest_version == page.items[0].version
    stored = {v.version for v in page.items}
    for version in page.items:
        assert storage.get_version(module=MODULE, version=version.version) == version
        for ref in version.files:
            data = blobs.get(digest=ref.sha256)
            assert hashlib.sha256(data).hexdigest() == ref.sha256
            assert len(data) == ref.size
        assert blobs.exists(digest=version.descriptor_sha256)
        # The reverse index holds exactly the stored versions that pin this one.
        me = DependencyRef(ModuleName(MODULE), VersionString(version.version))
        expected = sorted(
            DependencyRef(v.module_name, v.version) for v in page.items if me in v.dependencies
        )
        assert list(storage.list_dependents(module=MODULE, version=version.version)) == expected
        for dependency in version.dependencies:
            assert dependency.version in stored  # each run pins its own previous version

    # Every blob with a final name is whole, whatever the writer was doing when it died.
    digests = list(blobs.iter_digests())
    assert len(digests) == len(set(digests))
    for digest in digests:
        assert hashlib.sha256(blobs.get(digest=digest)).hexdigest() == digest

    # Temp files a crash left are younger than an hour: kept at startup, invisible to listings.
    for path in _temp_files(root):
        assert path.name not in {d for d in digests}
        assert not path.name.endswith(".json")
    storage.check()
    blobs.check()


def _backdate(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_leftover_and_half_written_temp_files_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "data"
    storage = FilesystemStorage(root=root)
    blobs = FilesystemBlobStore(root=root)
    storage.create_module(module=make_module("acme.common"))
    storage.create_module(module=make_module("acme.billing"))
    for number in ("1.0.0", "1.1.0"):
        storage.create_version(version=make_version("acme.common", number))
    storage.create_version(
        version=make_version("acme.billing", "1.0.0", deps=["acme.common@1.0.0"])
    )
    digest = blobs.put(data=b"a blob")

    meta = root / "meta"
    half_module = json.dumps(make_module("acme.ghost").to_dict())[:25].encode()
    half_version = json.dumps(make_version("acme.common", "9.0.0").to_dict())[:40].encode()
    leftovers = {
        meta / "modules" / ".tmp-1-fresh": half_module,
        meta / "modules" / ".tmp-1-old": half_module,
        meta / "versions" / "acme.common" / ".tmp-2-fresh": half_version,
        meta / "versions" / "acme.common" / ".tmp-2-old": b"",
        meta / "dependents" / "acme.common" / "1.0.0" / ".tmp-3-fresh": b"",
        root / "blobs" / "sha256" / digest[:2] / ".tmp-4-fresh": b"a bl",
        root / "blobs" / "sha256" / digest[:2] / ".tmp-4-old": b"a b",
    }
    for path, data in leftovers.items():
        path.write_bytes(data)
        if path.name.endswith("-old"):
            _backdate(path, 2 * 3600)

    for _ in range(2):  # the running instances, then fresh ones that clean up on a write
        modules = storage.list_modules(prefix="", limit=10, offset=0)
        assert [m.name for m in modules.items] == ["acme.billing", "acme.common"]
        assert modules.total == 2
        assert storage.statistics().modules == 2
        assert storage.statistics().versions == 3
        versions = storage.list_versions(module="acme.common", limit=10, offset=0)
        assert [v.version for v in versions.items] == ["1.1.0", "1.0.0"]
        assert versions.total == 2
        assert storage.get_latest_version(module="acme.common").version == "1.1.0"
        assert [str(d) for d in storage.list_dependents(module="acme.common", version="1.0.0")] == [
            "acme.billing@1.0.0"
        ]
        assert list(blobs.iter_digests()) == [digest]
        assert blobs.get(digest=digest) == b"a blob"
        storage = FilesystemStorage(root=root)
        blobs = FilesystemBlobStore(root=root)
        storage.check()  # readiness is the first write of a server
        blobs.check()

    remaining = {p.name for p in _temp_files(root)}
    assert remaining == {".tmp-1-fresh", ".tmp-2-fresh", ".tmp-3-fresh", ".tmp-4-fresh"}


def test_a_stale_dependents_marker_is_not_returned(tmp_path: Path) -> None:
    storage = FilesystemStorage(root=tmp_path)
    storage.create_module(module=make_module("acme.common"))
    storage.create_module(module=make_module("acme.billing"))
    storage.create_version(version=make_version("acme.common", "1.0.0"))
    storage.create_version(
        version=make_version("acme.billing", "1.0.0", deps=["acme.common@1.0.0"])
    )
    # Markers a crash can leave: one for a version that was never linked in, one for a version
    # that exists but does not pin acme.common@1.0.0 (a loser's marker after a lost race).
    storage.create_version(version=make_version("acme.billing", "1.1.0"))
    markers = tmp_path / "meta" / "dependents" / "acme.common" / "1.0.0"
    (markers / "acme.billing@2.0.0").touch()
    (markers / "acme.billing@1.1.0").touch()
    (markers / "acme.nothing@1.0.0").touch()
    (markers / "not a marker").touch()
    assert [str(d) for d in storage.list_dependents(module="acme.common", version="1.0.0")] == [
        "acme.billing@1.0.0"
    ]
    # A marker directory for a version that does not exist at all.
    ghost = tmp_path / "meta" / "dependents" / "acme.common" / "3.0.0"
    ghost.mkdir()
    (ghost / "acme.billing@1.0.0").touch()
    assert storage.list_dependents(module="acme.common", version="3.0.0") == ()
