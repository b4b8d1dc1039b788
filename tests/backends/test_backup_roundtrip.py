"""Backups against the real services: ``spoke backup`` across backends, and the pg_dump scripts.

* postgres storage + s3 blobs -> archive -> filesystem -> archive: identical manifest entries
  (the issue's "Done when"); the same with postgres blobs.
* a backup taken while pushes run restores to a consistent registry.
* ``scripts/backup-postgres.sh`` / ``scripts/restore-postgres.sh`` reproduce every table.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib
import io
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spoke.api.app import Application, Backends, build_backends, create_app
from spoke.backup import restore_archive, verify_archive
from spoke.plugins import PluginRegistry, create_plugin_registry
from spoke.settings import load_settings
from spoke.testing.registry import (
    archive_of,
    archives_while_pushing,
    assert_blobs_complete,
    build_registry,
    manifest_of,
)
from spoke_plugins.filesystem import FilesystemBlobStore, FilesystemStorage
from worker_pool import shared_work

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"

pytestmark = pytest.mark.backend("postgres")


# ---------------------------------------------------------------------------------------------
# Registry content


# ---------------------------------------------------------------------------------------------
# Applications on the real services


@pytest.fixture
def migrated_database(backup_new_database: Callable[[], str]) -> str:
    from spoke_plugins.postgres.migrate import upgrade

    url = backup_new_database()
    upgrade(url)
    return url


def _plugins() -> PluginRegistry:
    """The installed plugins; the postgres and s3 ones registered by module when their entry
    points are not installed yet (an editable install made before they existed)."""
    registry = create_plugin_registry()
    catalog = registry.catalog()
    if "postgres" not in catalog.names("storage"):
        registry.register(importlib.import_module("spoke_plugins.postgres"), "postgres")
    if "s3" not in catalog.names("blob"):
        # Missing: a test that needs s3 fails with UnknownBackend, naming what is installed.
        with contextlib.suppress(ImportError):
            registry.register(importlib.import_module("spoke_plugins.s3_blob"), "s3")
    return registry


def _app(environ: dict[str, str]) -> Application:
    settings = load_settings({"SPOKE_CACHE_TYPE": "none", **environ})
    return create_app(settings, backends=build_backends(settings, _plugins()), work=shared_work())


@pytest.fixture
def s3_bucket_env(s3_endpoint: str) -> dict[str, str]:
    import boto3

    bucket = f"spoke-backup-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    return {
        "SPOKE_BLOB_TYPE": "s3",
        "SPOKE_S3_ENDPOINT": s3_endpoint,
        "SPOKE_S3_BUCKET": bucket,
        "SPOKE_S3_USE_PATH_STYLE": "true",
        "SPOKE_S3_ACCESS_KEY": "testing",
        "SPOKE_S3_SECRET_KEY": "testing",
        "SPOKE_S3_REGION": "us-east-1",
    }


@pytest.fixture
def postgres_s3_app(migrated_database: str, s3_bucket_env: dict[str, str]) -> Iterator[Application]:
    app = _app(
        {"SPOKE_STORAGE_TYPE": "postgres", "SPOKE_POSTGRES_URL": migrated_database, **s3_bucket_env}
    )
    yield app
    app.close()


@pytest.fixture
def postgres_app(migrated_database: str) -> Iterator[Application]:
    app = _app(
        {
            "SPOKE_STORAGE_TYPE": "postgres",
            "SPOKE_BLOB_TYPE": "postgres",
            "SPOKE_POSTGRES_URL": migrated_database,
        }
    )
    yield app
    app.close()


def _round_trip(app: Application, tmp_path: Path) -> None:
    build_registry(app)
    first = archive_of(app.backends.storage, app.backends.blobs)
    assert verify_archive(io.BytesIO(first)).ok
    storage, blobs = FilesystemStorage(root=tmp_path), FilesystemBlobStore(root=tmp_path)
    summary = restore_archive(lambda: io.BytesIO(first), storage, blobs)
    assert (summary.modules_created, summary.versions_created) == (3, 6)
    second = archive_of(storage, blobs)
    assert manifest_of(second)["entries"] == manifest_of(first)["entries"]
    # ... and back again into the source: everything is already there, identical.
    again = restore_archive(lambda: io.BytesIO(second), app.backends.storage, app.backends.blobs)
    assert (again.versions_created, again.versions_skipped) == (0, 6)


def test_round_trip_postgres_and_s3_to_filesystem_gives_identical_manifests(
    postgres_s3_app: Application, tmp_path: Path
) -> None:
    _round_trip(postgres_s3_app, tmp_path)


def test_round_trip_postgres_blobs_to_filesystem_gives_identical_manifests(
    postgres_app: Application, tmp_path: Path
) -> None:
    _round_trip(postgres_app, tmp_path)


@pytest.mark.parametrize("backends", ["postgres_s3_app", "postgres_app"])
def test_backup_while_pushes_run_restores_to_a_consistent_registry(
    backends: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    app: Application = request.getfixturevalue(backends)
    build_registry(app)
    archives = archives_while_pushing(app, major=3, min_archives=3, min_pushes=5)
    for number, data in enumerate(archives[-3:]):
        result = verify_archive(io.BytesIO(data))
        assert result.ok, result.problems
        root = tmp_path / str(number)
        storage, blobs = FilesystemStorage(root=root), FilesystemBlobStore(root=root)
        restore_archive(lambda data=data: io.BytesIO(data), storage, blobs)  # type: ignore[misc]
        assert assert_blobs_complete(storage, blobs) == len(result.versions)


# ---------------------------------------------------------------------------------------------
# pg_dump scripts


def _run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / script), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _row_counts(url: str) -> dict[str, int]:
    import psycopg2

    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
            tables = [row[0] for row in cursor.fetchall()]
            counts = {}
            for table in tables:
                cursor.execute(f'SELECT count(*) FROM "{table}"')
                counts[table] = cursor.fetchone()[0]
            return counts
    finally:
        connection.close()


def test_backup_and_restore_scripts_reproduce_every_table(
    postgres_app: Application,
    migrated_database: str,
    backup_new_database: Callable[[], str],
    tmp_path: Path,
) -> None:
    build_registry(postgres_app)
    source_counts = _row_counts(migrated_database)
    assert source_counts["versions"] == 6 and source_counts["blobs"] > 0

    backup_dir = tmp_path / "dumps"
    backup_dir.mkdir()
    stale = backup_dir / "spoke-pg-20200101T000000Z.sql.gz"
    stale.write_bytes(gzip.compress(b"old"))
    unrelated = backup_dir / "keep-me-20200101T000000Z.sql.gz"
    unrelated.write_bytes(b"not ours")
    month_ago = time.time() - 30 * 86400
    for path in (stale, unrelated):
        os.utime(path, (month_ago, month_ago))

    env = {
        "SPOKE_POSTGRES_URL": migrated_database,
        "BACKUP_DIR": str(backup_dir),
        "BACKUP_RETENTION_DAYS": "7",
    }
    done = _run("backup-postgres.sh", env=env)
    assert done.returncode == 0, done.stderr
    dump = Path(done.stdout.strip())
    assert dump.parent == backup_dir and dump.name.startswith("spoke-pg-")
    assert dump.name.endswith("Z.sql.gz")
    assert "verifying" in done.stderr and "ok: " in done.stderr
    assert not stale.exists() and unrelated.exists()  # retention touches only its own dumps
    assert not list(backup_dir.glob(".*partial"))

    target = backup_new_database()
    refused = _run("restore-postgres.sh", str(dump), env={"RESTORE_TARGET_URL": target})
    assert refused.returncode == 1
    assert "--yes-overwrite" in refused.stderr
    assert _row_counts(target) == {}

    restored = _run(
        "restore-postgres.sh", "--yes-overwrite", str(dump), env={"RESTORE_TARGET_URL": target}
    )
    assert restored.returncode == 0, restored.stderr
    assert _row_counts(target) == source_counts

    # The restored database serves the registry: spoke backup of it matches the source's.
    copy = _app(
        {
            "SPOKE_STORAGE_TYPE": "postgres",
            "SPOKE_BLOB_TYPE": "postgres",
            "SPOKE_POSTGRES_URL": target,
        }
    )
    try:
        assert (
            manifest_of(archive_of(copy.backends.storage, copy.backends.blobs))["entries"]
            == manifest_of(archive_of(postgres_app.backends.storage, postgres_app.backends.blobs))[
                "entries"
            ]
        )
    finally:
        copy.close()


def test_restore_script_refuses_a_truncated_dump_and_changes_nothing(
    migrated_database: str, backup_new_database: Callable[[], str], tmp_path: Path
) -> None:
    env = {"SPOKE_POSTGRES_URL": migrated_database, "BACKUP_DIR": str(tmp_path)}
    done = _run("backup-postgres.sh", env=env)
    assert done.returncode == 0, done.stderr
    dump = Path(done.stdout.strip())
    cut = tmp_path / "cut.sql.gz"
    cut.write_bytes(gzip.compress(gzip.decompress(dump.read_bytes())[:-200]))
    target = backup_new_database()
    refused = _run(
        "restore-postgres.sh", "--yes-overwrite", str(cut), env={"RESTORE_TARGET_URL": target}
    )
    assert refused.returncode == 1
    assert "incomplete" in refused.stderr
    assert _row_counts(target) == {}


def test_restore_script_rolls_back_on_error(migrated_database: str, tmp_path: Path) -> None:
    env = {"SPOKE_POSTGRES_URL": migrated_database, "BACKUP_DIR": str(tmp_path)}
    done = _run("backup-postgres.sh", env=env)
    assert done.returncode == 0, done.stderr
    before = _row_counts(migrated_database)
    # Restoring over the live database fails on the existing tables: nothing may change.
    failed = _run(
        "restore-postgres.sh",
        "--yes-overwrite",
        done.stdout.strip(),
        env={"RESTORE_TARGET_URL": migrated_database},
    )
    assert failed.returncode == 1
    assert "rolled back" in failed.stderr or "unchanged" in failed.stderr
    assert _row_counts(migrated_database) == before


def test_backup_script_without_a_url_fails_clearly(tmp_path: Path) -> None:
    env = {"SPOKE_POSTGRES_URL": "", "BACKUP_DIR": str(tmp_path)}
    done = _run("backup-postgres.sh", env=env)
    assert done.returncode == 1
    assert "SPOKE_POSTGRES_URL is not set" in done.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# S3 down during a backup and during a restore (an S3 server of this test's own, over HTTP)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_s3_down_fails_backup_and_restore_cleanly_and_both_recover(tmp_path: Path) -> None:
    server_module = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    s3_blob = pytest.importorskip("spoke_plugins.s3_blob")
    from spoke.errors import BackendUnavailable
    from spoke_plugins.memory import LRUCache, MemoryStorage

    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    running = True
    try:
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        ).create_bucket(Bucket="outage")
        store = s3_blob.S3BlobStore(
            bucket="outage",
            endpoint_url=endpoint,
            access_key="testing",
            secret_key="testing",
            path_style=True,
            connect_timeout=1,
            read_timeout=2,
            attempts=2,
            max_retry_seconds=0.2,
        )
        app = create_app(
            load_settings({}),
            backends=Backends(MemoryStorage(), store, LRUCache(max_bytes=1 << 20)),
            work=shared_work(),
        )
        build_registry(app)
        good = archive_of(app.backends.storage, store)

        server.stop()
        running = False
        with pytest.raises(BackendUnavailable):
            archive_of(app.backends.storage, store)
        # Restore into filesystem storage with the (down) S3 blobs: nothing of the metadata
        # is written.
        storage = FilesystemStorage(root=tmp_path)
        with pytest.raises(BackendUnavailable):
            restore_archive(lambda: io.BytesIO(good), storage, store)
        assert storage.statistics().modules == 0

        server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        running = True
        again = archive_of(app.backends.storage, store)  # same store object: no restart needed
        assert manifest_of(again)["entries"] == manifest_of(good)["entries"]
        summary = restore_archive(lambda: io.BytesIO(good), storage, store)
        assert summary.versions_created == 6
        assert assert_blobs_complete(storage, store) == 6
        app.close()
    finally:
        if running:
            server.stop()
