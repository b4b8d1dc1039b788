"""The health listener: liveness, readiness, Prometheus metrics; and its separation from the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from prometheus_client.parser import text_string_to_metric_families

from spoke.api.app import Application
from spoke.errors import BackendUnavailable
from spoke_plugins.memory import LRUCache, MemoryBlobStore, MemoryStorage

from .conftest import (
    API,
    SpokeClient,
    assert_error,
    create_module,
    make_app,
    memory_backends,
    message,
    proto,
    push,
    push_ok,
)


class DownStorage(MemoryStorage):
    def check(self) -> None:
        raise BackendUnavailable("storage is down for maintenance")


class DownBlobs(MemoryBlobStore):
    def check(self) -> None:
        raise BackendUnavailable("blob store unreachable")


class DownCache(LRUCache):
    def check(self) -> None:
        raise BackendUnavailable("cache unreachable")


class LeakyStorage(MemoryStorage):
    def check(self) -> None:
        raise OSError("cannot open /var/lib/spoke/secret-dir/meta: permission denied")


@contextmanager
def health_client(**backends: object) -> Iterator[SpokeClient]:
    application = make_app(backends=memory_backends(**backends))
    try:
        yield SpokeClient(application.health)
    finally:
        application.close()


# Liveness and readiness ----------------------------------------------------------------------


def test_live_is_200_ok(health: SpokeClient) -> None:
    result = health.simulate_get("/health/live")

    assert result.status_code == 200
    assert result.json == {"status": "ok"}


def test_ready_is_200_with_every_check(health: SpokeClient) -> None:
    result = health.simulate_get("/health/ready")

    assert result.status_code == 200
    body = result.json
    assert body["status"] == "ok"
    assert {"storage", "blob", "cache"} <= set(body["checks"])
    for name in ("storage", "blob", "cache"):
        check = body["checks"][name]
        assert check["status"] == "ok"
        assert isinstance(check["latency_ms"], int | float) and check["latency_ms"] >= 0


def test_health_answers_are_not_cached(health: SpokeClient) -> None:
    for path in ("/health/live", "/health/ready"):
        assert "no-store" in health.simulate_get(path).headers.get("cache-control", "")


@pytest.mark.parametrize(
    ("backends", "failed", "message_part"),
    [
        ({"storage": DownStorage()}, "storage", "storage is down"),
        ({"blobs": DownBlobs()}, "blob", "blob store unreachable"),
    ],
)
def test_a_failed_storage_or_blob_check_is_503_unavailable(
    backends: dict[str, object], failed: str, message_part: str
) -> None:
    with health_client(**backends) as health:
        result = health.simulate_get("/health/ready")

        assert result.status_code == 503
        body = result.json
        assert body["status"] == "unavailable"
        check = body["checks"][failed]
        assert check["status"] == "unavailable"
        assert message_part in check["message"]
        assert isinstance(check["latency_ms"], int | float)
        others = {"storage", "blob", "cache"} - {failed}
        assert all(body["checks"][name]["status"] == "ok" for name in others)
        # Liveness does not depend on the backends.
        assert health.simulate_get("/health/live").status_code == 200


def test_a_failed_cache_check_is_200_degraded() -> None:
    with health_client(cache=DownCache(max_bytes=1024)) as health:
        result = health.simulate_get("/health/ready")

        assert result.status_code == 200
        assert result.json["status"] == "degraded"
        assert result.json["checks"]["cache"]["status"] == "unavailable"
        assert result.json["checks"]["storage"]["status"] == "ok"


def test_a_probe_failure_message_does_not_leak_driver_text() -> None:
    with health_client(storage=LeakyStorage()) as health:
        result = health.simulate_get("/health/ready")

        assert result.status_code == 503
        assert "/var/lib" not in result.text
        assert "secret-dir" not in result.text
        assert result.json["checks"]["storage"]["message"] == "OSError"


def test_ready_is_503_while_shutting_down(app: Application, health: SpokeClient) -> None:
    assert health.simulate_get("/health/ready").status_code == 200

    app.readiness.begin_shutdown()

    result = health.simulate_get("/health/ready")
    assert result.status_code == 503
    assert result.json["status"] == "unavailable"
    assert health.simulate_get("/health/live").status_code == 200


# Separation of the two listeners ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics"])
def test_health_routes_are_not_served_on_the_api(client: SpokeClient, path: str) -> None:
    assert_error(client.simulate_get(path), 404, "not_found")


@pytest.mark.parametrize("path", [f"{API}/modules", f"{API}/validate", f"{API}/modules/acme"])
def test_api_routes_are_not_served_on_the_health_app(
    client: SpokeClient, health: SpokeClient, path: str
) -> None:
    create_module(client, "acme")
    assert_error(health.simulate_get(path), 404, "not_found")
    assert_error(health.simulate_post(path, json={"name": "x"}), 404, "not_found")


def test_an_unknown_health_route_is_the_envelope(health: SpokeClient) -> None:
    assert_error(health.simulate_get("/health/nope"), 404, "not_found")
    assert_error(health.simulate_post("/health/live"), 405, "method_not_allowed")


# Metrics ---------------------------------------------------------------------------------------

SECRET_MODULE = "zz-secret-module-name"


def scrape(health: SpokeClient) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    result = health.simulate_get("/metrics")
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(result.text):
        samples[family.name] = [(s.name, dict(s.labels), s.value) for s in family.samples]
    return samples


def exercise(client: SpokeClient) -> None:
    files = {"zz/v1/a.proto": proto("zz.v1", message("A", "string id"))}
    push_ok(client, SECRET_MODULE, "1.0.0", files)
    push(client, SECRET_MODULE, "1.0.0", files)
    push_ok(client, "other", "1.0.0", {"o/o.proto": proto("o", message("O", "string id"))})
    base = f"{API}/modules/{SECRET_MODULE}"
    for path in (
        base,
        f"{base}/versions",
        f"{base}/versions/1.0.0",
        f"{base}/versions/latest",
        f"{base}/versions/1.0.0/files/zz/v1/a.proto",
        f"{base}/versions/1.0.0/descriptor",
        f"{base}/versions/9.9.9",
        f"{API}/modules/{SECRET_MODULE}-missing",
        f"{API}/{SECRET_MODULE}",
    ):
        client.simulate_get(path)
    client.simulate_delete(base)


def test_metrics_export_the_documented_families(client: SpokeClient, health: SpokeClient) -> None:
    exercise(client)

    samples = scrape(health)

    for name in (
        "spoke_http_requests",
        "spoke_http_request_duration_seconds",
        "spoke_storage_operation_duration_seconds",
        "spoke_modules_total",
        "spoke_versions_total",
    ):
        assert samples.get(name), (name, sorted(samples))
    (modules,) = samples["spoke_modules_total"]
    (versions,) = samples["spoke_versions_total"]
    assert modules[2] == 2
    assert versions[2] == 2
    text = health.simulate_get("/metrics").text
    assert "spoke_http_requests_total{" in text


def test_request_metrics_are_labelled_by_route_template(
    client: SpokeClient, health: SpokeClient
) -> None:
    exercise(client)

    samples = scrape(health)

    requests = [s for s in samples["spoke_http_requests"] if s[0] == "spoke_http_requests_total"]
    routes = {labels["route"] for _, labels, _ in requests}
    assert f"{API}/modules/{{name}}" in routes
    assert f"{API}/modules/{{name}}/versions/{{version}}" in routes
    assert "unmatched" in routes
    for route in routes:
        assert route == "unmatched" or route.startswith(f"{API}/"), route
    counts = {
        (labels["method"], labels["route"], labels["status"]): value
        for _, labels, value in requests
    }
    assert counts[("POST", f"{API}/modules/{{name}}/versions", "201")] == 2
    assert counts[("POST", f"{API}/modules/{{name}}/versions", "200")] == 1
    assert counts[("GET", f"{API}/modules/{{name}}/versions/{{version}}", "404")] == 1
    assert counts[("DELETE", f"{API}/modules/{{name}}", "405")] == 1


def test_no_module_name_appears_in_any_label(client: SpokeClient, health: SpokeClient) -> None:
    exercise(client)

    for family_samples in scrape(health).values():
        for name, labels, _ in family_samples:
            for value in labels.values():
                assert "secret" not in value, (name, labels)
                assert "other" not in value, (name, labels)
    assert "secret" not in health.simulate_get("/metrics").text


def test_storage_operations_are_timed(client: SpokeClient, health: SpokeClient) -> None:
    exercise(client)

    samples = scrape(health)["spoke_storage_operation_duration_seconds"]

    operations = {labels.get("operation") for _, labels, _ in samples}
    assert {"create_module", "create_version", "get_version", "put", "get"} <= operations


def test_metrics_can_be_disabled() -> None:
    application = make_app({"SPOKE_METRICS_ENABLED": "false"})
    try:
        api = SpokeClient(application.api)
        health = SpokeClient(application.health)
        create_module(api, "acme")

        assert_error(health.simulate_get("/metrics"), 404, "not_found")
        assert health.simulate_get("/health/live").status_code == 200
        assert health.simulate_get("/health/ready").status_code == 200
    finally:
        application.close()


def test_two_applications_do_not_share_metrics() -> None:
    first, second = make_app(), make_app()
    try:
        create_module(SpokeClient(first.api), "acme")
        text = SpokeClient(second.health).simulate_get("/metrics").text
        assert 'route="/api/v1/modules"' not in text
    finally:
        first.close()
        second.close()
