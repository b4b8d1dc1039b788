"""Serving: two waitress listeners (API and health) in one process, each on its own loop.

Each listener is a waitress server with its own socket map, its own event-loop thread, its own
worker threads and its own connection limit. Nothing of the API's traffic can hold up a probe: a
client that opens ``SPOKE_CONNECTION_LIMIT`` idle connections to the API fills the API's map and
only the API stops accepting, while the health loop keeps answering on its own thread.

On SIGTERM or SIGINT readiness turns 503 at once and the API's listening socket closes (new
connections are refused); requests in flight may finish for up to SPOKE_SHUTDOWN_TIMEOUT. The
health listener stays open while they do, so probes read that 503 (and liveness 200) instead of a
refused connection, and /metrics still answers; it closes when the drain ends. Then the workers
stop, the backends close and the trace exporter flushes with whatever time the shutdown timeout
leaves (at least :data:`MIN_FLUSH` seconds, at most :data:`spoke.tracing.SHUTDOWN_TIMEOUT`).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from types import FrameType
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server

from spoke.api.app import Application
from spoke.api.wire import JsonErrorChannel
from spoke.logs import flush_logs
from spoke.tracing import SHUTDOWN_TIMEOUT

__all__ = [
    "HEALTH_CONNECTION_LIMIT",
    "MIN_FLUSH",
    "SELECT_CONNECTION_LIMIT",
    "ListenError",
    "SpokeServer",
]

log = logging.getLogger(__name__)
_LOOP_TICK = 0.25
# The trace exporter gets at least this long to flush, even when requests used the whole
# shutdown timeout: the spans of those requests are the ones most worth having.
MIN_FLUSH = 0.5
# The health listener's own limits. Its clients are the kubelet and Prometheus, a handful of
# short requests; an idle connection there is closed after a few seconds.
HEALTH_CONNECTION_LIMIT = 32
HEALTH_IDLE_TIMEOUT = 10
HEALTH_THREADS = 2
# select() is the cheaper of waitress's two loops (poll() re-registers every socket on every
# round: about 9 % more CPU per request on a cached GET), but it cannot watch a descriptor
# numbered 1024 or more. Below this many API connections the process's descriptors stay far
# from that; above it both listeners use poll().
SELECT_CONNECTION_LIMIT = 512


class ListenError(OSError):
    """A listener could not bind. Its message names the address and the setting to change:
    ``cannot listen on 0.0.0.0:8080 (SPOKE_PORT): Address already in use``."""

    def __init__(self, host: str, port: int, setting: str, cause: OSError) -> None:
        if isinstance(cause, socket.gaierror):
            setting = "SPOKE_HOST"  # the host does not resolve: that is the one to change
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        reason = cause.strerror or str(cause)
        super().__init__(cause.errno, f"cannot listen on {address} ({setting}): {reason}")
        self.host, self.port, self.setting = host, port, setting

    def __str__(self) -> str:
        return str(self.strerror)


class _Listener:
    """One waitress server, its socket map and the thread running its event loop."""

    def __init__(
        self, name: str, app: Any, *, setting: str, use_poll: bool, **options: Any
    ) -> None:
        self.name = name
        self.map: dict[int, Any] = {}
        self.use_poll = use_poll
        host, port = options["host"], options["port"]
        try:
            self.server: Any = create_server(
                app, map=self.map, asyncore_use_poll=use_poll, **options
            )
        except OSError as exc:
            raise ListenError(host, port, setting, exc) from exc
        except ValueError as exc:  # waitress's word for a host that does not resolve
            unresolved = socket.gaierror(socket.EAI_NONAME, "the host does not resolve")
            raise ListenError(host, port, setting, unresolved) from exc
        # waitress's own refusals (malformed request, body or headers too large) in Spoke's
        # error envelope instead of text/plain.
        self.server.channel_class = JsonErrorChannel
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    def poll(self, timeout: float) -> None:
        """Run one round of this listener's event loop."""
        wasyncore.loop(timeout=timeout, map=self.map, use_poll=self.use_poll, count=1)

    def start_thread(self) -> None:
        """Run the event loop on a thread of its own until :meth:`stop_thread`."""
        self._thread = threading.Thread(
            target=self._run, name=f"spoke-{self.name}-loop", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll(_LOOP_TICK)

    def stop_thread(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=_LOOP_TICK * 4 + 1)

    def close_listening_socket(self) -> None:
        """Stop accepting connections; those already open keep being served."""
        self.server.accepting = False
        self.server.del_channel()
        self.server.socket.close()

    def open_connections(self) -> int:
        """Connections open on this listener."""
        return sum(1 for channel in list(self.map.values()) if isinstance(channel, HTTPChannel))

    def busy_channels(self) -> int:
        """Connections with a request being read, handled or answered."""
        return sum(
            1
            for channel in list(self.map.values())
            if isinstance(channel, HTTPChannel)
            and (channel.requests or channel.total_outbufs_len or channel.request is not None)
        )

    def close(self) -> None:
        for channel in list(self.map.values()):
            if isinstance(channel, HTTPChannel):
                channel.close()
        self.server.task_dispatcher.shutdown(timeout=1)
        self.server.trigger.close()


class SpokeServer:
    """The two listeners of one application. ``serve_forever`` blocks until a signal."""

    def __init__(self, application: Application) -> None:
        settings = application.settings
        self.application = application
        self._stop = threading.Event()
        self._deadline: float | None = None
        common = {"host": settings.host, "ident": "spoke", "clear_untrusted_proxy_headers": True}
        idle = max(1, round(settings.idle_timeout))
        use_poll = settings.connection_limit > SELECT_CONNECTION_LIMIT
        self.api = _Listener(
            "api",
            application.api,
            setting="SPOKE_PORT",
            use_poll=use_poll,
            port=settings.port,
            threads=settings.threads,
            connection_limit=settings.connection_limit,
            channel_timeout=idle,
            cleanup_interval=max(1, min(30, idle // 2)),
            # Declared lengths above the limit are refused from the header, before any byte of
            # the body is read (waitress refuses lengths >= this value).
            max_request_body_size=settings.max_body_bytes + 1,
            **common,
        )
        try:
            self.health = _Listener(
                "health",
                application.health,
                setting="SPOKE_HEALTH_PORT",
                use_poll=use_poll,
                port=settings.health_port,
                threads=HEALTH_THREADS,
                connection_limit=HEALTH_CONNECTION_LIMIT,
                channel_timeout=HEALTH_IDLE_TIMEOUT,
                cleanup_interval=max(1, HEALTH_IDLE_TIMEOUT // 2),
                max_request_body_size=64 * 1024,
                **common,
            )
        except OSError:
            self.api.close_listening_socket()
            self.api.close()
            raise
        for listener in (self.api, self.health):
            listener.server.spoke_metrics = application.metrics
        dispatcher = self.api.server.task_dispatcher
        application.metrics.track_queue_depth(lambda: len(dispatcher.queue))
        application.metrics.track_connections(lambda: self.api.open_connections())
        # waitress logs a warning for every request that has to wait for a worker, from the one
        # thread doing all socket I/O; under load that costs throughput and floods the logs. The
        # queue depth is exported as spoke_http_queue_depth instead.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    @property
    def api_port(self) -> int:
        """The bound API port (useful when the settings asked for an ephemeral one)."""
        return self.api.port

    @property
    def health_port(self) -> int:
        """The bound health port."""
        return self.health.port

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT start a graceful shutdown (main thread only)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        self.stop()

    def stop(self) -> None:
        """Ask the loop to shut down gracefully; safe from any thread or a signal handler.

        The shutdown timeout counts from the first call."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self.application.settings.shutdown_timeout
        self.application.readiness.begin_shutdown()
        self._stop.set()

    def serve_forever(self) -> None:
        """Serve until :meth:`stop`, then drain and close everything.

        The health listener runs on a thread of its own; the API's loop runs in the caller."""
        settings = self.application.settings
        log.info(
            "serving API on %s:%d (at most %d connections), health and metrics on %s:%d",
            settings.host,
            self.api_port,
            settings.connection_limit,
            settings.host,
            self.health_port,
        )
        self.health.start_thread()
        # Worker processes start now, so the first push does not wait for them.
        self.application.work.start()
        try:
            while not self._stop.is_set():
                self.api.poll(_LOOP_TICK)
            self._drain()
        finally:
            self._close()

    def _drain(self) -> None:
        # Stop accepting API connections; keep those already open, and the health listener.
        self.api.close_listening_socket()
        deadline = self._deadline or time.monotonic()
        log.info("draining %d request(s) in flight", self.api.busy_channels())
        while time.monotonic() < deadline and self.api.busy_channels():
            self.api.poll(0.05)
        busy = self.api.busy_channels()
        if busy:
            log.warning("shutdown timeout reached with %d request(s) in flight", busy)
        # Answers to probes that arrived meanwhile: a moment to send them, no more.
        self.health.close_listening_socket()
        grace = time.monotonic() + 0.5
        while time.monotonic() < grace and self.health.busy_channels():
            time.sleep(0.05)

    def _close(self) -> None:
        self.health.stop_thread()
        for listener in (self.api, self.health):
            listener.close()
        remaining = (self._deadline or time.monotonic()) - time.monotonic()
        self.application.close(flush_timeout=min(SHUTDOWN_TIMEOUT, max(MIN_FLUSH, remaining)))
        log.info("stopped")
        flush_logs()
