"""A cache that fails on every call makes Spoke slower, never wrong."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from spoke.api.app import Application

from .conftest import (
    API,
    SpokeClient,
    make_app,
    memory_backends,
    message,
    proto,
    push,
    push_ok,
)


class BrokenCache:
    """Raises on every call, as a cache whose server has gone away would."""

    def __init__(self) -> None:
        self.calls = 0

    def _fail(self) -> None:
        self.calls += 1
        raise ConnectionError("cache at 10.0.0.7:6379 refused the connection")

    def get(self, *, key: str) -> bytes | None:
        self._fail()
        return None

    def set(self, *, key: str, value: bytes, ttl: float | None = None) -> None:
        self._fail()

    def delete(self, *, key: str) -> None:
        self._fail()

    def check(self) -> None:
        self._fail()

    def close(self) -> None:
        self._fail()


@pytest.fixture
def broken() -> Iterator[tuple[Application, BrokenCache]]:
    cache = BrokenCache()
    application = make_app(backends=memory_backends(cache=cache))
    yield application, cache
    application.close()  # closing a failing cache is best effort and must not raise


def cache_errors(application: Application) -> float:
    text = SpokeClient(application.health).simulate_get("/metrics").text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "spoke_cache_errors_total":
                total += sample.value
    return total


COMMON = {"common/c.proto": proto("common", message("C", "string id"))}
APP = {"app/a.proto": proto("app", message("A", "common.C c"), imports=["common/c.proto"])}


def test_every_read_still_answers_correctly(broken: tuple[Application, BrokenCache]) -> None:
    application, cache = broken
    client = SpokeClient(application.api)
    push_ok(client, "common", "1.0.0", COMMON)
    pushed = push_ok(client, "app", "1.0.0", APP, ["common@1.0.0"])
    assert push(client, "app", "1.0.0", APP, ["common@1.0.0"]).status_code == 200

    base = f"{API}/modules/app/versions"
    for _ in range(2):  # the second round would be served from a working cache
        assert client.simulate_get(f"{base}/1.0.0").json == pushed
        assert client.simulate_get(f"{base}/latest").json == pushed
        file = client.simulate_get(f"{base}/1.0.0/files/app/a.proto")
        assert file.json["content"] == APP["app/a.proto"]
        raw = client.simulate_get(f"{base}/1.0.0/files/app/a.proto", params={"raw": "true"})
        assert raw.text == APP["app/a.proto"]
        descriptor = client.simulate_get(f"{base}/1.0.0/descriptor")
        assert descriptor.status_code == 200 and descriptor.content
        deps = client.simulate_get(f"{base}/1.0.0/dependencies/transitive")
        assert deps.json == [{"module": "common", "version": "1.0.0"}]
        dependents = client.simulate_get(f"{API}/modules/common/versions/1.0.0/dependents")
        assert dependents.json == [{"module": "app", "version": "1.0.0"}]
        assert [v["version"] for v in client.simulate_get(base).json] == ["1.0.0"]
        valid = client.simulate_post(
            f"{API}/validate",
            json={"content": APP["app/a.proto"], "dependencies": ["common@1.0.0"]},
        )
        assert valid.json["valid"] is True
    assert cache.calls > 0


def test_cache_errors_are_counted(broken: tuple[Application, BrokenCache]) -> None:
    application, _ = broken
    client = SpokeClient(application.api)
    push_ok(client, "common", "1.0.0", COMMON)
    before = cache_errors(application)

    assert client.simulate_get(f"{API}/modules/common/versions/1.0.0").status_code == 200
    after_one = cache_errors(application)
    # A decoded version is then kept in process; the descriptor is read through the cache again.
    assert client.simulate_get(f"{API}/modules/common/versions/1.0.0/descriptor").status_code == 200
    after_two = cache_errors(application)

    assert before < after_one < after_two


def test_readiness_is_degraded_but_200(broken: tuple[Application, BrokenCache]) -> None:
    application, _ = broken

    result = SpokeClient(application.health).simulate_get("/health/ready")

    assert result.status_code == 200
    assert result.json["status"] == "degraded"
    assert result.json["checks"]["cache"]["status"] == "unavailable"
    assert "10.0.0.7" not in result.text
