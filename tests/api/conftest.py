"""Fixtures and builders shared by the HTTP API tests.

* ``client`` / ``app``: an application on the memory backends, driven by :class:`SpokeClient`.
* ``any_client`` / ``any_app``: the same, parametrized over the memory and filesystem backends;
  the core happy paths use these.
* ``push``, ``create_module``, ``file_list``: request helpers.
* ``proto`` and ``message``: ``.proto`` text builders.
* ``assert_error``: checks the error envelope ``{"error", "code", "details"}``.

Every response that goes through :class:`SpokeClient` is checked for leaks: no traceback, no
temporary directory, no path of the server's installation or data directory.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import falcon.testing
import pytest

import spoke
from spoke.api.app import Application, Backends, create_app
from spoke.settings import load_settings
from spoke_plugins.memory import LRUCache, MemoryBlobStore, MemoryStorage
from worker_pool import shared_work

API = "/api/v1"
IMMUTABLE = "public, max-age=31536000, immutable"
FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
ENVELOPE_KEYS = {"error", "code", "details"}

# Text that must never appear in a response body.
LEAK_MARKERS = (
    "Traceback",
    "/tmp/",
    tempfile.gettempdir().rstrip("/") + "/",
    str(Path(spoke.__file__).resolve().parent),
    str(Path(falcon.__file__).resolve().parent.parent),  # site-packages (grpc_tools' protos)
    'File "',
)


# ---------------------------------------------------------------------------------------------
# Client


class SpokeClient(falcon.testing.TestClient):
    """A falcon test client that checks every response body for leaked server details."""

    def __init__(self, app: Any, *, forbidden: Iterable[str] = ()) -> None:
        super().__init__(app)
        self.forbidden = tuple(dict.fromkeys((*LEAK_MARKERS, *forbidden)))

    def simulate_request(self, *args: Any, **kwargs: Any) -> falcon.testing.Result:
        result = super().simulate_request(*args, **kwargs)
        text = result.content.decode("utf-8", errors="replace")
        for marker in self.forbidden:
            assert marker not in text, f"response body leaks {marker!r}: {text[:500]}"
        return result


# ---------------------------------------------------------------------------------------------
# Applications


def memory_backends(**overrides: Any) -> Backends:
    """Memory storage and blobs with an LRU cache; ``overrides`` replace any of them."""
    parts: dict[str, Any] = {
        "storage": MemoryStorage(),
        "blobs": MemoryBlobStore(),
        "cache": LRUCache(max_bytes=1 << 24),
    }
    parts.update(overrides)
    return Backends(**parts)


def filesystem_backends(root: Path, cache: Any = None) -> Backends:
    """Filesystem storage and blobs under ``root`` with ``cache`` (default: an LRU cache)."""
    from spoke_plugins.filesystem import FilesystemBlobStore, FilesystemStorage

    return Backends(
        FilesystemStorage(root=root),
        FilesystemBlobStore(root=root),
        LRUCache(max_bytes=1 << 24) if cache is None else cache,
        storage_name="filesystem",
        blob_name="filesystem",
        cache_name="memory",
    )


def make_app(
    environ: Mapping[str, str] | None = None, backends: Backends | None = None
) -> Application:
    """An application on ``backends`` (default: memory) with settings from ``environ``."""
    return create_app(
        load_settings(dict(environ or {})),
        backends=backends or memory_backends(),
        work=shared_work(),
    )


@pytest.fixture(autouse=True)
def _quiet_unexpected_error_logs(caplog: pytest.LogCaptureFixture) -> None:
    # Unhandled errors are logged with their traceback; keep pytest's output readable.
    caplog.set_level(logging.CRITICAL, logger="spoke.api.errors")


@pytest.fixture
def app() -> Iterator[Application]:
    application = make_app()
    yield application
    application.close()


@pytest.fixture
def client(app: Application) -> SpokeClient:
    return SpokeClient(app.api)


@pytest.fixture
def health(app: Application) -> SpokeClient:
    return SpokeClient(app.health)


@pytest.fixture(params=["memory", "filesystem"])
def any_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Application]:
    """An application on the memory backends, then on the filesystem backends."""
    if request.param == "memory":
        backends = memory_backends()
    else:
        backends = filesystem_backends(tmp_path / "data")
    application = make_app(backends=backends)
    yield application
    application.close()


@pytest.fixture
def any_client(any_app: Application, tmp_path: Path) -> SpokeClient:
    return SpokeClient(any_app.api, forbidden=[str(tmp_path)])


# ---------------------------------------------------------------------------------------------
# .proto builders


def message(name: str, *fields: str) -> str:
    """``message name { <fields numbered from 1> }``; a field is ``"<type> <name>"``."""
    body = "".join(f"  {field} = {number};\n" for number, field in enumerate(fields, start=1))
    return f"message {name} {{\n{body}}}\n"


def proto(package: str, *definitions: str, imports: Iterable[str] = ()) -> str:
    """A proto3 file in ``package`` importing ``imports`` and holding ``definitions``."""
    lines = ['syntax = "proto3";', "", f"package {package};", ""]
    imported = [f'import "{path}";' for path in imports]
    if imported:
        lines += [*imported, ""]
    return "\n".join(lines) + "\n".join(definitions)


def simple_files(module: str, *, field: str = "string id") -> dict[str, str]:
    """One valid file for ``module``: ``<module as path>/v1/api.proto``."""
    package = module.replace("-", "_") + ".v1"
    path = module.replace(".", "/").replace("-", "_") + "/v1/api.proto"
    return {path: proto(package, message("Thing", field))}


# ---------------------------------------------------------------------------------------------
# Requests


def file_list(files: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """``{path: content}`` (or pairs) as the wire's ``[{"path", "content"}]``."""
    items = files.items() if isinstance(files, Mapping) else files
    return [{"path": path, "content": content} for path, content in items]


