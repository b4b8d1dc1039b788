"""The contract of :class:`spoke.interfaces.BlobStore`, as a pytest class to subclass.

Use it through :mod:`spoke.testing.contract`; the subclass provides a ``blob_store`` fixture
returning a fresh, empty backend.
"""

from __future__ import annotations

import hashlib
import os
import re

import pytest

from spoke.interfaces import BlobStore
from spoke.testing.storage_contract import run_concurrently

__all__ = ["BlobStoreContract"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_ABSENT = hashlib.sha256(b"never stored").hexdigest()


class BlobStoreContract:
    """Every method and documented error of :class:`spoke.interfaces.BlobStore`."""

    def test_blob_store_satisfies_the_protocol(self, blob_store: BlobStore) -> None:
        assert isinstance(blob_store, BlobStore)

    def test_put_returns_the_lowercase_sha256(self, blob_store: BlobStore) -> None:
        data = b'syntax = "proto3";\n'
        digest = blob_store.put(data=data)
        assert digest == hashlib.sha256(data).hexdigest()
        assert _HEX64.fullmatch(digest)

    def test_get_round_trips(self, blob_store: BlobStore) -> None:
        data = bytes(range(256)) * 3
        digest = blob_store.put(data=data)
        assert blob_store.get(digest=digest) == data

    def test_put_is_idempotent(self, blob_store: BlobStore) -> None:
        first = blob_store.put(data=b"same bytes")
        second = blob_store.put(data=b"same bytes")
        assert first == second
        assert blob_store.get(digest=first) == b"same bytes"
        assert list(blob_store.iter_digests()) == [first]

    def test_exists(self, blob_store: BlobStore) -> None:
        digest = blob_store.put(data=b"here")
        assert blob_store.exists(digest=digest) is True
        assert blob_store.exists(digest=_ABSENT) is False

    def test_get_missing_raises_file_not_found(self, blob_store: BlobStore) -> None:
        with pytest.raises(FileNotFoundError):
            blob_store.get(digest=_ABSENT)
        blob_store.put(data=b"something else")
        with pytest.raises(FileNotFoundError):
            blob_store.get(digest=_ABSENT)

    def test_empty_blob(self, blob_store: BlobStore) -> None:
        digest = blob_store.put(data=b"")
        assert digest == hashlib.sha256(b"").hexdigest()
        assert blob_store.exists(digest=digest)
        assert blob_store.get(digest=digest) == b""

    def test_large_blob(self, blob_store: BlobStore) -> None:
        data = os.urandom(5 * 1024 * 1024)
        digest = blob_store.put(data=data)
        assert digest == hashlib.sha256(data).hexdigest()
        assert blob_store.get(digest=digest) == data

    def test_distinct_blobs_are_distinct(self, blob_store: BlobStore) -> None:
        a = blob_store.put(data=b"a")
        b = blob_store.put(data=b"b")
        assert a != b
        assert (blob_store.get(digest=a), blob_store.get(digest=b)) == (b"a", b"b")

    def test_iter_digests(self, blob_store: BlobStore) -> None:
        assert list(blob_store.iter_digests()) == []
        digests = {blob_store.put(data=f"blob {i}".encode()) for i in range(20)}
        listed = list(blob_store.iter_digests())
        assert len(listed) == len(digests)
        assert set(listed) == digests

    def test_concurrent_puts_of_the_same_data(self, blob_store: BlobStore) -> None:
        data = os.urandom(256 * 1024)
        results = run_concurrently(8, lambda _: blob_store.put(data=data))
        assert results == [hashlib.sha256(data).hexdigest()] * 8
        assert blob_store.get(digest=hashlib.sha256(data).hexdigest()) == data
        assert list(blob_store.iter_digests()) == [hashlib.sha256(data).hexdigest()]

    def test_concurrent_puts_of_different_data(self, blob_store: BlobStore) -> None:
        payloads = [f"payload {i}".encode() * 1000 for i in range(8)]
        results = run_concurrently(8, lambda i: blob_store.put(data=payloads[i]))
        assert results == [hashlib.sha256(p).hexdigest() for p in payloads]
        for digest, payload in zip(results, payloads, strict=True):
            assert isinstance(digest, str)
            assert blob_store.get(digest=digest) == payload

    def test_check_passes(self, blob_store: BlobStore) -> None:
        blob_store.check()

    def test_close_is_idempotent(self, blob_store: BlobStore) -> None:
        blob_store.close()
        blob_store.close()
