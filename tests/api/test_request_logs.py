"""Request ids, the access log line of every request, and the request id on every log line."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from spoke.api.app import Application
from spoke.logs import JsonFormatter, RequestContextFilter, TextFormatter
from spoke_plugins.memory import MemoryStorage

from .conftest import API, SpokeClient, file_list, make_app, memory_backends, simple_files

GENERATED = re.compile(r"[0-9a-f]{32}")


class LogCapture:
    """The root logger's records, formatted as ``spoke serve`` formats them."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.handler.addFilter(RequestContextFilter())

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "spoke.access"]


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    capture = LogCapture(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture.handler)
    root.setLevel(logging.INFO)
    try:
        yield capture
    finally:
        root.removeHandler(capture.handler)
        root.setLevel(level)


def test_every_answer_carries_a_generated_request_id(client: SpokeClient) -> None:
    first = client.simulate_get(f"{API}/modules")
    second = client.simulate_get(f"{API}/modules/missing")
    assert GENERATED.fullmatch(first.headers["X-Request-ID"])
    assert GENERATED.fullmatch(second.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize("incoming", ["abc", "req-1.2_3", "A" * 128, "0"])
def test_a_sane_incoming_request_id_is_kept(client: SpokeClient, incoming: str) -> None:
    result = client.simulate_get(f"{API}/modules", headers={"X-Request-ID": incoming})
    assert result.headers["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["", "A" * 129, "has space", 'quote"', "new\\nline", "semi;colon", "slash/", "{json}", "é"],
)
def test_an_odd_incoming_request_id_is_replaced(client: SpokeClient, incoming: str) -> None:
    result = client.simulate_get(f"{API}/modules", headers={"X-Request-ID": incoming})
    assert GENERATED.fullmatch(result.headers["X-Request-ID"])


def test_one_access_line_per_request_with_its_fields(client: SpokeClient, logs: LogCapture) -> None:
    client.simulate_post(f"{API}/modules", json={"name": "acme"}, headers={"X-Request-ID": "r1"})
    client.simulate_get(f"{API}/modules/acme", headers={"X-Request-ID": "r2"})
    client.simulate_get(f"{API}/modules/nope", headers={"X-Request-ID": "r3"})
    client.simulate_get("/nowhere", headers={"X-Request-ID": "r4"})
    client.simulate_post(f"{API}/modules", body=b"{", headers={"X-Request-ID": "r5"})
    access = logs.access()
    assert [(a["request_id"], a["method"], a["route"], a["status"]) for a in access] == [
        ("r1", "POST", "/api/v1/modules", 201),
        ("r2", "GET", "/api/v1/modules/{name}", 200),
        ("r3", "GET", "/api/v1/modules/{name}", 404),
        ("r4", "GET", "unmatched", 404),
        ("r5", "POST", "/api/v1/modules", 400),
    ]
    for line in access:
        assert {"timestamp", "level", "message", "duration_ms"} <= set(line)
        assert line["level"] == "info"
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
        assert "trace_id" not in line and "span_id" not in line
        assert line["message"] == f"{line['method']} {line['route']} {line['status']}"
    # A module name is never the route.
    assert "acme" not in json.dumps([a["route"] for a in access])


def test_the_access_line_never_holds_headers_bodies_or_queries(
    client: SpokeClient, logs: LogCapture
) -> None:
    client.simulate_post(
        f"{API}/modules",
        json={"name": "acme", "description": "body-marker"},
        headers={"Authorization": "Bearer header-marker", "Cookie": "c=cookie-marker"},
        params={"q": "query-marker"},
    )
    text = logs.stream.getvalue()
    for marker in ("body-marker", "header-marker", "cookie-marker", "query-marker"):
        assert marker not in text


class BrokenStorage(MemoryStorage):
    def list_modules(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the storage broke")


def test_every_line_of_a_request_carries_its_id(
    logs: LogCapture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="spoke.api.errors")  # conftest silences it
    application = make_app(backends=memory_backends(storage=BrokenStorage()))
    try:
        result = SpokeClient(application.api).simulate_get(
            f"{API}/modules", headers={"X-Request-ID": "broken-1"}
        )
    finally:
        application.close()
    assert result.status_code == 500
    lines = logs.lines()
    error = next(line for line in lines if line["logger"] == "spoke.api.errors")
    assert error["request_id"] == "broken-1"
    assert "RuntimeError" in error["exception"]
    assert logs.access()[-1]["request_id"] == "broken-1"
    # Outside a request, no request id.
    logging.getLogger("spoke.test").warning("outside")
    assert "request_id" not in logs.lines()[-1]


def test_a_warning_level_turns_the_access_lines_off(client: SpokeClient, logs: LogCapture) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    client.simulate_get(f"{API}/modules")
    assert logs.access() == []


def test_the_text_format_shows_the_fields(client: SpokeClient) -> None:
    capture = LogCapture(TextFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture.handler)
    root.setLevel(logging.INFO)
    try:
        client.simulate_get(f"{API}/modules", headers={"X-Request-ID": "text-1"})
    finally:
        root.removeHandler(capture.handler)
        root.setLevel(level)
    line = capture.stream.getvalue().strip().splitlines()[-1]
    assert "INFO spoke.access: GET /api/v1/modules 200" in line
    assert "request_id=text-1" in line and "status=200" in line


def test_the_request_context_does_not_leak_between_requests(
    app: Application, logs: LogCapture
) -> None:
    client = SpokeClient(app.api)
    client.simulate_post(
        f"{API}/modules/acme/versions",
        json={"version": "1.0.0", "files": file_list(simple_files("acme"))},
        headers={"X-Request-ID": "first"},
    )
    logging.getLogger("spoke.test").warning("between requests")
    assert "request_id" not in logs.lines()[-1]
