"""SPOKE_ADMIN_TOKEN: the three operations that change the registry need it, nothing else does."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from werkzeug.test import Client

from spoke.api.app import ADMIN_OPERATIONS, Application

from .conftest import (
    API,
    SpokeClient,
    assert_error,
    file_list,
    make_app,
    simple_files,
)

TOKEN = "t0ken-Adm1n.value_with-symbols+4f9a2c"
SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def secured() -> Iterator[Application]:
    application = make_app({"SPOKE_ADMIN_TOKEN": TOKEN})
    yield application
    application.close()


@pytest.fixture
def sclient(secured: Application) -> SpokeClient:
    return SpokeClient(secured.api, forbidden=[TOKEN])


def _version_body(module: str = "acme") -> dict[str, Any]:
    return {"version": "1.0.0", "files": file_list(simple_files(module))}


def _seed(client: SpokeClient) -> None:
    assert client.simulate_post(f"{API}/modules", json={"name": "acme"}, headers=AUTH).status == (
        "201 Created"
    )
    result = client.simulate_post(
        f"{API}/modules/acme/versions", json=_version_body(), headers=AUTH
    )
    assert result.status_code == 201, result.text


WRITES = [
    ("POST", f"{API}/modules", {"name": "other"}),
    ("PATCH", f"{API}/modules/acme", {"description": "changed"}),
    ("POST", f"{API}/modules/acme/versions", {**_version_body(), "version": "1.1.0"}),
]


def test_the_protected_operations_are_the_three_writes() -> None:
    assert set(ADMIN_OPERATIONS) == {
        ("POST", "/api/v1/modules"),
        ("PATCH", "/api/v1/modules/{name}"),
        ("POST", "/api/v1/modules/{name}/versions"),
    }


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer",
        f"Basic {TOKEN}",
        TOKEN,
        f"Bearer {TOKEN.upper()}",
        "Bearer \u00e9t\u00e9",
    ],
)
def test_a_write_without_the_right_token_is_401_and_changes_nothing(
    sclient: SpokeClient, method: str, path: str, body: dict[str, Any], authorization: str | None
) -> None:
    _seed(sclient)
    headers = {} if authorization is None else {"Authorization": authorization}
    result = sclient.simulate_request(method, path, json=body, headers=headers)
    payload = assert_error(result, 401, "unauthorized")
    assert TOKEN not in str(payload)
    assert result.headers["WWW-Authenticate"] == 'Bearer realm="spoke"'
    modules = sclient.simulate_get(f"{API}/modules").json
    assert [m["name"] for m in modules] == ["acme"]
    assert modules[0]["description"] == ""
    versions = sclient.simulate_get(f"{API}/modules/acme/versions").json
    assert [v["version"] for v in versions] == ["1.0.0"]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_a_write_with_the_token_goes_through(
    sclient: SpokeClient, method: str, path: str, body: dict[str, Any], scheme: str
) -> None:
    _seed(sclient)
    headers = {"Authorization": f"{scheme} {TOKEN}"}
    result = sclient.simulate_request(method, path, json=body, headers=headers)
    assert result.status_code in (200, 201), result.text


def test_the_token_is_checked_before_the_body_is_parsed(sclient: SpokeClient) -> None:
    result = sclient.simulate_post(f"{API}/modules", body=b"{not json", content_type="text/json")
    assert_error(result, 401, "unauthorized")


def test_reads_and_read_only_posts_stay_open(sclient: SpokeClient) -> None:
    _seed(sclient)
    files = file_list(simple_files("acme"))
    open_requests = [
        ("GET", f"{API}/modules", None),
        ("GET", f"{API}/modules/acme", None),
        ("GET", f"{API}/modules/acme/versions", None),
        ("GET", f"{API}/modules/acme/versions/1.0.0", None),
        ("GET", f"{API}/modules/acme/versions/latest/descriptor", None),
        ("POST", f"{API}/validate", {"files": files}),
        ("POST", f"{API}/modules/acme/compatibility", {"files": files}),
        ("POST", f"{API}/modules/acme/diff", {"from_version": "1.0.0", "to_version": "1.0.0"}),
        ("POST", f"{API}/modules/acme/versions/1.0.0/compile", {"languages": ["python"]}),
    ]
    for method, path, body in open_requests:
        result = sclient.simulate_request(method, path, json=body)
        assert result.status_code in (200, 202), (path, result.status, result.text)


def test_without_a_token_nothing_is_checked(client: SpokeClient) -> None:
    assert client.simulate_post(f"{API}/modules", json={"name": "acme"}).status_code == 201
    result = client.simulate_post(
        f"{API}/modules", json={"name": "b"}, headers={"Authorization": "Bearer whatever"}
    )
    assert result.status_code == 201


def test_a_token_from_a_file_protects_the_same_way(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    application = make_app({"SPOKE_ADMIN_TOKEN_FILE": str(secret)})
    try:
        client = SpokeClient(application.api)
        assert_error(client.simulate_post(f"{API}/modules", json={"name": "a"}), 401)
        result = client.simulate_post(f"{API}/modules", json={"name": "a"}, headers=AUTH)
        assert result.status_code == 201
    finally:
        application.close()


def test_the_401_answer_conforms_to_the_spec(secured: Application) -> None:
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_path(SPEC_PATH)
    checks = [
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    _seed(SpokeClient(secured.api))
    cases = [
        ("/api/v1/modules", "POST", "/api/v1/modules", {"name": "x"}),
        ("/api/v1/modules/{name}", "PATCH", "/api/v1/modules/acme", {}),
        ("/api/v1/modules/{name}/versions", "POST", "/api/v1/modules/acme/versions", {}),
    ]
    for template, method, url, body in cases:
        response = Client(secured.api).open(url, method=method, json=body)
        assert response.status_code == 401
        operation = schema[template][method]
        operation.Case(
            path_parameters={"name": "acme"} if "{name}" in template else {}
        ).validate_response(response, checks=checks)


def test_the_token_never_reaches_the_logs(
    sclient: SpokeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _seed(sclient)
    sclient.simulate_post(f"{API}/modules", json={"name": "x"}, headers={"Authorization": "x"})
    text = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "spoke.access" in {r.name for r in caplog.records}
    assert TOKEN not in text
