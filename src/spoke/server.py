"""Serving: two waitress listeners (API and health) in one process, one event loop.

Both servers share a socket map, so a single loop thread accepts and writes for both while each
has its own worker threads: a burst of slow API requests can never starve the probes.

On SIGTERM or SIGINT readiness turns 503 at once, the listening sockets close (new connections
are refused), requests in flight are allowed to finish for up to SPOKE_SHUTDOWN_TIMEOUT, then
the workers stop and the backends are closed.
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

__all__ = ["SpokeServer"]

log = logging.getLogger(__name__)
_LOOP_TICK = 0.25


class SpokeServer:
    """The two listeners of one application. ``serve_forever`` blocks until a signal."""

    def __init__(self, application: Application) -> None:
        settings = application.settings
        self.application = application
        self._map: dict[int, Any] = {}
        self._stop = threading.Event()
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
        """Ask the loop to shut down gracefully; safe from any thread or a signal handler."""
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
        # Stop accepting: close both listening sockets, keep the connections already open.
        for server in (self.api_server, self.health_server):
            server.accepting = False
            server.del_channel()
            server.socket.close()
        deadline = time.monotonic() + self.application.settings.shutdown_timeout
        while time.monotonic() < deadline and self._busy_channels():
            wasyncore.loop(timeout=0.05, map=self._map, count=1)
        busy = self._busy_channels()
        if busy:
            log.warning("shutdown timeout reached with %d request(s) in flight", busy)

    def _busy_channels(self) -> int:
        return sum(
            1
            for channel in list(self._map.values())
            if isinstance(channel, HTTPChannel)
            and (channel.requests or channel.total_outbufs_len or channel.request is not None)
        )

    def _close(self) -> None:
        for channel in list(self._map.values()):
            if isinstance(channel, HTTPChannel):
                channel.close()
        for server in (self.api_server, self.health_server):
            server.task_dispatcher.shutdown(timeout=1)
            server.trigger.close()
        self.application.close()
        log.info("stopped")
