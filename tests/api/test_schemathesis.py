"""Property tests generated from openapi.yaml against the real falcon apps on memory backends.

For every operation, schemathesis generates valid and invalid requests; the answers must never be
a 5xx, every 4xx must be the error envelope, and every answer must conform to the spec (status,
content type, headers, body schema). A seeded registry makes the spec's examples hit real data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client

from spoke.api.app import Application, Backends, create_app
from spoke.settings import load_settings
from spoke_plugins.memory import LRUCache, MemoryBlobStore, MemoryStorage
from worker_pool import shared_work

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
ERROR_KEYS = {"error", "code", "details"}

# Small and reproducible: a fixed number of examples per operation, derandomized, no coverage
# phase (it enumerates boundary values and would multiply the run time), no stateful phase.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": 25, "deterministic": True, "mode": "all"},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
SCHEMA = schemathesis.openapi.from_path(SPEC_PATH, config=CONFIG)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

PERSON = 'syntax = "proto3";\npackage acme.v1;\n\nmessage Person {\n  string name = 1;\n}\n'
COMMON = 'syntax = "proto3";\npackage common.v1;\n\nmessage Money {\n  int64 units = 1;\n}\n'


def _seed(app: Application) -> None:
    """What the spec's examples name: `acme` 1.0.0 (acme/v1/person.proto) pinning `common` 1.0.0."""
    client = falcon.testing.TestClient(app.api)
    common = [{"path": "common/v1/money.proto", "content": COMMON}]
    acme = [{"path": "acme/v1/person.proto", "content": PERSON}]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/modules", {"name": "common"}),
        ("/api/v1/modules/common/versions", {"version": "1.0.0", "files": common}),
        ("/api/v1/modules", {"name": "acme", "description": "Example module"}),
        (
            "/api/v1/modules/acme/versions",
            {"version": "1.0.0", "files": acme, "dependencies": ["common@1.0.0"]},
        ),
    ]
    for path, body in steps:
        result = client.simulate_post(path, json=body)
        assert result.status_code == 201, (path, result.text)


def _seeded_app() -> Iterator[Application]:
    backends = Backends(
        storage=MemoryStorage(), blobs=MemoryBlobStore(), cache=LRUCache(max_bytes=1 << 22)
    )
    app = create_app(load_settings({}), backends=backends, work=shared_work())
    _seed(app)
    yield app
    app.close()


@pytest.fixture(scope="module")
def application() -> Iterator[Application]:
    """Shared by the generated cases, which add modules and versions as they go."""
    yield from _seeded_app()


@pytest.fixture
def registry() -> Iterator[Application]:
    """A freshly seeded application, for tests that count what is stored."""
    yield from _seeded_app()


def _body(response: Any) -> bytes:
    # schemathesis' own responses have `.content`; werkzeug's test responses `.get_data()`.
    content = getattr(response, "content", None)
    return bytes(content) if content is not None else bytes(response.get_data())


def _assert_error_envelope(response: Any) -> None:
    if 400 <= response.status_code < 600:
        body = json.loads(_body(response))
        assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
        assert isinstance(body["error"], str) and isinstance(body["details"], dict), body


@SCHEMA.exclude(tag="health").parametrize()
def test_api_answers_conform_to_the_spec(case: Any, application: Application) -> None:
    response = case.call(app=application.api)
    case.validate_response(response, checks=CHECKS)
    _assert_error_envelope(response)


@SCHEMA.include(tag="health").parametrize()
def test_health_answers_conform_to_the_spec(case: Any, application: Application) -> None:
    response = case.call(app=application.health)
    case.validate_response(response, checks=CHECKS)
    if case.path != "/health/ready":  # readiness reports its own 503 body
        _assert_error_envelope(response)


# Answers the generated cases rarely reach, checked against the spec the same way -------------


def _send(app: falcon.App, method: str, url: str, **kwargs: Any) -> Any:
    """A real WSGI round trip, returning a response schemathesis can validate."""
    return Client(app).open(url, method=method, **kwargs)


