"""The ``redis`` cache against a real Redis: tiers, fail-open, circuit breaker, invalidation,
health and metrics. Needs ``scripts/services start redis``; fault tests kill and restore it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

redis = pytest.importorskip("redis")

from spoke.interfaces import Cache, ExportsMetrics, ReportsHealth  # noqa: E402
from spoke_plugins.redis_cache import RedisCache  # noqa: E402
from spoke_plugins.redis_url import parse_redis_url  # noqa: E402

pytestmark = pytest.mark.backend("redis")

DEAD_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused


def eventually(condition: Callable[[], bool], *, timeout: float = 15.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def make_cache() -> Iterator[Callable[..., RedisCache]]:
    made: list[RedisCache] = []

    def make(url: str, **options: Any) -> RedisCache:
        options.setdefault("l1_max_bytes", 1 << 20)
        cache = RedisCache(parse_redis_url(url), **options)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()


def raw_client(url: str) -> Any:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def sample(cache: RedisCache, name: str, **labels: str) -> float:
    registry = CollectorRegistry()
    for collector in cache.metrics_collectors():
        registry.register(collector)
    return registry.get_sample_value(name, labels) or 0.0


class CountingPool:
    """Counts the connections the test thread asks the client's pool for."""

    def __init__(self, cache: RedisCache) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._thread = threading.current_thread()
        pool = cache._client.connection_pool
        real = pool.get_connection

        def counted(*args: Any, **kwargs: Any) -> Any:
            current = threading.current_thread()
            if current is self._thread or current.name.startswith("request-"):
                with self._lock:  # not the subscriber thread
                    self.count += 1
            return real(*args, **kwargs)

        pool.get_connection = counted  # type: ignore[method-assign]


def test_the_backend_implements_the_protocols(make_cache: Callable[..., RedisCache]) -> None:
    cache = make_cache(DEAD_URL)
    assert isinstance(cache, Cache)
    assert isinstance(cache, ReportsHealth)
    assert isinstance(cache, ExportsMetrics)


def test_a_redis_hit_fills_l1_and_tiers_are_counted(
    redis_flushed: str, make_cache: Callable[..., RedisCache]
) -> None:
    writer, reader = make_cache(redis_flushed), make_cache(redis_flushed)
    writer.set(key="spoke:test:k", value=b"value")
    assert reader.get(key="spoke:test:k") == b"value"  # from Redis
    raw_client(redis_flushed).delete("spoke:test:k")  # behind the cache's back
    assert reader.get(key="spoke:test:k") == b"value"  # from L1 now
    assert reader.get(key="spoke:test:none") is None

    assert sample(reader, "spoke_cache_tier_hits_total", tier="redis") == 1
    assert sample(reader, "spoke_cache_tier_hits_total", tier="l1") == 1
    assert sample(reader, "spoke_cache_tier_misses_total", tier="l1") == 2
    assert sample(reader, "spoke_cache_tier_misses_total", tier="redis") == 1
    assert sample(reader, "spoke_cache_tier_errors_total", tier="redis") == 0
    assert sample(reader, "spoke_cache_l1_bytes") == len(b"value")


def test_set_uses_a_redis_ttl_and_l1_follows_the_remaining_ttl(
    redis_flushed: str, make_cache: Callable[..., RedisCache]
) -> None:
    writer, reader = make_cache(redis_flushed), make_cache(redis_flushed)
    writer.set(key="spoke:test:short", value=b"v", ttl=0.5)
    assert 0 < raw_client(redis_flushed).pttl("spoke:test:short") <= 500
    assert reader.get(key="spoke:test:short") == b"v"  # fills reader's L1 with <= 0.5 s
    assert eventually(lambda: reader.get(key="spoke:test:short") is None, timeout=5)


def test_the_l1_ttl_option_bounds_how_long_l1_keeps_an_entry(
    redis_flushed: str, make_cache: Callable[..., RedisCache]
) -> None:
    cache = make_cache(redis_flushed, l1_ttl=0.2)
    cache.set(key="spoke:test:mutable", value=b"v1")
    raw_client(redis_flushed).set("spoke:test:mutable", b"v2")  # another writer
    assert cache.get(key="spoke:test:mutable") == b"v1"  # L1, for now
    assert eventually(lambda: cache.get(key="spoke:test:mutable") == b"v2", timeout=5)


