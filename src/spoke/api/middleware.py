"""Request middleware: request ids, access logs, traces and metrics; the admin token."""

from __future__ import annotations

import hmac
import itertools
import re
import secrets
import time
from collections.abc import Iterable
from contextvars import Token
from typing import Any

import falcon

from spoke.logs import AccessLog, RequestLogContext, bind_request, unbind_request
from spoke.metrics import Metrics
from spoke.tracing import RequestSpan, Tracing, activate, deactivate

__all__ = ["AdminAuthMiddleware", "RequestMiddleware"]

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"  # read straight from the environ: falcon's get_header
# upper-cases and translates the name on every call
# A client's id is kept only when it is a plain token: it ends up in every log line, so
# anything that could forge a line, carry markup or grow the logs is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_TRACE_HEADERS = ("traceparent", "tracestate")


def _status(resp: falcon.Response) -> int:
    return resp.status_code if isinstance(resp.status, str | int) else 500


class _RequestState:
    """What the middleware keeps between the two halves of one request (a plain slotted class:
    this is built on every request, and a frozen dataclass costs several times as much)."""

    __slots__ = ("log_token", "request_id", "span", "started", "tracing_token")

    def __init__(
        self,
        request_id: str,
        started: float,
        log_token: Token[RequestLogContext | None],
        span: RequestSpan | None = None,
        tracing_token: Token[Tracing | None] | None = None,
    ) -> None:
        self.request_id = request_id
        self.started = started
        self.log_token = log_token
        self.span = span
        self.tracing_token = tracing_token


class RequestMiddleware:
    """Gives each request an id, logs one access line per request, and traces it.

    The id is the client's ``X-Request-ID`` when it is a sane token (at most 128 characters of
    ``A-Z a-z 0-9 . _ -``), else a new random one; it is sent back as ``X-Request-ID`` and
    carried by every log line written while the request is handled. The access line goes to the
    ``spoke.access`` logger at info: method, route template, status and duration, never a header,
    a body or a query string. With ``tracing``, the request gets a server span (a child of the
    caller's trace when ``traceparent`` says so) named by method and route template.
    """

    def __init__(self, *, tracing: Tracing | None = None, metrics: Metrics | None = None) -> None:
        self._tracing = tracing
        self._metrics = metrics
        self._access = AccessLog()
        # Generated ids: a random prefix per application and a counter. Unique across
        # processes and replicas without reading the system's randomness on every request.
        self._id_prefix = secrets.token_hex(8)
        self._id_counter = itertools.count(1)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        started = time.perf_counter()
        incoming = req.env.get(_REQUEST_ID_ENVIRON)
        if incoming is not None and _SANE_REQUEST_ID.fullmatch(incoming):
            request_id = incoming
        else:
            request_id = f"{self._id_prefix}{next(self._id_counter):016x}"
        span = tracing_token = None
        if self._tracing is not None:
            span = self._start_span(self._tracing, req, request_id)
            tracing_token = activate(self._tracing)
        context = RequestLogContext(
            request_id,
            span.trace_id if span is not None else None,
            span.span_id if span is not None else None,
        )
        req.context.spoke_request = _RequestState(
            request_id, started, bind_request(context), span, tracing_token
        )

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        state: _RequestState | None = getattr(req.context, "spoke_request", None)
        if state is None:
            return
        try:
            resp.set_header(REQUEST_ID_HEADER, state.request_id)
            route = req.uri_template or "unmatched"
            status = _status(resp)
            if self._metrics is not None:
                self._metrics.observe_request(
                    req.method, route, status, time.perf_counter() - state.started
                )
            if state.span is not None and self._tracing is not None:
                self._tracing.end_request(
                    state.span,
                    name=f"{req.method} {route}",
                    status=status,
                    attributes={"http.route": route},
                )
            if self._access.enabled:
                self._log_access(req.method, route, status, state)
        finally:
            if state.tracing_token is not None:
                deactivate(state.tracing_token)
            unbind_request(state.log_token)

    def _start_span(self, tracing: Tracing, req: falcon.Request, request_id: str) -> RequestSpan:
        headers = {name: value for name in _TRACE_HEADERS if (value := req.get_header(name))}
        attributes: dict[str, str | int] = {
            "http.request.method": req.method,
            "url.path": req.path,
            "url.scheme": req.scheme,
            "spoke.request_id": request_id,
        }
        if req.remote_addr:
            attributes["client.address"] = req.remote_addr
        user_agent = req.get_header("User-Agent")
        if user_agent:
            attributes["user_agent.original"] = user_agent[:256]
        return tracing.start_request(req.method, headers, attributes)

    def _log_access(self, method: str, route: str, status: int, state: _RequestState) -> None:
        fields: dict[str, object] = {
            "request_id": state.request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round((time.perf_counter() - state.started) * 1000, 3),
        }
        if state.span is not None:
            fields["trace_id"] = state.span.trace_id
            fields["span_id"] = state.span.span_id
        self._access.write(f"{method} {route} {status}", fields)


class AdminAuthMiddleware:
    """Requires ``Authorization: Bearer <SPOKE_ADMIN_TOKEN>`` on the operations that change the
    registry, given as (method, route template) pairs; every other request passes untouched.

    The check runs once the route is known and before the responder reads the body. Tokens are
    compared in constant time, so the answer's timing says nothing about how much of a guess
    was right.
    """

    def __init__(self, token: str, protected: Iterable[tuple[str, str]]) -> None:
        if not token:
            raise ValueError("the admin token must not be empty")
        self._token = token.encode("utf-8")
        self._protected = frozenset(protected)

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        if (req.method, req.uri_template) not in self._protected:
            return
        scheme, _, credentials = (req.get_header("Authorization") or "").partition(" ")
        presented = credentials.strip().encode("utf-8", "surrogateescape")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented, self._token):
            raise falcon.HTTPUnauthorized(
                title="unauthorized",
                description="this operation needs Authorization: Bearer <admin token>",
                challenges=['Bearer realm="spoke"'],
            )
