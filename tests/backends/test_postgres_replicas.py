"""Replica routing of the postgres storage, against the real primary and streaming replica."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spoke.testing.contract import make_module, make_version
from spoke_plugins.postgres.engine import PostgresEngines
from spoke_plugins.postgres.storage import PostgresStorage

pytestmark = [pytest.mark.backend("postgres"), pytest.mark.slow]


def _with_password(url: str, password: str) -> str:
    # The test cluster trusts 127.0.0.1, so any password works; it must never be shown.
    return url.replace("postgres@", f"postgres:{password}@", 1)


@pytest.fixture
def pg_replicated_storage(pg_database: Any) -> Iterator[PostgresStorage]:
    engines = PostgresEngines(
        _with_password(pg_database.url, "primary-secret"),
        [_with_password(pg_database.replica_url, "replica-secret")],
        min_conns=1,
        max_conns=4,
        timeout=3,
        probe_interval=0.3,
    )
    storage = PostgresStorage(engines)
    yield storage
    storage.close()


def test_reads_are_served_by_the_replica(
    pg_replicated_storage: PostgresStorage,
    pg_database: Any,
    pg_wait: Callable[..., bool],
    pg_query: Callable[[str, str], object],
) -> None:
    storage = pg_replicated_storage
    storage.create_module(module=make_module("acme.routed", description="on the replica"))
    storage.create_version(version=make_version("acme.routed", "1.0.0"))
    assert pg_wait(
        lambda: (
            pg_query(
                pg_database.replica_url,
                "SELECT count(*) FROM versions WHERE module = 'acme.routed'",
            )
            == 1
        )
    )
    primary, replica = storage.engines.primary, storage.engines.replicas[0]
    primary_before, replica_before = primary.checkouts, replica.checkouts
    assert storage.get_module(name="acme.routed").latest_version == "1.0.0"
    assert storage.get_version(module="acme.routed", version="1.0.0").version == "1.0.0"
    assert storage.list_versions(module="acme.routed", limit=10, offset=0).total == 1
    assert storage.list_modules(prefix="acme.", limit=10, offset=0).total == 1
    assert storage.statistics().versions == 1
    assert storage.list_dependents(module="acme.routed", version="1.0.0") == ()
    assert replica.checkouts - replica_before == 6
    assert primary.checkouts == primary_before
    # The server agrees: the replica's pool holds a session named after it.
    sessions = pg_query(
        pg_database.replica_url,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'spoke-replica-1'",
    )
    assert isinstance(sessions, int) and sessions >= 1
    # Writes never go to the replica.
    storage.create_module(module=make_module("acme.other"))
    assert replica.checkouts - replica_before == 6


def test_read_your_writes_while_the_replica_lags(
    pg_replicated_storage: PostgresStorage,
    pg_database: Any,
    pg_query: Callable[[str, str], object],
) -> None:
    storage = pg_replicated_storage
    pg_query(pg_database.replica_url, "SELECT pg_wal_replay_pause()")
    try:
        storage.create_module(module=make_module("acme.lagging"))
        version = make_version("acme.lagging", "2.0.0")
        storage.create_version(version=version)
        # The replica really lags: it has not seen the push.
        assert (
            pg_query(
                pg_database.replica_url, "SELECT count(*) FROM modules WHERE name = 'acme.lagging'"
            )
            == 0
        )
        replica = storage.engines.replicas[0]
        before = replica.checkouts
        assert storage.get_version(module="acme.lagging", version="2.0.0") == version
        assert storage.get_latest_version(module="acme.lagging") == version
        assert storage.get_module(name="acme.lagging").latest_version == "2.0.0"
        assert storage.list_versions(module="acme.lagging", limit=5, offset=0).items == (version,)
        assert replica.checkouts - before == 4  # each read asked the replica first
        assert replica.healthy  # a miss is not a failure
    finally:
        pg_query(pg_database.replica_url, "SELECT pg_wal_replay_resume()")


def test_replica_down_reads_move_to_the_primary_and_the_probe_restores_it(
    pg_replicated_storage: PostgresStorage,
    pg_restore_services: Any,
    pg_wait: Callable[..., bool],
    pg_database: Any,
    pg_query: Callable[[str, str], object],
) -> None:
    storage = pg_replicated_storage
    storage.create_module(module=make_module("acme.failover"))
    assert pg_wait(
        lambda: (
            pg_query(
                pg_database.replica_url, "SELECT count(*) FROM modules WHERE name = 'acme.failover'"
            )
            == 1
        )
    )
    replica = storage.engines.replicas[0]
    assert storage.get_module(name="acme.failover").name == "acme.failover"

    pg_restore_services("stop-replica")
    try:
        for _ in range(3):
            assert storage.get_module(name="acme.failover").name == "acme.failover"
        assert not replica.healthy
        report = storage.health()
        assert report.status == "degraded"
        entry = report.sub_checks["replicas"]["replicas"][0]  # type: ignore[index]
        assert entry["status"] == "unavailable"
        assert entry["url"] == "postgresql://postgres:***@127.0.0.1:25433/" + pg_database.name
        assert "replica-secret" not in repr(report)
        assert "primary-secret" not in repr(report)
    finally:
        pg_restore_services("start-replica")

    # The background probe puts it back; no readiness call needed.
    assert pg_wait(lambda: replica.healthy, timeout=30)
    before = replica.checkouts
    assert storage.get_module(name="acme.failover").name == "acme.failover"
    assert replica.checkouts == before + 1
    assert storage.health().status == "ok"


def test_health_reports_pool_and_replicas(pg_replicated_storage: PostgresStorage) -> None:
    report = pg_replicated_storage.health()
    assert report.status == "ok"
    pool = report.details["pool"]
    assert set(pool) == {"size", "in_use", "idle", "waiting", "max"}  # type: ignore[arg-type]
    assert pool["max"] == 4  # type: ignore[index]
    replicas = report.sub_checks["replicas"]
    assert replicas["status"] == "ok"
    (entry,) = replicas["replicas"]  # type: ignore[misc]
    assert entry["status"] == "ok"
    assert entry["latency_ms"] >= 0
    assert "***" in entry["url"]


def test_round_robin_over_healthy_replicas(pg_database: Any) -> None:
    engines = PostgresEngines(
        pg_database.url, [pg_database.replica_url, pg_database.replica_url], max_conns=2
    )
    try:
        picked = [engines.pick_replica() for _ in range(4)]
        assert [p.name for p in picked if p] == ["replica-1", "replica-2"] * 2
        engines.mark_unhealthy(engines.replicas[0], "test")
        assert {engines.pick_replica().name for _ in range(4)} == {"replica-2"}  # type: ignore[union-attr]
        engines.mark_unhealthy(engines.replicas[1], "test")
        assert engines.pick_replica() is None
    finally:
        engines.close()


def test_a_statement_timeout_on_a_replica_falls_back_without_taking_it_out(
    pg_replicated_storage: PostgresStorage,
) -> None:
    from sqlalchemy import Connection, text

    storage = pg_replicated_storage
    replica = storage.engines.replicas[0]

    def work(connection: Connection) -> str:
        if connection.engine is replica.engine:
            connection.execute(text("SET LOCAL statement_timeout = 50"))
            connection.execute(text("SELECT pg_sleep(2)"))
            return "replica"
        return "primary"

    assert storage._read(work) == "primary"
    assert replica.healthy
