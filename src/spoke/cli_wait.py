"""``spoke wait``: block until the backends Spoke is configured for accept connections.

::

    spoke wait                          # the PostgreSQL primary and Redis, when configured
    spoke wait --migrated               # ... and the schema at this Spoke's revision
    spoke wait --timeout 5m --interval 2s

It exists for Kubernetes init containers. Running it from the Spoke image itself means the pod
needs no second image (a shell and ``nc``), and the check is the one ``spoke serve`` depends on:
PostgreSQL must accept a login with the configured URL, not merely a TCP handshake, and a Sentinel
must name a master that answers ``PING``. ``--migrated`` asks the same question as ``spoke migrate
--check``, with the same code, so a pod never starts against a schema ``spoke serve`` would refuse.

Each attempt that fails prints one line per backend saying why (stderr), so ``kubectl logs -c``
on a stuck init container tells what it is waiting for. Backends found ready are not asked again.

Exit codes: 0 everything ready; 1 the timeout passed first (the last reason of each backend still
not ready on stderr); 2 a configuration or usage error (a missing or invalid URL, a missing extra).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from spoke.errors import SpokeError
from spoke.plugins import missing_extra, missing_modules
from spoke.settings import Settings, SettingsError, load_settings, parse_duration
from spoke_plugins import postgres

__all__ = ["wait"]

EXIT_TIMEOUT = 1
EXIT_CONFIG = 2
# One attempt at one backend never takes longer than this, so a host that drops packets (rather
# than refusing) still gets a line in the log every few seconds.
ATTEMPT_TIMEOUT = 5.0
MIN_ATTEMPT_TIMEOUT = 0.5


class NotReady(Exception):
    """A backend did not pass its check; the message says why, in a few words."""


@dataclass
class Probe:
    """One backend to wait for: ``check(timeout)`` returns a short detail or raises NotReady."""

    name: str
    where: str
    check: Callable[[float], str]
    reason: str = "not checked yet"

    def label(self) -> str:
        return f"{self.name} ({self.where})"


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"spoke wait: {message}", err=True)
    sys.exit(code)


def _without_prefix(message: str, prefix: str) -> str:
    return message.removeprefix(f"{prefix}: ")


# ---------------------------------------------------------------------------------------------
# PostgreSQL: a real login on the primary, reading the schema revision (``spoke migrate --check``)


def _postgres_probe(url: str, *, migrated: bool) -> Probe:
    what = "waiting for PostgreSQL"
    missing = missing_modules(postgres.REQUIRES)
    if missing:
        _fail(missing_extra(what, postgres.EXTRA, missing), EXIT_CONFIG)
    try:
        from alembic.script import ScriptDirectory

        from spoke_plugins.postgres import migrate as migrations
        from spoke_plugins.postgres.engine import normalize_url, redact_url
    except ImportError as exc:  # installed, but broken
        _fail(f"{missing_extra(what, postgres.EXTRA)}: {exc}", EXIT_CONFIG)
    try:
        where = redact_url(normalize_url(url))
    except ValueError as exc:
        _fail(f"configuration error: SPOKE_POSTGRES_URL: {exc}", EXIT_CONFIG)
    head = migrations.head_revision()
    known = {
        script.revision
        for script in ScriptDirectory.from_config(migrations.alembic_config()).walk_revisions()
    }

    def check(timeout: float) -> str:
        try:
            current = migrations.current_revision(url, timeout=timeout)
        except SpokeError as exc:  # BackendUnavailable: refused, timed out, authentication...
            raise NotReady(_without_prefix(exc.message, "postgres")) from None
        if migrated and current != head:
            if current is not None and current not in known:
                raise NotReady(
                    f"database at revision {current}, which this Spoke does not know (it needs "
                    f"{head}): a newer Spoke migrated it; deploy that release"
                )
            raise NotReady(
                f"migrations pending: database at revision {current or 'none'}, this Spoke "
                f"needs {head}; run `spoke migrate` (the migrate Job)"
            )
        return f"schema at revision {current or 'none'}"

    return Probe("postgres", where, check)


# ---------------------------------------------------------------------------------------------
# Redis: PING the server, or the master a Sentinel names, with the cache's credentials


def _redis_probe(settings: Settings) -> Probe:
    from spoke_plugins.redis_url import parse_redis_url

    try:
        import redis
        import redis.sentinel
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError:
        _fail(missing_extra("waiting for Redis", "redis", missing_modules(["redis"])), EXIT_CONFIG)
    assert settings.redis_url is not None
    sentinel_class: Any = redis.sentinel.Sentinel  # untyped in redis-py
    try:
        target = parse_redis_url(
            settings.redis_url, password=settings.redis_password, db=settings.redis_db
        )
    except SettingsError as exc:
        _fail(f"configuration error: {exc}", EXIT_CONFIG)

    def check(timeout: float) -> str:
        client: Any = None
        try:
            if target.mode == "sentinel":
                sentinel = sentinel_class(
                    list(target.hosts),
                    sentinel_kwargs={
                        "socket_timeout": timeout,
                        "socket_connect_timeout": timeout,
                        "retry": Retry(NoBackoff(), 0),
                    },
                )
                host, port = sentinel.discover_master(target.service_name)
                for server in sentinel.sentinels:
                    server.close()
                detail = f"master {host}:{port}"
            else:
                host, port = target.hosts[0]
                detail = "PING answered"
            client = redis.Redis(
                host=host,
                port=port,
                db=target.db,
                ssl=target.ssl,
                username=target.username,
                password=target.password,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),  # this loop is the retry; one try per attempt
            )
            client.ping()
        except redis.sentinel.MasterNotFoundError:
            raise NotReady(
                f"no sentinel names a master called {target.service_name!r} (or none answers)"
            ) from None
        except redis.exceptions.AuthenticationError:
            raise NotReady("authentication failed (check SPOKE_REDIS_PASSWORD)") from None
        except redis.exceptions.RedisError as exc:
            # redis-py's messages name the host and port, never the password.
            text = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise NotReady(f"{type(exc).__name__}: {text}".rstrip(": ")) from None
        finally:
            if client is not None:
                client.close()
        return detail

    return Probe("redis", target.redacted(), check)


# ---------------------------------------------------------------------------------------------
# The command


def _probes(settings: Settings, *, migrated: bool, with_redis: bool) -> list[Probe]:
    probes: list[Probe] = []
    uses_postgres = "postgres" in (settings.storage_type, settings.effective_blob_type)
    if settings.postgres_url:
        probes.append(_postgres_probe(settings.postgres_url, migrated=migrated))
    elif uses_postgres or migrated:
        who = "--migrated needs" if migrated and not uses_postgres else "the postgres backends need"
        _fail(f"configuration error: {who} SPOKE_POSTGRES_URL", EXIT_CONFIG)
    if with_redis and settings.effective_cache_type == "redis":
        if not settings.redis_url:
            _fail("configuration error: the redis cache needs SPOKE_REDIS_URL", EXIT_CONFIG)
        probes.append(_redis_probe(settings))
    return probes


@click.command()
@click.option(
    "--timeout",
    default="2m",
    metavar="DURATION",
    callback=_duration,
    show_default=True,
    help="Give up after this long (30s, 5m...); 0 checks once.",
)
@click.option(
    "--interval",
    default="2s",
    metavar="DURATION",
    callback=_duration,
    show_default=True,
    help="Pause between two attempts.",
)
@click.option(
    "--migrated",
    is_flag=True,
    help="Also wait until the schema is at this Spoke's revision (as `spoke migrate --check`).",
)
@click.option(
    "--no-redis",
    is_flag=True,
    help="Do not wait for Redis (the cache fails open: Spoke serves without it, only slower).",
)
def wait(timeout: float, interval: float, migrated: bool, no_redis: bool) -> None:
    """Wait until PostgreSQL (the primary) and Redis accept connections.

    Only what the SPOKE_* settings configure is waited for: PostgreSQL when SPOKE_POSTGRES_URL is
    set (or a postgres backend is selected), Redis when the cache is `redis`. Made for init
    containers: exits 0 when everything answers, 1 when --timeout passes first.
    """
    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(f"configuration error: {exc}", EXIT_CONFIG)
    probes = _probes(settings, migrated=migrated, with_redis=not no_redis)
    if not probes:
        click.echo("spoke wait: nothing to wait for (no PostgreSQL, no Redis configured)")
        return
    start = time.monotonic()
    deadline = start + timeout
    pending = list(probes)
    attempt = 0
    while True:
        attempt += 1
        for probe in list(pending):
            remaining = deadline - time.monotonic()
            budget = min(ATTEMPT_TIMEOUT, max(remaining, MIN_ATTEMPT_TIMEOUT))
            try:
                detail = probe.check(budget)
            except NotReady as exc:
                probe.reason = str(exc)
                left = max(0.0, deadline - time.monotonic())
                click.echo(
                    f"spoke wait: {probe.label()}: not ready (attempt {attempt}, "
                    f"{left:.0f}s left): {probe.reason}",
                    err=True,
                )
                continue
            pending.remove(probe)
            elapsed = time.monotonic() - start
            click.echo(f"spoke wait: {probe.label()}: ready, {detail} ({elapsed:.1f}s)")
        if not pending:
            return
        now = time.monotonic()
        if now >= deadline:
            for probe in pending:
                click.echo(
                    f"spoke wait: timed out after {timeout:g}s: {probe.label()} not ready: "
                    f"{probe.reason}",
                    err=True,
                )
            sys.exit(EXIT_TIMEOUT)
        time.sleep(min(interval, deadline - now))
