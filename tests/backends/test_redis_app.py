"""A whole Spoke application on the redis cache while Redis is killed and comes back, and
started while Redis is down. Needs ``scripts/services start redis``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import falcon.testing
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytest.importorskip("redis")

from spoke.api.app import Application, Backends, build_backends, create_app
from spoke.plugins import PluginRegistry
from spoke.settings import load_settings
from spoke_plugins import memory, redis_cache
from spoke_plugins.memory import MemoryBlobStore, MemoryStorage
from spoke_plugins.redis_cache import RedisCache
from spoke_plugins.redis_url import parse_redis_url
from worker_pool import shared_work

pytestmark = pytest.mark.backend("redis")

API = "/api/v1"
COMMON = {
    "common/c.proto": 'syntax = "proto3";\n\npackage common;\n\nmessage C {\n  string id = 1;\n}\n'
}
APP = {
    "app/a.proto": 'syntax = "proto3";\n\npackage app;\n\nimport "common/c.proto";\n\n'
    "message A {\n  common.C c = 1;\n}\n"
}


def eventually(condition: Callable[[], bool], *, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def push(
    client: falcon.testing.TestClient,
    module: str,
    version: str,
    files: dict[str, str],
    deps: list[str],
) -> dict[str, Any]:
    created = client.simulate_post(f"{API}/modules", json={"name": module})
    assert created.status_code in (201, 409), created.text
    body: dict[str, Any] = {
        "version": version,
        "files": [{"path": p, "content": c} for p, c in files.items()],
    }
    if deps:
        body["dependencies"] = deps
    result = client.simulate_post(f"{API}/modules/{module}/versions", json=body)
    assert result.status_code == 201, result.text
    pushed: dict[str, Any] = result.json
    return pushed


def metric(application: Application, name: str, **labels: str) -> float:
    text = falcon.testing.TestClient(application.health).simulate_get("/metrics").text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def read_everything(client: falcon.testing.TestClient, pushed: dict[str, Any]) -> None:
    """Every read of the registry answers exactly what was pushed."""
    base = f"{API}/modules/app/versions"
    assert client.simulate_get(f"{base}/1.0.0").json == pushed
    assert client.simulate_get(f"{base}/latest").json == pushed
    file = client.simulate_get(f"{base}/1.0.0/files/app/a.proto")
    assert file.status_code == 200 and file.json["content"] == APP["app/a.proto"]
    raw = client.simulate_get(f"{base}/1.0.0/files/app/a.proto", params={"raw": "true"})
    assert raw.text == APP["app/a.proto"]
    common = client.simulate_get(f"{API}/modules/common/versions/1.0.0/files/common/c.proto")
    assert common.json["content"] == COMMON["common/c.proto"]
    descriptor = client.simulate_get(f"{base}/1.0.0/descriptor")
    assert descriptor.status_code == 200 and descriptor.content
    deps = client.simulate_get(f"{base}/1.0.0/dependencies/transitive")
    assert deps.json == [{"module": "common", "version": "1.0.0"}]
    dependents = client.simulate_get(f"{API}/modules/common/versions/1.0.0/dependents")
    assert dependents.json == [{"module": "app", "version": "1.0.0"}]
    assert [v["version"] for v in client.simulate_get(base).json] == ["1.0.0"]


@pytest.fixture
def application(redis_flushed: str) -> Iterator[Application]:
    cache = RedisCache(parse_redis_url(redis_flushed), l1_max_bytes=1 << 24)
    backends = Backends(MemoryStorage(), MemoryBlobStore(), cache, "memory", "memory", "redis")
    app = create_app(load_settings({}), backends=backends, work=shared_work())
    yield app
    app.close()


def test_every_read_answers_correctly_while_redis_is_killed(
    redis_ctl: Callable[[str], str], redis_flushed: str, application: Application
) -> None:
    client = falcon.testing.TestClient(application.api)
    health = falcon.testing.TestClient(application.health)
    push(client, "common", "1.0.0", COMMON, [])
    pushed = push(client, "app", "1.0.0", APP, ["common@1.0.0"])
    read_everything(client, pushed)
    assert health.simulate_get("/health/ready").json["checks"]["cache"]["status"] == "ok"

    redis_ctl("kill-master")

    for _ in range(3):
        read_everything(client, pushed)
    # A push and its reads during the outage: storage works, the cache only misses.
    more = push(client, "common", "1.1.0", COMMON, [])
    assert client.simulate_get(f"{API}/modules/common/versions/1.1.0").json == more
    assert client.simulate_get(f"{API}/modules/common/versions/1.1.0/descriptor").status_code == 200

    ready = health.simulate_get("/health/ready")
    assert ready.status_code == 200
    assert ready.json["status"] == "degraded"
    assert ready.json["checks"]["cache"]["status"] == "degraded"
    assert ready.json["checks"]["cache"]["redis"] == "unavailable"
    assert metric(application, "spoke_cache_tier_errors_total", tier="redis") >= 1
    # The backend swallows its failures but reports them: the service-level counter moves too.
    assert metric(application, "spoke_cache_errors_total", cache="redis") >= 1
    assert metric(application, "spoke_cache_tier_hits_total", tier="l1") >= 1
    assert metric(application, "spoke_cache_hits_total", cache="redis") >= 1

    redis_ctl("reset")
    assert eventually(lambda: health.simulate_get("/health/ready").json["status"] == "ok")
    read_everything(client, pushed)


def test_the_app_starts_with_redis_down_and_readiness_is_degraded() -> None:
    registry = PluginRegistry()
    registry.register(memory, name="memory")
    registry.register(redis_cache, name="redis")
    settings = load_settings(
        {
            "SPOKE_STORAGE_TYPE": "memory",
            "SPOKE_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0",
        }
    )
    backends = build_backends(settings, registry)
    assert backends.cache_name == "redis"
    app = create_app(settings, backends=backends, work=shared_work())
    try:
        client = falcon.testing.TestClient(app.api)
        push(client, "common", "1.0.0", COMMON, [])
        pushed = push(client, "app", "1.0.0", APP, ["common@1.0.0"])
        read_everything(client, pushed)
        ready = falcon.testing.TestClient(app.health).simulate_get("/health/ready")
        assert ready.status_code == 200
        assert ready.json["status"] == "degraded"
        assert ready.json["checks"]["cache"]["redis"] == "unavailable"
        assert "hunter2" not in ready.text
        metrics = falcon.testing.TestClient(app.health).simulate_get("/metrics").text
        assert "hunter2" not in metrics
        assert "spoke_cache_tier_errors_total" in metrics
    finally:
        app.close()
