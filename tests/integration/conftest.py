"""Fixtures of the process-level tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from spoke_process import RunningServer, start_server


@pytest.fixture
def spoke_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server(tmp_path)
    yield server
    if server.process.poll() is None:
        server.process.terminate()
        server.process.wait(timeout=30)
