"""Compiles, checks and diffs run in worker processes with limits: hostile input gets a bounded
answer, and a request over a limit or beyond the queue gets a clear 422 or 503."""

from __future__ import annotations

import threading

import pytest

from spoke.api.app import Application, create_app
from spoke.settings import load_settings
from worker_pool import shared_work

from .conftest import (
    API,
    SpokeClient,
    assert_error,
    create_module,
    file_list,
    memory_backends,
    message,
    proto,
    push,
)

pytestmark = pytest.mark.slow

FLOOD = 'syntax = "proto3";\n' + ".1e" * 1_000_000  # 3 MB; protoc alone prints 138 MB of errors


def _big_schema(messages: int) -> str:
    lines = ['syntax = "proto3";', "package big.v1;"]
    lines += [f"message Msg{i:06d} {{ int32 a = 1; }}" for i in range(messages)]
    return "\n".join(lines) + "\n"


def _own_app(**environ: str) -> Application:
    """An application with a pool of its own (one worker), configured by ``environ``."""
    settings = {"SPOKE_WORKER_PROCESSES": "1", **environ}
    return create_app(load_settings(settings), backends=memory_backends())


@pytest.fixture
def module(client: SpokeClient) -> str:
    create_module(client, "acme")
    return "acme"


def _assert_bounded_diagnostics(details: dict[str, object]) -> None:
    assert details["truncated"] is True
    assert len(details["errors"]) == 100  # type: ignore[arg-type]
    assert details["errors_omitted"] > 1000  # type: ignore[operator]


def test_validate_answers_a_flood_of_errors_with_the_first_hundred(client: SpokeClient) -> None:
    result = client.simulate_post(f"{API}/validate", json={"content": FLOOD})
    assert result.status_code == 200
    assert len(result.content) < 64 * 1024  # it was 236 MB
    body = result.json
    assert body["valid"] is False
    _assert_bounded_diagnostics(body)


def test_a_push_of_a_flood_of_errors_is_a_bounded_422(client: SpokeClient, module: str) -> None:
    result = push(client, module, "1.0.0", {"acme/bad.proto": FLOOD})
    assert_error(result, 422, "invalid_schema")
    assert len(result.content) < 64 * 1024
    _assert_bounded_diagnostics(result.json["details"])
    assert "more)" in result.json["error"]


def test_a_compatibility_check_of_a_flood_is_a_bounded_422(
    client: SpokeClient, module: str
) -> None:
    result = client.simulate_post(
        f"{API}/modules/{module}/compatibility",
        json={"files": file_list({"acme/bad.proto": FLOOD})},
    )
    assert_error(result, 422, "invalid_schema")
    assert len(result.content) < 64 * 1024
    _assert_bounded_diagnostics(result.json["details"])


def test_compiles_and_checks_run_in_worker_processes(client: SpokeClient, module: str) -> None:
    before = shared_work().pool.busy
    first = proto("acme.v1", message("A", "string id"))
    assert push(client, module, "1.0.0", {"acme/a.proto": first}).status_code == 201
    second = proto("acme.v1", message("A", "string id", "string name"))
    assert push(client, module, "1.1.0", {"acme/a.proto": second}).status_code == 201
    diff = client.simulate_post(
        f"{API}/modules/{module}/diff", json={"from_version": "1.0.0", "to_version": "1.1.0"}
    )
    assert diff.status_code == 200 and diff.json["changes"]
    assert shared_work().pool.busy == before


def test_worker_tasks_are_counted_in_the_metrics() -> None:
    app = _own_app()
    try:
        client, health = SpokeClient(app.api), SpokeClient(app.health)
        create_module(client, "acme")
        push(client, "acme", "1.0.0", {"acme/a.proto": proto("acme.v1", message("A", "string id"))})
        push(client, "acme", "1.0.1", {"acme/a.proto": proto("acme.v1", message("A", "int64 id"))})
        metrics = health.simulate_get("/metrics").text
        assert 'spoke_worker_tasks_total{outcome="ok",task="compile"} 2.0' in metrics
        assert 'spoke_worker_tasks_total{outcome="ok",task="compatibility check"} 1.0' in metrics
        assert "spoke_worker_busy 0.0" in metrics
        assert "spoke_worker_queue_depth 0.0" in metrics
    finally:
        app.close()


def test_a_schema_over_the_memory_limit_is_a_422_and_the_next_push_works() -> None:
    app = _own_app(SPOKE_WORKER_MEMORY="128MiB")
    try:
        client = SpokeClient(app.api)
        create_module(client, "big")
        # 200,000 messages need about 750 MiB to compile.
        result = push(client, "big", "1.0.0", {"big/big.proto": _big_schema(200_000)})
        assert_error(result, 422, "limit_exceeded")
        assert result.json["details"]["limit"] == "memory"
        assert result.json["details"]["bytes"] == 128 * 1024 * 1024
        small = proto("big.v1", message("Small", "string id"))
        assert push(client, "big", "1.0.0", {"big/big.proto": small}).status_code == 201
        metrics = SpokeClient(app.health).simulate_get("/metrics").text
        assert 'spoke_worker_restarts_total{reason="' in metrics
    finally:
        app.close()


def test_a_compile_over_the_time_limit_is_a_422() -> None:
    app = _own_app(SPOKE_WORKER_TIMEOUT="100ms")
    try:
        client = SpokeClient(app.api)
        # 100,000 messages take seconds to compile, far past 100 ms.
        result = client.simulate_post(f"{API}/validate", json={"content": _big_schema(100_000)})
        assert_error(result, 422, "limit_exceeded")
        assert result.json["details"] == {"limit": "time", "seconds": 0.1, "task": "compile"}
    finally:
        app.close()


def test_when_every_worker_is_busy_and_none_may_wait_the_answer_is_503_with_retry_after() -> None:
    app = _own_app(SPOKE_WORKER_QUEUE="0")
    try:
        client = SpokeClient(app.api)
        started = threading.Event()
        answers: list[int] = []

        def slow_validate() -> None:
            started.set()
            slow = client.simulate_post(f"{API}/validate", json={"content": _big_schema(100_000)})
            answers.append(slow.status_code)

        worker = threading.Thread(target=slow_validate)
        worker.start()
        started.wait()
        pool = app.work.pool  # type: ignore[attr-defined]
        while pool.busy == 0:
            started.wait(0.01)
        result = client.simulate_post(f"{API}/validate", json={"content": FLOOD[:100]})
        worker.join()
        assert_error(result, 503, "server_busy")
        assert int(result.headers["Retry-After"]) >= 1
        assert answers == [200]
    finally:
        app.close()


def test_in_process_work_is_still_available_for_debugging() -> None:
    app = _own_app(SPOKE_WORKER_PROCESSES="0")
    try:
        client = SpokeClient(app.api)
        result = client.simulate_post(f"{API}/validate", json={"content": FLOOD[:3_000]})
        assert result.status_code == 200
        assert len(result.json["errors"]) == 100
    finally:
        app.close()
