"""Fault test: the S3 endpoint goes away under a running application, then comes back.

The moto process is paused with SIGSTOP (``s3.sh pause``): the kernel still accepts
connections but nothing answers, like a hung or partitioned endpoint, and the buckets survive
for the recovery half. The server is resumed in a ``finally`` whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import falcon.testing
import pytest

from spoke.api.app import Application, Backends, create_app
from spoke.settings import load_settings
from spoke_plugins.memory import MemoryStorage, NullCache
from spoke_plugins.s3_blob import S3BlobStore
from worker_pool import shared_work

pytestmark = [pytest.mark.backend("s3"), pytest.mark.slow]

API = "/api/v1"
PROTO = 'syntax = "proto3";\n\npackage acme.v1;\n\nmessage Thing {\n  string id = 1;\n}\n'


@pytest.fixture
def s3_app(s3_store_factory: Callable[..., S3BlobStore]) -> Iterator[Application]:
    """Memory storage with s3 blobs that give up quickly (short timeouts, two attempts)."""
    blobs = s3_store_factory(connect_timeout=0.5, read_timeout=0.5, attempts=2)
    backends = Backends(
        storage=MemoryStorage(),
        blobs=blobs,
        cache=NullCache(),
        storage_name="memory",
        blob_name="s3",
        cache_name="none",
    )
    app = create_app(load_settings({}), backends=backends, work=shared_work())
    yield app
    app.close()


def push(client: falcon.testing.TestClient, version: str) -> falcon.testing.Result:
    return client.simulate_post(
        f"{API}/modules/acme/versions",
        json={"version": version, "files": [{"path": "acme/v1/thing.proto", "content": PROTO}]},
    )


def versions(client: falcon.testing.TestClient) -> list[Any]:
    result = client.simulate_get(f"{API}/modules/acme/versions")
    assert result.status_code == 200, result.text
    return [v["version"] for v in result.json]


def test_s3_down_push_is_503_and_stores_nothing_then_recovers(
    s3_app: Application, s3_ctl: Callable[[str], str]
) -> None:
    api = falcon.testing.TestClient(s3_app.api)
    health = falcon.testing.TestClient(s3_app.health)
    assert api.simulate_post(f"{API}/modules", json={"name": "acme"}).status_code == 201
    assert health.simulate_get("/health/ready").status_code == 200

    s3_ctl("pause")
    try:
        result = push(api, "1.0.0")
        assert result.status_code == 503, result.text
        assert result.json["code"] == "backend_unavailable"
        assert result.json["error"].startswith("s3: ")
        assert versions(api) == []  # no version points at bytes that were never stored

        ready = health.simulate_get("/health/ready")
        assert ready.status_code == 503, ready.text
        assert ready.json["status"] == "unavailable"
        assert ready.json["checks"]["blob"]["status"] == "unavailable"
        assert ready.json["checks"]["storage"]["status"] == "ok"
    finally:
        s3_ctl("resume")

    # The same application, without a restart.
    result = push(api, "1.0.0")
    assert result.status_code == 201, result.text
    assert versions(api) == ["1.0.0"]
    assert health.simulate_get("/health/ready").status_code == 200
    file = api.simulate_get(f"{API}/modules/acme/versions/1.0.0/files/acme/v1/thing.proto")
    assert file.status_code == 200, file.text
    assert file.json["content"] == PROTO
