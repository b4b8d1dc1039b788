"""``spoke migrate`` and the schema check of the postgres factories, on the real server."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import text

import spoke_plugins.postgres
from spoke.api.app import create_app
from spoke.errors import BackendUnavailable
from spoke.plugins import create_plugin_registry
from spoke.settings import load_settings
from spoke_plugins.postgres.blob import PostgresBlobStore
from spoke_plugins.postgres.engine import PostgresEngines, normalize_url
from spoke_plugins.postgres.migrate import current_revision, head_revision, pending, upgrade
from spoke_plugins.postgres.storage import PostgresStorage
from worker_pool import shared_work

pytestmark = [pytest.mark.backend("postgres"), pytest.mark.slow]

_MIGRATE = "from spoke.cli_migrate import migrate; migrate(prog_name='spoke migrate')"


def _spawn(url: str | None, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOKE_")}
    if url is not None:
        env["SPOKE_POSTGRES_URL"] = url
    return subprocess.Popen(
        [sys.executable, "-c", _MIGRATE, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _migrate(url: str | None, *args: str) -> tuple[int, str]:
    process = _spawn(url, *args)
    out, err = process.communicate(timeout=60)
    return process.returncode, (out + err).strip()


def test_check_then_migrate_then_check(pg_fresh_database: Any) -> None:
    url = pg_fresh_database.url
    code, output = _migrate(url, "--check")
    assert (code, output.count("\n")) == (1, 0), output
    assert "pending" in output and "none" in output

    code, output = _migrate(url)
    assert code == 0, output
    assert output == f"spoke: database schema upgraded from revision none to {head_revision()}"

    code, output = _migrate(url)
    assert code == 0, output
    assert output == f"spoke: database schema already up to date (revision {head_revision()})"

    code, output = _migrate(url, "--check")
    assert code == 0, output
    assert output == f"spoke: database schema is up to date (revision {head_revision()})"
    assert current_revision(url) == head_revision()


def test_concurrent_migrations_are_safe(pg_fresh_database: Any) -> None:
    url = pg_fresh_database.url
    processes = [_spawn(url) for _ in range(3)]
    results = [(p.wait(timeout=60), p.communicate()[0].strip()) for p in processes]
    assert [code for code, _ in results] == [0, 0, 0], results
    outputs = [output for _, output in results]
    assert sum("upgraded" in output for output in outputs) == 1, outputs
    assert sum("already up to date" in output for output in outputs) == 2, outputs
    assert not pending(url)


def test_configuration_and_connection_errors(pg_fresh_database: Any) -> None:
    code, output = _migrate(None)
    assert code == 2 and output.count("\n") == 0, output
    assert "SPOKE_POSTGRES_URL is not set" in output

    code, output = _migrate("mysql://root:pw@localhost/db")
    assert code == 2 and output.count("\n") == 0, output
    assert "pw" not in output

    code, output = _migrate("postgresql://u:topsecret@127.0.0.1:1/spoke")
    assert code == 1 and output.count("\n") == 0, output
    assert "connection refused" in output and "topsecret" not in output

    code, output = _migrate("postgresql://u:topsecret@127.0.0.1:1/spoke", "--check")
    assert code == 1 and "topsecret" not in output, output


def test_factories_refuse_an_empty_database(pg_fresh_database: Any) -> None:
    settings = load_settings({"SPOKE_POSTGRES_URL": pg_fresh_database.url})
    for factory in (PostgresStorage.from_settings, PostgresBlobStore.from_settings):
        with pytest.raises(BackendUnavailable) as caught:
            factory(settings)
        assert caught.value.message == (
            "postgres: the database schema is at revision none (empty database), "
            f"this Spoke needs {head_revision()}: run `spoke migrate`"
        )


def test_create_app_refuses_a_behind_schema_and_starts_after_migrate(
    pg_fresh_database: Any,
) -> None:
    settings = load_settings(
        {
            "SPOKE_STORAGE_TYPE": "postgres",
            "SPOKE_CACHE_TYPE": "none",
            "SPOKE_POSTGRES_URL": pg_fresh_database.url,
        }
    )
    plugins = create_plugin_registry()
    plugins.register(spoke_plugins.postgres, name="postgres-under-test")
    with pytest.raises(BackendUnavailable, match="run `spoke migrate`"):
        create_app(settings, plugins=plugins, work=shared_work())
    upgrade(pg_fresh_database.url)
    application = create_app(settings, plugins=plugins, work=shared_work())
    application.close()


def test_factory_refuses_an_unknown_newer_revision(pg_database: Any) -> None:
    engine = PostgresEngines(pg_database.url, max_conns=1)
    try:
        with engine.primary.connect() as connection:
            connection.execute(text("UPDATE spoke_alembic_version SET version_num = '9999'"))
            connection.commit()
    finally:
        engine.close()
    with pytest.raises(BackendUnavailable, match="does not know"):
        PostgresStorage(PostgresEngines(pg_database.url, max_conns=1))


def test_missing_settings_url_is_a_settings_error() -> None:
    from spoke.settings import SettingsError

    with pytest.raises(SettingsError, match="SPOKE_POSTGRES_URL"):
        PostgresStorage.from_settings(load_settings({}))


def test_urls_are_normalized_to_psycopg2() -> None:
    assert normalize_url("postgres://u:p@h/db").drivername == "postgresql+psycopg2"
    with pytest.raises(ValueError, match="no database"):
        normalize_url("postgresql://u:p@h")


def test_serve_refuses_a_behind_schema_and_names_spoke_migrate(pg_fresh_database: Any) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOKE_")}
    env.update(
        SPOKE_STORAGE_TYPE="postgres",
        SPOKE_POSTGRES_URL=pg_fresh_database.url,
        SPOKE_CACHE_TYPE="none",
        SPOKE_PORT="29180",
        SPOKE_HEALTH_PORT="29190",
    )
    result = subprocess.run(
        [sys.executable, "-m", "spoke", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("spoke: cannot start: ")
    assert "spoke migrate" in lines[0]
