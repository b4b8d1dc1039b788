"""Answers the generated cases rarely reach, checked against openapi.yaml with every check.

Conditional GETs, raw files, list headers, refusals of whole bodies, documented 5xx answers,
evolution answers, and the methods the spec does not list; each request is written by hand and
its answer run through schemathesis' checks like a generated one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from spoke.api.app import Application, Backends, create_app
from spoke.settings import load_settings
from spoke_plugins.memory import LRUCache, MemoryBlobStore, MemoryStorage
from worker_pool import shared_work

from .spec_support import (
    PERSON,
    SPEC_PATH,
    assert_error_envelope,
    conforms,
    conforms_as_documented_5xx,
    seeded_app,
    send,
)


@pytest.fixture
def registry() -> Iterator[Application]:
    """A freshly seeded application, for tests that count what is stored."""
    yield from seeded_app()


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
    first = send(registry.api, "GET", url)
    assert first.status_code == 200
    conforms(template, "GET", first, path_parameters=parameters)
    etag = first.headers["ETag"]
    again = send(registry.api, "GET", url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    conforms(template, "GET", again, path_parameters=parameters, headers={"If-None-Match": etag})


def test_latest_is_not_cached_as_immutable(registry: Application) -> None:
    response = send(registry.api, "GET", "/api/v1/modules/acme/versions/latest")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache" and "ETag" not in response.headers
    conforms(VERSION, "GET", response, path_parameters={"name": "acme", "version": "latest"})


def test_raw_file_is_text_plain(registry: Application) -> None:
    parameters = {**ACME, "path": "acme/v1/person.proto"}
    url = VERSION.format(**parameters) + "/files/acme/v1/person.proto?raw=true"
    response = send(registry.api, "GET", url)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == PERSON
    conforms(VERSION + "/files/{path}", "GET", response, path_parameters=parameters)


def test_list_headers_as_documented(registry: Application) -> None:
    response = send(registry.api, "GET", "/api/v1/modules?limit=1")
    assert response.headers["X-Total-Count"] == "2"
    assert response.headers["Link"] == '</api/v1/modules?limit=1&offset=1>; rel="next"'
    conforms("/api/v1/modules", "GET", response, query={"limit": 1})


def test_following_link_next_with_a_repeated_parameter_gives_the_next_page(
    registry: Application,
) -> None:
    assert send(registry.api, "POST", "/api/v1/modules", json={"name": "acme2"}).status_code == 201
    first = send(registry.api, "GET", "/api/v1/modules?limit=1&q=ac&q=ac")
    assert first.headers["X-Total-Count"] == "2"
    link = first.headers["Link"]
    next_url = link[link.index("<") + 1 : link.index(">")]
    following = send(registry.api, "GET", next_url)
    assert following.headers["X-Total-Count"] == first.headers["X-Total-Count"]


def test_a_non_json_body_is_refused_as_documented(registry: Application) -> None:
    response = send(registry.api, "POST", "/api/v1/modules", data="{}", content_type="text/plain")
    assert response.status_code == 415 and response.json["code"] == "unsupported_media_type"
    conforms("/api/v1/modules", "POST", response, body={"name": "x"})


def test_an_oversized_body_is_413_as_documented() -> None:
    backends = Backends(
        storage=MemoryStorage(), blobs=MemoryBlobStore(), cache=LRUCache(max_bytes=1 << 20)
    )
    app = create_app(
        load_settings({"SPOKE_MAX_BODY_BYTES": "1KiB"}), backends=backends, work=shared_work()
    )
    try:
        response = send(app.api, "POST", "/api/v1/validate", json={"content": "x" * 2000})
        assert response.status_code == 413 and response.json["details"] == {"max_bytes": 1024}
        conforms("/api/v1/validate", "POST", response, body={"content": "x"})
    finally:
        app.close()


def test_an_unknown_route_and_a_wrong_method_are_error_envelopes(
    registry: Application,
) -> None:
    missing = send(registry.api, "GET", "/api/v1/nothing")
    assert missing.status_code == 404 and missing.json["code"] == "not_found"
    assert_error_envelope(missing)
    wrong = send(registry.api, "DELETE", "/api/v1/modules")
    assert wrong.status_code == 405 and wrong.json["code"] == "method_not_allowed"
    assert wrong.headers["Allow"]
    assert_error_envelope(wrong)


SPEC = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "TRACE")
CONCRETE = {"{name}": "acme", "{version}": "1.0.0", "{path}": "acme/v1/person.proto",
            "{language}": "python", "{job_id}": "0" * 32}  # fmt: skip
HEALTH_PATHS = {"/health/live", "/health/ready", "/metrics"}
UNLISTED = [
    (path, method)
    for path, item in SPEC["paths"].items()
    for method in METHODS
    if method.lower() not in item
]


@pytest.mark.parametrize(("path", "method"), UNLISTED, ids=[f"{m} {p}" for p, m in UNLISTED])
def test_a_method_the_spec_does_not_list_is_405_naming_those_it_does(
    registry: Application, path: str, method: str
) -> None:
    """What schemathesis' unsupported_method and allow_header_conformance checks judge, for
    every path (its coverage phase, which sends these, runs for the GET operations only)."""
    url = path
    for template, value in CONCRETE.items():
        url = url.replace(template, value)

    response = send(registry.health if path in HEALTH_PATHS else registry.api, method, url)

    assert response.status_code == 405
    assert_error_envelope(response)
    documented = {m.upper() for m in SPEC["paths"][path] if m.upper() in METHODS}
    implied = {"HEAD"} if "GET" in documented else set()
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed - {"OPTIONS"} == documented | implied


def test_a_failing_compile_is_422_with_diagnostics(registry: Application) -> None:
    body = {"version": "2.0.0", "files": [{"path": "acme/v1/bad.proto", "content": "message {"}]}
    response = send(registry.api, "POST", "/api/v1/modules/acme/versions", json=body)
    assert response.status_code == 422 and response.json["code"] == "invalid_schema"
    assert response.json["details"]["errors"]
    conforms(
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
        response = send(app.health, "GET", "/health/ready")
        assert response.status_code == 503 and response.json["status"] == "unavailable"
        conforms_as_documented_5xx("/health/ready", "GET", response)
    finally:
        app.close()


def test_a_module_name_with_a_trailing_newline_is_refused(registry: Application) -> None:
    body = {"name": "newline\n"}
    response = send(registry.api, "POST", "/api/v1/modules", json=body)
    assert response.status_code == 422 and response.json["code"] == "invalid_name"
    conforms("/api/v1/modules", "POST", response, body=body)


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
    response = send(registry.api, "POST", url, json=body)
    conforms(path, "POST", response, path_parameters={"name": "acme"}, body=body)


def test_a_lone_surrogate_in_a_pushed_file_is_refused(registry: Application) -> None:
    body = {"version": "4.0.0", "files": [{"path": "acme/v1/s.proto", "content": "\ud800"}]}
    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as the JSON escape \ud800
    response = send(
        registry.api,
        "POST",
        "/api/v1/modules/acme/versions",
        data=raw,
        content_type="application/json",
    )
    conforms(
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
        assert send(registry.api, "POST", "/api/v1/modules", json={"name": name}).status_code == 201
        pushed = send(
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
    response = send(registry.api, "POST", url, json=body)
    conforms(path, "POST", response, path_parameters={"name": "acme"}, body=body)


# Schema evolution: answers the generated cases rarely reach ----------------------------------

PERSON_V2 = PERSON.replace("  string name = 1;\n", "  string name = 1;\n  string email = 2;\n")


def test_an_incompatible_push_is_409_as_documented(registry: Application) -> None:
    emptied = PERSON.replace("  string name = 1;\n", "")
    body = {
        "version": "1.1.0",
        "files": [{"path": "acme/v1/person.proto", "content": emptied}],
        "dependencies": ["common@1.0.0"],
    }
    response = send(registry.api, "POST", "/api/v1/modules/acme/versions", json=body)
    assert response.status_code == 409 and response.json["code"] == "incompatible_schema"
    assert response.json["details"]["violations"][0]["rule"] == "FIELD_NO_DELETE"
    conforms(
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
    response = send(registry.api, "POST", url, json=body)
    assert response.status_code == 200, response.json
    conforms(
        "/api/v1/modules/{name}/compatibility",
        "POST",
        response,
        path_parameters={"name": "acme"},
        body=body,
    )
    stored = send(registry.api, "GET", VERSION.format(**ACME) + "/compatibility?mode=FULL")
    assert stored.status_code == 200, stored.json
    conforms(
        VERSION + "/compatibility", "GET", stored, path_parameters=ACME, query={"mode": "FULL"}
    )


def test_a_diff_is_as_documented(registry: Application) -> None:
    files = [{"path": "acme/v1/person.proto", "content": PERSON_V2}]
    pushed = send(
        registry.api,
        "POST",
        "/api/v1/modules/acme/versions",
        json={"version": "1.1.0", "files": files, "dependencies": ["common@1.0.0"]},
    )
    assert pushed.status_code == 201, pushed.json
    body = {"from_version": "1.0.0", "to_version": "latest"}
    response = send(registry.api, "POST", "/api/v1/modules/acme/diff", json=body)
    assert response.status_code == 200 and response.json["changes"], response.json
    conforms(
        "/api/v1/modules/{name}/diff", "POST", response, path_parameters={"name": "acme"}, body=body
    )
