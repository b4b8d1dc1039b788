"""``spoke wait`` as an init container runs it: a real process against the real services, and
against closed ports for the timeout path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from spoke_plugins.postgres.migrate import head_revision, upgrade

pytestmark = pytest.mark.slow


def _env(**spoke: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOKE_")}
    env.update(spoke)
    return env


def _wait(*args: str, **spoke: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spoke", "wait", *args],
        env=_env(**spoke),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _closed_port() -> int:
    """A port nothing listens on: bound once by the kernel's choice, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- real services --------------------------------------------------------------------------------


@pytest.mark.backend("postgres")
@pytest.mark.backend("redis")
def test_ready_postgres_and_redis_exit_0_with_one_ready_line_each(
    pg_database: Any, redis_url: str
) -> None:
    result = _wait(
        "--migrated",
        "--timeout",
        "30s",
        SPOKE_POSTGRES_URL=pg_database.url,
        SPOKE_REDIS_URL=redis_url,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    assert lines[0].startswith("spoke wait: postgres (postgresql://")
    assert f"ready, schema at revision {head_revision()}" in lines[0]
    assert lines[1].startswith("spoke wait: redis (redis://") and "ready, PING answered" in lines[1]


@pytest.mark.backend("redis")
def test_a_sentinel_url_is_ready_when_its_master_answers(redis_sentinel_url: str) -> None:
    result = _wait("--timeout", "30s", SPOKE_REDIS_URL=redis_sentinel_url)
    assert result.returncode == 0, result.stderr
    assert "spoke wait: redis (redis+sentinel://" in result.stdout
    assert "ready, master 127.0.0.1:" in result.stdout


@pytest.mark.backend("postgres")
def test_without_migrated_an_empty_database_is_ready(pg_fresh_database: Any) -> None:
    result = _wait("--timeout", "30s", SPOKE_POSTGRES_URL=pg_fresh_database.url)
    assert result.returncode == 0, result.stderr
    assert "ready, schema at revision none" in result.stdout


@pytest.mark.backend("postgres")
def test_migrated_times_out_on_a_database_that_is_behind_naming_spoke_migrate(
    pg_fresh_database: Any,
) -> None:
    result = _wait(
        "--migrated",
        "--timeout",
        "1s",
        "--interval",
        "0.2s",
        SPOKE_POSTGRES_URL=pg_fresh_database.url,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("spoke wait: timed out after 1s: postgres (postgresql://")
    assert f"database at revision none, this Spoke needs {head_revision()}" in last
    assert "run `spoke migrate`" in last


@pytest.mark.backend("postgres")
def test_migrated_returns_once_the_migration_lands_meanwhile(pg_fresh_database: Any) -> None:
    url = pg_fresh_database.url
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spoke",
            "wait",
            "--migrated",
            "--timeout",
            "60s",
            "--interval",
            "0.2s",
        ],
        env=_env(SPOKE_POSTGRES_URL=url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()  # the first failed attempt: it is waiting
        assert "not ready (attempt 1," in first and "migrations pending" in first
        upgrade(url)  # what the migrate Job does
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert f"ready, schema at revision {head_revision()}" in out


@pytest.mark.backend("postgres")
def test_migrated_names_a_schema_newer_than_this_spoke(pg_database: Any) -> None:
    from sqlalchemy import create_engine, text

    from spoke_plugins.postgres.engine import normalize_url

    engine = create_engine(normalize_url(pg_database.url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("UPDATE spoke_alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    result = _wait("--migrated", "--timeout", "0", SPOKE_POSTGRES_URL=pg_database.url)
    assert result.returncode == 1
    assert "database at revision 9999, which this Spoke does not know" in result.stderr
    assert "a newer Spoke migrated it" in result.stderr


@pytest.mark.backend("redis")
def test_a_wrong_redis_password_is_reported_without_the_password(redis_url: str) -> None:
    result = _wait(
        "--timeout",
        "0",
        SPOKE_REDIS_URL=redis_url,
        SPOKE_REDIS_PASSWORD="not-the-password-4711",
    )
    assert result.returncode == 1
    assert "authentication failed" in result.stderr
    assert "4711" not in result.stderr + result.stdout


@pytest.mark.backend("redis")
def test_redis_is_not_waited_for_when_caching_is_off_or_with_no_redis(redis_url: str) -> None:
    closed = f"redis://127.0.0.1:{_closed_port()}/0"
    for extra in ({"SPOKE_CACHE_ENABLED": "false"}, {"SPOKE_CACHE_TYPE": "memory"}):
        result = _wait("--timeout", "0", SPOKE_REDIS_URL=closed, **extra)
        assert result.returncode == 0, result.stderr
        assert "nothing to wait for" in result.stdout
    result = _wait("--timeout", "0", "--no-redis", SPOKE_REDIS_URL=closed)
    assert result.returncode == 0, result.stderr


# -- the timeout path: closed ports ---------------------------------------------------------------


def test_closed_ports_time_out_with_a_line_per_attempt_and_exit_1() -> None:
    pg_port, redis_port = _closed_port(), _closed_port()
    started = time.monotonic()
    result = _wait(
        "--timeout",
        "2s",
        "--interval",
        "0.5s",
        SPOKE_POSTGRES_URL=f"postgresql://spoke:hunter2@127.0.0.1:{pg_port}/spoke",
        SPOKE_REDIS_URL=f"redis://:hunter3@127.0.0.1:{redis_port}/0",
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    postgres_attempts = [line for line in lines if line.startswith("spoke wait: postgres (")]
    redis_attempts = [line for line in lines if line.startswith("spoke wait: redis (")]
    assert len(postgres_attempts) >= 3, result.stderr  # ~ one per 0.5 s for 2 s
    assert all("connection refused" in line for line in postgres_attempts)
    assert len(redis_attempts) >= 3, result.stderr
    assert all("Connection refused" in line for line in redis_attempts)
    assert lines[-2].startswith("spoke wait: timed out after 2s: postgres (")
    assert lines[-1].startswith("spoke wait: timed out after 2s: redis (")
    assert f"postgresql://spoke:***@127.0.0.1:{pg_port}/spoke" in lines[-2]
    assert "hunter2" not in result.stderr and "hunter3" not in result.stderr
    assert elapsed < 15  # the timeout is honoured (interpreter start-up included)


def test_timeout_zero_checks_once() -> None:
    result = _wait(
        "--timeout", "0", SPOKE_POSTGRES_URL=f"postgresql://u@127.0.0.1:{_closed_port()}/d"
    )
    assert result.returncode == 1
    assert result.stderr.count("not ready (attempt") == 1


@pytest.mark.parametrize(
    ("args", "spoke", "message"),
    [
        ((), {"SPOKE_STORAGE_TYPE": "postgres"}, "the postgres backends need SPOKE_POSTGRES_URL"),
        (("--migrated",), {}, "--migrated needs SPOKE_POSTGRES_URL"),
        ((), {"SPOKE_POSTGRES_URL": "mysql://x@h/d"}, "SPOKE_POSTGRES_URL"),
        ((), {"SPOKE_CACHE_TYPE": "redis"}, "the redis cache needs SPOKE_REDIS_URL"),
        (("--timeout", "soon"), {}, "expected a duration"),
    ],
)
def test_configuration_errors_exit_2(
    args: tuple[str, ...], spoke: dict[str, str], message: str
) -> None:
    result = _wait(*args, **spoke)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_nothing_configured_is_ready_at_once() -> None:
    result = _wait("--timeout", "0")
    assert result.returncode == 0
    assert (
        result.stdout.strip()
        == "spoke wait: nothing to wait for (no PostgreSQL, no Redis configured)"
    )
