"""The addresses ``spoke serve`` listens on, checked before binding, and the one message for an
address it cannot listen on.

``cannot listen on 0.0.0.0:8080 (SPOKE_PORT): Address already in use`` names the address, the
port and the setting to change, whichever listener failed: :func:`cannot_listen_message` builds
it, for this module's checks and for a server that binds its listeners itself.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass

from spoke.settings import Settings

__all__ = [
    "CannotListen",
    "Listener",
    "cannot_listen_message",
    "check_can_listen",
    "configured_listeners",
    "explain_listen_failure",
]


@dataclass(frozen=True, slots=True)
class Listener:
    """One listening socket Spoke opens: its host, its port and the setting naming the port."""

    host: str
    port: int
    setting: str


class CannotListen(Exception):
    """A listener's address cannot be bound; the message says which and why."""


def cannot_listen_message(host: str, port: int, setting: str, error: OSError) -> str:
    """``cannot listen on <host>:<port> (<setting>): <reason>``.

    An IPv6 host is written in brackets. A host that does not resolve names ``SPOKE_HOST``
    rather than the port's setting: that is the one to change.
    """
    if isinstance(error, socket.gaierror):
        setting = "SPOKE_HOST"
    return f"cannot listen on {_where(host, port, setting)}: {error.strerror or error}"


def _where(host: str, port: int, setting: str) -> str:
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"{address} ({setting})"


def configured_listeners(settings: Settings) -> tuple[Listener, Listener]:
    """The API listener, then the health listener, as ``spoke serve`` binds them."""
    return (
        Listener(settings.host, settings.port, "SPOKE_PORT"),
        Listener(settings.host, settings.health_port, "SPOKE_HEALTH_PORT"),
    )


def _try_bind(listener: Listener) -> OSError | None:
    """Bind every address the host resolves to as waitress does (``SO_REUSEADDR``, IPv6 sockets
    IPv6-only), then release them at once; the first error, or ``None``."""
    try:
        addresses = socket.getaddrinfo(
            listener.host,
            listener.port,
            socket.AF_UNSPEC,
            socket.SOCK_STREAM,
            socket.IPPROTO_TCP,
            socket.AI_PASSIVE,
        )
    except OSError as exc:  # socket.gaierror: the host does not resolve
        return exc
    for family, kind, proto, _, address in addresses:
        try:
            with socket.socket(family, kind, proto) as probe:
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
        except OSError as exc:
            return exc
    return None


def check_can_listen(listeners: Sequence[Listener]) -> None:
    """Raise :class:`CannotListen` naming the first listener whose address cannot be bound.

    Nothing stays bound: another process may still take a port between this check and the real
    bind, which :func:`explain_listen_failure` then reports.
    """
    for listener in listeners:
        error = _try_bind(listener)
        if error is not None:
            raise CannotListen(
                cannot_listen_message(listener.host, listener.port, listener.setting, error)
            )


def explain_listen_failure(listeners: Sequence[Listener], error: OSError) -> str:
    """The message for ``error``, raised while binding ``listeners`` in this order.

    Which one failed is found by binding each again, the last first: the listeners before the
    failing one may still be bound by this very process, and would look taken. When every one
    binds now (whatever held the port let it go), the message names them all.
    """
    for listener in reversed(listeners):
        now = _try_bind(listener)
        if now is not None:
            return cannot_listen_message(listener.host, listener.port, listener.setting, now)
    names = " or ".join(_where(item.host, item.port, item.setting) for item in listeners)
    return f"cannot listen on {names}: {error.strerror or error}"
