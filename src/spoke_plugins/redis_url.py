"""Parsing ``SPOKE_REDIS_URL`` for the ``redis`` cache, without importing the redis driver.

Three forms are accepted::

    redis://[[user]:password@]host[:port][/db]
    rediss://[[user]:password@]host[:port][/db]                      (TLS)
    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/<master name>[/db]

The credentials of a sentinel URL are those of the master (and its replicas), not of the
sentinels. ``SPOKE_REDIS_PASSWORD`` and ``SPOKE_REDIS_DB`` apply when the URL does not carry a
password or a database. A malformed URL is a :class:`spoke.settings.SettingsError` whose message
never contains the password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

from spoke.settings import SettingsError

__all__ = ["DEFAULT_PORT", "DEFAULT_SENTINEL_PORT", "RedisTarget", "parse_redis_url"]

DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379
_VARIABLE = "SPOKE_REDIS_URL"
_SCHEMES = ("redis", "rediss", "redis+sentinel")


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where the cache's Redis is: one server, or the sentinels watching a named master."""

    mode: Literal["standalone", "sentinel"]
    hosts: tuple[tuple[str, int], ...]
    db: int = 0
    service_name: str | None = None
    ssl: bool = False
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def redacted(self) -> str:
        """The URL without any credentials, safe for logs and ``/health/ready``."""
        scheme = {"standalone": "rediss" if self.ssl else "redis", "sentinel": "redis+sentinel"}
        hosts = ",".join(_join_host(host, port) for host, port in self.hosts)
        if self.mode == "sentinel":
            return f"{scheme[self.mode]}://{hosts}/{self.service_name}/{self.db}"
        return f"{scheme[self.mode]}://{hosts}/{self.db}"


def _join_host(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _fail(problem: str) -> SettingsError:
    return SettingsError(_VARIABLE, problem)


def _parse_host(text: str, default_port: int) -> tuple[str, int]:
    if text.startswith("["):  # [IPv6]:port
        host, sep, rest = text[1:].partition("]")
        if not sep or not host or (rest and not rest.startswith(":")):
            raise _fail("a bracketed IPv6 host must look like [::1]:6379")
        port_text = rest[1:]
    else:
        host, _, port_text = text.partition(":")
        if ":" in port_text:
            raise _fail("write an IPv6 host in brackets, e.g. [::1]:6379")
    if not host or any(ch.isspace() or ch in "/?#@" for ch in host):
        raise _fail(f"expected host[:port] in the host list, got {text!r}")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise _fail(f"expected a port between 1 and 65535 for host {host!r}")
    return host, int(port_text)


def _parse_db(text: str) -> int:
    if not text.isdigit() or int(text) > 1023:
        raise _fail(f"expected a database number between 0 and 1023, got {text[:20]!r}")
    return int(text)


def parse_redis_url(url: str, *, password: str | None = None, db: int | None = None) -> RedisTarget:
    """Parse ``url``; ``password`` and ``db`` are the fallbacks when the URL has none.

    Raises :class:`SettingsError` (``SPOKE_REDIS_URL``) describing the problem; the message shows
    hosts and paths at most, never the credentials.
    """
    scheme, sep, rest = url.strip().partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _SCHEMES:
        raise _fail(
            "expected a URL starting with redis://, rediss:// or redis+sentinel:// "
            f"(got scheme {scheme[:20]!r})"
        )
    netloc, _, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    if not at:
        userinfo, hostlist = "", netloc
    if "?" in path or "#" in path or "?" in hostlist or "#" in hostlist:
        raise _fail("query parameters and fragments are not supported")
    username: str | None = None
    url_password: str | None = None
    if at:
        user_text, colon, password_text = userinfo.partition(":")
        username = unquote(user_text) or None
        url_password = unquote(password_text) if colon else None
    if not hostlist:
        raise _fail("the URL names no host")
    sentinel = scheme == "redis+sentinel"
    parts = hostlist.split(",")
    if not sentinel and len(parts) > 1:
        raise _fail("several hosts are only allowed with redis+sentinel://")
    default_port = DEFAULT_SENTINEL_PORT if sentinel else DEFAULT_PORT
    hosts = tuple(_parse_host(part.strip(), default_port) for part in parts)
    segments = [unquote(s) for s in path.split("/")] if path else []
    if segments and segments[-1] == "":
        segments.pop()  # a trailing slash
    service_name: str | None = None
    url_db: int | None = None
    if sentinel:
        if not segments or not segments[0]:
            raise _fail(
                "a sentinel URL needs the master name: redis+sentinel://host:26379/mymaster/0"
            )
        service_name = segments[0]
        if len(segments) > 2:
            raise _fail("expected redis+sentinel://hosts/<master name>[/<db>]")
        if len(segments) == 2:
            url_db = _parse_db(segments[1])
    else:
        if len(segments) > 1:
            raise _fail("expected redis://host:port[/<db>]")
        if segments:
            url_db = _parse_db(segments[0])
    return RedisTarget(
        mode="sentinel" if sentinel else "standalone",
        hosts=hosts,
        db=url_db if url_db is not None else (db or 0),
        service_name=service_name,
        ssl=scheme == "rediss",
        username=username,
        password=url_password or password or None,  # an empty one in the URL is none
    )
