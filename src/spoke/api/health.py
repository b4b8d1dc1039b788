"""The health listener's app: ``/health/live``, ``/health/ready`` and ``/metrics``.

It runs on SPOKE_HEALTH_PORT, never on the API port, so probes and scrapes do not compete with
API traffic and the API can be exposed without exposing them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import falcon
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from spoke.api.errors import install_error_handlers
from spoke.api.http import add_route
from spoke.interfaces import HealthReport, ReportsHealth
from spoke.metrics import Metrics

__all__ = ["HealthCheck", "Readiness", "create_health_app"]


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One named probe. ``required`` failures make readiness 503; others only ``degraded``."""

    name: str
    probe: Callable[[], HealthReport | None]
    required: bool = True

    @classmethod
    def of(cls, name: str, backend: object, *, required: bool = True) -> HealthCheck:
        """The check of a backend: its ``health()`` when it has one, else its ``check()``."""
        if isinstance(backend, ReportsHealth):
            return cls(name, backend.health, required)
        return cls(name, backend.check, required)  # type: ignore[attr-defined]


class Readiness:
    """Runs the probes and remembers whether the process is shutting down."""

    def __init__(self, checks: list[HealthCheck]) -> None:
        self.checks = checks
        self._shutting_down = threading.Event()

    def begin_shutdown(self) -> None:
        """From now on readiness answers 503 so the load balancer stops sending traffic."""
        self._shutting_down.set()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down.is_set()

    def report(self) -> tuple[int, dict[str, Any]]:
        """The status code and body of ``/health/ready``."""
        results: dict[str, Any] = {}
        failed_required = False
        degraded = False
        for check in self.checks:
            start = time.perf_counter()
            sub_checks: Mapping[str, Mapping[str, object]] = {}
            try:
                report = check.probe()
                entry: dict[str, Any] = {"status": "ok"}
                if isinstance(report, HealthReport):
                    entry["status"] = report.status
                    entry.update(report.details)
                    sub_checks = report.sub_checks
                    degraded = degraded or report.status != "ok"
            except Exception as exc:  # a probe reports, it never crashes the endpoint
                entry = {"status": "unavailable", "message": _message(exc)}
                if check.required:
                    failed_required = True
                else:
                    degraded = True
            entry["latency_ms"] = round((time.perf_counter() - start) * 1000, 3)
            results[check.name] = entry
            for name, sub in sub_checks.items():
                results[name] = dict(sub)
        if self.shutting_down:
            return 503, {"status": "unavailable", "reason": "shutting down", "checks": results}
        if failed_required:
            return 503, {"status": "unavailable", "checks": results}
        return 200, {"status": "degraded" if degraded else "ok", "checks": results}


def _message(exc: Exception) -> str:
    # Spoke's errors have client-safe messages; anything else is named by type only, so a
    # driver's message (which may hold a host or a path) never reaches the probe's body.
    text = getattr(exc, "message", None)
    return str(text) if isinstance(text, str) else type(exc).__name__


class _Live:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}
        resp.cache_control = ["no-store"]


class _Ready:
    def __init__(self, readiness: Readiness) -> None:
        self.readiness = readiness

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        status, body = self.readiness.report()
        resp.status = status
        resp.media = body
        resp.cache_control = ["no-store"]


class _Metrics:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(self.metrics.registry)


def create_health_app(
    *, readiness: Readiness, metrics: Metrics, metrics_enabled: bool
) -> falcon.App[falcon.Request, falcon.Response]:
    """The falcon app of the health listener."""
    app = falcon.App()
    install_error_handlers(app)
    add_route(app, "/health/live", _Live())
    add_route(app, "/health/ready", _Ready(readiness))
    if metrics_enabled:
        add_route(app, "/metrics", _Metrics(metrics))
    return app
