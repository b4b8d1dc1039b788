"""A real ``spoke serve``: nothing on the API port can starve the health listener, and the HTTP
server's own refusals (from the request line and headers, before the API) are JSON envelopes."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from spoke_process import RunningServer, start_server

pytestmark = pytest.mark.slow

DEFAULT_LIMIT = 100  # SPOKE_CONNECTION_LIMIT's default
_HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "
HUGE_HEADER = _HEAD + b"a" * (256 * 1024 - len(_HEAD))


@pytest.fixture
def limited_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server with the default connection limit and a 64 KiB body limit."""
    server = start_server(tmp_path, {"SPOKE_MAX_BODY_BYTES": "64KiB"})
    yield server
    server.process.terminate()
    server.process.wait(timeout=30)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _probe(server: RunningServer, path: str = "/health/live") -> float:
    """Seconds a fresh connection to the health port takes to answer ``path`` with 200."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", _port(server.health), timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 200
    finally:
        connection.close()
    return time.monotonic() - started


ONE_LINE = b"GET /api/v1/modules HTTP/1.1\r\n"  # and then nothing
WHOLE_REQUEST = b"GET /api/v1/modules HTTP/1.1\r\nHost: x\r\n\r\n"


def _hold(stack: ExitStack, server: RunningServer, count: int, sent: bytes) -> None:
    """Open ``count`` connections to the API (closed with ``stack``), each sending ``sent``."""
    for _ in range(count):
        sock = stack.enter_context(
            socket.create_connection(("127.0.0.1", _port(server.api)), timeout=5)
        )
        sock.sendall(sent)
    time.sleep(0.5)  # let the server accept what it will


def test_idle_connections_at_twice_the_api_limit_leave_the_probes_answering(
    limited_server: RunningServer,
) -> None:
    with ExitStack() as stack:
        _hold(stack, limited_server, 2 * DEFAULT_LIMIT, ONE_LINE)
        durations = [_probe(limited_server) for _ in range(10)]
        durations += [_probe(limited_server, "/health/ready") for _ in range(5)]
        durations.append(_probe(limited_server, "/metrics"))
    assert max(durations) < 1.0, durations


def test_keep_alive_clients_above_the_api_limit_leave_the_probes_answering(
    limited_server: RunningServer,
) -> None:
    with ExitStack() as stack:
        # A whole request on each keep-alive connection: the first hundred are answered and stay
        # open, the others wait in the kernel's queue.
        _hold(stack, limited_server, 2 * DEFAULT_LIMIT, WHOLE_REQUEST)
        durations = [_probe(limited_server) for _ in range(10)]
    assert max(durations) < 1.0, durations


def test_the_api_serves_at_most_its_connection_limit(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"SPOKE_CONNECTION_LIMIT": "5"})
    try:
        with ExitStack() as idle:
            _hold(idle, server, 5, ONE_LINE)
            waiting = socket.create_connection(("127.0.0.1", _port(server.api)), timeout=1)
            waiting.sendall(WHOLE_REQUEST)
            # Past the limit the connection waits in the kernel's queue: no answer comes.
            with pytest.raises(TimeoutError):
                waiting.recv(1024)
            assert _probe(server) < 1.0
        # Once the others are closed, it is served.
        waiting.settimeout(30)
        assert waiting.recv(1024).startswith(b"HTTP/1.1 200")
        waiting.close()
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)


def test_an_idle_connection_is_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"SPOKE_IDLE_TIMEOUT": "1s"})
    try:
        with socket.create_connection(("127.0.0.1", _port(server.api)), timeout=30) as sock:
            sock.sendall(ONE_LINE)
            assert sock.recv(1024) == b""  # the server closed it
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)


def test_the_connection_gauge_shows_open_api_connections(limited_server: RunningServer) -> None:
    with ExitStack() as stack:
        _hold(stack, limited_server, 5, ONE_LINE)
        status, metrics = limited_server.request("GET", f"{limited_server.health}/metrics")
    assert status == 200
    gauge = next(
        line for line in metrics.splitlines() if line.startswith("spoke_http_connections ")
    )
    assert float(gauge.split()[1]) >= 5


def _raw(server: RunningServer, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and headers, no body) and read the answer."""
    with socket.create_connection(("127.0.0.1", _port(server.api)), timeout=10) as sock:
        sock.sendall(head)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    header, _, body = data.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def test_a_declared_length_over_the_limit_is_refused_from_the_header_as_json(
    limited_server: RunningServer,
) -> None:
    # The body is never sent: the answer comes from the header alone.
    status, headers, body = _raw(
        limited_server,
        b"POST /api/v1/modules HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 65537\r\n\r\n",
    )
    assert status == 413
    assert headers["content-type"] == "application/json"
    envelope = json.loads(body)
    assert envelope["code"] == "payload_too_large"
    assert envelope["details"] == {"max_bytes": 65536}
    assert "65536" in envelope["error"]


@pytest.mark.parametrize(
    ("head", "status", "code"),
    [
        (b"GARBAGE\r\n\r\n", 400, "invalid_request"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400, "invalid_request"),
        # Exactly waitress' header limit (256 KiB), unterminated: all of it is read before the
        # answer, so the connection closes cleanly instead of being reset with bytes unread.
        (HUGE_HEADER, 431, "headers_too_large"),
        (
            b"POST /api/v1/modules HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
            "not_implemented",
        ),
    ],
)
def test_the_http_servers_own_refusals_are_error_envelopes(
    limited_server: RunningServer, head: bytes, status: int, code: str
) -> None:
    answered, headers, body = _raw(limited_server, head)
    assert answered == status
    assert headers["content-type"] == "application/json"
    envelope = json.loads(body)
    assert set(envelope) == {"error", "code", "details"}
    assert envelope["code"] == code
    assert len(body) < 1024  # nothing of the request is echoed


def test_refusals_are_counted(limited_server: RunningServer) -> None:
    _raw(limited_server, b"GARBAGE\r\n\r\n")
    _, metrics = limited_server.request("GET", f"{limited_server.health}/metrics")
    assert 'spoke_http_rejected_requests_total{status="400"} 1.0' in metrics
