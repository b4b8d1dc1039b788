"""The cache as the service sees it: fail-open, counted, keyed by namespace.

Only immutable things are cached here (a version record, a blob's bytes): they can never be
stale, so no invalidation is needed. Every exception from the cache backend is counted in
``spoke_cache_errors_total`` and treated as a miss: a broken cache makes Spoke slower, never wrong.
"""

from __future__ import annotations

import logging

from spoke.interfaces import Cache, ReportsErrors
from spoke.metrics import Metrics
from spoke.tracing import Tracing

__all__ = ["MAX_CACHED_VALUE_BYTES", "SafeCache", "TracedSafeCache"]

log = logging.getLogger(__name__)

# Larger values (a big descriptor set, say) are read from the blob store each time rather than
# pushing dozens of small hot entries out of the LRU.
MAX_CACHED_VALUE_BYTES = 1024 * 1024
_KEY_PREFIX = "spoke:v1:"


class SafeCache:
    """Wraps a :class:`Cache` backend so that it can only ever make things faster."""

    def __init__(self, backend: Cache, *, name: str, metrics: Metrics) -> None:
        self.backend = backend
        self.name = name
        self._hits = metrics.cache_hits.labels(name)
        self._misses = metrics.cache_misses.labels(name)
        self._errors = metrics.cache_errors.labels(name)
        if isinstance(backend, ReportsErrors):
            backend.set_error_listener(self._errors.inc)

    def get(self, key: str) -> bytes | None:
        """The cached bytes, or ``None`` on a miss or any cache failure."""
        try:
            value = self.backend.get(key=_KEY_PREFIX + key)
        except Exception:  # fail open: any cache failure is a miss
            self._errors.inc()
            log.warning("cache %s get failed", self.name, exc_info=True)
            return None
        if value is None:
            self._misses.inc()
        else:
            self._hits.inc()
        return value

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Remember ``value``; values over :data:`MAX_CACHED_VALUE_BYTES` are skipped."""
        if len(value) > MAX_CACHED_VALUE_BYTES:
            return
        try:
            self.backend.set(key=_KEY_PREFIX + key, value=value, ttl=ttl)
        except Exception:  # fail open
            self._errors.inc()
            log.warning("cache %s set failed", self.name, exc_info=True)

    def delete(self, key: str) -> None:
        """Forget ``key``; failures are counted and ignored."""
        try:
            self.backend.delete(key=_KEY_PREFIX + key)
        except Exception:  # fail open
            self._errors.inc()
            log.warning("cache %s delete failed", self.name, exc_info=True)


class TracedSafeCache(SafeCache):
    """A :class:`SafeCache` whose calls are child spans (``cache.get``, ``cache.set``,
    ``cache.delete``) of the request being traced. Used only when tracing is on, so the plain
    class keeps its cost when it is off."""

    def __init__(self, backend: Cache, *, name: str, metrics: Metrics, tracing: Tracing) -> None:
        super().__init__(backend, name=name, metrics=metrics)
        self._child = tracing.child
        self._attributes = {"spoke.cache": name}

    def get(self, key: str) -> bytes | None:
        with self._child("cache.get", self._attributes):
            return super().get(key)

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        with self._child("cache.set", self._attributes):
            super().set(key, value, ttl)

    def delete(self, key: str) -> None:
        with self._child("cache.delete", self._attributes):
            super().delete(key)
