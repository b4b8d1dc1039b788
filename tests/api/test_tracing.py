"""Tracing in process: server spans, propagation, child spans, sampling, and tracing off."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra is not installed")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode

from spoke.api.app import Application, create_app
from spoke.cache import SafeCache, TracedSafeCache
from spoke.settings import SettingsError, load_settings
from spoke.tracing import Tracing, child_span, create_tracing
from worker_pool import shared_work

from .conftest import API, SpokeClient, file_list, make_app, memory_backends, simple_files

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def _tracing(ratio: float = 1.0) -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider), exporter


class Traced:
    def __init__(self, ratio: float = 1.0) -> None:
        tracing, self.exporter = _tracing(ratio)
        self.app = create_app(
            load_settings({}), backends=memory_backends(), tracing=tracing, work=shared_work()
        )
        self.client = SpokeClient(self.app.api)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def servers(self) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.kind == SpanKind.SERVER]


@pytest.fixture
def traced() -> Iterator[Traced]:
    setup = Traced()
    yield setup
    setup.app.close()


def _push(client: SpokeClient, **headers: str) -> Any:
    client.simulate_post(f"{API}/modules", json={"name": "acme"})
    body = {"version": "1.0.0", "files": file_list(simple_files("acme"))}
    return client.simulate_post(f"{API}/modules/acme/versions", json=body, headers=headers)


def test_each_request_is_a_server_span_named_by_its_route(traced: Traced) -> None:
    traced.client.simulate_post(f"{API}/modules", json={"name": "acme"})
    traced.client.simulate_get(f"{API}/modules/acme")
    traced.client.simulate_get(f"{API}/modules/missing")
    traced.client.simulate_get("/nowhere")
    servers = traced.servers()
    assert [(s.name, s.attributes["http.response.status_code"]) for s in servers] == [
        ("POST /api/v1/modules", 201),
        ("GET /api/v1/modules/{name}", 200),
        ("GET /api/v1/modules/{name}", 404),
        ("GET unmatched", 404),
    ]
    get = servers[1]
    assert get.attributes["http.route"] == "/api/v1/modules/{name}"
    assert get.attributes["http.request.method"] == "GET"
    assert get.attributes["url.path"] == "/api/v1/modules/acme"
    assert get.parent is None
    assert all(s.status.status_code != StatusCode.ERROR for s in servers)


def test_a_5xx_marks_the_server_span_as_an_error() -> None:
    tracing, exporter = _tracing()

    class Broken(type(memory_backends().storage)):  # type: ignore[misc]
        def list_modules(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("broken")

    app = create_app(
        load_settings({}),
        backends=memory_backends(storage=Broken()),
        tracing=tracing,
        work=shared_work(),
    )
    try:
        assert SpokeClient(app.api).simulate_get(f"{API}/modules").status_code == 500
    finally:
        app.close()
    spans = exporter.get_finished_spans()
    server = next(s for s in spans if s.kind == SpanKind.SERVER)
    assert server.status.status_code == StatusCode.ERROR
    storage = next(s for s in spans if s.name == "storage.list_modules")
    assert storage.status.status_code == StatusCode.ERROR
    assert storage.attributes["error.type"] == "RuntimeError"
    assert "broken" not in str(storage.attributes) and not storage.events


def test_storage_blob_cache_and_protoc_calls_are_child_spans(traced: Traced) -> None:
    assert _push(traced.client).status_code == 201
    traced.client.simulate_get(f"{API}/modules/acme/versions/1.0.0/descriptor")
    push = next(s for s in traced.servers() if s.name.endswith("/versions"))
    children = [s for s in traced.spans() if s.parent and s.parent.span_id == push.context.span_id]
    names = {s.name for s in children}
    assert {"storage.get_module", "storage.create_version", "blob.put", "protoc.compile"} <= names
    assert all(s.context.trace_id == push.context.trace_id for s in children)
    compile_span = next(s for s in children if s.name == "protoc.compile")
    assert compile_span.attributes["protoc.files"] == 1
    download = traced.servers()[-1]
    below = {
        s.name for s in traced.spans() if s.parent and s.parent.span_id == download.context.span_id
    }
    assert any(name.startswith("cache.") for name in below), below


def test_a_traceparent_makes_the_request_part_of_the_callers_trace(traced: Traced) -> None:
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    result = traced.client.simulate_get(
        f"{API}/modules", headers={"traceparent": traceparent, "tracestate": "vendor=1"}
    )
    assert result.status_code == 200
    (server,) = traced.servers()
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None and format(server.parent.span_id, "016x") == PARENT_ID
    assert server.parent.is_remote
    assert server.context.trace_state.get("vendor") == "1"


def test_a_caller_that_did_not_sample_is_followed(traced: Traced) -> None:
    traced.client.simulate_get(
        f"{API}/modules", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"}
    )
    assert traced.spans() == []


def test_a_malformed_traceparent_starts_a_new_trace(traced: Traced) -> None:
    traced.client.simulate_get(f"{API}/modules", headers={"traceparent": "00-zz-yy-01"})
    (server,) = traced.servers()
    assert server.parent is None


def test_the_ratio_applies_to_new_traces_only() -> None:
    setup = Traced(ratio=0.0)
    try:
        setup.client.simulate_get(f"{API}/modules")
        assert setup.spans() == []
        setup.client.simulate_get(
            f"{API}/modules", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
        )
        assert len(setup.servers()) == 1
    finally:
        setup.app.close()


def test_the_access_line_carries_the_trace_and_span_ids(
    traced: Traced, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="spoke.access")
    traced.client.simulate_get(
        f"{API}/modules", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    )
    (server,) = traced.servers()
    record = next(r for r in caplog.records if r.name == "spoke.access")
    assert record.trace_id == TRACE_ID  # type: ignore[attr-defined]
    assert record.span_id == format(server.context.span_id, "016x")  # type: ignore[attr-defined]


def test_calls_outside_a_request_make_no_spans(traced: Traced) -> None:
    _push(traced.client)
    traced.exporter.clear()
    worker = threading.Thread(target=lambda: traced.app.service.get_module(name="acme"))
    worker.start()
    worker.join()
    traced.app.service.get_module(name="acme")
    with child_span("outside"):
        pass
    assert traced.spans() == []


def test_tracing_off_leaves_the_plain_code_paths(app: Application) -> None:
    assert app.tracing is None
    assert type(app.service.cache) is SafeCache
    assert app.service.storage._tracing is None  # type: ignore[attr-defined]
    assert child_span("x") is child_span("y")  # the shared no-op


def test_tracing_on_uses_the_traced_cache(traced: Traced) -> None:
    assert isinstance(traced.app.service.cache, TracedSafeCache)


def test_enabling_tracing_without_the_extra_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    settings = load_settings(
        {
            "SPOKE_OTEL_ENABLED": "true",
            "SPOKE_OTEL_ENDPOINT": "http://127.0.0.1:4317",
            "SPOKE_OTEL_INSECURE": "true",
        }
    )
    with pytest.raises(SettingsError) as caught:
        create_tracing(settings)
    assert caught.value.variable == "SPOKE_OTEL_ENABLED"
    assert "pip install 'spoke[otel]'" in str(caught.value)
    with pytest.raises(SettingsError, match=r"spoke\[otel\]"):
        make_app(
            {
                "SPOKE_OTEL_ENABLED": "true",
                "SPOKE_OTEL_ENDPOINT": "http://127.0.0.1:4317",
                "SPOKE_OTEL_INSECURE": "true",
            }
        )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_collector_never_slows_or_fails_a_request() -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    app = make_app(
        {"SPOKE_OTEL_ENABLED": "1", "SPOKE_OTEL_ENDPOINT": endpoint, "SPOKE_OTEL_INSECURE": "1"}
    )
    client = SpokeClient(app.api)
    try:
        assert app.tracing is not None
        assert _push(client).status_code == 201
        durations: list[float] = []
        deadline = time.monotonic() + 3.0  # past the first export attempts and their retries
        while time.monotonic() < deadline or len(durations) < 200:
            start = time.perf_counter()
            result = client.simulate_get(f"{API}/modules/acme/versions/1.0.0")
            durations.append(time.perf_counter() - start)
            assert result.status_code == 200
        durations.sort()
        # No request waited for an export (EXPORT_TIMEOUT is 3 s); typical ones stay fast.
        assert durations[-1] < 1.0, f"slowest request took {durations[-1]:.3f}s"
        assert durations[len(durations) // 2] < 0.02, f"median {durations[len(durations) // 2]}"
    finally:
        start = time.monotonic()
        app.close()
        closed_in = time.monotonic() - start
    assert closed_in < 7.0, f"close took {closed_in:.1f}s"
