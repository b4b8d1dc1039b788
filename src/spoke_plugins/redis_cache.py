"""The ``redis`` cache backend: an in-process L1 LRU in front of Redis (L2), failing open.

* ``get`` looks in L1, then in Redis; a Redis hit fills L1 (with the key's remaining Redis ttl).
* ``set`` writes both tiers (Redis ``SET ... PX`` when a ttl is given).
* ``delete`` removes the key from both tiers and publishes it on ``spoke:invalidate``; every
  replica's subscriber thread drops it from its own L1, so a future mutable key is safe across
  replicas (a delete on write). ``l1_ttl`` (``SPOKE_REDIS_L1_TTL``) caps how long L1 keeps any
  entry, which bounds staleness when an invalidation is missed (Redis down while it was sent).
* Redis failing never raises out of ``get``/``set``/``delete``: the call is a miss or a no-op, and
  a circuit breaker then keeps every request away from Redis for ``retry_after`` seconds (one
  caller probes afterwards), so a dead Redis costs at most one short socket timeout per second,
  not one per request. L1 keeps serving meanwhile.
* ``redis+sentinel://`` URLs go through :class:`redis.sentinel.Sentinel` ``master_for``: after a
  failover, new connections find the new master by themselves.

The redis driver is imported only when the backend is created, so Spoke without the ``redis``
extra still lists this backend (as unusable, with the install hint) and refuses it only when it is
selected.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from spoke.interfaces import HealthReport
from spoke.lru import LRUCache
from spoke.plugins import CacheBackend, hookimpl, missing_extra
from spoke.settings import Settings, SettingsError
from spoke_plugins.redis_url import RedisTarget, parse_redis_url

if TYPE_CHECKING:
    import redis

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "DEFAULT_SOCKET_TIMEOUT",
    "INVALIDATION_CHANNEL",
    "RedisCache",
    "create_redis_cache",
    "spoke_cache_backends",
]

log = logging.getLogger(__name__)

INVALIDATION_CHANNEL = "spoke:invalidate"
DEFAULT_SOCKET_TIMEOUT = 0.25
DEFAULT_RETRY_AFTER = 1.0
_MISSING_EXTRA = missing_extra("the redis cache backend", "redis")
_ORIGIN_LENGTH = 32  # uuid4().hex


def _ignore() -> None:
    return None


def _import_redis() -> Any:
    try:
        import redis
        import redis.sentinel
    except ImportError:
        raise SettingsError("SPOKE_CACHE_TYPE", _MISSING_EXTRA) from None
    return redis


def _connect(target: RedisTarget, timeout: float) -> redis.Redis:
    """A client for ``target``; connects lazily, so nothing here needs Redis to be up."""
    redis_module = _import_redis()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    common: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),  # the circuit breaker decides when to try again
        "health_check_interval": 0,
    }
    credentials = {"username": target.username, "password": target.password}
    if target.mode == "sentinel":
        sentinel = redis_module.sentinel.Sentinel(
            list(target.hosts),
            sentinel_kwargs={
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                "retry": Retry(NoBackoff(), 0),
            },
            **common,
        )
        client: redis.Redis = sentinel.master_for(
            target.service_name, db=target.db, **credentials, **common
        )
        return client
    host, port = target.hosts[0]
    plain: redis.Redis = redis_module.Redis(
        host=host, port=port, db=target.db, ssl=target.ssl, **credentials, **common
    )
    return plain


class _Tally:
    """A lock-free counter: ``next()`` on :class:`itertools.count` is atomic in CPython, which
    keeps the L1 hit path several times cheaper than a ``prometheus_client.Counter``."""

    __slots__ = ("_count",)

    def __init__(self) -> None:
        self._count = itertools.count(1)

    def inc(self) -> None:
        next(self._count)

    @property
    def value(self) -> int:
        return int(repr(self._count)[6:-1]) - 1  # "count(n)": n is the next value


class _TierMetrics(Collector):
    """The backend's own metrics, computed at scrape time (the application registers this)."""

    def __init__(self, l1: LRUCache) -> None:
        self._l1 = l1
        self.l1_hits, self.l1_misses = _Tally(), _Tally()
        self.redis_hits, self.redis_misses, self.redis_errors = _Tally(), _Tally(), _Tally()
        self.skipped = _Tally()

    def collect(self) -> Iterator[Metric]:
        hits = CounterMetricFamily(
            "spoke_cache_tier_hits",
            "Lookups answered by a tier of the redis cache.",
            labels=["tier"],
        )
        hits.add_metric(["l1"], self.l1_hits.value)
        hits.add_metric(["redis"], self.redis_hits.value)
        misses = CounterMetricFamily(
            "spoke_cache_tier_misses",
            "Lookups a tier of the redis cache could not answer.",
            labels=["tier"],
        )
        misses.add_metric(["l1"], self.l1_misses.value)
        misses.add_metric(["redis"], self.redis_misses.value)
        errors = CounterMetricFamily(
            "spoke_cache_tier_errors",
            "Calls to a tier of the redis cache that failed (the cache answered a miss).",
            labels=["tier"],
        )
        errors.add_metric(["redis"], self.redis_errors.value)
        skipped = CounterMetricFamily(
            "spoke_cache_redis_skipped",
            "Redis calls skipped because a recent failure opened the circuit breaker.",
            value=self.skipped.value,
        )
        l1_bytes = GaugeMetricFamily(
            "spoke_cache_l1_bytes",
            "Bytes held by the in-process L1 cache.",
            value=self._l1.size_bytes,
        )
        yield from (hits, misses, errors, skipped, l1_bytes)


