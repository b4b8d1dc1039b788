"""The postgres blob store beyond the contract: digest validation, streaming, the size column."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spoke.errors import BackendUnavailable
from spoke_plugins.postgres.blob import PostgresBlobStore
from spoke_plugins.postgres.engine import PostgresEngines

pytestmark = pytest.mark.backend("postgres")


@pytest.fixture
def pg_blobs(pg_database: Any) -> Iterator[PostgresBlobStore]:
    store = PostgresBlobStore(PostgresEngines(pg_database.url, min_conns=1, max_conns=3))
    yield store
    store.close()


@pytest.mark.parametrize("digest", ["", "ABC", "A" * 64, "g" * 64, "0" * 63, "../" + "0" * 61])
def test_invalid_digests_are_refused_before_any_query(digest: str) -> None:
    # No server at all: validation comes first.
    store = PostgresBlobStore(
        PostgresEngines("postgresql://u@127.0.0.1:1/db", timeout=1), check_schema=False
    )
    try:
        with pytest.raises(ValueError, match="64 lowercase hexadecimal"):
            store.get(digest=digest)
        with pytest.raises(ValueError, match="64 lowercase hexadecimal"):
            store.exists(digest=digest)
    finally:
        store.close()


def test_size_is_recorded(
    pg_blobs: PostgresBlobStore, pg_database: Any, pg_query: Callable[[str, str], object]
) -> None:
    digest = pg_blobs.put(data=b"12345")
    assert pg_query(pg_database.url, f"SELECT size FROM blobs WHERE digest = '{digest}'") == 5


def test_iter_digests_streams_more_than_one_batch(
    pg_blobs: PostgresBlobStore, pg_database: Any, pg_query: Callable[[str, str], object]
) -> None:
    # 2500 rows in one statement (the stream fetches 1000 at a time).
    pg_query(
        pg_database.url,
        "INSERT INTO blobs (digest, size, data) SELECT encode(sha256(d), 'hex'), length(d), d"
        " FROM (SELECT convert_to('blob ' || i, 'UTF8') AS d FROM generate_series(0, 2499) i) s"
        " RETURNING 1",
    )
    expected = {hashlib.sha256(f"blob {i}".encode()).hexdigest() for i in range(2500)}
    assert pg_blobs.get(digest=hashlib.sha256(b"blob 7").hexdigest()) == b"blob 7"
    iterator = pg_blobs.iter_digests()
    first = next(iterator)
    assert first in expected
    rest = set(iterator)
    assert rest | {first} == expected


def test_stopping_an_iteration_early_releases_its_connection(pg_blobs: PostgresBlobStore) -> None:
    for i in range(10):
        pg_blobs.put(data=str(i).encode())
    for _ in range(5):  # more than the pool's 3 connections
        iterator = pg_blobs.iter_digests()
        next(iterator)
        iterator.close()  # type: ignore[attr-defined]
    assert pg_blobs.exists(digest=hashlib.sha256(b"0").hexdigest())


def test_unreachable_server_is_backend_unavailable() -> None:
    store = PostgresBlobStore(
        PostgresEngines("postgresql://u:pw@127.0.0.1:1/db", timeout=1), check_schema=False
    )
    try:
        with pytest.raises(BackendUnavailable) as caught:
            store.put(data=b"x")
        assert caught.value.message == "postgres: connection refused"
        with pytest.raises(BackendUnavailable):
            store.check()
    finally:
        store.close()
