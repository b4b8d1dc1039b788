"""Two server processes on one filesystem root, racing to push the same version over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from spoke_process import RunningServer, start_server

pytestmark = pytest.mark.slow

ROUNDS = 6


def _proto(marker: str) -> str:
    return f'syntax = "proto3";\npackage race;\nmessage Ping {{ string {marker} = 1; }}\n'


def _race(servers: list[RunningServer], bodies: list[dict[str, object]]) -> list[int]:
    barrier = threading.Barrier(len(servers))
    statuses: list[int] = [0] * len(servers)

    def push(index: int) -> None:
        server = servers[index]
        barrier.wait()
        statuses[index] = server.request(
            "POST", f"{server.api}/api/v1/modules/race/versions", bodies[index]
        )[0]

    threads = [threading.Thread(target=push, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[list[RunningServer]]:
    shared = {"SPOKE_FILESYSTEM_ROOT": str(tmp_path / "shared")}
    servers = [start_server(tmp_path, shared, name=f"s{i}") for i in range(2)]
    yield servers
    for server in servers:
        server.process.terminate()
        server.process.wait(timeout=30)


def test_different_content_exactly_one_wins_the_other_gets_409(
    two_servers: list[RunningServer],
) -> None:
    first = two_servers[0]
    assert first.request("POST", f"{first.api}/api/v1/modules", {"name": "race"})[0] == 201
    for round_number in range(ROUNDS):
        version = f"1.0.{round_number}"
        bodies: list[dict[str, object]] = [
            {"version": version, "files": [{"path": "race.proto", "content": _proto(f"by_{i}")}]}
            for i in range(2)
        ]
        statuses = _race(two_servers, bodies)
        assert sorted(statuses) == [201, 409], statuses
        winner = statuses.index(201)
        # Both processes now serve the winner's content.
        for server in two_servers:
            status, body = server.request(
                "GET", f"{server.api}/api/v1/modules/race/versions/{version}/files/race.proto"
            )
            assert status == 200
            assert body["content"] == _proto(f"by_{winner}")


def test_identical_content_one_creates_the_other_gets_the_idempotent_200(
    two_servers: list[RunningServer],
) -> None:
    first = two_servers[0]
    assert first.request("POST", f"{first.api}/api/v1/modules", {"name": "race"})[0] == 201
    for round_number in range(ROUNDS):
        body: dict[str, object] = {
            "version": f"2.0.{round_number}",
            "files": [{"path": "race.proto", "content": _proto("same")}],
        }
        statuses = _race(two_servers, [body, body])
        assert sorted(statuses) == [200, 201], statuses
    status, versions = first.request("GET", f"{first.api}/api/v1/modules/race/versions")
    assert status == 200
    assert len(versions) == ROUNDS
