"""Shared fixtures: where the real backend services are, and what to do when one is missing.

Backend tests talk to real PostgreSQL, Redis and S3-compatible servers started by
``scripts/services start``, which writes their addresses to ``.services/*.env``; the same
``SPOKE_TEST_*`` variables may also come from the environment. A test whose service is not
configured or not reachable is skipped on a laptop and fails under ``CI=true``: CI must never pass
by skipping the backends.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES_DIR = ROOT / ".services"


def in_ci() -> bool:
    """True when running under CI (``CI=true``)."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_settings() -> dict[str, str]:
    """Every ``SPOKE_TEST_*`` value from ``.services/*.env``, overridden by the environment."""
    values: dict[str, str] = {}
    for env_file in sorted(SERVICES_DIR.glob("*.env")):
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.startswith("SPOKE_TEST_"):
                values[key.strip()] = value.strip()
    values.update({k: v for k, v in os.environ.items() if k.startswith("SPOKE_TEST_")})
    return values


def unavailable(message: str) -> None:
    """Skip the test locally; fail it under CI."""
    hint = f"{message} (run scripts/services start)"
    if in_ci():
        pytest.fail(hint, pytrace=False)
    pytest.skip(hint)


def reachable(url: str, *, default_port: int) -> bool:
    """Whether every ``host:port`` of ``url`` (comma-separated hosts allowed) accepts TCP."""
    netloc = urlsplit(url).netloc.rpartition("@")[2]
    for hostport in netloc.split(","):
        host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port or default_port)), 2):
                pass
        except OSError:
            return False
    return True


def require_service(variable: str, *, default_port: int) -> str:
    """The value of ``variable``; skip (or fail in CI) when it is unset or unreachable."""
    value = service_settings().get(variable)
    if not value:
        unavailable(f"{variable} is not set")
    assert value is not None
    if not reachable(value, default_port=default_port):
        unavailable(f"{variable} is set but the service does not answer")
    return value


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the primary PostgreSQL (a superuser on a throwaway cluster)."""
    return require_service("SPOKE_TEST_POSTGRES_URL", default_port=5432)


@pytest.fixture(scope="session")
def postgres_replica_url() -> str:
    """URL of a streaming replica of that primary."""
    return require_service("SPOKE_TEST_POSTGRES_REPLICA_URL", default_port=5432)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the Redis master."""
    return require_service("SPOKE_TEST_REDIS_URL", default_port=6379)


@pytest.fixture(scope="session")
def redis_sentinel_url() -> str:
    """``redis+sentinel://`` URL of the sentinel watching that master."""
    return require_service("SPOKE_TEST_REDIS_SENTINEL_URL", default_port=26379)


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """HTTP endpoint of the S3-compatible server (moto in server mode)."""
    return require_service("SPOKE_TEST_S3_ENDPOINT", default_port=80)
