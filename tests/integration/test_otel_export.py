"""Traces from a real ``spoke serve`` to a real OTLP gRPC receiver started by the test."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from spoke_process import RunningServer, free_port, start_server

import spoke

pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra is not installed")
grpc = pytest.importorskip("grpc")
trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
trace_grpc = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc")

pytestmark = pytest.mark.slow

PROTO = 'syntax = "proto3";\npackage demo;\nmessage Ping { string id = 1; }\n'
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
SERVER_KIND = 2  # Span.SpanKind.SPAN_KIND_SERVER


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    status_code: int
    resource: dict[str, Any]


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def _attributes(key_values: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in key_values}


class Receiver(trace_grpc.TraceServiceServicer):  # type: ignore[misc,name-defined]
    """The collector's trace service, keeping every span it is sent."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[ReceivedSpan] = []

    def Export(self, request: Any, context: Any) -> Any:
        with self.lock:
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            ReceivedSpan(
                                name=span.name,
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex(),
                                kind=span.kind,
                                attributes=_attributes(span.attributes),
                                status_code=span.status.code,
                                resource=resource,
                            )
                        )
        return trace_service.ExportTraceServiceResponse()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    service = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_grpc.add_TraceServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield service, port
    finally:
        server.stop(grace=None)


def _otel_env(port: int) -> dict[str, str]:
    return {
        "SPOKE_OTEL_ENABLED": "true",
        "SPOKE_OTEL_ENDPOINT": f"http://127.0.0.1:{port}",
        "SPOKE_OTEL_INSECURE": "true",
        "SPOKE_OTEL_SERVICE_NAME": "spoke-under-test",
    }


def _stop(server: RunningServer) -> float:
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    return time.monotonic() - started


def test_spans_reach_a_real_otlp_receiver(tmp_path: Path, receiver: tuple[Receiver, int]) -> None:
    service, port = receiver
    server = start_server(tmp_path, _otel_env(port))
    try:
        api = f"{server.api}/api/v1"
        assert server.request("POST", f"{api}/modules", {"name": "demo"})[0] == 201
        push = {"version": "1.0.0", "files": [{"path": "demo/ping.proto", "content": PROTO}]}
        assert server.request("POST", f"{api}/modules/demo/versions", push)[0] == 201
        file_url = f"{api}/modules/demo/versions/1.0.0/files/demo/ping.proto"
        assert server.request("GET", file_url)[0] == 200
        traceparent = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "X-Request-ID": "traced-1"}
        assert server.request("GET", f"{api}/modules/demo", headers=traceparent)[0] == 200
        assert server.request("GET", f"{api}/modules/missing")[0] == 404
    finally:
        took = _stop(server)
    assert took < 10

    spans = list(service.spans)
    servers = {s.name: s for s in spans if s.kind == SERVER_KIND}
    # One server span per request, named by route template, with its status code.
    expected = {
        "POST /api/v1/modules": 201,
        "POST /api/v1/modules/{name}/versions": 201,
        "GET /api/v1/modules/{name}/versions/{version}/files/{path:path}": 200,
    }
    for name, status in expected.items():
        assert name in servers, sorted(servers)
        assert servers[name].attributes["http.response.status_code"] == status
        assert servers[name].attributes["http.route"] == name.split(" ", 1)[1]
    module_gets = sorted(
        (s for s in spans if s.name == "GET /api/v1/modules/{name}"),
        key=lambda s: s.attributes["http.response.status_code"],
    )
    assert [s.attributes["http.response.status_code"] for s in module_gets] == [200, 404]

    # The incoming traceparent: same trace, the caller's span as parent.
    traced = module_gets[0]
    assert traced.trace_id == TRACE_ID
    assert traced.parent_span_id == PARENT_ID
    assert traced.attributes["spoke.request_id"] == "traced-1"

    # Child spans of the push: storage, blob and the protoc compile.
    pushed = servers["POST /api/v1/modules/{name}/versions"]
    children = {s.name for s in spans if s.parent_span_id == pushed.span_id}
    assert any(name.startswith("storage.") for name in children), children
    assert any(name.startswith("blob.") for name in children), children
    assert "protoc.compile" in children
    assert all(s.trace_id == pushed.trace_id for s in spans if s.parent_span_id == pushed.span_id)

    # The resource names the service.
    for span in spans:
        assert span.resource["service.name"] == "spoke-under-test"
        assert span.resource["service.version"] == spoke.__version__

    # The access line of the traced request carries the trace and span ids.
    access = [
        json.loads(line)
        for line in server.log().splitlines()
        if line.startswith("{") and '"spoke.access"' in line
    ]
    line = next(a for a in access if a["request_id"] == "traced-1")
    assert (line["trace_id"], line["span_id"]) == (TRACE_ID, traced.span_id)
    assert "trace exporter flushed and stopped" in server.log()


class HungCollector:
    """Accepts TCP connections and never answers: the worst collector there is."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.mark.parametrize("collector", ["closed port", "hung"])
def test_a_dead_collector_never_slows_requests_or_the_shutdown(
    tmp_path: Path, collector: str
) -> None:
    hung = HungCollector() if collector == "hung" else None
    port = hung.port if hung else free_port()
    server = start_server(tmp_path, {**_otel_env(port), "SPOKE_SHUTDOWN_TIMEOUT": "10s"})
    try:
        api = f"{server.api}/api/v1"
        assert server.request("POST", f"{api}/modules", {"name": "demo"})[0] == 201
        slowest = 0.0
        deadline = time.monotonic() + 4  # several export attempts fail meanwhile
        while time.monotonic() < deadline:
            started = time.monotonic()
            assert server.request("GET", f"{api}/modules/demo")[0] == 200
            slowest = max(slowest, time.monotonic() - started)
        # An export attempt against this collector takes up to 3 s; no request waits for one.
        assert slowest < 1.0, f"slowest request: {slowest:.3f}s"
    finally:
        took = _stop(server)
        if hung:
            hung.close()
    # The flush is bounded (spoke.tracing.SHUTDOWN_TIMEOUT, 5 s) whatever the collector does.
    assert took < 8, f"shutdown took {took:.1f}s"
    assert "Traceback" not in server.log()
    # Each failed export is one error line; the retries in between are not logged.
    assert "Transient error" not in server.log()
