"""The one place errors become responses: ``{"error", "code", "details"}`` for every failure.

Spoke's own errors carry their status and code. Falcon's errors (unknown route, wrong method, a
malformed query parameter) get a code from their status. Anything else is a bug: it is logged
with its traceback and the client sees a bare ``internal_error`` without it.
"""

from __future__ import annotations

import logging
from typing import Any

import falcon

from spoke.errors import Overloaded, SpokeError

__all__ = ["install_error_handlers"]

log = logging.getLogger(__name__)

_CODES_BY_STATUS = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    411: "length_required",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    431: "headers_too_large",
    503: "backend_unavailable",
}


def _render(resp: falcon.Response, status: int, body: dict[str, Any]) -> None:
    resp.status = status
    resp.media = body
    resp.content_type = falcon.MEDIA_JSON


def _spoke_error(req: falcon.Request, resp: falcon.Response, exc: SpokeError, params: Any) -> None:
    _render(resp, exc.status, exc.to_dict())
    if isinstance(exc, Overloaded):
        resp.set_header("Retry-After", str(exc.retry_after))


def _falcon_error_serializer(
    req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError
) -> None:
    status = exc.status_code
    code = _CODES_BY_STATUS.get(status, "http_error")
    if status == 404:
        message = f"no resource at {req.path}"
    elif status == 405:
        allowed = resp.get_header("Allow") or ""
        message = f"method {req.method} is not allowed here" + (
            f"; allowed: {allowed}" if allowed else ""
        )
    else:
        message = exc.description or exc.title or "request failed"
    details: dict[str, Any] = {}
    if exc.title and exc.description:
        details["reason"] = exc.title
    resp.media = {"error": message, "code": code, "details": details}
    resp.content_type = falcon.MEDIA_JSON


def _unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params: Any) -> None:
    if isinstance(exc, falcon.HTTPError | falcon.HTTPStatus):
        raise exc  # falcon renders these through the serializer above
    log.exception("unhandled error answering %s %s", req.method, req.uri_template or req.path)
    _render(
        resp,
        500,
        {"error": "internal server error", "code": "internal_error", "details": {}},
    )


def install_error_handlers(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    """Register the handlers on ``app``. Later registrations win for more specific types."""
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(SpokeError, _spoke_error)
    app.set_error_serializer(_falcon_error_serializer)
