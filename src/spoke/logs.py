"""Logging: one JSON object per line (or plain text) on standard output.

Every line written while a request is handled carries that request's id (and its trace and span
ids when it is traced): the request middleware puts a :class:`RequestLogContext` in a context
variable (:func:`bind_request`) and a filter on the handler copies it onto each record. A context
variable, not a thread-local, because that is what follows the request wherever it runs.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "RequestLogContext",
    "bind_request",
    "configure_logging",
    "current_request",
    "unbind_request",
]

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged as a field.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@dataclass(frozen=True, slots=True)
class RequestLogContext:
    """What every log line of one request carries."""

    request_id: str
    trace_id: str | None = None
    span_id: str | None = None


_REQUEST: ContextVar[RequestLogContext | None] = ContextVar("spoke_request", default=None)


def bind_request(context: RequestLogContext) -> Token[RequestLogContext | None]:
    """From now on (in this context) log records carry ``context``'s ids."""
    return _REQUEST.set(context)


def unbind_request(token: Token[RequestLogContext | None]) -> None:
    """Undo :func:`bind_request`."""
    _REQUEST.reset(token)


def current_request() -> RequestLogContext | None:
    """The request being handled in this context, if any."""
    return _REQUEST.get()


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` (and ``trace_id``/``span_id``) to records logged during a request.

    Fields given explicitly with ``extra=`` win. It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        context = _REQUEST.get()
        if context is not None:
            fields = vars(record)
            fields.setdefault("request_id", context.request_id)
            if context.trace_id is not None:
                fields.setdefault("trace_id", context.trace_id)
                fields.setdefault("span_id", context.span_id)
        return True


def _extra_fields(record: logging.LogRecord) -> dict[str, object]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """``{"timestamp", "level", "logger", "message", ...extra fields, "exception"?}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_extra_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>: <message> key=value...`` for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = _extra_fields(record)
        if not extra:
            return text
        fields = " ".join(f"{key}={value}" for key, value in extra.items())
        head, newline, rest = text.partition("\n")  # keep a traceback below the line
        return f"{head} {fields}{newline}{rest}"


def configure_logging(*, level: str, fmt: str) -> None:
    """Send Spoke's and waitress's logs to standard output in ``fmt`` (``json`` or ``text``).

    Standard output, not standard error: protoc runs inside the process and its diagnostics are
    captured from file descriptor 2 while it runs.
    """
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # While a collector is down the OTLP exporter warns before each retry, several lines a second;
    # the error it logs when an export finally fails says the same once.
    logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter").setLevel(logging.ERROR)
