"""Fixtures of the unit tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from spoke.logs import SinkHandler

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    """openapi.yaml, parsed once for every test that reads it."""
    with SPEC_PATH.open(encoding="utf-8") as f:
        loaded = yaml.safe_load(f)
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Put the root logger back as it was after each test.

    ``spoke serve`` run in process (click's runner) calls ``configure_logging``, which replaces
    the root handlers with Spoke's own; left in place, the access lines of every later test
    bypass ``caplog`` and the tests that read them fail depending on the order tests run in.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers and isinstance(handler, SinkHandler):
            handler.sink.close()  # its writer thread
    root.handlers[:] = handlers
    root.setLevel(level)
