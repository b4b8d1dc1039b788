"""``spoke serve`` as a real process: two listeners, persistence, signals, startup errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from spoke_process import RunningServer, free_port, slow_plugin_env, start_server

pytestmark = pytest.mark.slow

PROTO = 'syntax = "proto3";\npackage demo;\nmessage Ping { string id = 1; }\n'


def test_api_and_health_are_served_on_separate_ports(spoke_server: RunningServer) -> None:
    assert spoke_server.request("GET", f"{spoke_server.health}/health/ready")[0] == 200
    assert spoke_server.request("GET", f"{spoke_server.api}/health/ready")[0] == 404
    assert spoke_server.request("GET", f"{spoke_server.health}/api/v1/modules")[0] == 404
    status, body = spoke_server.request("GET", f"{spoke_server.api}/api/v1/modules")
    assert (status, body) == (200, [])
    status, metrics = spoke_server.request("GET", f"{spoke_server.health}/metrics")
    assert status == 200
    assert 'spoke_http_requests_total{method="GET",route="/api/v1/modules",status="200"}' in metrics
    assert "spoke_http_queue_depth 0.0" in metrics


def test_filesystem_data_survives_a_restart(tmp_path: Path) -> None:
    first = start_server(tmp_path, name="first")
    try:
        assert first.request("POST", f"{first.api}/api/v1/modules", {"name": "demo"})[0] == 201
        status, _ = first.request(
            "POST",
            f"{first.api}/api/v1/modules/demo/versions",
            {"version": "1.0.0", "files": [{"path": "demo/ping.proto", "content": PROTO}]},
        )
        assert status == 201
    finally:
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=30) == 0
    second = start_server(tmp_path, name="second")
    try:
        status, body = second.request(
            "GET", f"{second.api}/api/v1/modules/demo/versions/latest/files/demo/ping.proto"
        )
        assert status == 200
        assert body["content"] == PROTO
    finally:
        second.process.terminate()
        second.process.wait(timeout=30)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_cleanly(tmp_path: Path, signum: int) -> None:
    server = start_server(tmp_path)
    server.process.send_signal(signum)
    assert server.process.wait(timeout=30) == 0
    assert "shutting down" in server.log()
    assert "Traceback" not in server.log()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _in_flight(server: RunningServer, paths: list[str]) -> tuple[list[Any], list[threading.Thread]]:
    """Start one GET per path on its own thread; returns the answers' list (filled as they come)
    and the threads."""
    answers: list[Any] = []

    def get(path: str) -> None:
        try:
            answers.append(server.request("GET", f"{server.api}{path}")[0])
        except OSError as exc:
            answers.append(exc)

    threads = [threading.Thread(target=get, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    return answers, threads


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_requests_in_flight_finish_after_a_signal(tmp_path: Path, signum: int) -> None:
    # Reads of module "slow-2500" take 2.5 s in the slow storage plugin (slow_plugin.py).
    env = {**slow_plugin_env(tmp_path), "SPOKE_SHUTDOWN_TIMEOUT": "10s"}
    server = start_server(tmp_path, env)
    try:
        assert (
            server.request("POST", f"{server.api}/api/v1/modules", {"name": "slow-2500"})[0] == 201
        )
        answers, threads = _in_flight(server, ["/api/v1/modules/slow-2500"] * 4)
        time.sleep(0.5)  # all four are inside the storage call now
        signalled = time.monotonic()
        server.process.send_signal(signum)

        # Readiness fails at once (the health listener stays open while the API drains) ...
        status, body = server.request("GET", f"{server.health}/health/ready")
        assert (status, body["reason"]) == (503, "shutting down")
        assert time.monotonic() - signalled < 1.0
        assert server.request("GET", f"{server.health}/health/live")[0] == 200
        # ... and the API refuses new connections.
        deadline = time.monotonic() + 2
        while not _refused(_port(server.api)):
            assert time.monotonic() < deadline, "the API still accepts connections"
            time.sleep(0.05)

        for thread in threads:
            thread.join(timeout=30)
        assert answers == [200, 200, 200, 200]
        assert server.process.wait(timeout=30) == 0
        took = time.monotonic() - signalled
        assert 1.5 < took < 10, f"exited {took:.1f}s after the signal"
        assert _refused(_port(server.health))
    finally:
        if server.process.poll() is None:
            server.process.kill()
    log = server.log()
    assert "draining 4 request(s) in flight" in log
    assert "slow storage closed" in log and "backends closed" in log
    assert "shutdown timeout reached" not in log
    assert "Traceback" not in log


def test_the_shutdown_timeout_bounds_the_wait_for_requests(tmp_path: Path) -> None:
    env = {**slow_plugin_env(tmp_path), "SPOKE_SHUTDOWN_TIMEOUT": "1s"}
    server = start_server(tmp_path, env)
    try:
        assert (
            server.request("POST", f"{server.api}/api/v1/modules", {"name": "slow-8000"})[0] == 201
        )
        answers, threads = _in_flight(server, ["/api/v1/modules/slow-8000"])
        time.sleep(0.5)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        took = time.monotonic() - signalled
        assert took < 4, f"exited {took:.1f}s after the signal"
        for thread in threads:
            thread.join(timeout=30)
        assert len(answers) == 1 and answers[0] != 200  # cut off, not answered
    finally:
        if server.process.poll() is None:
            server.process.kill()
    assert "shutdown timeout reached with 1 request(s) in flight" in server.log()


def test_logs_are_json_lines_on_stdout(spoke_server: RunningServer) -> None:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{spoke_server.api}/api/v1/modules", headers={"X-Request-ID": "proc-1"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.headers["X-Request-ID"] == "proc-1"
    spoke_server.process.send_signal(signal.SIGTERM)
    spoke_server.process.wait(timeout=30)
    lines = [line for line in spoke_server.log().splitlines() if line.strip()]
    assert lines
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        assert {"timestamp", "level", "logger", "message"} <= set(entry)
    # Probes of the health listener (start_server polls /health/live) have no access lines.
    (access,) = [e for e in entries if e["logger"] == "spoke.access"]
    assert access["request_id"] == "proc-1"
    assert (access["method"], access["route"], access["status"]) == ("GET", "/api/v1/modules", 200)
    assert isinstance(access["duration_ms"], float)


def test_the_log_level_is_honoured(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"SPOKE_LOG_LEVEL": "warning"})
    assert server.request("GET", f"{server.api}/api/v1/modules")[0] == 200
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    assert server.log().strip() == ""  # no info line: no access line, no startup line


def _run_serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SPOKE_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "spoke", "serve"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SPOKE_PORT": "eighty"}, "SPOKE_PORT: expected a port number, got 'eighty'"),
        ({"SPOKE_PORT": "9100", "SPOKE_HEALTH_PORT": "9100"}, "SPOKE_HEALTH_PORT: must differ"),
        ({"SPOKE_STORAGE_TYPE": "cassandra"}, "SPOKE_STORAGE_TYPE: unknown storage backend"),
        ({"SPOKE_CACHE_TYPE": "memcached"}, "SPOKE_CACHE_TYPE: unknown cache backend"),
    ],
)
def test_bad_configuration_stops_startup_with_one_line_and_exit_2(
    env: dict[str, str], expected: str
) -> None:
    result = _run_serve(env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_a_port_in_use_is_reported_without_a_traceback(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run_serve(
            {
                "SPOKE_HOST": "127.0.0.1",
                "SPOKE_PORT": str(port),
                "SPOKE_HEALTH_PORT": str(free_port()),
                "SPOKE_FILESYSTEM_ROOT": str(tmp_path),
            }
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr
