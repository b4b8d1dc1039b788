"""openapi.yaml describes exactly what the code serves: routes, error codes, limits and patterns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon
import falcon.inspect
import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator

import spoke
from spoke.api import http, resources
from spoke.api.app import Backends, create_app
from spoke.api.errors import _CODES_BY_STATUS
from spoke.api.wire import WIRE_CODES
from spoke.domain import COMPATIBILITY_MODES, COMPATIBILITY_RULES
from spoke.settings import load_settings
from spoke.validation import MAX_PATH_LENGTH
from spoke_plugins.memory import LRUCache, MemoryBlobStore, MemoryStorage
from worker_pool import shared_work

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "openapi.yaml"
SOURCE_DIRS = (ROOT / "src" / "spoke", ROOT / "src" / "spoke_plugins")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
HEALTH_PATHS = ("/health/live", "/health/ready", "/metrics")

# How error codes are written in the source: `code="x"` arguments, `default_code = "x"` class
# attributes, `"code": "x"` literal envelopes, and the fallback of the status -> code map.
_CODE_PATTERNS = (
    re.compile(r"\bcode\s*=\s*\"([a-z_]+)\""),
    re.compile(r"\bdefault_code\b[^=\n]*=\s*\"([a-z_]+)\""),
    re.compile(r"\"code\"\s*:\s*\"([a-z_]+)\""),
    re.compile(r"_CODES_BY_STATUS\.get\([^,]+,\s*\"([a-z_]+)\"\)"),
)


@pytest.fixture(scope="module")
def application() -> Iterator[Any]:
    backends = Backends(
        storage=MemoryStorage(), blobs=MemoryBlobStore(), cache=LRUCache(max_bytes=1 << 20)
    )
    app = create_app(load_settings({}), backends=backends, work=shared_work())
    yield app
    app.close()


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operations(spec: dict[str, Any], paths: set[str] | None = None) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in spec["paths"].items()
        if paths is None or path in paths
        for method in HTTP_METHODS
        if method in item
    }


def _served(app: falcon.App) -> set[tuple[str, str]]:
    """(path, method) of every responder the app's resources define, in OpenAPI's path syntax.

    falcon adds internal responders (OPTIONS and a 405 for every other method); they are not ours.
    HEAD on a GET route is that GET without the body, which the spec's conventions say once
    rather than as an operation of every such path (tests/api/test_head.py walks them).
    """
    routes = falcon.inspect.inspect_app(app).routes
    served = {
        (re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path), method.method)
        for route in routes
        for method in route.methods
        if not method.internal
    }
    return {(path, m) for path, m in served if m != "HEAD" or (path, "GET") not in served}


def test_every_get_route_also_serves_head(application: Any) -> None:
    routes = falcon.inspect.inspect_app(application.api).routes
    methods = {route.path: {m.method for m in route.methods if not m.internal} for route in routes}

    assert all("HEAD" in served for served in methods.values() if "GET" in served)
    assert "HEAD" in " ".join(_conventions()), "the spec's conventions do not mention HEAD"


def _conventions() -> list[str]:
    with SPEC_PATH.open(encoding="utf-8") as f:
        description: str = yaml.safe_load(f)["info"]["description"]
    return description.split("\n- ")


def _codes_in_source() -> set[str]:
    codes = set(_CODES_BY_STATUS.values()) | set(WIRE_CODES.values())
    for directory in SOURCE_DIRS:
        for source in directory.rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            for pattern in _CODE_PATTERNS:
                codes.update(pattern.findall(text))
    return codes


def _error_code_enum(spec: dict[str, Any]) -> set[str]:
    return set(spec["components"]["schemas"]["ErrorCode"]["enum"])


def _enums_in(spec: dict[str, Any], node: Any, seen: set[str] | None = None) -> Iterator[str]:
    """Every `code` value an error response schema allows (enum or const), following $refs."""
    seen = set() if seen is None else seen
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            if ref not in seen:
                seen.add(ref)
                yield from _enums_in(spec, _resolve(spec, node), seen)
            return
        code = node.get("properties", {}).get("code", {})
        if "const" in code:
            yield code["const"]
        yield from code.get("enum", ())
        for value in node.values():
            yield from _enums_in(spec, value, seen)
    elif isinstance(node, list):
        for value in node:
            yield from _enums_in(spec, value, seen)


# The spec as a document --------------------------------------------------------------------


def test_spec_is_a_valid_openapi_3_1_document(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(spec).validate()


def test_spec_version_is_the_package_version(spec: dict[str, Any]) -> None:
    assert spec["info"]["title"] == "Spoke"
    assert spec["info"]["version"] == spoke.__version__


# Routes ------------------------------------------------------------------------------------


def test_api_operations_are_exactly_the_served_routes(
    spec: dict[str, Any], application: Any
) -> None:
    served = _served(application.api)
    documented = _operations(spec) - _operations(spec, set(HEALTH_PATHS))
    assert served, "no route found: the inspection is broken"
    assert documented - served == set(), "documented but not served"
    assert served - documented == set(), "served but not documented"


def test_every_api_route_is_under_the_api_prefix(spec: dict[str, Any]) -> None:
    api_paths = set(spec["paths"]) - set(HEALTH_PATHS)
    assert all(path.startswith("/api/v1/") for path in api_paths)


def test_health_operations_are_exactly_the_health_listener_routes(
    spec: dict[str, Any], application: Any
) -> None:
    assert _operations(spec, set(HEALTH_PATHS)) == _served(application.health)


def test_health_operations_name_the_health_port_and_tag(spec: dict[str, Any]) -> None:
    api_urls = {server["url"] for server in spec["servers"]}
    for path in HEALTH_PATHS:
        item = spec["paths"][path]
        urls = [server["url"] for server in item["servers"]]
        assert urls == ["http://localhost:9090"], path
        assert not set(urls) & api_urls, path
        assert all(item[m]["tags"] == ["health"] for m in HTTP_METHODS if m in item), path


def test_operation_ids_are_unique(spec: dict[str, Any]) -> None:
    ids = [
        item[method]["operationId"]
        for item in spec["paths"].values()
        for method in HTTP_METHODS
        if method in item
    ]
    assert len(ids) == len(set(ids))


# Errors ------------------------------------------------------------------------------------


def test_every_error_code_in_the_source_is_in_the_spec(spec: dict[str, Any]) -> None:
    in_source = _codes_in_source()
    assert {"invalid_request", "module_not_found", "invalid_schema"} <= in_source  # the scan works
    assert in_source - _error_code_enum(spec) == set()


def test_the_spec_lists_no_error_code_the_source_never_produces(spec: dict[str, Any]) -> None:
    assert _error_code_enum(spec) - _codes_in_source() == set()


def test_error_responses_allow_only_known_codes(spec: dict[str, Any]) -> None:
    known = _error_code_enum(spec)
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            for status, response in item.get(method, {}).get("responses", {}).items():
                if int(status) < 400:
                    continue
                allowed = set(_enums_in(spec, response))
                assert allowed <= known, (path, method, status, allowed - known)


def test_every_error_response_is_the_error_envelope(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            for status, response in item.get(method, {}).get("responses", {}).items():
                if int(status) < 400 or path == "/health/ready":  # readiness 503 is a report
                    continue
                content = _resolve(spec, response)["content"]
                assert list(content) == ["application/json"], (path, method, status)
                schema = content["application/json"]["schema"]
                refs = [schema, *schema.get("allOf", [])]
                names = {_ref_name(s) for s in refs if "$ref" in s}
                assert names & {"Error", "ConflictError", "PushRejected"}, (path, method, status)


def _ref_name(node: dict[str, Any]) -> str:
    return str(node["$ref"]).rsplit("/", 1)[-1]


def test_every_api_operation_documents_internal_and_backend_errors(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        if path in HEALTH_PATHS:
            continue
        for method in HTTP_METHODS:
            if method in item:
                assert {"500", "503"} <= set(item[method]["responses"]), (path, method)


def test_operations_with_a_body_document_its_refusals(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            operation = item.get(method, {})
            if "requestBody" in operation:
                assert {"400", "413"} <= set(operation["responses"]), (path, method)


# Limits and patterns agree with the code ---------------------------------------------------


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(spec["components"]["schemas"][name])


def test_pagination_limits_match_the_code(spec: dict[str, Any]) -> None:
    limit = spec["components"]["parameters"]["Limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (
        1,
        http.MAX_LIMIT,
        http.DEFAULT_LIMIT,
    )
    offset = spec["components"]["parameters"]["Offset"]["schema"]
    assert (offset["minimum"], offset["maximum"]) == (0, http.MAX_OFFSET)


def test_body_limits_match_the_code(spec: dict[str, Any]) -> None:
    create = _schema(spec, "CreateModuleRequest")["properties"]
    update = _schema(spec, "UpdateModuleRequest")["properties"]
    assert create["description"]["maxLength"] == resources.MAX_DESCRIPTION
    assert update["description"]["maxLength"] == resources.MAX_DESCRIPTION
    assert _schema(spec, "FileList")["maxItems"] == resources.MAX_FILES
    assert _schema(spec, "FilePath")["maxLength"] == MAX_PATH_LENGTH
    source = _schema(spec, "SourceInfoInput")["properties"]
    assert {field["maxLength"] for field in source.values()} == {resources.MAX_SOURCE_FIELD}


def test_request_bodies_refuse_unknown_fields(spec: dict[str, Any]) -> None:
    for name in (
        "CreateModuleRequest",
        "UpdateModuleRequest",
        "CompatibilityPolicyInput",
        "PushVersionRequest",
        "FileInput",
        "SourceInfoInput",
        "ValidateRequest",
    ):
        assert _schema(spec, name)["additionalProperties"] is False, name


def test_compatibility_enums_match_the_domain(spec: dict[str, Any]) -> None:
    assert _schema(spec, "CompatibilityMode")["enum"] == list(COMPATIBILITY_MODES)
    assert _schema(spec, "CompatibilityRules")["enum"] == list(COMPATIBILITY_RULES)


def _query_parameters(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            for parameter in item.get(method, {}).get("parameters", []):
                parameter = _resolve(spec, parameter)
                if parameter["in"] == "query":
                    yield f"{method.upper()} {path}", parameter


def test_boolean_query_parameters_are_the_server_flags(spec: dict[str, Any]) -> None:
    assert _schema(spec, "Flag")["enum"] == list(http.FLAG_VALUES)
    flags = {
        parameter["name"]
        for _, parameter in _query_parameters(spec)
        if parameter["schema"].get("$ref", "").endswith("/Flag")
    }
    assert flags == {"raw", "direct", "grpc", "include_dependencies"}
    for where, parameter in _query_parameters(spec):
        assert parameter["schema"].get("type") != "boolean", (where, parameter["name"])


# Links (what the stateful schemathesis tests follow) -------------------------------------------


def _properties(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The property names a schema declares, through $refs and allOf."""
    schema = _resolve(spec, schema)
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= _properties(spec, part)
    return names