def _conforms(path: str, method: str, response: Any, **case: Any) -> None:
    SCHEMA[path][method].Case(**case).validate_response(response, checks=CHECKS)
    _assert_error_envelope(response)


def _conforms_as_documented_5xx(path: str, method: str, response: Any) -> None:
    checks = [check for check in CHECKS if check is not not_a_server_error]
    SCHEMA[path][method].Case().validate_response(response, checks=checks)


VERSION = "/api/v1/modules/{name}/versions/{version}"
ACME = {"name": "acme", "version": "1.0.0"}


@pytest.mark.parametrize(
    ("template", "parameters", "query"),
    [
        (VERSION, ACME, ""),
        (VERSION + "/files/{path}", {**ACME, "path": "acme/v1/person.proto"}, ""),
        (VERSION + "/files/{path}", {**ACME, "path": "acme/v1/person.proto"}, "?raw=true"),
        (VERSION + "/descriptor", ACME, ""),
    ],
)
def test_if_none_match_answers_304_as_documented(
    registry: Application, template: str, parameters: dict[str, str], query: str
) -> None:
    url = template.format(**parameters) + query
    first = _send(registry.api, "GET", url)
    assert first.status_code == 200
    _conforms(template, "GET", first, path_parameters=parameters)
    etag = first.headers["ETag"]
    again = _send(registry.api, "GET", url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    _conforms(template, "GET", again, path_parameters=parameters, headers={"If-None-Match": etag})


def test_latest_is_not_cached_as_immutable(registry: Application) -> None:
    response = _send(registry.api, "GET", "/api/v1/modules/acme/versions/latest")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache" and "ETag" not in response.headers
    _conforms(VERSION, "GET", response, path_parameters={"name": "acme", "version": "latest"})


def test_raw_file_is_text_plain(registry: Application) -> None:
    parameters = {**ACME, "path": "acme/v1/person.proto"}
    url = VERSION.format(**parameters) + "/files/acme/v1/person.proto?raw=true"
    response = _send(registry.api, "GET", url)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == PERSON
    _conforms(VERSION + "/files/{path}", "GET", response, path_parameters=parameters)


def test_list_headers_as_documented(registry: Application) -> None:
    response = _send(registry.api, "GET", "/api/v1/modules?limit=1")
    assert response.headers["X-Total-Count"] == "2"
    assert response.headers["Link"] == '</api/v1/modules?limit=1&offset=1>; rel="next"'
    _conforms("/api/v1/modules", "GET", response, query={"limit": 1})


def test_following_link_next_with_a_repeated_parameter_gives_the_next_page(
    registry: Application,
) -> None:
    assert _send(registry.api, "POST", "/api/v1/modules", json={"name": "acme2"}).status_code == 201
    first = _send(registry.api, "GET", "/api/v1/modules?limit=1&q=ac&q=ac")
    assert first.headers["X-Total-Count"] == "2"
    link = first.headers["Link"]
    next_url = link[link.index("<") + 1 : link.index(">")]
    following = _send(registry.api, "GET", next_url)
    assert following.headers["X-Total-Count"] == first.headers["X-Total-Count"]


def test_a_non_json_body_is_refused_as_documented(registry: Application) -> None:
    response = _send(registry.api, "POST", "/api/v1/modules", data="{}", content_type="text/plain")
    assert response.status_code == 415 and response.json["code"] == "unsupported_media_type"
    _conforms("/api/v1/modules", "POST", response, body={"name": "x"})


def test_an_oversized_body_is_413_as_documented() -> None:
    backends = Backends(
        storage=MemoryStorage(), blobs=MemoryBlobStore(), cache=LRUCache(max_bytes=1 << 20)
    )
    app = create_app(
        load_settings({"SPOKE_MAX_BODY_BYTES": "1KiB"}), backends=backends, work=shared_work()
    )
    try:
        response = _send(app.api, "POST", "/api/v1/validate", json={"content": "x" * 2000})
        assert response.status_code == 413 and response.json["details"] == {"max_bytes": 1024}
        _conforms("/api/v1/validate", "POST", response, body={"content": "x"})
    finally:
        app.close()


def test_an_unknown_route_and_a_wrong_method_are_error_envelopes(
    registry: Application,
) -> None:
    missing = _send(registry.api, "GET", "/api/v1/nothing")
    assert missing.status_code == 404 and missing.json["code"] == "not_found"
    _assert_error_envelope(missing)
    wrong = _send(registry.api, "DELETE", "/api/v1/modules")
    assert wrong.status_code == 405 and wrong.json["code"] == "method_not_allowed"
    assert wrong.headers["Allow"]
    _assert_error_envelope(wrong)


def test_a_failing_compile_is_422_with_diagnostics(registry: Application) -> None:
    body = {"version": "2.0.0", "files": [{"path": "acme/v1/bad.proto", "content": "message {"}]}
    response = _send(registry.api, "POST", "/api/v1/modules/acme/versions", json=body)
    assert response.status_code == 422 and response.json["code"] == "invalid_schema"
    assert response.json["details"]["errors"]
    _conforms(
        "/api/v1/modules/{name}/versions",
        "POST",
        response,
        path_parameters={"name": "acme"},
        body=body,
    )


def test_readiness_without_a_required_backend_is_503_as_documented() -> None:
    class BrokenBlobs(MemoryBlobStore):
        def check(self) -> None:
            raise OSError("unreachable")

    backends = Backends(
        storage=MemoryStorage(), blobs=BrokenBlobs(), cache=LRUCache(max_bytes=1 << 20)
    )
    app = create_app(load_settings({}), backends=backends, work=shared_work())
    try:
        response = _send(app.health, "GET", "/health/ready")
        assert response.status_code == 503 and response.json["status"] == "unavailable"
        _conforms_as_documented_5xx("/health/ready", "GET", response)
    finally:
        app.close()


def test_a_module_name_with_a_trailing_newline_is_refused(registry: Application) -> None:
    body = {"name": "newline\n"}
    response = _send(registry.api, "POST", "/api/v1/modules", json=body)
    assert response.status_code == 422 and response.json["code"] == "invalid_name"
    _conforms("/api/v1/modules", "POST", response, body=body)


# Bugs the spec exposes: each is a 5xx or an answer the spec forbids -------------------------

_CLASH = [
    {"path": "a.proto", "content": 'syntax = "proto3";\npackage a;\n'},
    {"path": "a.proto/b.proto", "content": 'syntax = "proto3";\npackage b;\n'},
]


@pytest.mark.parametrize(
    ("path", "url", "body"),
    [
        (
            "/api/v1/modules/{name}/versions",
            "/api/v1/modules/acme/versions",
            {"version": "3.0.0", "files": _CLASH},
        ),
        ("/api/v1/validate", "/api/v1/validate", {"files": _CLASH}),
    ],
    ids=["push", "validate"],
)
def test_a_file_directory_clash_is_refused(
    registry: Application, path: str, url: str, body: dict[str, Any]
) -> None:
    response = _send(registry.api, "POST", url, json=body)
    _conforms(path, "POST", response, path_parameters={"name": "acme"}, body=body)


def test_a_lone_surrogate_in_a_pushed_file_is_refused(registry: Application) -> None:
    body = {"version": "4.0.0", "files": [{"path": "acme/v1/s.proto", "content": "\ud800"}]}
    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as the JSON escape \ud800
    response = _send(
        registry.api,
        "POST",
        "/api/v1/modules/acme/versions",
        data=raw,
        content_type="application/json",
    )
    _conforms(
        "/api/v1/modules/{name}/versions",
        "POST",
        response,
        path_parameters={"name": "acme"},
        body=body,
    )


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/api/v1/modules/{name}/versions", "/api/v1/modules/acme/versions"),
        ("/api/v1/validate", "/api/v1/validate"),
    ],
    ids=["push", "validate"],
)
def test_dependencies_with_a_file_directory_clash_are_refused(
    registry: Application, path: str, url: str
) -> None:
    for name, file in (("one", "x.proto"), ("two", "x.proto/y.proto")):
        files = [{"path": file, "content": f'syntax = "proto3";\npackage {name};\n'}]
        assert (
            _send(registry.api, "POST", "/api/v1/modules", json={"name": name}).status_code == 201
        )
        pushed = _send(
            registry.api,
            "POST",
            f"/api/v1/modules/{name}/versions",
            json={"version": "1.0.0", "files": files},
        )
        assert pushed.status_code == 201
    body: dict[str, Any] = {"dependencies": ["one@1.0.0", "two@1.0.0"]}
    if path == "/api/v1/validate":
        body["content"] = 'syntax = "proto3";\n'
    else:
        body.update(version="5.0.0", files=[{"path": "acme/v1/c.proto", "content": PERSON}])
    response = _send(registry.api, "POST", url, json=body)
    _conforms(path, "POST", response, path_parameters={"name": "acme"}, body=body)


