"""Backends may report richer health (``health()``) and export metrics of their own."""

from __future__ import annotations

from collections.abc import Iterator

from falcon import testing
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from spoke.api.app import Backends, create_app
from spoke.interfaces import HealthReport
from spoke.settings import load_settings
from spoke_plugins.memory import LRUCache, MemoryBlobStore, MemoryStorage
from worker_pool import shared_work


class PoolGauge(Collector):
    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("spoke_test_pool_size", "A test gauge.", 7)


class ReplicatedStorage(MemoryStorage):
    def __init__(self, status: str) -> None:
        super().__init__()
        self.status = status

    def health(self) -> HealthReport:
        return HealthReport(
            status=self.status,
            details={"pool": {"size": 10, "in_use": 10, "waiting": 3}},
            sub_checks={"replicas": {"status": "degraded", "replicas": [{"url": "r1"}]}},
        )

    def metrics_collectors(self) -> list[Collector]:
        return [PoolGauge()]


def _app(storage: MemoryStorage) -> tuple[testing.TestClient, testing.TestClient]:
    app = create_app(
        load_settings({}),
        backends=Backends(storage, MemoryBlobStore(), LRUCache(max_bytes=1024)),
        work=shared_work(),
    )
    return testing.TestClient(app.api), testing.TestClient(app.health)


def test_health_details_and_sub_checks_appear_in_readiness() -> None:
    _, health = _app(ReplicatedStorage("ok"))
    body = health.simulate_get("/health/ready").json
    assert body["checks"]["storage"]["pool"] == {"size": 10, "in_use": 10, "waiting": 3}
    assert body["checks"]["replicas"]["status"] == "degraded"


def test_a_degraded_backend_keeps_readiness_200_but_degraded() -> None:
    _, health = _app(ReplicatedStorage("degraded"))
    result = health.simulate_get("/health/ready")
    assert result.status_code == 200
    assert result.json["status"] == "degraded"
    assert result.json["checks"]["storage"]["status"] == "degraded"


def test_backend_collectors_are_exported_on_metrics() -> None:
    _, health = _app(ReplicatedStorage("ok"))
    assert "spoke_test_pool_size 7.0" in health.simulate_get("/metrics").text