class RedisCache:
    """Two-tier cache: :class:`spoke.lru.LRUCache` in process, Redis behind it. Thread-safe.

    ``client`` overrides the Redis client built from ``target`` (tests). ``l1_ttl`` caps the
    lifetime of every L1 entry (``None``: until evicted; for immutable values). ``retry_after``
    is how long the circuit breaker keeps Redis out after a failure.
    """

    def __init__(
        self,
        target: RedisTarget,
        *,
        l1_max_bytes: int,
        l1_ttl: float | None = None,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
        retry_after: float = DEFAULT_RETRY_AFTER,
        channel: str = INVALIDATION_CHANNEL,
        client: redis.Redis | None = None,
    ) -> None:
        self.target = target
        self.l1 = LRUCache(max_bytes=l1_max_bytes)
        self.l1_ttl = l1_ttl
        self.retry_after = retry_after
        self.channel = channel
        self._client = client if client is not None else _connect(target, socket_timeout)
        self._metrics = _TierMetrics(self.l1)
        self._error_listener: Callable[[], None] = _ignore
        self._origin = uuid.uuid4().hex
        self._state = threading.Lock()
        self._tripped = False
        self._retry_at = 0.0
        self._closed = False
        self._invalidations = 0  # bumped by every invalidation received from another replica
        self.subscribed = threading.Event()  # set while the invalidation subscription is live
        self._stop = threading.Event()
        self._subscriber = threading.Thread(
            target=self._listen, name="spoke-redis-invalidation", daemon=True
        )
        self._subscriber.start()

    # -- the Cache protocol -------------------------------------------------------------------

    def get(self, *, key: str) -> bytes | None:
        if self._closed:
            return None
        value = self.l1.get(key=key)
        if value is not None:
            self._metrics.l1_hits.inc()
            return value
        self._metrics.l1_misses.inc()
        if not self._allowed():
            return None
        generation = self._invalidations
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.get(key)
            pipe.pttl(key)
            found, pttl = pipe.execute()
        except Exception as exc:  # any driver failure is a miss
            self._failed(exc)
            return None
        self._succeeded()
        if found is None:
            self._metrics.redis_misses.inc()
            return None
        self._metrics.redis_hits.inc()
        value = bytes(found)
        if generation != self._invalidations or pttl == -2:
            # Another replica invalidated something meanwhile (or the key just expired): the
            # value is still the right answer to this call, but L1 must not keep it.
            return value
        remaining = pttl / 1000 if isinstance(pttl, int) and pttl > 0 else None
        self.l1.set(key=key, value=value, ttl=self._l1_ttl(remaining))
        return value

    def set(self, *, key: str, value: bytes, ttl: float | None = None) -> None:
        if self._closed:
            return
        self.l1.set(key=key, value=value, ttl=self._l1_ttl(ttl))
        if not self._allowed():
            return
        try:
            if ttl is None:
                self._client.set(key, value)
            else:
                self._client.set(key, value, px=max(1, round(ttl * 1000)))
        except Exception as exc:
            self._failed(exc)
            return
        self._succeeded()

    def delete(self, *, key: str) -> None:
        self.l1.delete(key=key)
        if not self._allowed():
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.delete(key)
            pipe.publish(self.channel, f"{self._origin}:{key}")
            pipe.execute()
        except Exception as exc:
            self._failed(exc)
            return
        self._succeeded()

    def check(self) -> None:
        """Never raises for Redis being down: the cache is optional and L1 still serves.

        :meth:`health` says whether Redis answers.
        """
        return None

    def close(self) -> None:
        """Stop the subscriber, drop L1 and the connections. Idempotent."""
        with self._state:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._subscriber.join(timeout=5)
        self.l1.close()
        try:
            self._client.close()
        except Exception:  # best effort at shutdown
            log.debug("closing the redis client failed", exc_info=True)

    # -- ReportsHealth, ExportsMetrics ----------------------------------------------------------

    def health(self) -> HealthReport:
        """``ok`` when Redis answers PING, else ``degraded``; never raises."""
        details: dict[str, object] = {
            "mode": self.target.mode,
            "redis_url": self.target.redacted(),
            "l1_bytes": self.l1.size_bytes,
            "l1_max_bytes": self.l1.max_bytes,
            "invalidation_subscribed": self.subscribed.is_set(),
        }
        try:
            self._client.ping()
        except Exception as exc:
            self._failed(exc)
            details["redis"] = "unavailable"
            details["message"] = (
                f"Redis does not answer ({type(exc).__name__}); serving from the in-process "
                "cache only"
            )
            return HealthReport(status="degraded", details=details)
        self._succeeded()
        details["redis"] = "ok"
        return HealthReport(status="ok", details=details)

    def metrics_collectors(self) -> list[Collector]:
        return [self._metrics]

    # -- internals ------------------------------------------------------------------------------

    def _l1_ttl(self, ttl: float | None) -> float | None:
        if self.l1_ttl is None:
            return ttl
        return self.l1_ttl if ttl is None else min(ttl, self.l1_ttl)

    def _allowed(self) -> bool:
        """Whether this call may use Redis: the breaker is closed, or this caller probes."""
        if self._closed:
            return False
        if self._tripped:
            now = time.monotonic()
            with self._state:
                if self._tripped:
                    if now < self._retry_at:
                        self._metrics.skipped.inc()
                        return False
                    # Half-open: this caller tries; the others keep skipping until it is done.
                    self._retry_at = now + self.retry_after
        return True

    def _succeeded(self) -> None:
        if self._tripped:
            with self._state:
                if self._tripped:
                    self._tripped = False
                    log.info("redis cache: Redis answers again (%s)", self.target.redacted())

    def set_error_listener(self, listener: Callable[[], None]) -> None:
        """Report each failed Redis call to ``listener`` (``spoke_cache_errors_total``)."""
        self._error_listener = listener

    def _failed(self, exc: BaseException) -> None:
        self._metrics.redis_errors.inc()
        self._error_listener()
        with self._state:
            first = not self._tripped
            self._tripped = True
            self._retry_at = time.monotonic() + self.retry_after
        if first:
            log.warning(
                "redis cache: Redis failed (%s: %s); serving from L1 only, retrying every %.1fs",
                type(exc).__name__,
                exc,
                self.retry_after,
            )

    def _listen(self) -> None:
        """The subscriber thread: drop keys other replicas deleted; resubscribe after errors."""
        while not self._stop.is_set():
            pubsub: Any = None
            try:
                pubsub = self._client.pubsub(  # type: ignore[no-untyped-call]
                    ignore_subscribe_messages=True
                )
                pubsub.subscribe(self.channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if not self.subscribed.is_set() and pubsub.subscribed:
                        self.subscribed.set()
                    if message is not None and message.get("type") == "message":
                        self._invalidated(message.get("data"))
            except Exception:  # Redis down or failing over: try again shortly
                log.debug("redis cache: invalidation subscription failed", exc_info=True)
            finally:
                self.subscribed.clear()
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        log.debug("closing the pubsub failed", exc_info=True)
            self._stop.wait(self.retry_after)

    def _invalidated(self, data: object) -> None:
        if not isinstance(data, bytes):
            return
        text = data.decode("utf-8", "replace")
        origin, sep = text[:_ORIGIN_LENGTH], text[_ORIGIN_LENGTH : _ORIGIN_LENGTH + 1]
        key = text[_ORIGIN_LENGTH + 1 :]
        if sep != ":" or origin == self._origin:
            return  # our own delete already dropped it (and we may have set it again since)
        self._invalidations += 1
        self.l1.delete(key=key)


def create_redis_cache(settings: Settings) -> RedisCache:
    """The factory behind ``SPOKE_CACHE_TYPE=redis``. Never contacts Redis, so a Redis that is
    down at startup is not fatal. Raises :class:`SettingsError` for a missing or bad URL, or a
    missing ``redis`` package. ``SPOKE_REDIS_L1_TTL`` and ``SPOKE_REDIS_TIMEOUT`` were parsed
    and checked with the other settings."""
    _import_redis()
    if not settings.redis_url:
        raise SettingsError("SPOKE_REDIS_URL", "the redis cache needs SPOKE_REDIS_URL")
    target = parse_redis_url(
        settings.redis_url, password=settings.redis_password, db=settings.redis_db
    )
    return RedisCache(
        target,
        l1_max_bytes=settings.l1_cache_size,
        l1_ttl=settings.redis_l1_ttl,
        socket_timeout=settings.redis_timeout,
    )


@hookimpl
def spoke_cache_backends() -> list[CacheBackend]:
    """The ``redis`` cache backend (needs the ``redis`` extra only when selected)."""
    return [
        CacheBackend(
            "redis",
            "In-process LRU (SPOKE_L1_CACHE_SIZE) in front of Redis or Redis Sentinel "
            "(SPOKE_REDIS_URL); fails open.",
            create_redis_cache,
            requires=("redis",),
            extra="redis",
        )
    ]