def test_a_delete_on_one_replica_drops_the_key_from_the_other_replicas_l1(
    redis_flushed: str, make_cache: Callable[..., RedisCache]
) -> None:
    one, two = make_cache(redis_flushed), make_cache(redis_flushed)
    assert one.subscribed.wait(10) and two.subscribed.wait(10)
    one.set(key="spoke:test:shared", value=b"old")
    assert two.get(key="spoke:test:shared") == b"old"
    two.set(key="spoke:test:other", value=b"kept")

    one.delete(key="spoke:test:shared")

    assert eventually(lambda: two.l1.get(key="spoke:test:shared") is None, timeout=5)
    assert two.get(key="spoke:test:shared") is None
    assert two.get(key="spoke:test:other") == b"kept"
    # The deleting replica ignores its own message: a value set right after the delete stays.
    one.set(key="spoke:test:shared", value=b"new")
    assert one.l1.get(key="spoke:test:shared") == b"new"


def test_startup_with_redis_down_is_fine_and_nothing_raises(
    make_cache: Callable[..., RedisCache],
) -> None:
    cache = make_cache(DEAD_URL)
    assert cache.get(key="spoke:test:a") is None
    cache.set(key="spoke:test:a", value=b"alpha")
    assert cache.get(key="spoke:test:a") == b"alpha"  # L1
    cache.delete(key="spoke:test:a")
    assert cache.get(key="spoke:test:a") is None
    cache.check()
    report = cache.health()
    assert report.status == "degraded"
    assert report.details["redis"] == "unavailable"
    assert report.details["mode"] == "standalone"
    assert sample(cache, "spoke_cache_tier_errors_total", tier="redis") >= 1


def test_the_circuit_breaker_keeps_requests_away_from_a_dead_redis(
    make_cache: Callable[..., RedisCache],
) -> None:
    cache = make_cache(DEAD_URL, retry_after=3600)
    attempts = CountingPool(cache)

    for i in range(200):
        assert cache.get(key=f"spoke:test:{i}") is None
        cache.set(key=f"spoke:test:{i}", value=b"x")
        cache.delete(key=f"spoke:test:{i}")

    assert attempts.count == 1  # the first call failed and opened the breaker
    assert sample(cache, "spoke_cache_tier_errors_total", tier="redis") == 1
    assert sample(cache, "spoke_cache_redis_skipped_total") == 599


