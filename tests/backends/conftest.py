"""Fixtures of the backend tests against real services (scripts/services start).

Shared by the PostgreSQL, Redis and S3 tests: every fixture is prefixed with its service
(``pg_``, ...) and only ever added to, never renamed.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # sqlalchemy comes with the postgres extra: imported only by pg_ helpers
    from sqlalchemy import Engine

# -- PostgreSQL ---------------------------------------------------------------------------------

_PG_ENV_FILE = Path(__file__).resolve().parents[2] / ".services" / "postgres.env"


def pg_wait_for(
    condition: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.1
) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` seconds passed; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def pg_admin_engine(url: str) -> Engine:
    """An autocommit engine on ``url`` (psycopg2 driver, no pool)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from spoke_plugins.postgres.engine import normalize_url

    return create_engine(
        normalize_url(url),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )


def pg_url_for(url: str, database: str) -> str:
    """``url`` with another database name."""
    from spoke_plugins.postgres.engine import normalize_url

    return normalize_url(url).set(database=database).render_as_string(hide_password=False)


def pg_scalar(url: str, sql: str) -> object:
    """Run one query on ``url`` and return the first column of its first row (or ``None``)."""
    from sqlalchemy import text

    engine = pg_admin_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(text(sql)).first()
            return None if row is None else row[0]
    finally:
        engine.dispose()


@dataclass(frozen=True)
class PgDatabase:
    """A throwaway database on the test cluster: its URL on the primary and on the replica."""

    name: str
    url: str
    replica_url: str


class PgControl:
    """Stops and starts the servers of scripts/services.d/postgres.sh (for fault tests)."""

    def __init__(self, script: str) -> None:
        self.script = script

    def __call__(self, action: str) -> None:
        subprocess.run([self.script, action], check=True, capture_output=True, timeout=60)

    def ensure_running(self) -> None:
        self("start-primary")
        self("start-replica")


@pytest.fixture(scope="session")
def pg_ctl(postgres_url: str, postgres_replica_url: str) -> PgControl:
    """Control of the test cluster's servers (SPOKE_TEST_POSTGRES_CTL)."""
    values: dict[str, str] = {}
    if _PG_ENV_FILE.exists():
        for line in _PG_ENV_FILE.read_text().splitlines():
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    script = os.environ.get("SPOKE_TEST_POSTGRES_CTL") or values.get("SPOKE_TEST_POSTGRES_CTL")
    if not script:
        pytest.skip("SPOKE_TEST_POSTGRES_CTL is not set (run scripts/services start postgres)")
    return PgControl(script)


@pytest.fixture
def pg_restore_services(pg_ctl: PgControl) -> Iterator[PgControl]:
    """For tests that stop a server: whatever happens, both are running again afterwards."""
    try:
        yield pg_ctl
    finally:
        pg_ctl.ensure_running()


def _create_database(postgres_url: str, postgres_replica_url: str, *, migrate: bool) -> PgDatabase:
    from sqlalchemy import text

    from spoke_plugins.postgres.migrate import upgrade

    name = f"spoke_t_{uuid.uuid4().hex[:12]}"
    admin = pg_admin_engine(pg_url_for(postgres_url, "postgres"))
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    database = PgDatabase(
        name, pg_url_for(postgres_url, name), pg_url_for(postgres_replica_url, name)
    )
    if migrate:
        upgrade(database.url)
    return database


def _drop_database(postgres_url: str, name: str) -> None:
    from sqlalchemy import text

    admin = pg_admin_engine(pg_url_for(postgres_url, "postgres"))
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception:  # the primary may be down after a failed fault test; not worth failing on
        pass
    finally:
        admin.dispose()


def _replica_has_schema(database: PgDatabase) -> bool:
    """Whether the replica has replayed every migration (its recorded revision is the head)."""
    from spoke_plugins.postgres.migrate import head_revision

    try:
        revision = pg_scalar(database.replica_url, "SELECT version_num FROM spoke_alembic_version")
    except Exception:  # not even the table yet
        return False
    return revision == head_revision()


