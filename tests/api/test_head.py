"""HEAD is GET without the body, on every GET route of both listeners (RFC 9110 9.3.2).

Same status, same headers (``Content-Length`` of the body GET sends, ``ETag``,
``Cache-Control``, a 304 for a matching ``If-None-Match``), no body. A download's HEAD reads a
stored archive's size and digest from its index entry, not its bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
import yaml

from spoke.api.app import Application, Backends
from spoke_plugins.memory import MemoryBlobStore

from .conftest import API, SpokeClient, make_app, memory_backends, message, proto, push_ok

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text("utf-8"))
HEALTH_PATHS = {"/health/live", "/health/ready", "/metrics"}
V1 = f"{API}/modules/acme/versions/1.0.0"
FILE = "acme/v1/a.proto"

# One or more concrete requests per GET route of the spec, against the `registry` fixture.
REQUESTS: dict[str, list[str]] = {
    "/api/v1/modules": [f"{API}/modules", f"{API}/modules?limit=1&q=a"],
    "/api/v1/modules/{name}": [f"{API}/modules/acme", f"{API}/modules/ghost"],
    "/api/v1/modules/{name}/versions": [f"{API}/modules/acme/versions?limit=1"],
    "/api/v1/modules/{name}/versions/{version}": [V1, f"{API}/modules/acme/versions/latest", f"{API}/modules/acme/versions/9.0.0"],
    "/api/v1/modules/{name}/versions/{version}/files/{path}": [f"{V1}/files/{FILE}", f"{V1}/files/{FILE}?raw=true", f"{V1}/files/nope.proto"],
    "/api/v1/modules/{name}/versions/{version}/descriptor": [f"{V1}/descriptor"],
    "/api/v1/modules/{name}/versions/{version}/dependencies": [f"{V1}/dependencies"],
    "/api/v1/modules/{name}/versions/{version}/dependencies/transitive": [f"{V1}/dependencies/transitive"],
    "/api/v1/modules/{name}/versions/{version}/dependents": [f"{API}/modules/common/versions/1.0.0/dependents?direct=true"],
    "/api/v1/modules/{name}/versions/{version}/compatibility": [f"{V1}/compatibility?mode=FULL"],
    "/api/v1/languages": [f"{API}/languages"],
    "/api/v1/languages/{language}": [f"{API}/languages/python", f"{API}/languages/cobol"],
    "/api/v1/modules/{name}/versions/{version}/download/{language}": [f"{V1}/download/python", f"{API}/modules/acme/versions/latest/download/python?grpc=true"],
    "/api/v1/modules/{name}/versions/{version}/compile/{job_id}": [f"{V1}/compile/no-such-job"],
    "/health/live": ["/health/live"],
    "/health/ready": ["/health/ready"],
    "/metrics": ["/metrics"],
}  # fmt: skip
CASES = [(template, url) for template, urls in REQUESTS.items() for url in urls]
# Bodies that change from one request to the next (latencies, request counters): their length
# may differ between the GET and the HEAD compared.
VARYING = {"/health/ready", "/metrics"}


@pytest.fixture(scope="module")
def registry() -> Iterator[Application]:
    """``acme@1.0.0`` pinning ``common@1.0.0``."""
    application = make_app()
    client = SpokeClient(application.api)
    push_ok(client, "common", "1.0.0", {"common/v1/c.proto": proto("common.v1", message("C"))})
    push_ok(
        client,
        "acme",
        "1.0.0",
        {FILE: proto("acme.v1", message("A", "string id"))},
        deps=["common@1.0.0"],
    )
    yield application
    application.close()


def _client(application: Application, url: str) -> falcon.testing.TestClient:
    listener = application.health if url.split("?")[0] in HEALTH_PATHS else application.api
    return falcon.testing.TestClient(listener)


def _headers(result: falcon.testing.Result) -> dict[str, str]:
    """Every header but the request id, which differs between any two requests."""
    return {k: v for k, v in result.headers.items() if k.lower() != "x-request-id"}


def _get_then_head(client: Any, url: str, **kwargs: Any) -> tuple[Any, Any]:
    client.simulate_get(url, **kwargs)  # first: archives are generated, caches filled
    return client.simulate_get(url, **kwargs), client.simulate_head(url, **kwargs)


def test_every_get_route_of_the_spec_is_covered() -> None:
    gets = {path for path, item in SPEC["paths"].items() if "get" in item}

    assert set(REQUESTS) == gets


@pytest.mark.parametrize(("template", "url"), CASES, ids=[url for _, url in CASES])
def test_head_answers_as_get_without_the_body(
    registry: Application, template: str, url: str
) -> None:
    get, head = _get_then_head(_client(registry, url), url)

    assert head.status == get.status
    assert head.content == b""
    if template in VARYING:
        assert int(head.headers.pop("content-length")) > 0
        get.headers.pop("content-length")
    else:
        assert int(head.headers["content-length"]) == len(get.content) > 0
    assert _headers(head) == _headers(get)


@pytest.mark.parametrize(
    "url",
    [V1, f"{V1}/files/{FILE}", f"{V1}/files/{FILE}?raw=true", f"{V1}/descriptor", f"{V1}/download/python"],
)  # fmt: skip
def test_head_with_a_matching_etag_is_304_as_get_is(registry: Application, url: str) -> None:
    client = _client(registry, url)
    etag = client.simulate_get(url).headers["etag"]

    get, head = _get_then_head(client, url, headers={"If-None-Match": etag})

    assert head.status_code == get.status_code == 304
    assert _headers(head) == _headers(get)
    assert head.content == b""


def test_head_is_refused_where_get_is_not_served(registry: Application) -> None:
    result = falcon.testing.TestClient(registry.api).simulate_head(f"{API}/validate")

    assert result.status_code == 405
    assert "HEAD" not in result.headers["allow"]


def test_allow_names_head_beside_get(registry: Application) -> None:
    result = falcon.testing.TestClient(registry.api).simulate_delete(f"{API}/modules")

    assert result.status_code == 405
    assert {"GET", "HEAD", "POST"} <= {m.strip() for m in result.headers["allow"].split(",")}


# Downloads: HEAD does not read a stored archive -----------------------------------------------


class CountingBlobs(MemoryBlobStore):
    """Counts reads, so a test can tell whether a stored archive's bytes were read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, *, digest: str) -> bytes:
        self.reads += 1
        return super().get(digest=digest)


