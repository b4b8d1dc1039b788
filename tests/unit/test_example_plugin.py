"""The example plugin (``examples/spoke-plugin-example``) as a third party installs and uses it.

``./scripts/test`` pip-installs the example as a separate distribution, so everything here goes
through the real entry point, exactly as a plugin published on an index would. Without the
example installed this module is skipped locally and fails under ``CI=true``.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest
from click.testing import CliRunner

from spoke.api.app import Application, build_backends, create_app
from spoke.cli import main
from spoke.plugins import ENTRY_POINT_GROUP, UnknownBackend, create_plugin_registry
from spoke.settings import load_settings
from spoke.testing.contract import StorageContract
from spoke_plugins.memory import MemoryBlobStore
from worker_pool import shared_work

DISTRIBUTION = "spoke-plugin-example"
_INSTALL_HINT = (
    f"the example plugin is not installed: run `pip install ./examples/{DISTRIBUTION}` "
    "(./scripts/test does)"
)


def _example_installed() -> bool:
    try:
        importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


EXAMPLE_INSTALLED = _example_installed()
if not EXAMPLE_INSTALLED and os.environ.get("CI", "").strip().lower() not in {"1", "true", "yes"}:
    pytest.skip(_INSTALL_HINT, allow_module_level=True)
if EXAMPLE_INSTALLED:
    from spoke_plugin_example.storage import SqliteStorage


@pytest.fixture(autouse=True)
def _the_example_is_installed() -> None:
    """Under ``CI=true`` a missing example fails every test here instead of skipping them."""
    if not EXAMPLE_INSTALLED:
        pytest.fail(_INSTALL_HINT, pytrace=False)


API = "/api/v1"
PROTO = 'syntax = "proto3";\n\npackage acme.billing.v1;\n\nmessage Invoice {\n  string id = 1;\n}\n'
PROTO_PATH = "acme/billing/v1/invoice.proto"


def sqlite_settings(root: Path, **extra: str) -> dict[str, str]:
    return {
        "SPOKE_STORAGE_TYPE": "sqlite",
        "SPOKE_BLOB_TYPE": "memory",
        "SPOKE_FILESYSTEM_ROOT": str(root),
        **extra,
    }


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Application]:
    application = create_app(load_settings(sqlite_settings(tmp_path)), work=shared_work())
    yield application
    application.close()


def push_invoice(client: falcon.testing.TestClient, version: str = "1.0.0") -> None:
    created = client.simulate_post(f"{API}/modules", json={"name": "acme.billing"})
    assert created.status_code in (201, 409), created.text
    pushed = client.simulate_post(
        f"{API}/modules/acme.billing/versions",
        json={"version": version, "files": [{"path": PROTO_PATH, "content": PROTO}]},
    )
    assert pushed.status_code == 201, pushed.text


def read_invoice(client: falcon.testing.TestClient, version: str = "1.0.0") -> str:
    result = client.simulate_get(
        f"{API}/modules/acme.billing/versions/{version}/files/{PROTO_PATH}",
        params={"raw": "true"},
    )
    assert result.status_code == 200, result.text
    return result.text


# -- discovery -------------------------------------------------------------------------------


def test_the_entry_point_comes_from_the_example_distribution() -> None:
    (entry_point,) = [
        ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == "sqlite"
    ]
    assert entry_point.value == "spoke_plugin_example.plugin"
    assert entry_point.dist is not None
    assert entry_point.dist.name == DISTRIBUTION


def test_the_catalog_lists_sqlite_under_its_plugin_name() -> None:
    catalog = create_plugin_registry().catalog()
    (descriptor,) = [d for d in catalog.storage if d.name == "sqlite"]
    assert descriptor.plugin == "sqlite"
    assert "SQLite" in descriptor.description
    assert "sqlite" not in catalog.names("blob")
    assert not [f for f in catalog.failures if f.plugin == "sqlite"], catalog.failures


def test_spoke_plugins_shows_the_backend() -> None:
    result = CliRunner().invoke(main, ["plugins"])
    storage_part = result.output.split("blob backends:")[0]
    assert "sqlite" in storage_part, result.output
    assert "[sqlite]" in storage_part, result.output


def test_an_unknown_storage_type_lists_sqlite_as_installed() -> None:
    settings = load_settings({"SPOKE_STORAGE_TYPE": "sqlight"})
    with pytest.raises(UnknownBackend) as caught:
        build_backends(settings, create_plugin_registry())
    assert "sqlite" in caught.value.message.partition("installed:")[2]


# -- selection -------------------------------------------------------------------------------


def test_storage_type_sqlite_builds_the_sqlite_storage(tmp_path: Path) -> None:
    backends = build_backends(load_settings(sqlite_settings(tmp_path)), create_plugin_registry())
    try:
        assert isinstance(backends.storage, SqliteStorage)
        assert isinstance(backends.blobs, MemoryBlobStore)
        assert (backends.storage_name, backends.blob_name) == ("sqlite", "memory")
        assert (tmp_path / "spoke.sqlite3").is_file()
    finally:
        backends.close()


def test_spoke_sqlite_path_is_read_from_the_environment(tmp_path: Path) -> None:
    target = tmp_path / "db" / "registry.sqlite3"
    settings = load_settings(sqlite_settings(tmp_path / "root", SPOKE_SQLITE_PATH=str(target)))
    backends = build_backends(settings, create_plugin_registry())
    backends.close()
    assert target.is_file()
    assert not (tmp_path / "root" / "spoke.sqlite3").exists()


# -- the whole server on it ------------------------------------------------------------------


def test_create_push_and_read_back_through_the_api(sqlite_app: Application) -> None:
    client = falcon.testing.TestClient(sqlite_app.api)
    push_invoice(client)

    assert read_invoice(client) == PROTO
    module = client.simulate_get(f"{API}/modules/acme.billing")
    assert module.status_code == 200, module.text
    assert module.json["latest_version"] == "1.0.0"
    versions = client.simulate_get(f"{API}/modules/acme.billing/versions")
    assert [v["version"] for v in versions.json] == ["1.0.0"]
    assert sqlite_app.backends.storage.statistics().versions == 1


def test_readiness_probes_the_sqlite_storage(sqlite_app: Application) -> None:
    result = falcon.testing.TestClient(sqlite_app.health).simulate_get("/health/ready")
    assert result.status_code == 200, result.text


def test_data_persists_across_two_apps_on_one_file(tmp_path: Path) -> None:
    environ = sqlite_settings(tmp_path, SPOKE_BLOB_TYPE="filesystem")
    first = create_app(load_settings(environ), work=shared_work())
    push_invoice(falcon.testing.TestClient(first.api))
    first.close()

    second = create_app(load_settings(environ), work=shared_work())
    try:
        client = falcon.testing.TestClient(second.api)
        assert read_invoice(client) == PROTO
        push_invoice(client, "1.1.0")  # the module is there: creating it again is a 409
        latest = client.simulate_get(f"{API}/modules/acme.billing/versions/latest")
        assert latest.json["version"] == "1.1.0"
    finally:
        second.close()


# -- the contract suite, run from Spoke's side ----------------------------------------------


class TestSqliteStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[SqliteStorage]:
        backend = SqliteStorage(path=tmp_path / "spoke.sqlite3")
        yield backend
        backend.close()
