"""The contract of :class:`spoke.interfaces.Cache`, as a pytest class to subclass.

Use it through :mod:`spoke.testing.contract`; the subclass provides a ``cache`` fixture returning
a fresh, empty backend. A cache that remembers nothing by design (``none``) sets
``remembers = False``: the round trips then expect misses.
"""

from __future__ import annotations

import time
from typing import ClassVar

from spoke.interfaces import Cache

__all__ = ["CacheContract"]


class CacheContract:
    """Every method of :class:`spoke.interfaces.Cache`.

    ``ttl_seconds``/``ttl_wait`` drive the only timing-based test; a backend whose ttl has a
    coarser resolution (whole seconds, say) raises both.
    """

    remembers: ClassVar[bool] = True
    ttl_seconds: ClassVar[float] = 0.05
    ttl_wait: ClassVar[float] = 0.2

    def expect(self, value: bytes) -> bytes | None:
        """What a ``get`` returns after ``set(value)``: the value, or None when nothing sticks."""
        return value if self.remembers else None

    def test_cache_satisfies_the_protocol(self, cache: Cache) -> None:
        assert isinstance(cache, Cache)

    def test_get_of_a_missing_key_is_none(self, cache: Cache) -> None:
        assert cache.get(key="spoke:test:missing") is None

    def test_set_then_get(self, cache: Cache) -> None:
        cache.set(key="spoke:test:a", value=b"alpha")
        assert cache.get(key="spoke:test:a") == self.expect(b"alpha")

    def test_values_are_bytes_exactly(self, cache: Cache) -> None:
        value = bytes(range(256))
        cache.set(key="spoke:test:binary", value=value)
        assert cache.get(key="spoke:test:binary") == self.expect(value)
        cache.set(key="spoke:test:empty", value=b"")
        assert cache.get(key="spoke:test:empty") == self.expect(b"")

    def test_keys_are_independent(self, cache: Cache) -> None:
        cache.set(key="spoke:test:a", value=b"1")
        cache.set(key="spoke:test:b", value=b"2")
        assert cache.get(key="spoke:test:a") == self.expect(b"1")
        assert cache.get(key="spoke:test:b") == self.expect(b"2")
        assert cache.get(key="spoke:test:c") is None

    def test_overwrite(self, cache: Cache) -> None:
        cache.set(key="spoke:test:a", value=b"old")
        cache.set(key="spoke:test:a", value=b"new value")
        assert cache.get(key="spoke:test:a") == self.expect(b"new value")

    def test_delete(self, cache: Cache) -> None:
        cache.set(key="spoke:test:a", value=b"alpha")
        cache.set(key="spoke:test:b", value=b"beta")
        cache.delete(key="spoke:test:a")
        assert cache.get(key="spoke:test:a") is None
        assert cache.get(key="spoke:test:b") == self.expect(b"beta")

    def test_delete_of_a_missing_key_is_fine(self, cache: Cache) -> None:
        cache.delete(key="spoke:test:missing")
        assert cache.get(key="spoke:test:missing") is None

    def test_set_without_ttl_and_with_a_long_ttl(self, cache: Cache) -> None:
        cache.set(key="spoke:test:forever", value=b"f", ttl=None)
        cache.set(key="spoke:test:hour", value=b"h", ttl=3600)
        assert cache.get(key="spoke:test:forever") == self.expect(b"f")
        assert cache.get(key="spoke:test:hour") == self.expect(b"h")

    def test_ttl_expiry(self, cache: Cache) -> None:
        cache.set(key="spoke:test:short", value=b"gone soon", ttl=self.ttl_seconds)
        cache.set(key="spoke:test:long", value=b"stays", ttl=3600)
        cache.set(key="spoke:test:renewed", value=b"old", ttl=self.ttl_seconds)
        cache.set(key="spoke:test:renewed", value=b"new")  # an overwrite drops the old ttl
        time.sleep(self.ttl_wait)
        assert cache.get(key="spoke:test:short") is None
        assert cache.get(key="spoke:test:long") == self.expect(b"stays")
        assert cache.get(key="spoke:test:renewed") == self.expect(b"new")

    def test_check_passes(self, cache: Cache) -> None:
        cache.check()

    def test_close_is_idempotent(self, cache: Cache) -> None:
        cache.close()
        cache.close()
