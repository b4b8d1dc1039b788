"""Connection pools of the ``postgres`` backends: the primary, the read replicas, their health.

One :class:`PostgresEngines` holds a SQLAlchemy engine (a ``QueuePool``) for the primary and one
per replica. Writes use the primary; :meth:`PostgresEngines.pick_replica` hands reads to healthy
replicas round-robin. A replica that fails is marked unhealthy by the caller
(:meth:`PostgresEngines.mark_unhealthy`) and a daemon thread re-probes it (``SELECT 1`` on a fresh
connection) every ``probe_interval`` seconds until it answers again.

Driver errors never leave this package: :func:`translate_errors` turns them into
:class:`spoke.errors.BackendUnavailable` (connection refused or lost, timeouts, pool exhausted)
with a short reason that holds neither SQL nor a password.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import NullPool, QueuePool

from spoke.errors import BackendUnavailable, SpokeError

__all__ = [
    "NOT_A_SERVER_FAILURE",
    "DbPool",
    "PoolCollector",
    "PostgresEngines",
    "normalize_url",
    "redact_url",
    "translate_errors",
]

log = logging.getLogger(__name__)

_DRIVERS = {"postgres", "postgresql", "postgresql+psycopg2"}
_POOL_EXHAUSTED = "postgres: no free connection in the pool (all in use)"
#: Messages of ``BackendUnavailable`` that say nothing about the server's health: a replica
#: raising them is not taken out of rotation (the read is still retried on the primary).
NOT_A_SERVER_FAILURE = frozenset(
    {
        _POOL_EXHAUSTED,
        "postgres: statement timed out",
        "postgres: query cancelled by replica recovery",
    }
)
_WAIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def normalize_url(url: str) -> URL:
    """Parse a ``postgres://``/``postgresql://`` URL into one for SQLAlchemy's psycopg2 driver.

    Raises ``ValueError`` (whose message never holds the URL, which may carry a password).
    """
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):
        raise ValueError("not a valid PostgreSQL URL") from None
    if parsed.drivername not in _DRIVERS:
        raise ValueError(f"unsupported URL scheme {parsed.drivername!r}: use postgresql://")
    if not parsed.host and not parsed.query.get("host"):
        raise ValueError("the PostgreSQL URL names no host")
    if not parsed.database:
        raise ValueError("the PostgreSQL URL names no database")
    return parsed.set(drivername="postgresql+psycopg2")


def redact_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***`` (safe for logs and ``/health/ready``)."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (sa_exc.ArgumentError, ValueError):
        return "<invalid URL>"
    return parsed.set(drivername=parsed.drivername.split("+")[0]).render_as_string(
        hide_password=True
    )


def _reason(exc: sa_exc.DBAPIError) -> str:
    """A short, secret-free description of a driver error."""
    code = getattr(exc.orig, "pgcode", None)
    message = str(exc.orig).lower()
    if code == "57014":
        return "statement timed out"
    if code in ("57P01", "57P02", "57P03"):
        return "the database is shutting down or starting up"
    if code == "53300" or "too many clients" in message:
        return "too many connections"
    if "refused" in message:
        return "connection refused"
    if "timeout expired" in message or "timed out" in message:
        return "connection timed out"
    if "could not translate host name" in message or "name or service not known" in message:
        return "unknown database host"
    if "authentication failed" in message or "no pg_hba.conf entry" in message:
        return "authentication failed"
    if "database" in message and "does not exist" in message:
        return "database does not exist"
    if "recovery" in message and "conflict" in message:
        return "query cancelled by replica recovery"
    if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError):
        return "connection lost"
    if "server closed the connection" in message or "terminating connection" in message:
        return "connection lost"
    if isinstance(exc, sa_exc.OperationalError):
        return "cannot reach the database"
    return ""


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise SQLAlchemy and driver errors as Spoke errors; everything else passes through.

    Connection problems (refused, lost, timed out, pool exhausted) become ``BackendUnavailable``
    (503); any other database error becomes a bare :class:`SpokeError` (500) naming only its
    SQLSTATE. Neither message holds SQL, parameters or the URL.
    """
    try:
        yield
    except SpokeError:
        raise
    except sa_exc.TimeoutError as exc:  # QueuePool: no connection freed within pool_timeout
        raise BackendUnavailable(_POOL_EXHAUSTED) from exc
    except sa_exc.DBAPIError as exc:
        reason = _reason(exc)
        if reason:
            raise BackendUnavailable(f"postgres: {reason}") from exc
        code = getattr(exc.orig, "pgcode", None) or type(exc.orig).__name__
        raise SpokeError(f"postgres: unexpected database error ({code})") from exc
    except sa_exc.SQLAlchemyError as exc:
        raise BackendUnavailable(f"postgres: {type(exc).__name__}") from exc