def _parameters_of(spec: dict[str, Any], path: str, method: str) -> set[str]:
    item = spec["paths"][path]
    declared = [*item.get("parameters", []), *item[method].get("parameters", [])]
    return {_resolve(spec, parameter)["name"] for parameter in declared}


def test_links_lead_to_operations_that_take_what_they_pass(spec: dict[str, Any]) -> None:
    operations = {
        item[method]["operationId"]: (path, method)
        for path, item in spec["paths"].items()
        for method in HTTP_METHODS
        if method in item
    }
    used: set[str] = set()
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            for status, response in item.get(method, {}).get("responses", {}).items():
                for name, link in _resolve(spec, response).get("links", {}).items():
                    used.add(link.get("$ref", name).rsplit("/", 1)[-1])
                    link = _resolve(spec, link)
                    where = (path, method, status, name)
                    target = operations[link["operationId"]]
                    assert set(link["parameters"]) <= _parameters_of(spec, *target), where
                    body = spec["paths"][target[0]][target[1]].get("requestBody")
                    if "requestBody" in link:
                        schema = body["content"]["application/json"]["schema"]
                        assert set(link["requestBody"]) <= _properties(spec, schema), where
                    produced = _properties(
                        spec, _resolve(spec, response)["content"]["application/json"]["schema"]
                    )
                    values = [*link["parameters"].values(), *link.get("requestBody", {}).values()]
                    for value in values:
                        if str(value).startswith("$response.body#/"):
                            field = str(value).removeprefix("$response.body#/").split("/")[0]
                            assert field in produced, (where, value)
    assert used == set(spec["components"]["links"]), "a link is defined but never used"