def create_module(client: SpokeClient, name: str, **fields: Any) -> falcon.testing.Result:
    """POST /modules; asserts 201."""
    result = client.simulate_post(f"{API}/modules", json={"name": name, **fields})
    assert result.status_code == 201, result.text
    return result


def ensure_module(client: SpokeClient, name: str) -> None:
    """Create ``name`` unless it exists."""
    result = client.simulate_post(f"{API}/modules", json={"name": name})
    assert result.status_code in (201, 409), result.text


def push(
    client: SpokeClient,
    module: str,
    version: str,
    files: Mapping[str, str] | Iterable[tuple[str, str]],
    deps: Iterable[str] = (),
    *,
    create: bool = True,
    **extra: Any,
) -> falcon.testing.Result:
    """POST a version (creating the module first unless ``create=False``); returns the result."""
    if create:
        ensure_module(client, module)
    body: dict[str, Any] = {"version": version, "files": file_list(files)}
    deps = list(deps)
    if deps:
        body["dependencies"] = deps
    body.update(extra)
    return client.simulate_post(f"{API}/modules/{module}/versions", json=body)


def push_ok(
    client: SpokeClient,
    module: str,
    version: str,
    files: Mapping[str, str] | None = None,
    deps: Iterable[str] = (),
) -> dict[str, Any]:
    """Push and assert 201; returns the Version body."""
    result = push(client, module, version, files or simple_files(module), deps)
    assert result.status_code == 201, result.text
    body: dict[str, Any] = result.json
    return body


def post_raw(
    client: SpokeClient, path: str, body: str | bytes, content_type: str = "application/json"
) -> falcon.testing.Result:
    """POST a body exactly as given."""
    return client.simulate_post(path, body=body, content_type=content_type)


# ---------------------------------------------------------------------------------------------
# Assertions and state


def assert_error(
    result: falcon.testing.Result, status: int, code: str | Iterable[str] | None = None
) -> dict[str, Any]:
    """The response is the error envelope with ``status`` (and ``code``); returns the body."""
    assert result.status_code == status, f"expected {status}, got {result.status}: {result.text}"
    assert result.headers.get("content-type", "").startswith("application/json"), result.headers
    body = json.loads(result.text)
    assert isinstance(body, dict) and set(body) == ENVELOPE_KEYS, body
    assert isinstance(body["error"], str) and body["error"], body
    assert isinstance(body["code"], str) and re.fullmatch(r"[a-z][a-z_]*", body["code"]), body
    assert isinstance(body["details"], dict), body
    if code is not None:
        expected = {code} if isinstance(code, str) else set(code)
        assert body["code"] in expected, body
    return body


def module_names(client: SpokeClient) -> list[str]:
    result = client.simulate_get(f"{API}/modules", params={"limit": "1000"})
    assert result.status_code == 200, result.text
    return [m["name"] for m in result.json]


def version_names(client: SpokeClient, module: str) -> list[str]:
    result = client.simulate_get(f"{API}/modules/{module}/versions", params={"limit": "1000"})
    assert result.status_code == 200, result.text
    return [v["version"] for v in result.json]


def blob_digests(app: Application) -> set[str]:
    return set(app.backends.blobs.iter_digests())


# ---------------------------------------------------------------------------------------------
# Schema evolution

THING_PATH = "acme/v1/api.proto"
THING_LINE = 5  # the line of `message Thing` in what `thing()` writes


def thing(*fields: str, extra: str = "") -> dict[str, str]:
    """``acme/v1/api.proto`` holding ``message Thing`` with ``fields`` as written
    (``"string id = 1"``), one per line from line ``THING_LINE + 1``, then ``extra``."""
    body = "".join(f"  {field};\n" for field in fields)
    text = f'syntax = "proto3";\n\npackage acme.v1;\n\nmessage Thing {{\n{body}}}\n{extra}'
    return {THING_PATH: text}


def set_policy(client: SpokeClient, module: str, mode: str, rules: str = "FILE") -> None:
    """PATCH the module's compatibility policy; asserts 200."""
    result = client.simulate_patch(
        f"{API}/modules/{module}", json={"compatibility": {"mode": mode, "rules": rules}}
    )
    assert result.status_code == 200, result.text


def metric_value(health: SpokeClient, sample: str) -> float:
    """The value of one sample line (``name{labels}``) of /metrics; 0 when absent."""
    text = health.simulate_get("/metrics").text
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