# Schema evolution: answers the generated cases rarely reach ----------------------------------

PERSON_V2 = PERSON.replace("  string name = 1;\n", "  string name = 1;\n  string email = 2;\n")


def test_an_incompatible_push_is_409_as_documented(registry: Application) -> None:
    emptied = PERSON.replace("  string name = 1;\n", "")
    body = {
        "version": "1.1.0",
        "files": [{"path": "acme/v1/person.proto", "content": emptied}],
        "dependencies": ["common@1.0.0"],
    }
    response = _send(registry.api, "POST", "/api/v1/modules/acme/versions", json=body)
    assert response.status_code == 409 and response.json["code"] == "incompatible_schema"
    assert response.json["details"]["violations"][0]["rule"] == "FIELD_NO_DELETE"
    _conforms(
        "/api/v1/modules/{name}/versions",
        "POST",
        response,
        path_parameters={"name": "acme"},
        body=body,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"files": [{"path": "acme/v1/person.proto", "content": PERSON_V2}], "mode": "FULL"},
        {"files": [{"path": "acme/v1/person.proto", "content": PERSON}], "old_version": "1.0.0"},
        {"new_version": "latest", "rules": "WIRE"},
    ],
    ids=["incompatible-candidate", "compatible-candidate", "stored"],
)
def test_compatibility_answers_are_as_documented(
    registry: Application, body: dict[str, Any]
) -> None:
    url = "/api/v1/modules/acme/compatibility"
    response = _send(registry.api, "POST", url, json=body)
    assert response.status_code == 200, response.json
    _conforms(
        "/api/v1/modules/{name}/compatibility",
        "POST",
        response,
        path_parameters={"name": "acme"},
        body=body,
    )
    stored = _send(registry.api, "GET", VERSION.format(**ACME) + "/compatibility?mode=FULL")
    assert stored.status_code == 200, stored.json
    _conforms(
        VERSION + "/compatibility", "GET", stored, path_parameters=ACME, query={"mode": "FULL"}
    )


def test_a_diff_is_as_documented(registry: Application) -> None:
    files = [{"path": "acme/v1/person.proto", "content": PERSON_V2}]
    pushed = _send(
        registry.api,
        "POST",
        "/api/v1/modules/acme/versions",
        json={"version": "1.1.0", "files": files, "dependencies": ["common@1.0.0"]},
    )
    assert pushed.status_code == 201, pushed.json
    body = {"from_version": "1.0.0", "to_version": "latest"}
    response = _send(registry.api, "POST", "/api/v1/modules/acme/diff", json=body)
    assert response.status_code == 200 and response.json["changes"], response.json
    _conforms(
        "/api/v1/modules/{name}/diff", "POST", response, path_parameters={"name": "acme"}, body=body
    )
