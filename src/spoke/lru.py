"""Least-recently-used caches: one bounded by bytes (the ``memory`` cache backend) and one
bounded by entries, for decoded immutable objects kept in front of the byte cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from time import monotonic
from typing import Generic, TypeVar

__all__ = ["LRUCache", "ObjectLRU"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache:
    """A least-recently-used cache bounded by the total size of its values in bytes.

    A value larger than the whole budget is not cached. Entries with a ttl expire lazily on read.
    """

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._size = 0

    @property
    def size_bytes(self) -> int:
        """Bytes held now."""
        return self._size

    def get(self, *, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, expires = entry
            if expires is not None and monotonic() >= expires:
                self._remove(key)
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, *, key: str, value: bytes, ttl: float | None = None) -> None:
        size = len(value)
        with self._lock:
            if key in self._entries:
                self._remove(key)
            if size > self.max_bytes:
                return
            expires = monotonic() + ttl if ttl is not None else None
            self._entries[key] = (value, expires)
            self._size += size
            while self._size > self.max_bytes:
                oldest = next(iter(self._entries))
                self._remove(oldest)

    def delete(self, *, key: str) -> None:
        with self._lock:
            if key in self._entries:
                self._remove(key)

    def check(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0

    def _remove(self, key: str) -> None:
        value, _ = self._entries.pop(key)
        self._size -= len(value)


class ObjectLRU(Generic[K, V]):
    """A thread-safe LRU of Python objects bounded by entry count.

    For immutable things only (a decoded version, a rendered response body): nothing here ever
    expires or is invalidated.
    """

    def __init__(self, *, max_items: int) -> None:
        self.max_items = max_items
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The object, or ``None``."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Remember ``value``, forgetting the least recently used entry when full."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self.max_items:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