@pytest.fixture
def shared() -> Backends:
    """Backends two applications share, like two replicas (or a restarted server)."""
    return memory_backends(blobs=CountingBlobs())


def _generations(application: Application) -> float:
    """How many times a code generator ran in this application."""
    return sum(
        sample.value
        for metric in application.metrics.generations.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def test_head_of_a_stored_archive_reads_neither_its_bytes_nor_the_generator(
    shared: Backends,
) -> None:
    first = make_app(backends=shared)
    try:
        client = SpokeClient(first.api)
        push_ok(client, "acme", "1.0.0", {FILE: proto("acme.v1", message("A", "string id"))})
        stored = client.simulate_get(f"{V1}/download/python")
        assert stored.status_code == 200 and _generations(first) == 1
    finally:
        first.close()
    blobs = shared.blobs
    assert isinstance(blobs, CountingBlobs)
    second = make_app(backends=shared)  # nothing of the archive in this process
    try:
        client = SpokeClient(second.api)
        reads = blobs.reads

        head = client.simulate_head(f"{V1}/download/python")

        assert blobs.reads == reads and _generations(second) == 0
        assert head.status_code == 200 and head.content == b""
        assert head.headers["x-spoke-cache"] == "hit"
        get = client.simulate_get(f"{V1}/download/python")
        assert blobs.reads == reads + 1
        assert _headers(head) == _headers(get)
        assert int(head.headers["content-length"]) == len(get.content) == len(stored.content)
    finally:
        second.close()


def test_head_of_an_archive_not_stored_yet_generates_and_stores_it(shared: Backends) -> None:
    application = make_app(backends=shared)
    try:
        client = SpokeClient(application.api)
        push_ok(client, "acme", "1.0.0", {FILE: proto("acme.v1", message("A", "string id"))})

        head = client.simulate_head(f"{V1}/download/python")
        get = client.simulate_get(f"{V1}/download/python")

        assert head.status_code == 200 and head.headers["x-spoke-cache"] == "miss"
        assert get.headers["x-spoke-cache"] == "hit" and _generations(application) == 1
        assert head.headers["etag"] == get.headers["etag"]
        assert int(head.headers["content-length"]) == len(get.content)
    finally:
        application.close()
