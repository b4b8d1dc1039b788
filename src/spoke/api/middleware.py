"""Request middleware: metrics for every answered request."""

from __future__ import annotations

import time
from typing import Any

import falcon

from spoke.metrics import Metrics

__all__ = ["MetricsMiddleware"]


class MetricsMiddleware:
    """Counts and times requests by method, route template and status.

    The route label is the matched template (``/api/v1/modules/{name}``), or ``unmatched``: a
    module name never becomes a label value, so the series count stays bounded.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        started = getattr(req.context, "started", None)
        if started is None:
            return
        route = req.uri_template or "unmatched"
        status = resp.status_code if isinstance(resp.status, str | int) else 500
        self.metrics.observe_request(req.method, route, status, time.perf_counter() - started)