@pytest.fixture
def pg_fresh_database(postgres_url: str, postgres_replica_url: str) -> Iterator[PgDatabase]:
    """A new, empty database (no migrations applied); dropped afterwards."""
    database = _create_database(postgres_url, postgres_replica_url, migrate=False)
    try:
        yield database
    finally:
        _drop_database(postgres_url, database.name)


@pytest.fixture
def pg_database(postgres_url: str, postgres_replica_url: str) -> Iterator[PgDatabase]:
    """A new database migrated to head, replicated to the replica; dropped afterwards."""
    database = _create_database(postgres_url, postgres_replica_url, migrate=True)
    try:
        assert pg_wait_for(lambda: _replica_has_schema(database), timeout=30), (
            "the replica did not receive the new database"
        )
        yield database
    finally:
        _drop_database(postgres_url, database.name)


@pytest.fixture
def pg_wait() -> Callable[..., bool]:
    """:func:`pg_wait_for`: poll a condition with a bounded wait (no fixed sleeps in tests)."""
    return pg_wait_for


@pytest.fixture
def pg_query() -> Callable[[str, str], object]:
    """:func:`pg_scalar`: ``pg_query(url, sql)`` returns the first column of the first row."""
    return pg_scalar


@pytest.fixture
def backup_new_database(postgres_url: str) -> Iterator[Callable[[], str]]:
    """``new()`` creates an empty database on the test server and returns its URL; every
    database made this way is dropped after the test (backup/restore tests)."""
    from urllib.parse import urlsplit

    import psycopg2

    made: list[str] = []

    def admin(statement: str) -> None:
        connection = psycopg2.connect(postgres_url)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def new() -> str:
        name = f"spoke_backup_{uuid.uuid4().hex[:12]}"
        admin(f'CREATE DATABASE "{name}"')
        made.append(name)
        return urlsplit(postgres_url)._replace(path=f"/{name}").geturl()

    yield new
    for name in made:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------------------------
# Redis (scripts/services.d/redis.sh): fixtures and helpers prefixed redis_


def _redis_ctl_path() -> str | None:
    """``SPOKE_TEST_REDIS_CTL``: from the environment, else from ``.services/redis.env``."""
    import os

    value = os.environ.get("SPOKE_TEST_REDIS_CTL")
    env_file = Path(__file__).resolve().parents[2] / ".services" / "redis.env"
    if not value and env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, found = line.partition("=")
            if sep and key.strip() == "SPOKE_TEST_REDIS_CTL":
                value = found.strip()
    return value or None


