"""The in-process backends against the contract suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spoke.testing.contract import (
    ArtifactContract,
    BlobStoreContract,
    CacheContract,
    StorageContract,
)
from spoke_plugins.memory import LRUCache, MemoryBlobStore, MemoryStorage, NullCache


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    def storage(self) -> Iterator[MemoryStorage]:
        backend = MemoryStorage()
        yield backend
        backend.close()


class TestMemoryStorageArtifacts(ArtifactContract):
    @pytest.fixture
    def storage(self) -> Iterator[MemoryStorage]:
        backend = MemoryStorage()
        yield backend
        backend.close()


class TestMemoryBlobStore(BlobStoreContract):
    @pytest.fixture
    def blob_store(self) -> Iterator[MemoryBlobStore]:
        backend = MemoryBlobStore()
        yield backend
        backend.close()


class TestLRUCache(CacheContract):
    @pytest.fixture
    def cache(self) -> Iterator[LRUCache]:
        backend = LRUCache(max_bytes=1 << 20)
        yield backend
        backend.close()


class TestNullCache(CacheContract):
    remembers = False

    @pytest.fixture
    def cache(self) -> Iterator[NullCache]:
        backend = NullCache()
        yield backend
        backend.close()
