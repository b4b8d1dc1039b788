"""Every failure is ``{"error", "code", "details"}``: Spoke's own errors and falcon's alike."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon
import pytest

from spoke.api.app import Application
from spoke.domain import Module, Page
from spoke.errors import BackendUnavailable
from spoke_plugins.memory import MemoryStorage, NullCache

from .conftest import (
    API,
    SpokeClient,
    assert_error,
    create_module,
    filesystem_backends,
    make_app,
    memory_backends,
    message,
    proto,
    push,
    push_ok,
)

V1 = f"{API}/modules/acme/versions/1.0.0"
FILE = "acme/v1/a.proto"
GOOD = proto("acme.v1", message("A", "string id"))


@pytest.fixture
def registry(client: SpokeClient) -> SpokeClient:
    """``acme@1.0.0`` with one file."""
    push_ok(client, "acme", "1.0.0", {FILE: GOOD})
    return client


def test_an_unknown_route_is_404_not_found(client: SpokeClient) -> None:
    result = client.simulate_get(f"{API}/nope")

    body = assert_error(result, 404, "not_found")
    assert body["details"] == {}


def test_delete_on_a_module_is_405_method_not_allowed(registry: SpokeClient) -> None:
    result = registry.simulate_delete(f"{API}/modules/acme")

    assert_error(result, 405, "method_not_allowed")
    assert "GET" in result.headers["allow"] and "PATCH" in result.headers["allow"]
    assert registry.simulate_get(f"{API}/modules/acme").status_code == 200


def test_an_unexpected_exception_is_a_bare_500(app: Application, client: SpokeClient) -> None:
    def explode(**_: Any) -> None:
        raise RuntimeError("secret at /var/lib/spoke/db.sqlite")

    app.service.list_modules = explode  # type: ignore[method-assign]

    result = client.simulate_get(f"{API}/modules")

    body = assert_error(result, 500, "internal_error")
    assert body == {"error": "internal server error", "code": "internal_error", "details": {}}
    assert "/var/lib" not in result.text and "secret" not in result.text


# (method, path, JSON body or None, status, code)
ERROR_CASES: list[tuple[str, str, Any, int, str]] = [
    # Falcon's own
    ("GET", f"{API}/nope", None, 404, "not_found"),
    ("GET", "/", None, 404, "not_found"),
    ("GET", "/api/v2/modules", None, 404, "not_found"),
    ("GET", f"{V1}/files", None, 404, "not_found"),
    ("GET", f"{V1}/unknown-suffix", None, 404, "not_found"),
    ("DELETE", f"{API}/modules/acme", None, 405, "method_not_allowed"),
    ("PUT", f"{API}/modules/acme", {"name": "acme"}, 405, "method_not_allowed"),
    ("POST", f"{API}/modules/acme", {"name": "acme"}, 405, "method_not_allowed"),
    ("PUT", f"{API}/modules", {"name": "acme"}, 405, "method_not_allowed"),
    ("DELETE", V1, None, 405, "method_not_allowed"),
    ("POST", V1, {}, 405, "method_not_allowed"),
    ("PATCH", V1, {}, 405, "method_not_allowed"),
    ("DELETE", f"{V1}/files/{FILE}", None, 405, "method_not_allowed"),
    ("POST", f"{V1}/descriptor", None, 405, "method_not_allowed"),
    ("GET", f"{API}/validate", None, 405, "method_not_allowed"),
    # Not found
    ("GET", f"{API}/modules/ghost", None, 404, "module_not_found"),
    ("PATCH", f"{API}/modules/ghost", {"description": "x"}, 404, "module_not_found"),
    ("GET", f"{API}/modules/ghost/versions", None, 404, "module_not_found"),
    ("POST", f"{API}/modules/ghost/versions", {"version": "1.0.0", "files": [{"path": FILE, "content": GOOD}]}, 404, "module_not_found"),
    ("GET", f"{API}/modules/ghost/versions/1.0.0", None, 404, "module_not_found"),
    ("GET", f"{API}/modules/acme/versions/2.0.0", None, 404, "version_not_found"),
    ("GET", f"{API}/modules/acme/versions/2.0.0/files/{FILE}", None, 404, "version_not_found"),
    ("GET", f"{API}/modules/acme/versions/2.0.0/descriptor", None, 404, "version_not_found"),
    ("GET", f"{API}/modules/acme/versions/2.0.0/dependencies", None, 404, "version_not_found"),
    ("GET", f"{API}/modules/acme/versions/2.0.0/dependencies/transitive", None, 404, "version_not_found"),
    ("GET", f"{API}/modules/acme/versions/2.0.0/dependents", None, 404, "version_not_found"),
    ("GET", f"{V1}/files/nope.proto", None, 404, "file_not_found"),
    # Conflicts
    ("POST", f"{API}/modules", {"name": "acme"}, 409, "module_exists"),
    ("POST", f"{API}/modules/acme/versions", {"version": "1.0.0", "files": [{"path": FILE, "content": GOOD + "// changed\n"}]}, 409, "version_exists"),
    # Invalid requests
    ("POST", f"{API}/modules", {}, 400, "invalid_request"),
    ("POST", f"{API}/modules", {"name": "x", "nope": 1}, 400, "invalid_request"),
    ("POST", f"{API}/modules/acme/versions", {"version": "1.0.1"}, 400, "invalid_request"),
    ("POST", f"{API}/modules/acme/versions", {"version": "1.0.1", "files": []}, 400, "invalid_request"),
    ("PATCH", f"{API}/modules/acme", {"name": "other"}, 400, "invalid_request"),
    ("POST", f"{API}/validate", {}, 400, "invalid_request"),
    ("GET", f"{API}/modules?limit=0", None, 400, "invalid_request"),
    ("GET", f"{API}/modules?offset=-5", None, 400, "invalid_request"),
    ("GET", f"{API}/modules/acme/versions?limit=abc", None, 400, "invalid_request"),
    ("GET", f"{V1}/files/{FILE}?raw=maybe", None, 400, "invalid_request"),
    ("GET", f"{V1}/dependents?direct=maybe", None, 400, "invalid_request"),
    # Unprocessable
    ("POST", f"{API}/modules", {"name": "Bad Name"}, 422, "invalid_name"),
    ("POST", f"{API}/modules", {"name": "x", "compatibility": {"mode": "NOPE"}}, 422, "invalid_compatibility"),
    ("PATCH", f"{API}/modules/acme", {"compatibility": {"rules": "NOPE"}}, 422, "invalid_compatibility"),
    ("POST", f"{API}/modules/acme/versions", {"version": "1.0", "files": [{"path": FILE, "content": GOOD}]}, 422, "invalid_version"),
    ("GET", f"{API}/modules/acme/versions/not.a.version", None, 422, "invalid_version"),
    ("POST", f"{API}/modules/acme/versions", {"version": "1.0.1", "files": [{"path": "../a.proto", "content": GOOD}]}, 422, "invalid_path"),
    ("POST", f"{API}/modules/acme/versions", {"version": "1.0.1", "files": [{"path": FILE, "content": "message {"}]}, 422, "invalid_schema"),
    ("POST", f"{API}/modules/acme/versions", {"version": "1.0.1", "files": [{"path": FILE, "content": 'import "x/y.proto";'}]}, 422, "unresolved_import"),
    ("POST", f"{API}/modules/acme/versions", {"version": "1.0.1", "files": [{"path": FILE, "content": GOOD}], "dependencies": ["ghost@1.0.0"]}, 422, "dependency_not_found"),
    ("POST", f"{API}/modules/acme/versions", {"version": "1.0.1", "files": [{"path": FILE, "content": GOOD}], "dependencies": ["ghost@latest"]}, 422, "invalid_dependency"),
    ("POST", f"{API}/validate", {"content": GOOD, "dependencies": ["ghost@1.0.0"]}, 422, "dependency_not_found"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    ERROR_CASES,
    ids=[f"{m} {p.removeprefix(API)} {s} {c}" for m, p, _, s, c in ERROR_CASES],
)
def test_every_error_path_answers_the_envelope(
    registry: SpokeClient, method: str, path: str, body: Any, status: int, code: str
) -> None:
    result = registry.simulate_request(method, path, json=body)

    envelope = assert_error(result, status, code)
    assert "Traceback" not in envelope["error"]
    # A failed request changes nothing: acme still has exactly its one version.
    assert push(registry, "acme", "1.0.0", {FILE: GOOD}, create=False).status_code == 200
    versions = registry.simulate_get(f"{API}/modules/acme/versions").json
    assert [v["version"] for v in versions] == ["1.0.0"]


# Backend failures --------------------------------------------------------------------------------


class FailingStorage(MemoryStorage):
    def list_modules(self, *, prefix: str, limit: int, offset: int) -> Page[Module]:
        raise BackendUnavailable("storage: connection refused")


def test_a_backend_failure_is_503_backend_unavailable() -> None:
    application = make_app(backends=memory_backends(storage=FailingStorage()))
    try:
        client = SpokeClient(application.api)

        result = client.simulate_get(f"{API}/modules")

        body = assert_error(result, 503, "backend_unavailable")
        assert "connection refused" in body["error"]
    finally:
        application.close()


@pytest.fixture
def fs_app(tmp_path: Path) -> Iterator[tuple[Application, SpokeClient, Path]]:
    root = tmp_path / "data"
    # No cache: what a test breaks on disk must be what the next request reads.
    application = make_app(backends=filesystem_backends(root, cache=NullCache()))
    yield application, SpokeClient(application.api, forbidden=[str(tmp_path)]), root
    application.close()


def test_a_missing_blob_is_503_without_a_server_path(
    fs_app: tuple[Application, SpokeClient, Path],
) -> None:
    _, client, root = fs_app
    file = push_ok(client, "acme", "1.0.0", {FILE: GOOD})["files"][0]
    (blob,) = root.rglob(file["sha256"])
    blob.unlink()

    result = client.simulate_get(f"{V1}/files/{FILE}")

    body = assert_error(result, 503, "backend_unavailable")
    assert body["details"] == {"digest": file["sha256"]}
    # The version record itself is still readable.
    assert client.simulate_get(f"{API}/modules/acme").status_code == 200


def test_corrupt_metadata_is_503_without_a_server_path(
    fs_app: tuple[Application, SpokeClient, Path],
) -> None:
    _, client, root = fs_app
    create_module(client, "acme")
    (module_file,) = root.rglob("acme.json")
    module_file.write_text("{not json")

    for path in (f"{API}/modules/acme", f"{API}/modules"):
        assert_error(client.simulate_get(path), 503, "backend_unavailable")


def test_a_filesystem_error_is_503_without_a_server_path(
    fs_app: tuple[Application, SpokeClient, Path],
) -> None:
    _, client, root = fs_app
    push_ok(client, "acme", "1.0.0", {FILE: GOOD})
    versions_dir = root / "meta" / "versions" / "acme"
    assert versions_dir.is_dir()
    shutil.rmtree(versions_dir)
    versions_dir.write_text("not a directory")

    result = client.simulate_get(f"{API}/modules/acme/versions")

    assert_error(result, 503, "backend_unavailable")


# The harness itself --------------------------------------------------------------------------------


def test_the_client_refuses_a_body_that_leaks() -> None:
    """Every test relies on SpokeClient's leak check; make sure it fires."""
    leaky = falcon.App()

    class Leak:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.text = 'Traceback (most recent call last):\n  File "/tmp/x.py"'

    leaky.add_route("/leak", Leak())

    with pytest.raises(AssertionError, match="leaks"):
        SpokeClient(leaky).simulate_get("/leak")


@pytest.mark.parametrize(
    "path",
    [
        "/modules/" + "a" * 5000,
        "/modules/" + "a" * 5000 + "/versions/1.0.0",
        "/modules/x/versions/" + "1" * 5000,
        "/modules/x/versions/1.0.0/files/" + "a" * 5000 + ".proto",
    ],
)
def test_errors_do_not_echo_huge_values(client: SpokeClient, path: str) -> None:
    result = client.simulate_get(API + path)
    assert result.status_code in (404, 422)
    assert len(result.text) < 1500
