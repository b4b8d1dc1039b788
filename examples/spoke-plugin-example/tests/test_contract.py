"""The sqlite backend against Spoke's storage contract suite, each test on a fresh database file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from spoke.testing.contract import StorageContract

from spoke_plugin_example.storage import SqliteStorage


class TestSqliteStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[SqliteStorage]:
        backend = SqliteStorage(path=tmp_path / "spoke.sqlite3")
        yield backend
        backend.close()
