"""Logging: one JSON object per line (or plain text) on standard output.

Lines are written by a :class:`LineSink`: appended to a buffer under a lock and written out by
a background thread every :data:`FLUSH_INTERVAL` seconds (at once for warnings and errors, and
when the buffer grows past :data:`FLUSH_BYTES`), so a request pays for formatting its access
line, not for a write system call and a flush. At exit and at the end of a graceful shutdown
the buffer is flushed; a process killed outright loses at most the last fraction of a second.

Every line written while a request is handled carries that request's id (and its trace and span
ids when it is traced): the request middleware puts a :class:`RequestLogContext` in a context
variable (:func:`bind_request`) and a filter on the handler copies it onto each record. A context
variable, not a thread-local, because that is what follows the request wherever it runs.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import sys
import threading
import time
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import NamedTuple, TextIO

__all__ = [
    "AccessLog",
    "LineSink",
    "RequestLogContext",
    "bind_request",
    "configure_logging",
    "current_request",
    "flush_logs",
    "unbind_request",
]

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged as a field.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RequestLogContext(NamedTuple):
    """What every log line of one request carries (a tuple: one is built per request, and a
    frozen dataclass costs several times as much to build)."""

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


FLUSH_INTERVAL = 0.2
FLUSH_BYTES = 256 * 1024


class LineSink:
    """Buffered, thread-safe writing of whole lines to a text stream; see the module docstring."""

    def __init__(self, stream: TextIO, *, interval: float = FLUSH_INTERVAL) -> None:
        self._stream = stream
        self._interval = interval
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[str] = []
        self._size = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="spoke-log-flush", daemon=True)
        self._thread.start()

    def write(self, line: str, *, urgent: bool = False) -> None:
        """Queue ``line`` (without its newline); ``urgent`` writes it out before returning."""
        with self._lock:
            if self._closed:
                self._write_now([line])
                return
            self._pending.append(line)
            self._size += len(line)
            if self._size >= FLUSH_BYTES:
                self._wake.notify()
        if urgent:
            self.flush()

    def flush(self) -> None:
        """Write out everything queued so far."""
        with self._lock:
            lines, self._pending, self._size = self._pending, [], 0
        self._write_now(lines)

    def close(self) -> None:
        """Flush and stop the background thread. Later lines are written at once."""
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=2)
        self.flush()

    def _write_now(self, lines: list[str]) -> None:
        if not lines:
            return
        try:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout must not break requests
            pass

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._closed and self._size < FLUSH_BYTES:
                    self._wake.wait(self._interval)
                closed = self._closed
            self.flush()
            if closed:
                return


class SinkHandler(logging.Handler):
    """A logging handler writing formatted records to a :class:`LineSink`; warnings and errors
    are written out before the call returns."""

    def __init__(self, sink: LineSink) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.sink.write(line, urgent=record.levelno >= logging.WARNING)

    def flush(self) -> None:
        self.sink.flush()


class AccessLog:
    """One line per API request, formatted here rather than through a ``LogRecord``.

    When :func:`configure_logging` set up Spoke's handler, access lines are formatted directly
    into its sink (the same fields, in the same JSON or text shape, as any other line); this
    costs a few microseconds where the logging machinery took about forty. Otherwise (an
    application embedded in another program, the tests) they go to the ``spoke.access`` logger
    like any other record.
    """

    def __init__(self) -> None:
        self._logger = logging.getLogger("spoke.access")
        handler = next(
            (h for h in logging.getLogger().handlers if isinstance(h, SinkHandler)), None
        )
        self._handler = handler
        self._json = handler is not None and isinstance(handler.formatter, JsonFormatter)

    @property
    def enabled(self) -> bool:
        return self._logger.isEnabledFor(logging.INFO)

    _second: int = -1
    _second_text: str = ""

    def _timestamp(self, now: float) -> str:
        """``2026-11-27T08:40:44.123+00:00``, as ``isoformat(timespec="milliseconds")``; the
        part up to the second is formatted once per second."""
        second = int(now)
        if second != self._second:
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._second_text}.{int((now - second) * 1000):03d}+00:00"

    def write(self, message: str, fields: dict[str, object]) -> None:
        """Log ``message`` at info with ``fields`` (JSON-serializable scalars)."""
        handler = self._handler
        if handler is None or self._logger.handlers or not self._logger.propagate:
            self._logger.info("%s", message, extra=fields)
            return
        now = time.time()
        if self._json:
            # The same object JsonFormatter writes, encoded field by field: the fields are
            # strings and numbers, and json.dumps' encoder set-up costs more than the encoding.
            parts = [
                f'{{"timestamp": "{self._timestamp(now)}", "level": "info", '
                f'"logger": "spoke.access", "message": {_encode(message)}'
            ]
            for key, value in fields.items():
                parts.append(f", {_encode(key)}: {_encode(value)}")
            parts.append("}")
            line = "".join(parts)
        else:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
            extra = " ".join(f"{key}={value}" for key, value in fields.items())
            line = f"{stamp},{int(now * 1000) % 1000:03d} INFO spoke.access: {message} {extra}"
        handler.sink.write(line)


def _encode(value: object) -> str:
    """One JSON value, as ``json.dumps`` would write it for a string, number, bool or None."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return repr(value)
    if isinstance(value, float):
        return json.dumps(value)
    return encode_basestring_ascii(str(value))


def configure_logging(*, level: str, fmt: str) -> None:
    """Send Spoke's and waitress's logs to standard output in ``fmt`` (``json`` or ``text``).

    Standard output, not standard error: protoc runs inside the process and its diagnostics are
    captured from file descriptor 2 while it runs. Calling it again replaces the handler (and
    flushes and stops the previous one's sink).
    """
    root = logging.getLogger()
    for old in root.handlers:
        if isinstance(old, SinkHandler):
            old.sink.close()
    sink = LineSink(sys.stdout)
    atexit.register(sink.close)
    handler = SinkHandler(sink)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestContextFilter())
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # While a collector is down the OTLP exporter warns before each retry, several lines a second;
    # the error it logs when an export finally fails says the same once.
    logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter").setLevel(logging.ERROR)


def flush_logs() -> None:
    """Write out every buffered line now (the end of a graceful shutdown)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
