"""Hostile and malformed input: every refusal is the error envelope and stores nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest

from spoke.api.app import Application

from .conftest import (
    API,
    SpokeClient,
    assert_error,
    blob_digests,
    create_module,
    file_list,
    make_app,
    message,
    module_names,
    post_raw,
    proto,
    push,
    version_names,
)

VERSIONS = f"{API}/modules/acme/versions"
GOOD = proto("acme.v1", message("A", "string id"))
GOOD_FILES = [{"path": "acme/v1/a.proto", "content": GOOD}]


@pytest.fixture
def acme(app: Application, client: SpokeClient) -> SpokeClient:
    """A client whose registry holds the empty module ``acme`` and no blob."""
    create_module(client, "acme")
    return client


@pytest.fixture
def nothing_stored(app: Application, acme: SpokeClient) -> Iterator[SpokeClient]:
    """After the test: still only the empty module ``acme`` and no blob."""
    yield acme
    assert module_names(acme) == ["acme"]
    assert version_names(acme, "acme") == []
    assert blob_digests(app) == set()


def push_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"version": "1.0.0", "files": GOOD_FILES}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


# Bodies that are not a usable JSON object ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        pytest.param('{"version": "1.0.0",', "application/json", id="malformed-json"),
        pytest.param("{'version': '1.0.0'}", "application/json", id="single-quotes"),
        pytest.param('{"version": "1.0.0"} trailing', "application/json", id="trailing-garbage"),
        pytest.param("[]", "application/json", id="array"),
        pytest.param('"a string"', "application/json", id="string"),
        pytest.param("null", "application/json", id="null"),
        pytest.param("42", "application/json", id="number"),
        pytest.param("true", "application/json", id="boolean"),
        pytest.param("", "application/json", id="empty"),
        pytest.param("   \n", "application/json", id="whitespace"),
        pytest.param(b'{"version": "\xff\xfe"}', "application/json", id="not-utf8"),
        pytest.param('{"version": ' + "1" * 5000 + "}", "application/json", id="huge-integer"),
        pytest.param("[" * 100_000, "application/json", id="deeply-nested-array"),
        pytest.param('{"a":' * 100_000, "application/json", id="deeply-nested-object"),
        pytest.param(
            '{"version": "1.0.0", "files": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "application/json",
            id="deeply-nested-but-complete",
        ),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(
    nothing_stored: SpokeClient, raw: str | bytes, content_type: str
) -> None:
    result = post_raw(nothing_stored, VERSIONS, raw, content_type)
    assert_error(result, 400, "invalid_request")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
    ],
)
def test_a_wrong_content_type_is_415(nothing_stored: SpokeClient, content_type: str) -> None:
    result = post_raw(nothing_stored, VERSIONS, json.dumps(push_body()), content_type)

    assert_error(result, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/vnd.spoke+json", "text/json"]
)
def test_json_content_types_are_accepted(acme: SpokeClient, content_type: str) -> None:
    result = post_raw(acme, VERSIONS, json.dumps(push_body()), content_type)
    assert result.status_code == 201, result.text


# Missing, unknown and mistyped fields ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(push_body(version=...), id="missing-version"),
        pytest.param(push_body(files=...), id="missing-files"),
        pytest.param({}, id="empty-object"),
        pytest.param(push_body(extra=1), id="unknown-field"),
        pytest.param(push_body(Version="1.0.0"), id="field-case"),
        pytest.param(push_body(dependencies=[], deps=[]), id="unknown-field-deps"),
        pytest.param(push_body(files={"a.proto": GOOD}), id="files-object"),
        pytest.param(push_body(files="a.proto"), id="files-string"),
        pytest.param(push_body(files=None), id="files-null"),
        pytest.param(push_body(files=[]), id="files-empty"),
        pytest.param(push_body(files=[{"path": "a.proto"}]), id="item-without-content"),
        pytest.param(push_body(files=[{"content": GOOD}]), id="item-without-path"),
        pytest.param(
            push_body(files=[{"path": "a.proto", "content": GOOD, "mode": 1}]), id="item-extra-key"
        ),
        pytest.param(push_body(files=["a.proto"]), id="item-not-object"),
        pytest.param(push_body(files=[None]), id="item-null"),
        pytest.param(push_body(files=[{"path": "a.proto", "content": 5}]), id="content-number"),
        pytest.param(push_body(files=[{"path": "a.proto", "content": None}]), id="content-null"),
        pytest.param(push_body(files=[{"path": "a.proto", "content": ["x"]}]), id="content-list"),
        pytest.param(
            push_body(files=[{"path": "a.proto", "content": 'syntax = "proto3";\x00'}]),
            id="nul-in-content",
        ),
        pytest.param(push_body(source_info="github"), id="source-info-string"),
        pytest.param(push_body(source_info={"repo": "x"}), id="source-info-unknown-field"),
        pytest.param(push_body(source_info={"branch": 5}), id="source-info-number"),
        pytest.param(push_body(source_info={"branch": "x" * 1025}), id="source-info-too-long"),
        pytest.param(push_body(dependencies="common@1.0.0"), id="dependencies-string"),
    ],
)
def test_a_malformed_push_is_400(nothing_stored: SpokeClient, body: dict[str, Any]) -> None:
    result = nothing_stored.simulate_post(VERSIONS, json=body)
    assert_error(result, 400, "invalid_request")


def test_nul_in_content_names_the_file(nothing_stored: SpokeClient) -> None:
    body = push_body(files=[{"path": "acme/a.proto", "content": "syntax = \x00"}])

    result = nothing_stored.simulate_post(VERSIONS, json=body)

    assert assert_error(result, 400)["details"] == {"path": "acme/a.proto"}


@pytest.mark.parametrize("path", [5, None, ["a.proto"], {"p": "a.proto"}])
def test_a_non_string_path_is_400(nothing_stored: SpokeClient, path: object) -> None:
    body = push_body(files=[{"path": path, "content": GOOD}])
    assert_error(nothing_stored.simulate_post(VERSIONS, json=body), 400, "invalid_request")


@pytest.mark.parametrize(
    "path",
    [
        "../x.proto",
        "a/../../x.proto",
        "/etc/passwd",
        "/abs/a.proto",
        "a\\b.proto",
        "..\\..\\x.proto",
        "a/./b.proto",
        "./a.proto",
        "a//b.proto",
        "a/",
        "x.txt",
        "a.proto.txt",
        "a.PROTO",
        "a" * 507 + ".proto",  # 513 characters
        "",
        "a b.proto",
        "a\tb.proto",
        "a\nb.proto",
        "a\x00.proto",
        "~/a.proto",
        "a%2F..%2Fb.proto",
        "a:b.proto",
        "C:/a.proto",
        "é.proto",
        "a*.proto",
        ".proto",  # no file name: code generators cannot name their output after it
        "a/.proto",
    ],
)
def test_a_bad_path_is_422_invalid_path(nothing_stored: SpokeClient, path: str) -> None:
    body = push_body(files=[{"path": path, "content": GOOD}])

    result = nothing_stored.simulate_post(VERSIONS, json=body)

    details = assert_error(result, 422, "invalid_path")["details"]
    assert details["path"] in (path, None)


def test_a_512_character_path_is_accepted(acme: SpokeClient) -> None:
    path = "/".join(["a" * 100] * 5) + "/b.proto"
    assert len(path) == 512

    result = acme.simulate_post(VERSIONS, json=push_body(files=[{"path": path, "content": GOOD}]))

    assert result.status_code == 201, result.text
    assert result.json["files"][0]["path"] == path


@pytest.mark.parametrize("path", ["a" * 506 + ".proto", "d/" + "a" * 300 + ".proto"])
def test_a_path_segment_longer_than_a_file_name_is_422(
    nothing_stored: SpokeClient, path: str
) -> None:
    body = push_body(files=[{"path": path, "content": GOOD}])
    assert_error(nothing_stored.simulate_post(VERSIONS, json=body), 422, "invalid_path")


@pytest.mark.parametrize("second", [GOOD, "x"], ids=["same-content", "different-content"])
def test_a_path_twice_is_422_invalid_path(nothing_stored: SpokeClient, second: str) -> None:
    """Like a file that is also a directory, a clash of paths the schema cannot express."""
    files = [{"path": "a.proto", "content": GOOD}, {"path": "a.proto", "content": second}]

    result = nothing_stored.simulate_post(VERSIONS, json=push_body(files=files))

    body = assert_error(result, 422, "invalid_path")
    assert body["details"] == {"path": "a.proto"}


def test_a_path_that_is_both_file_and_directory_is_rejected(nothing_stored: SpokeClient) -> None:
    files = [{"path": "a.proto", "content": GOOD}, {"path": "a.proto/b.proto", "content": GOOD}]

    result = nothing_stored.simulate_post(VERSIONS, json=push_body(files=files))

    assert_error(result, 422, "invalid_path")


# Lone surrogates (JSON "\ud800"): valid JSON, but not encodable as UTF-8 -----------------------

SURROGATE = "\\ud800"


@pytest.mark.parametrize(
    ("url", "raw"),
    [
        pytest.param(
            VERSIONS,
            '{"version": "1.0.0", "files": [{"path": "a.proto", "content": "// '
            + SURROGATE
            + '"}]}',
            id="content",
        ),
        pytest.param(
            VERSIONS,
            '{"version": "1.0.0", "files": [{"path": "a' + SURROGATE + '.proto", "content": ""}]}',
            id="path",
        ),
        pytest.param(
            VERSIONS,
            '{"version": "1.0.0-' + SURROGATE + '", "files": [{"path": "a.proto", "content": ""}]}',
            id="version",
        ),
        pytest.param(
            VERSIONS,
            '{"version": "1.0.0", "files": [{"path": "a.proto", "content": ""}], '
            '"dependencies": ["x' + SURROGATE + '"]}',
            id="dependency",
        ),
        pytest.param(
            VERSIONS,
            '{"version": "1.0.0", "files": [{"path": "a.proto", "content": ""}], "'
            + SURROGATE
            + '": 1}',
            id="unknown-field-name",
        ),
        pytest.param(f"{API}/modules", '{"name": "b' + SURROGATE + '"}', id="module-name"),
        pytest.param(
            f"{API}/modules",
            '{"name": "bee", "description": "' + SURROGATE + '"}',
            id="description",
        ),
    ],
)
def test_a_lone_surrogate_is_refused_with_the_envelope(
    nothing_stored: SpokeClient, url: str, raw: str
) -> None:
    result = post_raw(nothing_stored, url, raw)

    assert_error(result, 400, {"invalid_request"})


def test_a_lone_surrogate_in_a_description_cannot_break_the_module_list(
    acme: SpokeClient,
) -> None:
    post_raw(acme, f"{API}/modules", '{"name": "bee", "description": "' + SURROGATE + '"}')

    result = acme.simulate_get(f"{API}/modules")

    assert result.status_code == 200


# Schemas that do not compile ----------------------------------------------------------------------

BROKEN = """\
syntax = "proto3";