def redis_run_ctl(action: str) -> str:
    """Run ``redis.sh <action>`` (kill-master, restart-master, reset, master...); its stdout."""
    ctl = _redis_ctl_path()
    assert ctl, "SPOKE_TEST_REDIS_CTL is not set (run scripts/services start redis)"
    done = subprocess.run([ctl, action], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"redis.sh {action} failed: {done.stderr.strip()}"
    return done.stdout.strip()


def _redis_topology_is_initial(redis_url: str) -> bool:
    from urllib.parse import urlsplit

    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            replication = client.info("replication")
        finally:
            client.close()
    except redis.RedisError:
        return False
    if replication.get("role") != "master" or int(replication.get("connected_slaves", 0)) < 1:
        return False
    ctl = _redis_ctl_path()
    assert ctl
    named = subprocess.run([ctl, "master"], capture_output=True, text=True, timeout=30, check=False)
    return named.returncode == 0 and named.stdout.strip().endswith(f":{urlsplit(redis_url).port}")


@pytest.fixture
def redis_ctl(redis_url: str, redis_sentinel_url: str) -> Iterator[Callable[[str], str]]:
    """``ctl(action)`` runs the redis service script for fault tests. The topology is the
    initial one (master on the master port, its replica, the sentinel) before the test, and is
    reset after it, whatever the test killed."""
    if _redis_ctl_path() is None:
        pytest.skip("SPOKE_TEST_REDIS_CTL is not set (run scripts/services start redis)")
    if not _redis_topology_is_initial(redis_url):
        redis_run_ctl("reset")
    try:
        yield redis_run_ctl
    finally:
        if not _redis_topology_is_initial(redis_url):
            redis_run_ctl("reset")


@pytest.fixture
def redis_flushed(redis_url: str) -> str:
    """``redis_url`` with its database emptied first."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_url


# ---------------------------------------------------------------------------------------------
# S3 (moto in server mode, started by scripts/services start s3)

S3_TEST_ACCESS_KEY = "AKIASPOKETESTACCESS1"
S3_TEST_SECRET_KEY = "spoke-test-secret-key-must-never-leak"


def _s3_ctl_path() -> str | None:
    """``SPOKE_TEST_S3_CTL``: from the environment, else from ``.services/s3.env``."""
    value = os.environ.get("SPOKE_TEST_S3_CTL")
    env_file = Path(__file__).resolve().parents[2] / ".services" / "s3.env"
    if not value and env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, found = line.partition("=")
            if sep and key.strip() == "SPOKE_TEST_S3_CTL":
                value = found.strip()
    return value or None


def s3_run_ctl(action: str) -> str:
    """Run ``s3.sh <action>`` (pause, resume, status...)."""
    ctl = _s3_ctl_path()
    assert ctl, "SPOKE_TEST_S3_CTL is not set (run scripts/services start s3)"
    done = subprocess.run([ctl, action], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"s3.sh {action} failed: {done.stderr.strip()}"
    return done.stdout.strip()


@pytest.fixture
def s3_ctl(s3_endpoint: str) -> Iterator[Callable[[str], str]]:
    """``ctl(action)`` runs the s3 service script (``pause``/``resume``); the server is resumed
    after the test whatever happened."""
    if _s3_ctl_path() is None:
        pytest.skip("SPOKE_TEST_S3_CTL is not set (run scripts/services start s3)")
    try:
        yield s3_run_ctl
    finally:
        s3_run_ctl("resume")


@pytest.fixture
def s3_client(s3_endpoint: str) -> Iterator[object]:
    """A boto3 S3 client on the test server, to create buckets and look behind the backend."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_TEST_ACCESS_KEY,
        aws_secret_access_key=S3_TEST_SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 2}),
    )
    yield client
    client.close()


@pytest.fixture
def s3_bucket(s3_client: object) -> Iterator[str]:
    """A fresh, empty bucket, deleted with its objects after the test."""
    import uuid

    client: object = s3_client
    name = f"spoke-test-{uuid.uuid4().hex[:20]}"
    client.create_bucket(Bucket=name)  # type: ignore[attr-defined]
    yield name
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=name)  # type: ignore[attr-defined]
        for page in pages:
            objects = [{"Key": item["Key"]} for item in page.get("Contents", ())]
            if objects:
                client.delete_objects(Bucket=name, Delete={"Objects": objects})  # type: ignore[attr-defined]
        client.delete_bucket(Bucket=name)  # type: ignore[attr-defined]
    except Exception:  # the server may have been stopped by the test; moto forgets anyway
        pass


@pytest.fixture
def s3_store_factory(s3_endpoint: str, s3_bucket: str) -> Iterator[Callable[..., object]]:
    """``make(**overrides)`` builds an ``S3BlobStore`` on ``s3_bucket`` (path style, short
    timeouts); every store made is closed after the test."""
    from spoke_plugins.s3_blob import S3BlobStore

    made: list[S3BlobStore] = []

    def make(**overrides: object) -> S3BlobStore:
        options: dict[str, object] = {
            "bucket": s3_bucket,
            "endpoint_url": s3_endpoint,
            "access_key": S3_TEST_ACCESS_KEY,
            "secret_key": S3_TEST_SECRET_KEY,
            "path_style": True,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
        }
        options.update(overrides)
        store = S3BlobStore(**options)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def s3_credentials() -> tuple[str, str]:
    """The access key and secret the ``s3_*`` fixtures use (to check nothing leaks them)."""
    return S3_TEST_ACCESS_KEY, S3_TEST_SECRET_KEY
