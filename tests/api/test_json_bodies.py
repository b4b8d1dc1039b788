"""Request bodies are JSON as RFC 8259 defines it: no NaN or Infinity, no repeated keys.

Python's json module reads ``NaN``, ``Infinity`` and ``-Infinity``, turns ``1e400`` into an
infinity, and keeps the last of two equal keys; each is refused with ``400 invalid_request``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import (
    API,
    SpokeClient,
    assert_error,
    message,
    module_names,
    post_raw,
    proto,
    push_ok,
    version_names,
)

V1 = f"{API}/modules/acme/versions/1.0.0"
GOOD = proto("acme.v1", message("A", "string id"))
FILE = json.dumps({"path": "acme/v1/b.proto", "content": GOOD})


@pytest.fixture
def registry(client: SpokeClient) -> SpokeClient:
    """``acme@1.0.0`` with one file."""
    push_ok(client, "acme", "1.0.0", {"acme/v1/a.proto": GOOD})
    return client


# Every operation that reads a JSON body: (method, path, a body with {value} in one field).
ENDPOINTS = [
    ("POST", f"{API}/modules", '{"name": "other", "description": {value}}'),
    ("PATCH", f"{API}/modules/acme", '{"description": {value}}'),
    ("POST", f"{API}/modules/acme/versions", '{"version": "2.0.0", "files": [], "dependencies": {value}}'),
    ("POST", f"{API}/validate", '{"content": "x", "dependencies": [{value}]}'),
    ("POST", f"{API}/modules/acme/compatibility", '{"new_version": "1.0.0", "mode": {value}}'),
    ("POST", f"{API}/modules/acme/diff", '{"from_version": "1.0.0", "to_version": {value}}'),
    ("POST", f"{V1}/compile", '{"languages": ["python"], "include_grpc": {value}}'),
]  # fmt: skip


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400", "-1E+999"])
@pytest.mark.parametrize(
    ("method", "path", "template"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS]
)
def test_a_non_finite_number_is_400(
    registry: SpokeClient, method: str, path: str, template: str, constant: str
) -> None:
    body = template.replace("{value}", constant)

    result = registry.simulate_request(method, path, body=body, content_type="application/json")

    envelope = assert_error(result, 400, "invalid_request")
    assert "not valid JSON" in envelope["error"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"{API}/modules", '{"name": "first", "name": "second"}'),
        ("PATCH", f"{API}/modules/acme", '{"description": "a", "description": "b"}'),
        (
            "POST",
            f"{API}/modules/acme/versions",
            '{"version": "2.0.0", "version": "3.0.0", "files": [' + FILE + "]}",
        ),
        (
            "POST",
            f"{API}/modules/acme/versions",
            '{"version": "2.0.0", "files": [{"path": "acme/v1/b.proto", "path": "acme/v1/c.proto", "content": ""}]}',
        ),
        (
            "POST",
            f"{API}/modules/acme/versions",
            '{"version": "2.0.0", "files": ['
            + FILE
            + '], "source_info": {"branch": "a", "branch": "b"}}',
        ),
        (
            "POST",
            f"{API}/modules",
            '{"name": "other", "compatibility": {"mode": "NONE", "mode": "FULL"}}',
        ),
        (
            "POST",
            f"{API}/modules/acme/diff",
            '{"from_version": "1.0.0", "to_version": "1.0.0", "to_version": "latest"}',
        ),
    ],
    ids=["create", "update", "push", "file", "source_info", "compatibility", "diff"],
)
def test_a_repeated_key_is_400_and_changes_nothing(
    registry: SpokeClient, method: str, path: str, body: str
) -> None:
    result = registry.simulate_request(method, path, body=body, content_type="application/json")

    envelope = assert_error(result, 400, "invalid_request")
    assert "repeats the key" in envelope["error"]
    assert module_names(registry) == ["acme"]
    assert version_names(registry, "acme") == ["1.0.0"]
    assert registry.simulate_get(f"{API}/modules/acme").json["description"] == ""


def test_a_repeated_key_is_named(registry: SpokeClient) -> None:
    result = post_raw(registry, f"{API}/modules", '{"name": "a", "description": "", "name": "b"}')

    envelope = assert_error(result, 400, "invalid_request")
    assert envelope["details"] == {"key": "name"}


def test_a_repeated_lone_surrogate_key_still_gets_the_envelope(registry: SpokeClient) -> None:
    result = post_raw(registry, f"{API}/modules", '{"\\ud800": 1, "\\ud800": 2}')

    envelope = assert_error(result, 400, "invalid_request")
    assert envelope["details"] == {"key": "\ud800"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ('{"name": 1.5}', 422, "invalid_name"),
        ('{"name": -0.0}', 422, "invalid_name"),
        ('{"name": 1e308}', 422, "invalid_name"),
        ('{"name": "a", "description": "NaN"}', 201, None),
        ('{"name": "b", "description": "Infinity"}', 201, None),
        ('{"name": "c", "description": null, "compatibility": {}}', 201, None),
    ],
)
def test_finite_numbers_and_look_alike_strings_are_ordinary_json(
    client: SpokeClient, body: str, status: int, code: str | None
) -> None:
    result = post_raw(client, f"{API}/modules", body)

    if code is None:
        assert result.status_code == status, result.text
    else:
        assert_error(result, status, code)


def test_equal_keys_in_different_objects_are_fine(client: SpokeClient) -> None:
    files: list[dict[str, Any]] = [
        {"path": "acme/v1/a.proto", "content": GOOD},
        {"path": "acme/v1/b.proto", "content": proto("acme.v1", message("B", "string id"))},
    ]
    push = push_ok(client, "acme", "1.0.0", {f["path"]: f["content"] for f in files})

    assert [f["path"] for f in push["files"]] == ["acme/v1/a.proto", "acme/v1/b.proto"]
