"""The artifact index of the postgres storage on the real servers (scripts/services start postgres):
the contract, replica routing, processes racing for one key, errors, and the 0002 migration."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from spoke.errors import BackendUnavailable, SpokeError
from spoke.settings import load_settings
from spoke.testing.contract import ArtifactContract, make_artifact, make_module, make_version
from spoke_plugins.postgres.engine import PostgresEngines, normalize_url
from spoke_plugins.postgres.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    pending,
    upgrade,
)
from spoke_plugins.postgres.storage import PostgresStorage

pytestmark = pytest.mark.backend("postgres")

_MIGRATE = "from spoke.cli_migrate import migrate; migrate(prog_name='spoke migrate')"


def pg_admin_engine(url: str) -> Engine:
    return create_engine(normalize_url(url), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def pg_url_for(url: str, database: str) -> str:
    return normalize_url(url).set(database=database).render_as_string(hide_password=False)


# -- the contract, on one database per module emptied before each test ------------------------


@pytest.fixture(scope="module")
def pg_artifacts_url(postgres_url: str) -> Iterator[str]:
    name = f"spoke_artifacts_{uuid.uuid4().hex[:12]}"
    admin = pg_admin_engine(pg_url_for(postgres_url, "postgres"))
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = pg_url_for(postgres_url, name)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_artifacts_empty_url(pg_artifacts_url: str) -> str:
    engine = pg_admin_engine(pg_artifacts_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("TRUNCATE artifacts, modules, versions, dependencies, blobs"))
    finally:
        engine.dispose()
    return pg_artifacts_url


class TestPostgresStorageArtifacts(ArtifactContract):
    @pytest.fixture
    def storage(self, pg_artifacts_empty_url: str) -> Iterator[PostgresStorage]:
        backend = PostgresStorage(
            PostgresEngines(pg_artifacts_empty_url, min_conns=1, max_conns=20)
        )
        yield backend
        backend.close()


def test_the_row_holds_every_field(pg_artifacts_empty_url: str) -> None:
    storage = PostgresStorage(PostgresEngines(pg_artifacts_empty_url, max_conns=2))
    try:
        artifact = make_artifact(metadata={"language": "python", "note": "ünï"})
        storage.put_artifact(artifact=artifact)
    finally:
        storage.close()
    engine = pg_admin_engine(pg_artifacts_empty_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT key, digest, size, media_type, created_at, metadata,"
                    " jsonb_typeof(metadata) AS kind FROM artifacts"
                )
            ).one()
    finally:
        engine.dispose()
    assert (row.key, row.digest, row.size, row.media_type) == (
        artifact.key,
        artifact.digest,
        artifact.size,
        "application/zip",
    )
    assert row.created_at == artifact.created_at
    assert row.metadata == {"language": "python", "note": "ünï"}
    assert row.kind == "object"


# -- processes racing for one key --------------------------------------------------------------


def _racer(url: str, index: int, barrier: Any, results: Any) -> None:
    storage = PostgresStorage(PostgresEngines(url, min_conns=1, max_conns=2))
    try:
        outcomes = []
        for round_ in range(5):
            barrier.wait(timeout=60)
            mine = make_artifact(
                f"codegen:race-{round_}",
                data=f"racer {index}".encode(),
                metadata={"racer": str(index)},
            )
            outcomes.append(storage.put_artifact(artifact=mine).metadata["racer"])
        results.put((index, outcomes))
    finally:
        storage.close()


@pytest.mark.slow
def test_processes_racing_for_one_key_have_one_winner(pg_artifacts_empty_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    count = 4
    barrier = context.Barrier(count)
    results = context.Queue()
    processes = [
        context.Process(target=_racer, args=(pg_artifacts_empty_url, i, barrier, results))
        for i in range(count)
    ]
    for process in processes:
        process.start()
    try:
        answers = dict(results.get(timeout=120) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    assert [process.exitcode for process in processes] == [0] * count
    storage = PostgresStorage(PostgresEngines(pg_artifacts_empty_url, max_conns=2))
    try:
        for round_ in range(5):
            winners = {answers[i][round_] for i in range(count)}
            assert len(winners) == 1, answers
            stored = storage.get_artifact(key=f"codegen:race-{round_}")
            assert stored is not None and stored.metadata == {"racer": winners.pop()}
    finally:
        storage.close()


# -- replicas ----------------------------------------------------------------------------------


@pytest.fixture
def pg_replicated(pg_database: Any) -> Iterator[PostgresStorage]:
    engines = PostgresEngines(
        pg_database.url,
        [pg_database.replica_url],
        min_conns=1,
        max_conns=4,
        timeout=3,
        probe_interval=0.3,
    )
    storage = PostgresStorage(engines)
    yield storage
    storage.close()


@pytest.mark.slow
def test_gets_are_served_by_the_replica_and_puts_by_the_primary(
    pg_replicated: PostgresStorage,
    pg_database: Any,
    pg_wait: Callable[..., bool],
    pg_query: Callable[[str, str], object],
) -> None:
    storage = pg_replicated
    primary, replica = storage.engines.primary, storage.engines.replicas[0]
    artifact = make_artifact()
    before = replica.checkouts
    storage.put_artifact(artifact=artifact)
    assert replica.checkouts == before  # writes never go to the replica
    assert pg_wait(lambda: pg_query(pg_database.replica_url, "SELECT count(*) FROM artifacts") == 1)
    primary_before, replica_before = primary.checkouts, replica.checkouts
    assert storage.get_artifact(key=artifact.key) == artifact
    assert (primary.checkouts, replica.checkouts) == (primary_before, replica_before + 1)
    assert storage.delete_artifact(key=artifact.key) is True
    assert replica.checkouts == replica_before + 1


@pytest.mark.slow
def test_a_put_is_found_at_once_while_the_replica_lags(
    pg_replicated: PostgresStorage,
    pg_database: Any,
    pg_query: Callable[[str, str], object],
) -> None:
    storage = pg_replicated
    pg_query(pg_database.replica_url, "SELECT pg_wal_replay_pause()")
    try:
        artifact = make_artifact()
        storage.put_artifact(artifact=artifact)
        assert pg_query(pg_database.replica_url, "SELECT count(*) FROM artifacts") == 0
        replica = storage.engines.replicas[0]
        before = replica.checkouts
        assert storage.get_artifact(key=artifact.key) == artifact
        assert replica.checkouts == before + 1  # asked the replica first, then the primary
        assert replica.healthy  # a miss is not a failure
        assert storage.get_artifact(key="codegen:absent") is None
    finally:
        pg_query(pg_database.replica_url, "SELECT pg_wal_replay_resume()")


@pytest.mark.slow
def test_a_replica_down_moves_gets_to_the_primary(
    pg_replicated: PostgresStorage,
    pg_restore_services: Any,
    pg_database: Any,
    pg_wait: Callable[..., bool],
    pg_query: Callable[[str, str], object],
) -> None:
    storage = pg_replicated
    artifact = make_artifact()
    storage.put_artifact(artifact=artifact)
    assert pg_wait(lambda: pg_query(pg_database.replica_url, "SELECT count(*) FROM artifacts") == 1)
    pg_restore_services("stop-replica")
    try:
        assert storage.get_artifact(key=artifact.key) == artifact
        assert not storage.engines.replicas[0].healthy
        assert storage.get_artifact(key=artifact.key) == artifact
    finally:
        pg_restore_services("start-replica")


# -- errors ------------------------------------------------------------------------------------


def test_an_unreachable_primary_is_backend_unavailable_without_secrets() -> None:
    storage = PostgresStorage(
        PostgresEngines("postgresql://u:topsecret@127.0.0.1:1/spoke", min_conns=0, timeout=2),
        check_schema=False,
    )
    try:
        for call in (
            lambda: storage.get_artifact(key="codegen:x"),
            lambda: storage.put_artifact(artifact=make_artifact()),
            lambda: storage.delete_artifact(key="codegen:x"),
        ):
            with pytest.raises(BackendUnavailable) as caught:
                call()
            assert caught.value.message == "postgres: connection refused"
            assert "topsecret" not in repr(caught.value)
    finally:
        storage.close()


def test_a_database_without_the_table_is_a_spoke_error_not_a_driver_error(
    pg_fresh_database: Any,
) -> None:
    engine = pg_admin_engine(pg_fresh_database.url)
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), "0001")
    finally:
        engine.dispose()
    storage = PostgresStorage(
        PostgresEngines(pg_fresh_database.url, max_conns=2), check_schema=False
    )
    try:
        with pytest.raises(SpokeError) as caught:
            storage.get_artifact(key="codegen:x")
        assert caught.value.message == "postgres: unexpected database error (42P01)"
    finally:
        storage.close()


# -- the migration -----------------------------------------------------------------------------


def _migrate(url: str, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOKE_")}
    env["SPOKE_POSTGRES_URL"] = url
    done = subprocess.run(
        [sys.executable, "-c", _MIGRATE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def _columns(url: str) -> dict[str, tuple[str, str, str | None]]:
    engine = pg_admin_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT column_name, data_type, is_nullable, collation_name"
                    " FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND table_name = 'artifacts'"
                )
            ).all()
            return {row[0]: (row[1], row[2], row[3]) for row in rows}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_upgrading_from_0001_adds_the_artifacts_table(pg_fresh_database: Any) -> None:
    url = pg_fresh_database.url
    assert head_revision() == "0002"
    engine = pg_admin_engine(url)
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), "0001")
    finally:
        engine.dispose()
    assert current_revision(url) == "0001"
    assert _columns(url) == {}
    # A registry written by the previous Spoke.
    old = PostgresStorage(PostgresEngines(url, max_conns=2), check_schema=False)
    try:
        old.create_module(module=make_module("acme.kept"))
        old.create_version(version=make_version("acme.kept", "1.0.0"))
    finally:
        old.close()

    with pytest.raises(BackendUnavailable) as caught:
        PostgresStorage.from_settings(load_settings({"SPOKE_POSTGRES_URL": url}))
    assert caught.value.message == (
        "postgres: the database schema is at revision 0001, this Spoke needs 0002: "
        "run `spoke migrate`"
    )
    code, output = _migrate(url, "--check")
    assert (code, output) == (
        1,
        "spoke: migrations pending: database at revision 0001, this Spoke needs 0002; "
        "run `spoke migrate`",
    )
    assert pending(url)

    code, output = _migrate(url)
    assert (code, output) == (0, "spoke: database schema upgraded from revision 0001 to 0002")
    assert _columns(url) == {
        "key": ("text", "NO", "C"),
        "digest": ("text", "NO", None),
        "size": ("bigint", "NO", None),
        "media_type": ("text", "NO", None),
        "created_at": ("timestamp with time zone", "NO", None),
        "metadata": ("jsonb", "NO", None),
    }
    code, output = _migrate(url, "--check")
    assert (code, output) == (0, "spoke: database schema is up to date (revision 0002)")
    assert not pending(url)

    storage = PostgresStorage.from_settings(load_settings({"SPOKE_POSTGRES_URL": url}))
    try:
        assert storage.get_version(module="acme.kept", version="1.0.0").version == "1.0.0"
        artifact = make_artifact()
        assert storage.put_artifact(artifact=artifact) == artifact
        assert storage.get_artifact(key=artifact.key) == artifact
    finally:
        storage.close()


@pytest.mark.slow
def test_downgrading_to_0001_drops_only_the_artifacts_table(pg_database: Any) -> None:
    url = pg_database.url
    engine = pg_admin_engine(url)
    try:
        with engine.connect() as connection:
            command.downgrade(alembic_config(connection), "0001")
    finally:
        engine.dispose()
    assert current_revision(url) == "0001"
    assert _columns(url) == {}
    assert upgrade(url).after == "0002"
    assert len(_columns(url)) == 6
