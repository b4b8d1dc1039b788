"""OpenTelemetry traces of API requests, exported over OTLP gRPC (the ``otel`` extra).

:func:`create_tracing` returns ``None`` when SPOKE_OTEL_ENABLED is false: callers then keep the
code paths they had before tracing existed (no wrapper, no context lookup), which is what makes
tracing cost nothing when it is off. When it is on, :class:`Tracing` owns one
``TracerProvider`` with a ``BatchSpanProcessor`` feeding an ``OTLPSpanExporter``:

* The provider belongs to the application, never to the process: nothing here calls
  ``trace.set_tracer_provider`` or ``propagate.set_global_textmap``, so two applications in one
  process (as the tests make) export to their own collectors. The one process-wide piece is the
  OpenTelemetry *context* (a ``contextvars.ContextVar`` inside the API), which the API imposes.
* Spans are handed to a background thread; a collector that is down costs a dropped batch after a
  short export timeout on that thread, never time on a request thread.
* :meth:`Tracing.shutdown` flushes what is queued for a bounded time and returns even when the
  collector hangs.

Code without a handle on the application (the protoc engine, the code generator) opens spans
through :func:`child_span`, which finds the request's :class:`Tracing` in a context variable the
request middleware sets (:func:`activate`). Outside a traced request it returns a shared no-op
context manager.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spoke.settings import Settings, SettingsError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "EXPORT_TIMEOUT",
    "SHUTDOWN_TIMEOUT",
    "RequestSpan",
    "Tracing",
    "activate",
    "child_span",
    "create_tracing",
    "deactivate",
]

AttributeValue = str | bool | int | float

# One export attempt (retries included) gives up after this: the exporter thread must not sit on
# a dead collector while the queue fills. Flushing at shutdown gets SHUTDOWN_TIMEOUT in all.
EXPORT_TIMEOUT = 3.0
SHUTDOWN_TIMEOUT = 5.0
MAX_QUEUE_SIZE = 2048
SCHEDULE_DELAY_MILLIS = 1000
MISSING_EXTRA = "tracing needs the otel extra: pip install 'spoke[otel]'"

# Exceptions that are answers, not failures (a cache miss, a version that does not exist): a span
# that ends with one of them is not marked as an error.
_NOT_FOUND = (LookupError, FileNotFoundError)

_NULL: AbstractContextManager[None] = nullcontext()
_ACTIVE: ContextVar[Tracing | None] = ContextVar("spoke_tracing", default=None)


@dataclass(frozen=True, slots=True)
class RequestSpan:
    """The server span of one request, and what undoes its activation."""

    span: Span
    token: object  # an opentelemetry.context token
    trace_id: str
    span_id: str


class Tracing:
    """The application's tracer provider, tracer and W3C trace-context propagator."""

    def __init__(self, provider: TracerProvider) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self._tracer: Tracer = provider.get_tracer("spoke")
        self._propagator = TraceContextTextMapPropagator()
        self._context = context
        self._trace = trace
        self._server = trace.SpanKind.SERVER
        self._internal = trace.SpanKind.INTERNAL
        self._error = trace.StatusCode.ERROR
        self._closed = False

    # Request spans -----------------------------------------------------------------------------

    def start_request(
        self, name: str, headers: Mapping[str, str], attributes: Mapping[str, AttributeValue]
    ) -> RequestSpan:
        """Start and activate the server span of a request. ``headers`` are the request's, with
        lower-case names: ``traceparent``/``tracestate`` make the span a child of the caller's."""
        parent = self._propagator.extract(carrier=headers)
        span = self._tracer.start_span(
            name, context=parent, kind=self._server, attributes=dict(attributes)
        )
        token = self._context.attach(self._trace.set_span_in_context(span, parent))
        span_context = span.get_span_context()
        return RequestSpan(
            span=span,
            token=token,
            trace_id=format(span_context.trace_id, "032x"),
            span_id=format(span_context.span_id, "016x"),
        )

    def end_request(
        self, request: RequestSpan, *, name: str, status: int, attributes: Mapping[str, Any]
    ) -> None:
        """Name the span after its route, record the status, end it and deactivate it."""
        span = request.span
        try:
            span.update_name(name)
            span.set_attributes(dict(attributes))
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_attribute("error.type", str(status))
                span.set_status(self._error)
            span.end()
        finally:
            self._context.detach(request.token)  # type: ignore[arg-type]

    # Child spans -------------------------------------------------------------------------------

    def child(
        self, name: str, attributes: Mapping[str, AttributeValue] | None = None
    ) -> AbstractContextManager[None]:
        """A span under the current one; a no-op outside a sampled request (a background job
        starts no trace of its own for each storage call)."""
        if not self._trace.get_current_span().is_recording():
            return _NULL
        return self._child(name, attributes)

    @contextmanager
    def _child(self, name: str, attributes: Mapping[str, AttributeValue] | None) -> Iterator[None]:
        span = self._tracer.start_span(name, kind=self._internal, attributes=attributes)
        token = self._context.attach(self._trace.set_span_in_context(span))
        try:
            yield
        except BaseException as exc:
            # The type only: a driver's message may quote a host, a key or a URL.
            span.set_attribute("error.type", type(exc).__qualname__)
            if not isinstance(exc, _NOT_FOUND) and not _is_client_error(exc):
                span.set_status(self._error)
            raise
        finally:
            self._context.detach(token)
            span.end()

    # Shutdown ----------------------------------------------------------------------------------

    def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT) -> bool:
        """Export what is queued and stop the exporter, waiting at most ``timeout`` seconds.

        The SDK's own shutdown may wait much longer for a collector that does not answer, so it
        runs on a daemon thread that is abandoned past the deadline. Returns whether it finished.
        """
        if self._closed:
            return True
        self._closed = True
        worker = threading.Thread(
            target=self.provider.shutdown, name="spoke-otel-shutdown", daemon=True
        )
        worker.start()
        worker.join(timeout)
        return not worker.is_alive()


