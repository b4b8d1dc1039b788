"""The postgres backends inside the application: outages as 503, readiness, metrics."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import falcon.testing
import pytest
from sqlalchemy import text

import spoke_plugins.postgres
from spoke.api.app import Application, create_app
from spoke.errors import BackendUnavailable
from spoke.plugins import create_plugin_registry
from spoke.settings import load_settings
from spoke.testing.contract import make_module
from spoke_plugins.postgres.engine import PostgresEngines
from spoke_plugins.postgres.storage import PostgresStorage
from worker_pool import shared_work

pytestmark = [pytest.mark.backend("postgres"), pytest.mark.slow]

API = "/api/v1"
SECRET = "hunter2-secret"


def _with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{SECRET}@", 1)


def _app(database: Any, *, replicas: bool) -> Application:
    environ = {
        "SPOKE_STORAGE_TYPE": "postgres",
        "SPOKE_BLOB_TYPE": "postgres",
        "SPOKE_CACHE_TYPE": "none",
        "SPOKE_POSTGRES_URL": _with_password(database.url),
        "SPOKE_POSTGRES_TIMEOUT": "2s",
        "SPOKE_POSTGRES_MAX_CONNS": "4",
        "SPOKE_POSTGRES_MIN_CONNS": "1",
    }
    if replicas:
        environ["SPOKE_POSTGRES_REPLICA_URLS"] = _with_password(database.replica_url)
    plugins = create_plugin_registry()
    plugins.register(spoke_plugins.postgres, name="postgres-under-test")
    return create_app(load_settings(environ), plugins=plugins, work=shared_work())


@pytest.fixture
def pg_app(pg_database: Any) -> Iterator[Application]:
    application = _app(pg_database, replicas=False)
    yield application
    application.close()


@pytest.fixture
def pg_replicated_app(pg_database: Any) -> Iterator[Application]:
    application = _app(pg_database, replicas=True)
    yield application
    application.close()


def _assert_no_leak(result: falcon.testing.Result) -> None:
    body = result.text
    for marker in (
        SECRET,
        "postgresql://",
        "SELECT",
        "FROM ",
        "Traceback",
        "psycopg2",
        "sqlalchemy",
    ):
        assert marker not in body, f"{marker!r} leaked: {body}"


def test_primary_restart_gives_503_then_recovers_without_restarting_the_app(
    pg_app: Application, pg_restore_services: Any
) -> None:
    api = falcon.testing.TestClient(pg_app.api)
    health = falcon.testing.TestClient(pg_app.health)
    created = api.simulate_post(f"{API}/modules", json={"name": "acme.outage"})
    assert created.status_code == 201, created.text
    assert api.simulate_get(f"{API}/modules/acme.outage").status_code == 200

    pg_restore_services("stop-primary")
    try:
        read = api.simulate_get(f"{API}/modules/acme.outage")
        assert read.status_code == 503, read.text
        assert read.json["code"] == "backend_unavailable"
        _assert_no_leak(read)
        write = api.simulate_post(f"{API}/modules", json={"name": "acme.during"})
        assert write.status_code == 503, write.text
        assert write.json["code"] == "backend_unavailable"
        _assert_no_leak(write)
        ready = health.simulate_get("/health/ready")
        assert ready.status_code == 503
        _assert_no_leak(ready)
    finally:
        pg_restore_services("start-primary")

    # Same application, new connections.
    assert api.simulate_get(f"{API}/modules/acme.outage").status_code == 200
    assert api.simulate_post(f"{API}/modules", json={"name": "acme.after"}).status_code == 201
    assert health.simulate_get("/health/ready").status_code == 200


def test_connection_killed_mid_statement_is_backend_unavailable(pg_database: Any) -> None:
    storage = PostgresStorage(PostgresEngines(_with_password(pg_database.url), max_conns=2))
    try:
        pool = storage.engines.primary
        errors: list[BaseException] = []
        started = threading.Event()

        # Through the storage's own boundary: run the slow query as a storage read would.
        def run() -> None:
            try:
                storage._on(pool, lambda c: (started.set(), c.execute(text("SELECT pg_sleep(10)"))))
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        assert started.wait(10)
        killer = PostgresEngines(pg_database.url, max_conns=1)
        try:
            with killer.primary.connect() as connection:
                for _ in range(50):
                    killed = connection.execute(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = 'spoke-primary' AND query LIKE '%pg_sleep%'"
                            " AND pid <> pg_backend_pid()"
                        )
                    ).scalar_one()
                    if killed:
                        break
                    connection.execute(text("SELECT pg_sleep(0.1)"))
        finally:
            killer.close()
        thread.join(15)
        (error,) = errors
        assert isinstance(error, BackendUnavailable)
        assert error.message.startswith("postgres: ")
        assert "pg_sleep" not in error.message and SECRET not in error.message
        # The pool recovers by itself.
        storage.create_module(module=make_module("acme.after.kill"))
        assert storage.get_module(name="acme.after.kill").name == "acme.after.kill"
    finally:
        storage.close()


def test_readiness_shows_pool_and_replicas_with_redacted_urls(
    pg_replicated_app: Application,
) -> None:
    health = falcon.testing.TestClient(pg_replicated_app.health)
    ready = health.simulate_get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert SECRET not in ready.text
    checks = ready.json["checks"]
    assert checks["storage"]["status"] == "ok"
    assert set(checks["storage"]["pool"]) == {"size", "in_use", "idle", "waiting", "max"}
    assert checks["storage"]["pool"]["max"] == 4
    replicas = checks["replicas"]
    assert replicas["status"] == "ok"
    assert [r["status"] for r in replicas["replicas"]] == ["ok"]
    assert replicas["replicas"][0]["url"].startswith("postgresql://postgres:***@127.0.0.1:25433/")


def test_replica_down_keeps_readiness_200_and_degraded(
    pg_replicated_app: Application, pg_restore_services: Any, pg_wait: Callable[..., bool]
) -> None:
    api = falcon.testing.TestClient(pg_replicated_app.api)
    health = falcon.testing.TestClient(pg_replicated_app.health)
    assert api.simulate_post(f"{API}/modules", json={"name": "acme.replica"}).status_code == 201
    pg_restore_services("stop-replica")
    try:
        assert api.simulate_get(f"{API}/modules/acme.replica").status_code == 200
        ready = health.simulate_get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json["status"] == "degraded"
        assert ready.json["checks"]["replicas"]["replicas"][0]["status"] == "unavailable"
        assert SECRET not in ready.text
    finally:
        pg_restore_services("start-replica")
    assert pg_wait(lambda: health.simulate_get("/health/ready").json["status"] == "ok", timeout=30)


def test_pool_exhausted_is_degraded(pg_database: Any, pg_wait: Callable[..., bool]) -> None:
    storage = PostgresStorage(PostgresEngines(pg_database.url, min_conns=1, max_conns=1, timeout=5))
    try:
        pool = storage.engines.primary
        waiter_done = threading.Event()
        with pool.connect():
            waiter = threading.Thread(
                target=lambda: (storage.statistics(), waiter_done.set()), daemon=True
            )
            waiter.start()
            assert pg_wait(lambda: pool.pool_status()["waiting"] == 1, timeout=5)
            report = storage.health()  # the probe has its own connection: no deadlock
            assert report.status == "degraded"
            assert report.details["pool"] == {
                "size": 1,
                "in_use": 1,
                "idle": 0,
                "waiting": 1,
                "max": 1,
            }
        assert waiter_done.wait(10)
        assert storage.health().status == "ok"
    finally:
        storage.close()


def test_metrics_expose_pool_gauges_and_wait_histogram(pg_replicated_app: Application) -> None:
    api = falcon.testing.TestClient(pg_replicated_app.api)
    health = falcon.testing.TestClient(pg_replicated_app.health)
    assert api.simulate_get(f"{API}/modules").status_code == 200
    text_body = health.simulate_get("/metrics").text
    assert 'spoke_db_connections_active{pool="primary"}' in text_body
    assert 'spoke_db_connections_idle{pool="primary"}' in text_body
    assert 'spoke_db_connections_active{pool="replica-1"}' in text_body
    assert "spoke_db_pool_wait_seconds_bucket{" in text_body
    assert "spoke_db_pool_wait_seconds_count{" in text_body
    assert SECRET not in text_body


def _files(field: str) -> list[dict[str, str]]:
    content = (
        f'syntax = "proto3";\n\npackage acme.pushed.v1;\n\nmessage Thing {{\n  {field} = 1;\n}}\n'
    )
    return [{"path": "acme/pushed/v1/api.proto", "content": content}]


def test_push_and_read_back_through_the_api(pg_replicated_app: Application) -> None:
    api = falcon.testing.TestClient(pg_replicated_app.api)
    assert api.simulate_post(f"{API}/modules", json={"name": "acme.pushed"}).status_code == 201
    body = {"version": "1.0.0", "files": _files("string id")}
    first = api.simulate_post(f"{API}/modules/acme.pushed/versions", json=body)
    assert first.status_code == 201, first.text
    # Read-your-writes through the replica path, right after the push.
    got = api.simulate_get(f"{API}/modules/acme.pushed/versions/1.0.0")
    assert got.status_code == 200, got.text
    assert got.json["version"] == "1.0.0"
    file = api.simulate_get(
        f"{API}/modules/acme.pushed/versions/1.0.0/files/acme/pushed/v1/api.proto"
    )
    assert file.status_code == 200
    assert "message Thing" in file.text
    # A CI retry of the same content is idempotent; different content is a conflict.
    again = api.simulate_post(f"{API}/modules/acme.pushed/versions", json=body)
    assert again.status_code == 200, again.text
    other = {"version": "1.0.0", "files": _files("int64 id")}
    conflict = api.simulate_post(f"{API}/modules/acme.pushed/versions", json=other)
    assert conflict.status_code == 409, conflict.text
    assert conflict.json["code"] == "version_exists"
    latest = api.simulate_get(f"{API}/modules/acme.pushed")
    assert latest.json["latest_version"] == "1.0.0"
