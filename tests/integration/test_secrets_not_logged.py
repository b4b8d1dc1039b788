"""No secret setting ever reaches the output of a real ``spoke serve``: startup, requests
(errors, refusals and a cache that keeps failing included), readiness, metrics and shutdown."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from spoke_process import free_port, start_server

pytestmark = pytest.mark.slow

MARKER = "S3CR3T-MARKER"
PROTO = 'syntax = "proto3";\npackage demo;\nmessage Ping { string id = 1; }\n'


def test_no_secret_is_ever_logged(tmp_path: Path) -> None:
    pytest.importorskip("redis", reason="the redis extra is not installed")
    dead = free_port()  # nothing listens: every Redis call fails and is logged
    token_file = tmp_path / "admin-token"
    token_file.write_text(f"{MARKER}-admin-9f4c1e7b2a6d8305\n")  # 32 characters at least
    password_file = tmp_path / "redis-password"
    password_file.write_text(f"{MARKER}-redis-password\n")
    env = {
        "SPOKE_LOG_LEVEL": "debug",
        "SPOKE_POSTGRES_URL": f"postgresql://spoke:{MARKER}-pg@127.0.0.1:{dead}/spoke",
        "SPOKE_POSTGRES_REPLICA_URLS": f"postgresql://spoke:{MARKER}-replica@127.0.0.1:{dead}/spoke",
        "SPOKE_REDIS_URL": f"redis://127.0.0.1:{dead}/0",
        "SPOKE_REDIS_PASSWORD_FILE": str(password_file),
        "SPOKE_S3_ACCESS_KEY": f"{MARKER}-access",
        "SPOKE_S3_SECRET_KEY": f"{MARKER}-secret",
        "SPOKE_ADMIN_TOKEN_FILE": str(token_file),
    }
    server = start_server(tmp_path, env)
    auth = {"Authorization": f"Bearer {MARKER}-admin-9f4c1e7b2a6d8305"}
    api = f"{server.api}/api/v1"
    try:
        assert server.request("POST", f"{api}/modules", {"name": "demo"})[0] == 401
        wrong = {"Authorization": f"Bearer {MARKER}-wrong"}
        assert server.request("POST", f"{api}/modules", {"name": "demo"}, wrong)[0] == 401
        assert server.request("POST", f"{api}/modules", {"name": "demo"}, auth)[0] == 201
        bad = {"version": "1.0.0", "files": [{"path": "demo/ping.proto", "content": "nope"}]}
        assert server.request("POST", f"{api}/modules/demo/versions", bad, auth)[0] == 422
        good = {"version": "1.0.0", "files": [{"path": "demo/ping.proto", "content": PROTO}]}
        assert server.request("POST", f"{api}/modules/demo/versions", good, auth)[0] == 201
        file_url = f"{api}/modules/demo/versions/1.0.0/files/demo/ping.proto"
        for _ in range(3):  # cache misses and failures, each logged
            assert server.request("GET", file_url)[0] == 200
        assert server.request("GET", f"{api}/modules/missing")[0] == 404
        assert server.request("GET", f"{api}/nowhere")[0] == 404
        assert server.request("POST", f"{api}/validate", {"files": "x"})[0] == 400
        status, ready = server.request("GET", f"{server.health}/health/ready")
        assert status == 200 and ready["status"] == "degraded"  # the cache is down
        assert MARKER not in str(ready)
        metrics = server.request("GET", f"{server.health}/metrics")[1]
        assert MARKER not in metrics
    finally:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    output = server.log()
    assert "spoke.access" in output and "stopped" in output  # the log was captured
    assert "Redis failed" in output  # the failing cache was logged
    assert MARKER not in output