def _connect_args(timeout: float, application_name: str, *, statement_timeout: bool) -> Any:
    options = "-c timezone=UTC"
    if statement_timeout:
        options += f" -c statement_timeout={max(1, int(timeout * 1000))}"
    return {
        "connect_timeout": max(1, round(timeout)),
        "application_name": application_name,
        "options": options,
    }


class DbPool:
    """One server (the primary or a replica): a pooled engine, a probe engine, health, counters."""

    def __init__(
        self,
        name: str,
        url: URL,
        *,
        min_conns: int,
        max_conns: int,
        timeout: float,
        wait_histogram: Histogram,
        application_name: str,
    ) -> None:
        self.name = name
        self.url = redact_url(url)
        self.max_conns = max_conns
        # The pool may hold MAX connections and keeps every one it opened: an overflow
        # connection would be closed on return, so a busy server would reconnect per request.
        self.engine: Engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=max(1, max_conns),
            max_overflow=0,
            pool_timeout=timeout,
            pool_pre_ping=True,
            pool_reset_on_return="rollback",
            connect_args=_connect_args(
                timeout, f"{application_name}-{name}", statement_timeout=True
            ),
        )
        # Probes use a connection of their own, so an exhausted pool never fails readiness.
        self._probe_engine: Engine = create_engine(
            url,
            poolclass=NullPool,
            connect_args=_connect_args(
                timeout, f"{application_name}-{name}-probe", statement_timeout=True
            ),
        )
        self._wait = wait_histogram.labels(pool=name)
        self._lock = threading.Lock()
        self._waiting = 0
        self.checkouts = 0
        self.healthy = True
        self._warm_up(min(min_conns, max_conns))

    def _warm_up(self, count: int) -> None:
        """Open ``count`` connections now so the first requests do not pay for connecting.

        Best effort: a server that is down at startup is handled like one that goes down later.
        """
        opened = []
        try:
            for _ in range(count):
                opened.append(self.engine.connect())
        except Exception:  # the health checks and the first requests will report it
            pass
        finally:
            for connection in opened:
                connection.close()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A pooled connection; the time to get it is observed in ``spoke_db_pool_wait_seconds``.

        Raises SQLAlchemy's errors: wrap calls in :func:`translate_errors`.
        """
        with self._lock:
            self._waiting += 1
        start = time.perf_counter()
        try:
            connection = self.engine.connect()
        finally:
            self._wait.observe(time.perf_counter() - start)
            with self._lock:
                self._waiting -= 1
        with self._lock:
            self.checkouts += 1
        with connection:
            yield connection

    def probe(self) -> float:
        """``SELECT 1`` on a fresh connection; the latency in ms. Raises ``BackendUnavailable``."""
        start = time.perf_counter()
        with translate_errors(), self._probe_engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return round((time.perf_counter() - start) * 1000, 3)

    def pool_status(self) -> dict[str, int]:
        """Open connections (``size``), ``in_use``, ``idle``, threads ``waiting``, and ``max``."""
        pool = self.engine.pool
        in_use = pool.checkedout() if isinstance(pool, QueuePool) else 0
        idle = pool.checkedin() if isinstance(pool, QueuePool) else 0
        with self._lock:
            waiting = self._waiting
        return {
            "size": in_use + idle,
            "in_use": in_use,
            "idle": idle,
            "waiting": waiting,
            "max": self.max_conns,
        }

    def exhausted(self) -> bool:
        """Every connection is checked out and a thread is waiting for one."""
        status = self.pool_status()
        return status["in_use"] >= status["max"] and status["waiting"] > 0

    def dispose(self) -> None:
        self.engine.dispose()
        self._probe_engine.dispose()


class PostgresEngines:
    """The primary's pool, the replicas' pools, round-robin routing and background re-probing."""

    def __init__(
        self,
        primary_url: str,
        replica_urls: Iterable[str] = (),
        *,
        min_conns: int = 2,
        max_conns: int = 10,
        timeout: float = 5.0,
        probe_interval: float = 2.0,
        application_name: str = "spoke",
    ) -> None:
        primary = normalize_url(primary_url)
        replicas = [normalize_url(url) for url in replica_urls]
        self.wait_histogram = Histogram(
            "spoke_db_pool_wait_seconds",
            "Time to get a connection from a PostgreSQL pool.",
            ["pool"],
            registry=None,
            buckets=_WAIT_BUCKETS,
        )
        common: dict[str, Any] = {
            "min_conns": min_conns,
            "max_conns": max_conns,
            "timeout": timeout,
            "wait_histogram": self.wait_histogram,
            "application_name": application_name,
        }
        self.primary = DbPool("primary", primary, **common)
        self.replicas = [
            DbPool(f"replica-{index}", url, **common) for index, url in enumerate(replicas, 1)
        ]
        self.probe_interval = probe_interval
        self._round_robin = itertools.count()
        self._stop = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        if self.replicas:
            self._thread = threading.Thread(
                target=self._probe_loop, name="spoke-postgres-replica-probe", daemon=True
            )
            self._thread.start()

    @property
    def pools(self) -> list[DbPool]:
        return [self.primary, *self.replicas]

    def pick_replica(self) -> DbPool | None:
        """The next healthy replica (round-robin), or ``None`` to read from the primary."""
        healthy = [replica for replica in self.replicas if replica.healthy]
        if not healthy:
            return None
        return healthy[next(self._round_robin) % len(healthy)]

    def mark_unhealthy(self, replica: DbPool, reason: str) -> None:
        """Take a replica out of rotation until the background probe finds it answering."""
        if replica.healthy:
            log.warning(
                "postgres %s (%s) taken out of rotation: %s", replica.name, replica.url, reason
            )
        replica.healthy = False

    def mark_healthy(self, replica: DbPool) -> None:
        if not replica.healthy:
            log.info("postgres %s (%s) back in rotation", replica.name, replica.url)
        replica.healthy = True

    def probe_unhealthy_replicas(self) -> None:
        """One round of the background probe (also callable from tests)."""
        for replica in self.replicas:
            if replica.healthy:
                continue
            try:
                replica.probe()
            except BackendUnavailable:
                continue
            self.mark_healthy(replica)

    def _probe_loop(self) -> None:
        while not self._stop.wait(self.probe_interval):
            try:
                self.probe_unhealthy_replicas()
            except Exception:  # the probe thread must survive anything
                log.exception("postgres replica probe failed")

    def close(self) -> None:
        """Stop the probe thread and close every connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.probe_interval + 10)
        for pool in self.pools:
            pool.dispose()


class PoolCollector(Collector):
    """``spoke_db_connections_active{pool}`` and ``spoke_db_connections_idle{pool}``, at scrape."""

    def __init__(self, engines: PostgresEngines) -> None:
        self._engines = engines

    def _families(self, *, with_samples: bool) -> list[Metric]:
        active = GaugeMetricFamily(
            "spoke_db_connections_active",
            "PostgreSQL connections checked out of the pool.",
            labels=["pool"],
        )
        idle = GaugeMetricFamily(
            "spoke_db_connections_idle",
            "PostgreSQL connections open and idle in the pool.",
            labels=["pool"],
        )
        if with_samples:
            for pool in self._engines.pools:
                status = pool.pool_status()
                active.add_metric([pool.name], status["in_use"])
                idle.add_metric([pool.name], status["idle"])
        return [active, idle]

    def describe(self) -> list[Metric]:
        return self._families(with_samples=False)

    def collect(self) -> list[Metric]:
        return self._families(with_samples=True)
