"""``POST /api/v1/validate``: compile without storing."""

from __future__ import annotations

import pytest

from spoke.api.app import Application

from .conftest import (
    API,
    SpokeClient,
    assert_error,
    blob_digests,
    file_list,
    message,
    module_names,
    proto,
    push_ok,
    version_names,
)

URL = f"{API}/validate"
GOOD = proto("acme.v1", message("A", "string id"))
BAD = 'syntax = "proto3";\npackage acme.v1;\n\nmessage A {\n  strng id = 1;\n}\n'
COMMON = {"common/v1/money.proto": proto("common.v1", message("Money", "int64 cents"))}
USES_COMMON = proto("acme.v1", message("A", "common.v1.Money m"), imports=["common/v1/money.proto"])


def validate(client: SpokeClient, **body: object) -> dict[str, object]:
    result = client.simulate_post(URL, json=body)
    assert result.status_code == 200, result.text
    assert set(result.json) == {
        "valid",
        "errors",
        "warnings",
        "errors_omitted",
        "warnings_omitted",
        "truncated",
    }
    return result.json  # type: ignore[no-any-return]


def test_valid_files_are_valid(client: SpokeClient) -> None:
    body = validate(client, files=file_list({"acme/v1/a.proto": GOOD}))

    assert body["valid"] is True
    assert body["errors"] == []


def test_invalid_files_are_200_valid_false_with_errors(client: SpokeClient) -> None:
    body = validate(client, files=file_list({"acme/v1/a.proto": GOOD, "acme/v1/b.proto": BAD}))

    assert body["valid"] is False
    errors = body["errors"]
    assert isinstance(errors, list) and errors
    first = errors[0]
    assert set(first) == {"file", "line", "column", "message"}
    assert first["file"] == "acme/v1/b.proto"
    assert first["line"] == 5


def test_single_content_is_validated(client: SpokeClient) -> None:
    assert validate(client, content=GOOD)["valid"] is True

    body = validate(client, content=BAD)
    assert body["valid"] is False
    assert body["errors"][0]["line"] == 5  # type: ignore[index]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"dependencies": []},
        {"content": GOOD, "files": file_list({"a.proto": GOOD})},
        {"content": 5},
        {"content": None},
        {"files": "a.proto"},
        {"files": []},
        {"content": GOOD, "extra": True},
    ],
)
def test_both_or_neither_or_wrong_types_are_400(
    client: SpokeClient, body: dict[str, object]
) -> None:
    assert_error(client.simulate_post(URL, json=body), 400, "invalid_request")


def test_dependencies_resolve_imports(client: SpokeClient) -> None:
    push_ok(client, "common", "1.0.0", COMMON)

    with_dep = validate(client, content=USES_COMMON, dependencies=["common@1.0.0"])
    without = validate(client, content=USES_COMMON)

    assert with_dep["valid"] is True
    assert without["valid"] is False
    assert any("common/v1/money.proto" in e["message"] for e in without["errors"])  # type: ignore[attr-defined, index]


def test_a_dependency_that_does_not_exist_is_422(client: SpokeClient) -> None:
    result = client.simulate_post(URL, json={"content": GOOD, "dependencies": ["ghost@1.0.0"]})
    assert_error(result, 422, "dependency_not_found")


def test_a_malformed_dependency_is_422(client: SpokeClient) -> None:
    result = client.simulate_post(URL, json={"content": GOOD, "dependencies": ["ghost@latest"]})
    assert_error(result, 422, "invalid_dependency")


def test_bad_paths_are_422_invalid_path(client: SpokeClient) -> None:
    result = client.simulate_post(URL, json={"files": file_list({"../a.proto": GOOD})})
    assert_error(result, 422, "invalid_path")


def test_a_well_known_path_is_422_invalid_path(client: SpokeClient) -> None:
    files = file_list({"google/protobuf/any.proto": GOOD})
    assert_error(client.simulate_post(URL, json={"files": files}), 422, "invalid_path")


def test_validate_stores_nothing(app: Application, client: SpokeClient) -> None:
    push_ok(client, "common", "1.0.0", COMMON)
    modules = module_names(client)
    blobs = blob_digests(app)

    validate(client, content=USES_COMMON, dependencies=["common@1.0.0"])
    validate(client, files=file_list({"acme/v1/a.proto": GOOD, "acme/v1/b.proto": BAD}))
    validate(client, files=file_list({"common2/v1/money.proto": COMMON["common/v1/money.proto"]}))

    assert module_names(client) == modules
    assert version_names(client, "common") == ["1.0.0"]
    assert blob_digests(app) == blobs


def test_validate_has_no_server_paths_in_errors(client: SpokeClient) -> None:
    files = {"acme/v1/a.proto": proto("acme.v1", imports=["nowhere/x.proto"])}
    body = validate(client, files=file_list(files))

    assert body["valid"] is False
    for error in body["errors"]:  # type: ignore[attr-defined]
        assert error["file"] in (None, "acme/v1/a.proto", "nowhere/x.proto")
        assert "spoke-protoc" not in error["message"]


def test_warnings_of_a_valid_file_are_reported(client: SpokeClient) -> None:
    content = proto("acme.v1", message("A", "string id"), imports=["google/protobuf/empty.proto"])

    body = validate(client, content=content)

    assert body["valid"] is True
    (warning,) = body["warnings"]  # type: ignore[misc]
    assert warning["file"] == "input.proto"
    assert warning["line"] == 5
    assert "google/protobuf/empty.proto" in warning["message"]
    assert "unused" in warning["message"].lower()


@pytest.mark.parametrize(
    "body",
    [
        {"content": GOOD + "\x00"},
        {"files": [{"path": "acme/v1/a.proto", "content": "\x00" + GOOD}]},
    ],
    ids=["content", "files"],
)
def test_nul_in_file_text_is_400_however_it_is_sent(client: SpokeClient, body: object) -> None:
    result = client.simulate_post(URL, json=body)

    envelope = assert_error(result, 400, "invalid_request")
    assert "NUL" in envelope["error"]
