"""What the HTTP server answers by itself, in Spoke's error envelope.

waitress refuses some requests before any application code runs: a malformed request line or
header (400), a declared or chunked body over the limit (413), headers over the limit (431), a
transfer coding it does not implement (501). It answers those in ``text/plain``; the channel
below makes them ``{"error", "code", "details"}`` like every other error, with the same codes
:mod:`spoke.api.errors` gives falcon's, and counts them in
``spoke_http_rejected_requests_total{status}``.
"""

from __future__ import annotations

import json
from typing import Any

from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

__all__ = ["WIRE_CODES", "JsonErrorChannel", "JsonErrorTask"]

WIRE_CODES = {
    400: "invalid_request",
    413: "payload_too_large",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
}


def _message(status: int, reason: str, limit: str | None) -> str:
    if status == 413 and limit is not None:
        return f"the request body is larger than the limit of {int(limit) - 1} bytes"
    if status == 431 and limit is not None:
        return f"the request headers are larger than the limit of {limit} bytes"
    if status == 501:
        return "the request's transfer coding is not supported (only chunked is)"
    if status == 500:
        return "internal server error"
    return f"malformed HTTP request: {reason}"


class JsonErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's error answer, rendered as Spoke's error envelope."""

    def execute(self) -> None:
        error = self.request.error
        status = int(error.code)
        # waitress's texts read "exceeds max_body of N"; the limit is taken from them so the
        # message can say it the way the application's own 413 does.
        text = str(error.body)
        limit = text.rsplit(" ", 1)[-1] if status in (413, 431) else None
        if limit is not None and not limit.isdigit():
            limit = None
        details: dict[str, Any] = {}
        if status == 413 and limit is not None:
            details["max_bytes"] = int(limit) - 1
        body = json.dumps(
            {
                "error": _message(status, text[:200], limit),
                "code": WIRE_CODES.get(status, "invalid_request"),
                "details": details,
            }
        ).encode()
        self.status = f"{status} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        metrics = getattr(self.channel.server, "spoke_metrics", None)
        if metrics is not None:
            metrics.http_rejected.labels(str(status)).inc()


class JsonErrorChannel(HTTPChannel):  # type: ignore[misc]
    """waitress's channel, answering its own refusals with :class:`JsonErrorTask`."""

    error_task_class = JsonErrorTask
