"""The ``redis`` cache backend (L1 + a real Redis, standalone and through Sentinel) against the
cache contract. Needs ``scripts/services start redis``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spoke.testing.contract import CacheContract

pytest.importorskip("redis")

from spoke_plugins.redis_cache import RedisCache
from spoke_plugins.redis_url import parse_redis_url

pytestmark = pytest.mark.backend("redis")


def _flush(cache: RedisCache) -> None:
    cache._client.flushdb()


class TestRedisCache(CacheContract):
    @pytest.fixture
    def cache(self, redis_url: str) -> Iterator[RedisCache]:
        backend = RedisCache(parse_redis_url(redis_url), l1_max_bytes=1 << 20)
        _flush(backend)
        yield backend
        backend.close()


class TestRedisCacheWithoutL1(CacheContract):
    """An L1 too small for any value: every answer comes from Redis itself (ttl included)."""

    @pytest.fixture
    def cache(self, redis_url: str) -> Iterator[RedisCache]:
        backend = RedisCache(parse_redis_url(redis_url), l1_max_bytes=0)
        _flush(backend)
        yield backend
        backend.close()


class TestRedisCacheThroughSentinel(CacheContract):
    @pytest.fixture
    def cache(self, redis_sentinel_url: str) -> Iterator[RedisCache]:
        backend = RedisCache(parse_redis_url(redis_sentinel_url), l1_max_bytes=1 << 20)
        _flush(backend)
        yield backend
        backend.close()
