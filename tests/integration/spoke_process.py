"""Run ``spoke serve`` as a real process on free ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    api: str
    health: str
    log_path: Path

    def request(
        self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw = err.read()
            status = err.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode()

    def log(self) -> str:
        return self.log_path.read_text()


def start_server(
    tmp_path: Path, env: dict[str, str] | None = None, *, name: str = "server"
) -> RunningServer:
    api_port, health_port = free_port(), free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SPOKE_")},
        "SPOKE_HOST": "127.0.0.1",
        "SPOKE_PORT": str(api_port),
        "SPOKE_HEALTH_PORT": str(health_port),
        "SPOKE_FILESYSTEM_ROOT": str(tmp_path / "data"),
        "SPOKE_SHUTDOWN_TIMEOUT": "10s",
        **(env or {}),
    }
    log_path = tmp_path / f"{name}.log"
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "spoke", "serve"],
        env=environment,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = RunningServer(
        process, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{health_port}", log_path
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.log()}")
        try:
            status, _ = server.request("GET", f"{server.health}/health/live")
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"server did not start:\n{server.log()}")


def slow_plugin_env(tmp_path: Path) -> dict[str, str]:
    """Settings that run ``spoke serve`` on the ``slow`` storage of ``slow_plugin.py``.

    The plugin is made visible as an installed distribution without installing anything: a
    ``*.dist-info`` directory with an ``entry_points.txt`` on ``PYTHONPATH`` is what
    ``importlib.metadata`` (and so Spoke's plugin loader) reads.
    """
    site = tmp_path / "site"
    dist_info = site / "spoke_slow_test_plugin-0.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: spoke-slow-test-plugin\nVersion: 0\n"
    )
    (dist_info / "entry_points.txt").write_text("[spoke]\nslow = slow_plugin\n")
    paths = [str(site), str(Path(__file__).resolve().parent)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return {
        "PYTHONPATH": os.pathsep.join(paths),
        "SPOKE_STORAGE_TYPE": "slow",
        "SPOKE_BLOB_TYPE": "memory",
    }
