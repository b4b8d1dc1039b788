"""The postgres backends against the contract suites, on the real server (scripts/services).

One throwaway database per test module, migrated once; every test starts from empty tables
(TRUNCATE), which keeps the suite fast.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from spoke.testing.contract import BlobStoreContract, StorageContract
from spoke_plugins.postgres.blob import PostgresBlobStore
from spoke_plugins.postgres.engine import PostgresEngines, normalize_url
from spoke_plugins.postgres.migrate import upgrade
from spoke_plugins.postgres.storage import PostgresStorage

pytestmark = pytest.mark.backend("postgres")


@pytest.fixture(scope="module")
def pg_contract_url(postgres_url: str) -> Iterator[str]:
    name = f"spoke_contract_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        normalize_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = normalize_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_empty_url(pg_contract_url: str) -> str:
    engine = create_engine(normalize_url(pg_contract_url))
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE modules, versions, dependencies, blobs"))
    engine.dispose()
    return pg_contract_url


class TestPostgresStorage(StorageContract):
    @pytest.fixture
    def storage(self, pg_empty_url: str) -> Iterator[PostgresStorage]:
        backend = PostgresStorage(PostgresEngines(pg_empty_url, min_conns=1, max_conns=20))
        yield backend
        backend.close()


class TestPostgresBlobStore(BlobStoreContract):
    @pytest.fixture
    def blob_store(self, pg_empty_url: str) -> Iterator[PostgresBlobStore]:
        backend = PostgresBlobStore(PostgresEngines(pg_empty_url, min_conns=1, max_conns=10))
        yield backend
        backend.close()
