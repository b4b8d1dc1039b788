"""The two listeners of SpokeServer, built for real on ephemeral ports (nothing is served)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from spoke.api.app import create_app
from spoke.server import HEALTH_CONNECTION_LIMIT, SELECT_CONNECTION_LIMIT, SpokeServer
from spoke.settings import load_settings
from worker_pool import shared_work


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server(**environ: str) -> SpokeServer:
    settings = {
        "SPOKE_STORAGE_TYPE": "memory",
        "SPOKE_HOST": "127.0.0.1",
        "SPOKE_PORT": str(_free_port()),
        "SPOKE_HEALTH_PORT": str(_free_port()),
        **environ,
    }
    return SpokeServer(create_app(load_settings(settings), work=shared_work()))


@pytest.fixture
def close() -> Iterator[list[SpokeServer]]:
    servers: list[SpokeServer] = []
    yield servers
    for server in servers:
        for listener in (server.api, server.health):
            listener.close_listening_socket()
            listener.close()
        server.application.close()


def test_each_listener_has_its_own_map_and_limits(close: list[SpokeServer]) -> None:
    server = _server(SPOKE_CONNECTION_LIMIT="7", SPOKE_IDLE_TIMEOUT="9s")
    close.append(server)
    assert server.api.map is not server.health.map
    assert server.api.server.adj.connection_limit == 7
    assert server.api.server.adj.channel_timeout == 9
    assert server.health.server.adj.connection_limit == HEALTH_CONNECTION_LIMIT
    assert server.api_port != server.health_port


@pytest.mark.parametrize(
    ("limit", "poll"), [(100, False), (SELECT_CONNECTION_LIMIT, False), (2000, True)]
)
def test_listeners_use_poll_only_past_what_select_can_watch(
    close: list[SpokeServer], limit: int, poll: bool
) -> None:
    server = _server(SPOKE_CONNECTION_LIMIT=str(limit))
    close.append(server)
    assert server.api.use_poll is poll
    assert server.health.use_poll is poll
    assert server.api.server.adj.asyncore_use_poll is poll