package acme.v1;

message Order {
  string id = 1;
  Money total = 2;
}
"""


def test_a_file_that_does_not_compile_is_422_invalid_schema(nothing_stored: SpokeClient) -> None:
    body = push_body(files=file_list({"acme/v1/ok.proto": GOOD, "acme/v1/order.proto": BROKEN}))

    result = nothing_stored.simulate_post(VERSIONS, json=body)

    envelope = assert_error(result, 422, "invalid_schema")
    errors = envelope["details"]["errors"]
    first = errors[0]
    assert set(first) == {"file", "line", "column", "message"}
    assert first["file"] == "acme/v1/order.proto"
    assert first["line"] == 7
    assert isinstance(first["column"], int) and first["column"] >= 1
    assert "Money" in first["message"]
    assert "acme/v1/order.proto" in envelope["error"]
    assert envelope["details"]["warnings"] == []
    for marker in ("spoke-protoc", "<tmp>", "<well-known>", "site-packages", "grpc_tools"):
        assert marker not in result.text


def test_errors_of_several_files_are_all_reported(nothing_stored: SpokeClient) -> None:
    other = 'syntax = "proto3";\npackage acme.v1;\nmessage B {\n  int32 x = 1\n}\n'
    files = file_list({"acme/v1/a.proto": BROKEN, "acme/v1/b.proto": other})

    result = nothing_stored.simulate_post(VERSIONS, json=push_body(files=files))

    errors = assert_error(result, 422, "invalid_schema")["details"]["errors"]
    assert {(e["file"], e["line"]) for e in errors} >= {
        ("acme/v1/a.proto", 7),
        ("acme/v1/b.proto", 5),
    }


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("this is not protobuf", id="prose"),
        pytest.param('syntax = "proto4";', id="unknown-syntax"),
        pytest.param(
            'syntax = "proto3";\nmessage A { int32 x = 1; int32 y = 1; }', id="same-number"
        ),
        pytest.param('syntax = "proto3";\n' + "message A {" * 80 + "}" * 80, id="nested-too-deep"),
        pytest.param(
            'syntax = "proto3";\nimport "google/protobuf/descriptor.proto";\n'
            "extend google.protobuf.FileOptions { A o = 50000; }\n"
            "message A { A o = 1; int32 v = 2; }\n"
            "option (o)" + ".o" * 200 + ".v = 1;\n",
            id="option-path-too-deep",
        ),
    ],
)
def test_odd_schemas_are_422_not_500(nothing_stored: SpokeClient, content: str) -> None:
    body = push_body(files=[{"path": "acme/v1/a.proto", "content": content}])

    result = nothing_stored.simulate_post(VERSIONS, json=body)

    assert_error(result, 422, "invalid_schema")


def test_an_import_outside_the_tree_reads_nothing(acme: SpokeClient) -> None:
    for target in ("/etc/passwd", "../../../../etc/passwd", "google/protobuf/../../../etc/passwd"):
        content = f'syntax = "proto3";\nimport "{target}";\n'

        result = push(acme, "acme", "1.0.0", {"acme/a.proto": content}, create=False)

        assert_error(result, 422, {"invalid_schema", "unresolved_import"})
        assert "root:" not in result.text
    assert version_names(acme, "acme") == []


# Sizes -----------------------------------------------------------------------------------------


@pytest.fixture
def small_app() -> Iterator[Application]:
    application = make_app({"SPOKE_MAX_BODY_BYTES": "1024"})
    yield application
    application.close()


@pytest.fixture
def small(small_app: Application) -> SpokeClient:
    client = SpokeClient(small_app.api)
    create_module(client, "acme")
    return client


def padded_module_body(size: int) -> bytes:
    """A module-creation body of exactly ``size`` bytes."""
    empty = json.dumps({"name": "pad", "description": ""}).encode()
    body = json.dumps({"name": "pad", "description": "x" * (size - len(empty))}).encode()
    assert len(body) == size
    return body


def test_a_body_over_the_limit_is_413_payload_too_large(
    small_app: Application, small: SpokeClient
) -> None:
    big = push_body(files=[{"path": "acme/v1/a.proto", "content": GOOD + "// " + "x" * 2000}])

    for url, method in [
        (VERSIONS, "POST"),
        (f"{API}/modules", "POST"),
        (f"{API}/validate", "POST"),
        (f"{API}/modules/acme", "PATCH"),
    ]:
        result = small.simulate_request(method, url, json=big)
        body = assert_error(result, 413, "payload_too_large")
        assert body["details"] == {"max_bytes": 1024}

    assert module_names(small) == ["acme"]
    assert version_names(small, "acme") == []
    assert small.simulate_get(f"{API}/modules/acme").json["description"] == ""
    assert blob_digests(small_app) == set()


def test_a_body_of_exactly_the_limit_is_accepted(small: SpokeClient) -> None:
    ok = post_raw(small, f"{API}/modules", padded_module_body(1024))
    assert ok.status_code == 201, ok.text

    too_big = post_raw(small, f"{API}/modules", padded_module_body(1025))
    assert_error(too_big, 413, "payload_too_large")
    assert module_names(small) == ["acme", "pad"]


def test_a_declared_length_over_the_limit_is_413_without_reading_the_body(
    small: SpokeClient,
) -> None:
    """The Content-Length alone decides; the body sent is small."""
    result = small.simulate_post(
        f"{API}/modules",
        body=b'{"name": "x"}',
        headers={"Content-Type": "application/json", "Content-Length": "999999"},
    )
    assert_error(result, 413, "payload_too_large")
    assert module_names(small) == ["acme"]


def test_a_body_without_content_length_is_refused_not_stored(
    small_app: Application, small: SpokeClient
) -> None:
    """A WSGI server must give a length; without one nothing is read and nothing stored."""
    body = json.dumps(push_body(files=[{"path": "a.proto", "content": GOOD + "//" + "x" * 5000}]))
    environ = falcon.testing.create_environ(
        path=VERSIONS, method="POST", body=body, headers={"Content-Type": "application/json"}
    )
    environ.pop("CONTENT_LENGTH", None)
    start_response = falcon.testing.StartResponseMock()

    chunks = small_app.api(environ, start_response)
    payload = b"".join(chunks)

    status = int(start_response.status.split()[0])
    assert status in (400, 411, 413), start_response.status
    envelope = json.loads(payload)
    assert set(envelope) == {"error", "code", "details"}
    assert version_names(small, "acme") == []


def test_a_huge_number_of_tiny_files_is_refused_with_400(nothing_stored: SpokeClient) -> None:
    files = [{"path": f"f/f{i}.proto", "content": ""} for i in range(10_001)]

    result = nothing_stored.simulate_post(VERSIONS, json=push_body(files=files))

    assert_error(result, 400, "invalid_request")


def test_many_tiny_files_can_be_pushed(acme: SpokeClient) -> None:
    files = {
        f"f/f{i}.proto": f'syntax = "proto3";\npackage f;\nmessage M{i} {{}}\n' for i in range(1500)
    }

    result = push(acme, "acme", "1.0.0", files, create=False)

    assert result.status_code == 201, result.text[:500]
    assert result.json["file_count"] == 1500
    listed = acme.simulate_get(VERSIONS).json
    assert listed[0]["file_count"] == 1500
    assert "files" not in listed[0]


# Unicode -----------------------------------------------------------------------------------------

UNICODE = """\
// Grüße aus Köln 🚀🌍 — 日本語のコメント, עברית, emoji with ZWJ: 👩‍💻, combining: é
syntax = "proto3";

