"""What the schemathesis tests share: the spec loaded with their configuration, a seeded
registry, and checks of single answers against the spec.

The configuration is the one place the run is bounded and its checks are chosen; see the
comments there for what is left out and why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon
import falcon.testing
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from werkzeug.test import Client

from spoke.api.app import Application, Backends, create_app
from spoke.codegen import LanguageRegistry
from spoke.settings import load_settings
from spoke_plugins.memory import LRUCache, MemoryBlobStore, MemoryStorage
from worker_pool import shared_work

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
ERROR_KEYS = {"error", "code", "details"}

# Spec-valid requests a schema cannot tell from accepted ones: files that do not compile,
# dependencies that are not stored, a language whose generator is not installed here. These
# operations answer them with a 422, which `positive_data_acceptance` takes as an answer to
# valid data; a 400 for valid data still fails it everywhere.
SEMANTIC_422 = [
    "pushVersion",
    "checkCompatibility",
    "validateFiles",
    "startCompileJob",
    "downloadGeneratedCode",
]
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
BODY_NAMES_RESOURCES = ["startCompileJob", "checkCompatibility", "diffVersions"]

# Every check schemathesis has runs (no `checks=` anywhere). Small and reproducible: a fixed
# number of examples per operation, derandomized, valid and invalid requests. The coverage phase
# (boundary values of every parameter and body field, and the methods the spec does not list)
# runs for the GET operations only: for the bodies of the POSTs it takes 44 s of collection
# alone on a 2-core machine; test_spec_answers.py checks their unlisted methods by hand.
GENERATION = {"max-examples": 25, "deterministic": True, "mode": "all"}
# Generated text is rarely a .proto file that compiles, so most generated pushes would end in a
# 422 and never reach the links behind a 201. Some of the values drawn come from these
# dictionaries instead: file text that compiles, the installed language. (Not pins: a drawn
# list could then hold one twice, which the spec's uniqueItems excludes after generation.)
DICTIONARIES = {
    "proto-files": {
        "values": [
            "",
            'syntax = "proto3";\n',
            'syntax = "proto2";\n',
            'syntax = "proto3";\nimport "google/protobuf/timestamp.proto";\n',
        ]
    },
    "languages": {"values": ["python"]},
}
DRAWN_FROM_DICTIONARIES = {
    "body.files[*].content": {"dictionary": "proto-files", "probability": 0.8},
    "body.languages[*]": {"dictionary": "languages", "probability": 0.8},
    "path.language": {"dictionary": "languages", "probability": 0.5},
}
CONFIG = SchemathesisConfig.from_dict(
    {
        "dictionaries": DICTIONARIES,
        "parameters": DRAWN_FROM_DICTIONARIES,
        "generation": GENERATION,
        # The stateful phase follows the spec's own links only. Inferred ones would lead
        # createModule to diffVersions with generated versions, whose 404 (no such version)
        # ensure_resource_availability takes for the new module having vanished.
        "phases": {"coverage": {"enabled": False}, "stateful": {"inference": {"algorithms": []}}},
        "operations": [
            {"include-method": "GET", "phases": {"coverage": {"enabled": True}}},
            {
                "include-operation-id": SEMANTIC_422,
                "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
            },
            # ensure_resource_availability reads a 404 after a link as "the resource the link
            # led to is gone". These operations also answer 404 for what their body names (a
            # language to compile, the version to compare or diff against), which the link does
            # not fix; for them alone the check is off. It runs on every other link.
            {
                "include-operation-id": BODY_NAMES_RESOURCES,
                "checks": {"ensure_resource_availability": {"enabled": False}},
            },
        ],
    }
)
# Separate, because the per-operation filters above also select operations: `.include(tag=...)`
# on a schema carrying them would bring API operations into the health listener's tests.
HEALTH_CONFIG = SchemathesisConfig.from_dict({"generation": GENERATION})

SCHEMA = schemathesis.openapi.from_path(SPEC_PATH, config=CONFIG).exclude(tag="health")
HEALTH_SCHEMA = schemathesis.openapi.from_path(SPEC_PATH, config=HEALTH_CONFIG).include(
    tag="health"
)
# Every operation, for checking answers of hand-written requests.
LOOKUP = schemathesis.openapi.from_path(SPEC_PATH, config=HEALTH_CONFIG)

PERSON = 'syntax = "proto3";\npackage acme.v1;\n\nmessage Person {\n  string name = 1;\n}\n'
COMMON = 'syntax = "proto3";\npackage common.v1;\n\nmessage Money {\n  int64 units = 1;\n}\n'


def seed(app: Application) -> None:
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


def new_seeded_app(languages: LanguageRegistry | None = None) -> Application:
    """A seeded application on new memory backends; the caller closes it."""
    backends = Backends(
        storage=MemoryStorage(), blobs=MemoryBlobStore(), cache=LRUCache(max_bytes=1 << 22)
    )
    app = create_app(load_settings({}), backends=backends, languages=languages, work=shared_work())
    seed(app)
    return app


def seeded_app() -> Iterator[Application]:
    """A seeded application on the memory backends, closed afterwards."""
    app = new_seeded_app()
    yield app
    app.close()


def body_of(response: Any) -> bytes:
    # schemathesis' own responses have `.content`; werkzeug's test responses `.get_data()`.
    content = getattr(response, "content", None)
    return bytes(content) if content is not None else bytes(response.get_data())


def assert_error_envelope(response: Any) -> None:
    """A 4xx or 5xx answer is the error envelope (a HEAD's, which has no body, aside)."""
    if 400 <= response.status_code < 600 and body_of(response):
        body = json.loads(body_of(response))
        assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
        assert isinstance(body["error"], str) and isinstance(body["details"], dict), body


def send(app: falcon.App[Any, Any], method: str, url: str, **kwargs: Any) -> Any:
    """A real WSGI round trip, returning a response schemathesis can validate."""
    return Client(app).open(url, method=method, **kwargs)


def conforms(path: str, method: str, response: Any, **case: Any) -> None:
    """``response`` passes every check against the operation, and errors are the envelope."""
    LOOKUP[path][method].Case(**case).validate_response(response)
    assert_error_envelope(response)


def conforms_as_documented_5xx(path: str, method: str, response: Any) -> None:
    """As :func:`conforms`, for a 5xx the spec documents (which ``not_a_server_error`` fails)."""
    LOOKUP[path][method].Case().validate_response(response, excluded_checks=[not_a_server_error])
