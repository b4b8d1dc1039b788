"""How an archive download's body leaves the app: a stream for ``wsgi.file_wrapper``.

The download resource hands waitress a file-like body (``resp.stream`` with an explicit
``Content-Length``) rather than ``resp.data``: waitress then sends it as it is, where it would
copy ``bytes`` into its output buffer, and past 1 MiB into a temporary file, on every request
(``benchmarks/bench_codegen.py``, ``docs/benchmarks.md``). These tests hold the framing of such a
body to account on a real waitress listener, and check that the app really returns the server's
file wrapper.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import threading
import zipfile
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest
from waitress import create_server, wasyncore
from waitress.buffers import ReadOnlyFileBasedBuffer
from waitress.channel import HTTPChannel

from spoke.api.app import Application

from .conftest import API, SpokeClient, make_app, message, proto, push_ok

MODULE = "bodies"
# Enough files, with field names that do not compress, for a zip of several SO_SNDBUF-sized
# (16 KiB) sends.
PATHS = [f"bodies/p{i}/v1/api.proto" for i in range(40)]


def _files() -> dict[str, str]:
    def fields(i: int) -> list[str]:
        return [
            "string f_" + hashlib.sha256(f"{i}.{j}".encode()).hexdigest()[:24] for j in range(40)
        ]

    return {
        path: proto(f"bodies.p{i}.v1", message(f"Thing{i}", *fields(i)))
        for i, path in enumerate(PATHS)
    }


@pytest.fixture
def bodies_app() -> Iterator[Application]:
    application = make_app()
    client = SpokeClient(application.api)
    push_ok(client, MODULE, "1.0.0", _files())
    yield application
    application.close()


@pytest.fixture
def listener(bodies_app: Application) -> Iterator[int]:
    """A waitress listener for the app on a free loopback port, as ``spoke serve`` runs one."""
    sockets: dict[int, Any] = {}
    server = create_server(bodies_app.api, host="127.0.0.1", port=0, threads=2, map=sockets)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=sockets, count=1)

    thread = threading.Thread(target=loop, name="test-waitress", daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        stop.set()
        thread.join(timeout=5)
        for channel in list(sockets.values()):
            if isinstance(channel, HTTPChannel):
                channel.close()
        server.close()
        server.task_dispatcher.shutdown(timeout=1)
        server.trigger.close()


def _url(lang: str = "python") -> str:
    return f"{API}/modules/{MODULE}/versions/1.0.0/download/{lang}"


def test_the_app_returns_the_servers_file_wrapper(bodies_app: Application) -> None:
    expected = SpokeClient(bodies_app.api).simulate_get(_url())
    assert expected.status_code == 200
    environ = falcon.testing.create_environ(path=_url(), method="GET")
    environ["wsgi.file_wrapper"] = ReadOnlyFileBasedBuffer
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started["status"] = status
        started["headers"] = {name.lower(): value for name, value in headers}

    body = bodies_app.api(environ, start_response)
    assert isinstance(body, ReadOnlyFileBasedBuffer)
    assert started["status"].startswith("200")
    length = int(started["headers"]["content-length"])
    assert length == len(expected.content) and body.prepare(length) == length
    assert b"".join(body) == expected.content
    body.close()


def test_downloads_on_a_real_listener_are_complete_and_keep_the_connection(
    bodies_app: Application, listener: int
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", listener, timeout=30)
    try:
        bodies = []
        for _ in range(2):
            conn.request("GET", _url())
            response = conn.getresponse()
            data = response.read()
            assert response.status == 200
            assert int(response.getheader("Content-Length")) == len(data)
            assert response.getheader("ETag") == f'"{hashlib.sha256(data).hexdigest()}"'
            assert response.getheader("Content-Type") == "application/zip"
            bodies.append(data)
        assert bodies[0] == bodies[1]
        assert len(bodies[0]) > 3 * 16384, "the archive should take several sends"
        names = zipfile.ZipFile(io.BytesIO(bodies[0])).namelist()
        assert "bodies/p0/v1/api_pb2.py" in names

        # The same connection still frames the next answers right: a 304, then a file.
        etag = f'"{hashlib.sha256(bodies[0]).hexdigest()}"'
        conn.request("GET", _url(), headers={"If-None-Match": etag})
        not_modified = conn.getresponse()
        assert not_modified.status == 304 and not_modified.read() == b""
        conn.request("GET", f"{API}/modules/{MODULE}/versions/1.0.0/files/{PATHS[0]}")
        file_answer = conn.getresponse()
        assert file_answer.status == 200 and b'"content"' in file_answer.read()
    finally:
        conn.close()
