"""Serving: two waitress listeners (API and health) in one process, one event loop.

Both servers share a socket map, so a single loop thread accepts and writes for both while each
has its own worker threads: a burst of slow API requests can never starve the probes.

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
import threading
import time
from types import FrameType
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server

from spoke.api.app import Application
from spoke.logs import flush_logs
from spoke.tracing import SHUTDOWN_TIMEOUT

__all__ = ["MIN_FLUSH", "SpokeServer"]

log = logging.getLogger(__name__)
_LOOP_TICK = 0.25
# The trace exporter gets at least this long to flush, even when requests used the whole
# shutdown timeout: the spans of those requests are the ones most worth having.
MIN_FLUSH = 0.5


class SpokeServer:
    """The two listeners of one application. ``serve_forever`` blocks until a signal."""

    def __init__(self, application: Application) -> None:
        settings = application.settings
        self.application = application
        self._map: dict[int, Any] = {}
        self._stop = threading.Event()
        self._deadline: float | None = None
        common = {"host": settings.host, "ident": "spoke", "clear_untrusted_proxy_headers": True}
        self.api_server = create_server(
            application.api,
            map=self._map,
            port=settings.port,
            threads=settings.threads,
            max_request_body_size=settings.max_body_bytes + 1024,
            **common,
        )
        self.health_server = create_server(
            application.health, map=self._map, port=settings.health_port, threads=2, **common
        )
        dispatcher = self.api_server.task_dispatcher
        application.metrics.track_queue_depth(lambda: len(dispatcher.queue))
        # waitress logs a warning for every request that has to wait for a worker, from the one
        # thread doing all socket I/O; under load that costs throughput and floods the logs. The
        # queue depth is exported as spoke_http_queue_depth instead.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    @property
    def api_port(self) -> int:
        """The bound API port (useful when the settings asked for an ephemeral one)."""
        return int(self.api_server.effective_port)

    @property
    def health_port(self) -> int:
        """The bound health port."""
        return int(self.health_server.effective_port)

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
        """Serve until :meth:`stop`, then drain and close everything."""
        log.info(
            "serving API on %s:%d, health and metrics on %s:%d",
            self.application.settings.host,
            self.api_port,
            self.application.settings.host,
            self.health_port,
        )
        try:
            while not self._stop.is_set():
                wasyncore.loop(timeout=_LOOP_TICK, map=self._map, count=1)
            self._drain()
        finally:
            self._close()

    def _drain(self) -> None:
        # Stop accepting API connections; keep those already open, and the health listener.
        self._close_listener(self.api_server)
        deadline = self._deadline or time.monotonic()
        in_flight = self._busy_channels(api_only=True)
        log.info("draining %d request(s) in flight", in_flight)
        while time.monotonic() < deadline and self._busy_channels(api_only=True):
            wasyncore.loop(timeout=0.05, map=self._map, count=1)
        busy = self._busy_channels(api_only=True)
        if busy:
            log.warning("shutdown timeout reached with %d request(s) in flight", busy)
        self._close_listener(self.health_server)
        # Answers to probes that arrived meanwhile: a moment to send them, no more.
        grace = time.monotonic() + 0.5
        while time.monotonic() < grace and self._busy_channels():
            wasyncore.loop(timeout=0.05, map=self._map, count=1)

    @staticmethod
    def _close_listener(server: Any) -> None:
        server.accepting = False
        server.del_channel()
        server.socket.close()

    def _busy_channels(self, *, api_only: bool = False) -> int:
        return sum(
            1
            for channel in list(self._map.values())
            if isinstance(channel, HTTPChannel)
            and (not api_only or channel.server is self.api_server)
            and (channel.requests or channel.total_outbufs_len or channel.request is not None)
        )

    def _close(self) -> None:
        for channel in list(self._map.values()):
            if isinstance(channel, HTTPChannel):
                channel.close()
        for server in (self.api_server, self.health_server):
            server.task_dispatcher.shutdown(timeout=1)
            server.trigger.close()
        remaining = (self._deadline or time.monotonic()) - time.monotonic()
        self.application.close(flush_timeout=min(SHUTDOWN_TIMEOUT, max(MIN_FLUSH, remaining)))
        log.info("stopped")
        flush_logs()
