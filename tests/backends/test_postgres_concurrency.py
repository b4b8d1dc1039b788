"""Two processes pushing the same version through two storage instances: exactly one wins."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from spoke.interfaces import VersionAlreadyStored
from spoke.testing.contract import make_module, make_version
from spoke_plugins.postgres.engine import PostgresEngines
from spoke_plugins.postgres.storage import PostgresStorage

pytestmark = [pytest.mark.backend("postgres"), pytest.mark.slow]

ROUNDS = 5


def _pusher(url: str, index: int, barrier: Any, results: Any) -> None:
    storage = PostgresStorage(PostgresEngines(url, min_conns=1, max_conns=2))
    try:
        for round_number in range(ROUNDS):
            version = make_version(
                "acme.race",
                f"1.{round_number}.0",
                files={"a.proto": f"process {index}".encode()},
            )
            barrier.wait(timeout=30)
            try:
                storage.create_version(version=version)
            except VersionAlreadyStored as exc:
                results.put((round_number, index, "lost", exc.existing.files[0].sha256))
            except Exception as exc:
                results.put((round_number, index, "error", repr(exc)))
            else:
                results.put((round_number, index, "won", version.files[0].sha256))
    finally:
        storage.close()


def test_racing_pushes_from_two_processes(pg_database: Any) -> None:
    setup = PostgresStorage(PostgresEngines(pg_database.url, max_conns=1))
    setup.create_module(module=make_module("acme.race"))
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(target=_pusher, args=(pg_database.url, i, barrier, results))
        for i in range(2)
    ]
    try:
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=60) for _ in range(2 * ROUNDS)]
        for process in processes:
            process.join(timeout=30)
            assert process.exitcode == 0
        for round_number in range(ROUNDS):
            this_round = [o for o in outcomes if o[0] == round_number]
            assert sorted(o[2] for o in this_round) == ["lost", "won"], this_round
            (winner,) = [o for o in this_round if o[2] == "won"]
            (loser,) = [o for o in this_round if o[2] == "lost"]
            assert loser[3] == winner[3]  # the loser is told about the winner's content
            stored = setup.get_version(module="acme.race", version=f"1.{round_number}.0")
            assert stored.files[0].sha256 == winner[3]
        assert setup.statistics().versions == ROUNDS
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
        setup.close()