def test_concurrent_requests_make_one_attempt_and_counts_are_exact(
    make_cache: Callable[..., RedisCache],
) -> None:
    cache = make_cache(DEAD_URL, retry_after=3600)
    cache.l1.set(key="spoke:test:hot", value=b"hot")
    attempts = CountingPool(cache)
    start = threading.Barrier(8)

    def requests() -> None:
        start.wait()
        for i in range(2000):
            assert cache.get(key="spoke:test:hot") == b"hot"
            assert cache.get(key=f"spoke:test:cold:{i}") is None

    threads = [threading.Thread(target=requests, name=f"request-{n}") for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # While the breaker is closed every thread may try once, then none does again.
    assert 1 <= attempts.count <= 8
    assert sample(cache, "spoke_cache_tier_hits_total", tier="l1") == 16000
    assert sample(cache, "spoke_cache_tier_misses_total", tier="l1") == 16000


def test_the_breaker_lets_one_call_probe_after_retry_after(
    make_cache: Callable[..., RedisCache],
) -> None:
    cache = make_cache(DEAD_URL, retry_after=0.05)
    attempts = CountingPool(cache)
    cache.get(key="spoke:test:a")
    assert attempts.count == 1
    assert eventually(lambda: cache.get(key="spoke:test:a") is None and attempts.count == 2)
    for _ in range(50):  # right after a failed probe the breaker is open again
        cache.get(key="spoke:test:a")
    assert attempts.count <= 3


def test_health_is_ok_with_details_and_no_secret(
    redis_url: str, make_cache: Callable[..., RedisCache]
) -> None:
    cache = make_cache(redis_url)
    cache.set(key="spoke:test:a", value=b"12345")
    report = cache.health()
    assert report.status == "ok"
    assert report.details["mode"] == "standalone"
    assert report.details["l1_bytes"] == 5
    assert report.details["redis"] == "ok"
    assert "@" not in str(report.details["redis_url"])


def test_l1_serves_while_redis_is_killed_and_redis_is_used_again_once_back(
    redis_ctl: Callable[[str], str],
    redis_flushed: str,
    make_cache: Callable[..., RedisCache],
) -> None:
    cache = make_cache(redis_flushed)
    patient = make_cache(redis_flushed, retry_after=3600)  # its breaker never half-opens here
    values = {f"spoke:test:{i}": f"value {i}".encode() * (i + 1) for i in range(50)}
    for key, value in values.items():
        cache.set(key=key, value=value)
    assert patient.get(key="spoke:test:0") == values["spoke:test:0"]
    assert cache.subscribed.wait(10)

    redis_ctl("kill-master")

    attempts = CountingPool(patient)
    for i in range(200):
        assert patient.get(key=f"spoke:test:missing:{i}") is None
    assert attempts.count == 1  # one failed call, then the breaker skipped Redis

    for _ in range(3):
        for key, value in values.items():
            assert cache.get(key=key) == value
    assert cache.get(key="spoke:test:never-set") is None
    cache.set(key="spoke:test:during", value=b"outage")
    assert cache.get(key="spoke:test:during") == b"outage"
    assert cache.health().status == "degraded"
    assert sample(cache, "spoke_cache_tier_errors_total", tier="redis") >= 1

    redis_ctl("reset")  # a fresh master on the same address

    def written_through() -> bool:
        cache.set(key="spoke:test:after", value=b"back")
        return raw_client(redis_flushed).get("spoke:test:after") == b"back"

    assert eventually(written_through)
    assert cache.health().status == "ok"
    assert cache.subscribed.wait(10)  # the subscriber resubscribed by itself
    for key, value in values.items():  # L1 still answers
        assert cache.get(key=key) == value


def test_close_is_idempotent_and_stops_the_subscriber(
    redis_url: str, make_cache: Callable[..., RedisCache]
) -> None:
    cache = make_cache(redis_url)
    cache.close()
    cache.close()
    assert not cache._subscriber.is_alive()
    assert cache.get(key="spoke:test:a") is None
    cache.set(key="spoke:test:a", value=b"x")  # a no-op after close, never an error


@pytest.fixture
def redis_acl_user(redis_url: str) -> Iterator[tuple[str, str]]:
    """A throwaway ACL user on the master (the default user stays passwordless)."""
    client = raw_client(redis_url)
    client.execute_command(
        "ACL", "SETUSER", "spoke-test", "reset", "on", ">s3cr3t-pw", "~*", "&*", "+@all"
    )
    try:
        yield "spoke-test", "s3cr3t-pw"
    finally:
        client.execute_command("ACL", "DELUSER", "spoke-test")
        client.close()


@pytest.mark.parametrize("via", ["url", "settings"])
def test_credentials_reach_redis_and_never_show(
    redis_url: str,
    redis_sentinel_url: str,
    redis_acl_user: tuple[str, str],
    make_cache: Callable[..., RedisCache],
    via: str,
) -> None:
    user, password = redis_acl_user
    for url in (redis_url, redis_sentinel_url):
        scheme, _, rest = url.partition("://")
        if via == "url":
            target = parse_redis_url(f"{scheme}://{user}:{password}@{rest}")
        else:
            target = parse_redis_url(f"{scheme}://{user}@{rest}", password=password)
        cache = RedisCache(target, l1_max_bytes=0)
        try:
            cache.set(key="spoke:test:auth", value=b"ok")
            assert cache.get(key="spoke:test:auth") == b"ok"
            report = cache.health()
            assert report.status == "ok", report.details
            assert password not in repr(report) and password not in repr(target)
        finally:
            cache.close()

        wrong = RedisCache(parse_redis_url(f"{scheme}://{user}:wrong-pw@{rest}"), l1_max_bytes=0)
        try:
            wrong.set(key="spoke:test:auth", value=b"no")
            report = wrong.health()
            assert report.status == "degraded"
            assert "wrong-pw" not in repr(report)
        finally:
            wrong.close()
