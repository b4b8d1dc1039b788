"""What the contract suite cannot see: the file, other processes, failures and the options."""

from __future__ import annotations

from pathlib import Path

import pytest
from spoke.errors import BackendUnavailable
from spoke.interfaces import VersionAlreadyStored
from spoke.settings import load_settings
from spoke.testing.contract import make_module, make_version, run_concurrently

from spoke_plugin_example.plugin import create_storage, database_path
from spoke_plugin_example.storage import SqliteStorage


def test_data_survives_reopening_the_file(tmp_path: Path) -> None:
    first = SqliteStorage(path=tmp_path / "spoke.sqlite3")
    first.create_module(module=make_module("acme.billing"))
    version = make_version("acme.billing", "1.0.0", deps=["acme.common@2.0.0"])
    first.create_version(version=version)
    first.close()

    second = SqliteStorage(path=tmp_path / "spoke.sqlite3")
    assert second.get_version(module="acme.billing", version="1.0.0") == version
    assert second.get_module(name="acme.billing").latest_version == "1.0.0"
    assert [str(d) for d in second.list_dependents(module="acme.common", version="2.0.0")] == [
        "acme.billing@1.0.0"
    ]
    second.close()


def test_two_connections_racing_for_one_version_have_one_winner(tmp_path: Path) -> None:
    # Two backends on one file stand for two Spoke processes sharing the database.
    backends = [SqliteStorage(path=tmp_path / "spoke.sqlite3") for _ in range(2)]
    backends[0].create_module(module=make_module("acme.billing"))
    racers = [
        make_version("acme.billing", "1.0.0", files={"a.proto": f"racer {i}".encode()})
        for i in range(8)
    ]

    def push(index: int) -> None:
        backends[index % 2].create_version(version=racers[index])

    results = run_concurrently(8, push)
    stored = backends[1].get_version(module="acme.billing", version="1.0.0")
    assert results.count(None) == 1, results
    losers = [r for r in results if isinstance(r, VersionAlreadyStored)]
    assert len(losers) == 7, results
    assert all(loser.existing == stored for loser in losers)
    for backend in backends:
        backend.close()


def test_a_file_that_is_not_a_database_is_unavailable_without_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "secret-location" / "spoke.sqlite3"
    path.parent.mkdir()
    path.write_bytes(b"this is not a SQLite database, just some bytes" * 100)
    with pytest.raises(BackendUnavailable) as caught:
        SqliteStorage(path=path)
    assert caught.value.message.startswith("sqlite storage: ")
    assert "secret-location" not in caught.value.message
    assert caught.value.status == 503


def test_a_closed_backend_is_unavailable(tmp_path: Path) -> None:
    storage = SqliteStorage(path=tmp_path / "spoke.sqlite3")
    storage.close()
    with pytest.raises(BackendUnavailable):
        storage.check()
    with pytest.raises(BackendUnavailable):
        storage.create_module(module=make_module("acme.billing"))


def test_the_path_defaults_to_the_filesystem_root(tmp_path: Path) -> None:
    settings = load_settings({"SPOKE_FILESYSTEM_ROOT": str(tmp_path / "data")})
    assert database_path(settings) == tmp_path / "data" / "spoke.sqlite3"
    create_storage(settings).close()
    assert (tmp_path / "data" / "spoke.sqlite3").is_file()


def test_spoke_sqlite_path_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "registry.db"
    settings = load_settings({"SPOKE_SQLITE_PATH": str(target), "SPOKE_FILESYSTEM_ROOT": "/x"})
    assert database_path(settings) == target
    storage = create_storage(settings)
    storage.create_module(module=make_module("acme.billing"))
    storage.close()
    reopened = SqliteStorage(path=target)
    assert reopened.statistics().modules == 1
    reopened.close()