package intl.v1;

/* Ünïcödé block comment 🎉 */
message Greeting {
  string text = 1;  // «hello» ✓
}
"""


def test_unicode_content_round_trips_exactly(any_client: SpokeClient) -> None:
    path = "intl/v1/greeting.proto"
    data = UNICODE.encode("utf-8")

    pushed = push(any_client, "intl", "1.0.0", {path: UNICODE})

    assert pushed.status_code == 201, pushed.text
    (file,) = pushed.json["files"]
    assert file["content"] == UNICODE
    assert file["size"] == len(data)
    assert file["sha256"] == hashlib.sha256(data).hexdigest()
    url = f"{API}/modules/intl/versions/1.0.0"
    assert any_client.simulate_get(url).json["files"][0]["content"] == UNICODE
    assert any_client.simulate_get(f"{url}/files/{path}").json["content"] == UNICODE
    raw = any_client.simulate_get(f"{url}/files/{path}", params={"raw": "true"})
    assert raw.content == data


def test_unicode_description_round_trips(client: SpokeClient) -> None:
    text = "Zahlungen 💶 — 支付"
    create_module(client, "pay", description=text)
    assert client.simulate_get(f"{API}/modules/pay").json["description"] == text


def test_a_description_longer_than_4096_is_400(client: SpokeClient) -> None:
    result = client.simulate_post(f"{API}/modules", json={"name": "x", "description": "d" * 4097})
    assert_error(result, 400, "invalid_request")
    assert module_names(client) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"description": "x"},
        {"name": "acme", "extra": 1},
        {"name": "acme", "description": 5},
        {"name": "acme", "compatibility": None},
        {"name": "acme", "compatibility": "FULL"},
        {"name": "acme", "compatibility": {"mode": "FULL", "level": 2}},
    ],
)
def test_a_malformed_module_creation_is_400(client: SpokeClient, body: dict[str, Any]) -> None:
    assert_error(client.simulate_post(f"{API}/modules", json=body), 400, "invalid_request")
    assert module_names(client) == []
