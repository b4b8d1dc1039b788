"""The one place errors become responses: ``{"error", "code", "details"}`` for every failure.

Spoke's own errors carry their status and code. Falcon's errors (unknown route, wrong method, a
malformed query parameter) get a code from their status. Anything else is a bug: it is logged
with its traceback and the client sees a bare ``internal_error`` without it.

An error body stays small whatever a client sends. Raise sites cut the client values they echo
to :data:`spoke.errors.ECHO_LIMIT` characters; text no raise site controls (a compiler diagnostic
quoting a megabyte identifier from a ``.proto`` file, a message of another module) is cut here:
an envelope that would encode to more than :data:`MAX_ERROR_BODY` bytes is sent with each of its
strings cut to :data:`ERROR_TEXT_LIMIT` characters.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import falcon

from spoke.errors import Overloaded, SpokeError, bounded

__all__ = ["ERROR_TEXT_LIMIT", "MAX_ERROR_BODY", "install_error_handlers"]

log = logging.getLogger(__name__)

# Bodies up to this size are sent as built (a generator's 4 KiB of stderr, a long list of
# violations); above it, every string is cut, which leaves lists intact but their items short.
MAX_ERROR_BODY = 8 * 1024
ERROR_TEXT_LIMIT = 1024

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


def _encode(body: dict[str, Any]) -> bytes:
    data = _dumps(body)
    if len(data) > MAX_ERROR_BODY:
        data = _dumps(_cut_strings(body))
    return data


def _dumps(body: Any) -> bytes:
    # As falcon's JSON handler writes media (ensure_ascii off), so nothing else changes; but an
    # error quoting a lone surrogate from the request (a repeated key "\ud800") cannot be UTF-8:
    # it is escaped then, as JSON allows, rather than failing the answer.
    text = json.dumps(body, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body).encode("ascii")


def _cut_strings(value: Any) -> Any:
    if isinstance(value, str):
        return bounded(value, ERROR_TEXT_LIMIT)
    if isinstance(value, dict):
        return {bounded(str(k), ERROR_TEXT_LIMIT): _cut_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cut_strings(item) for item in value]
    return value


def _render(resp: falcon.Response, status: int, body: dict[str, Any]) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.data = _encode(body)


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
        message = f"no resource at {bounded(req.path)}"
    elif status == 405:
        allowed = resp.get_header("Allow") or ""
        message = f"method {bounded(req.method, 32)} is not allowed here" + (
            f"; allowed: {allowed}" if allowed else ""
        )
    else:
        message = exc.description or exc.title or "request failed"
    details: dict[str, Any] = {}
    if exc.title and exc.description:
        details["reason"] = exc.title
    resp.content_type = falcon.MEDIA_JSON
    resp.data = _encode({"error": message, "code": code, "details": details})


def _unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params: Any) -> None:
    if isinstance(exc, falcon.HTTPError | falcon.HTTPStatus):
        raise exc  # falcon renders these through the serializer above
    log.exception(
        "unhandled error answering %s %s", req.method, req.uri_template or bounded(req.path)
    )
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