def _is_client_error(exc: BaseException) -> bool:
    status = getattr(exc, "status", None)
    return isinstance(status, int) and 400 <= status < 500


def create_tracing(settings: Settings) -> Tracing | None:
    """The tracing the settings ask for: ``None`` when disabled.

    Raises :class:`SettingsError` naming SPOKE_OTEL_ENABLED when the ``otel`` extra is missing.
    Nothing here contacts the collector: the exporter connects lazily, from its own thread.
    """
    if not settings.otel_enabled:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError:
        raise SettingsError("SPOKE_OTEL_ENABLED", MISSING_EXTRA) from None

    assert settings.otel_endpoint is not None  # Settings checks it when tracing is on
    exporter = OTLPSpanExporter(
        endpoint=settings.otel_endpoint,
        insecure=settings.otel_insecure,
        timeout=EXPORT_TIMEOUT,
    )
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": settings.otel_service_name,
                "service.version": settings.otel_service_version,
            }
        ),
        sampler=ParentBased(TraceIdRatioBased(settings.otel_sample_ratio)),
        # Shutdown is Spoke's to do, bounded (Tracing.shutdown); the SDK's exit hook is not.
        shutdown_on_exit=False,
    )
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter,
            max_queue_size=MAX_QUEUE_SIZE,
            schedule_delay_millis=SCHEDULE_DELAY_MILLIS,
            export_timeout_millis=EXPORT_TIMEOUT * 1000,
        )
    )
    return Tracing(provider)


def activate(tracing: Tracing | None) -> Token[Tracing | None]:
    """Make ``tracing`` the one :func:`child_span` uses in this context (one request)."""
    return _ACTIVE.set(tracing)


def deactivate(token: Token[Tracing | None]) -> None:
    """Undo :func:`activate`."""
    _ACTIVE.reset(token)


def child_span(
    name: str, attributes: Mapping[str, AttributeValue] | None = None
) -> AbstractContextManager[None]:
    """A child span of the current request's span, or a no-op when nothing is traced."""
    tracing = _ACTIVE.get()
    if tracing is None:
        return _NULL
    return tracing.child(name, attributes)
