"""A real Sentinel failover: the cache follows the master the sentinel promotes.

Needs ``scripts/services start redis`` (master :26479, replica :26480, sentinel :26481 with
down-after-milliseconds 1000); the topology is reset after each test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

redis = pytest.importorskip("redis")

from spoke_plugins.redis_cache import RedisCache  # noqa: E402
from spoke_plugins.redis_url import parse_redis_url  # noqa: E402

pytestmark = [pytest.mark.backend("redis"), pytest.mark.slow]


def eventually(condition: Callable[[], bool], *, timeout: float = 30.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def caches() -> Iterator[list[RedisCache]]:
    made: list[RedisCache] = []
    yield made
    for cache in made:
        cache.close()


def direct(host_port: str) -> Any:
    host, _, port = host_port.rpartition(":")
    return redis.Redis(host=host, port=int(port), socket_timeout=2, socket_connect_timeout=2)


def test_the_cache_keeps_working_against_the_promoted_master(
    redis_ctl: Callable[[str], str], redis_sentinel_url: str, caches: list[RedisCache]
) -> None:
    target = parse_redis_url(redis_sentinel_url)
    cache = RedisCache(target, l1_max_bytes=1 << 20)
    other = RedisCache(target, l1_max_bytes=1 << 20)  # a second replica of Spoke
    caches += [cache, other]
    cache._client.flushdb()
    old_master = redis_ctl("master")
    cache.set(key="spoke:test:before", value=b"before failover")
    assert cache.health().details["mode"] == "sentinel"
    assert cache.subscribed.wait(10) and other.subscribed.wait(10)

    redis_ctl("kill-master")
    assert eventually(lambda: redis_ctl("master") != old_master), "the sentinel did not fail over"
    new_master = redis_ctl("master")

    # L1 kept serving throughout; writes reach the new master once the breaker lets them through.
    assert cache.get(key="spoke:test:before") == b"before failover"

    def written_to_new_master() -> bool:
        cache.set(key="spoke:test:after", value=b"after failover")
        return bool(direct(new_master).get("spoke:test:after") == b"after failover")

    assert eventually(written_to_new_master), "writes did not reach the new master"
    assert eventually(lambda: other.get(key="spoke:test:after") == b"after failover")
    assert cache.health().status == "ok"

    # Invalidation follows the failover too: both subscribers are on the new master again.
    assert eventually(lambda: cache.subscribed.is_set() and other.subscribed.is_set())
    cache.delete(key="spoke:test:after")
    assert eventually(lambda: other.l1.get(key="spoke:test:after") is None, timeout=5)
    assert direct(new_master).get("spoke:test:after") is None

    # The old master comes back as a replica; the cache stays on the promoted one.
    redis_ctl("restart-master")
    cache.set(key="spoke:test:later", value=b"later")
    assert eventually(lambda: direct(new_master).get("spoke:test:later") == b"later")
    assert redis_ctl("master") == new_master


def test_sentinel_down_at_startup_is_not_fatal(caches: list[RedisCache]) -> None:
    cache = RedisCache(
        parse_redis_url("redis+sentinel://127.0.0.1:1,127.0.0.1:2/spoke/0"), l1_max_bytes=1024
    )
    caches.append(cache)
    cache.set(key="spoke:test:a", value=b"a")
    assert cache.get(key="spoke:test:a") == b"a"
    report = cache.health()
    assert report.status == "degraded"
    assert report.details["mode"] == "sentinel"
