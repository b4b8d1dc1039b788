"""One file of a version: as JSON, as raw text, and the not-found cases."""

from __future__ import annotations

import hashlib

import pytest

from .conftest import API, SpokeClient, assert_error, message, proto, push

NESTED = "a/b/c.proto"
TOP = "top.proto"
FILES = {
    NESTED: proto("a.b", message("C", "string id")),
    TOP: proto("top", message("Top", "a.b.C c"), imports=[NESTED]),
}


@pytest.fixture
def pushed(any_client: SpokeClient) -> SpokeClient:
    result = push(any_client, "acme", "1.0.0", FILES)
    assert result.status_code == 201, result.text
    return any_client


def url(path: str, version: str = "1.0.0") -> str:
    return f"{API}/modules/acme/versions/{version}/files/{path}"


@pytest.mark.parametrize("path", [TOP, NESTED])
def test_get_file_is_json_with_path_content_sha256_size(pushed: SpokeClient, path: str) -> None:
    result = pushed.simulate_get(url(path))

    assert result.status_code == 200
    assert result.headers["content-type"].startswith("application/json")
    data = FILES[path].encode()
    assert result.json == {
        "path": path,
        "content": FILES[path],
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


@pytest.mark.parametrize("path", [TOP, NESTED])
def test_raw_file_is_text_plain_equal_to_content(pushed: SpokeClient, path: str) -> None:
    result = pushed.simulate_get(url(path), params={"raw": "true"})

    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/plain")
    assert "charset=utf-8" in result.headers["content-type"].lower()
    assert result.text == FILES[path]
    assert result.content == FILES[path].encode()


def test_raw_false_is_json(pushed: SpokeClient) -> None:
    result = pushed.simulate_get(url(TOP), params={"raw": "false"})

    assert result.headers["content-type"].startswith("application/json")
    assert result.json["content"] == FILES[TOP]


def test_file_of_latest_and_of_v_prefixed_version(pushed: SpokeClient) -> None:
    for version in ("latest", "v1.0.0"):
        result = pushed.simulate_get(url(NESTED, version))
        assert result.status_code == 200
        assert result.json["content"] == FILES[NESTED]


@pytest.mark.parametrize("path", ["nope.proto", "a/b/nope.proto", "a/b", "c.proto", "A/B/C.proto"])
def test_unknown_path_is_404_file_not_found(pushed: SpokeClient, path: str) -> None:
    result = pushed.simulate_get(url(path))

    body = assert_error(result, 404, "file_not_found")
    assert body["details"] == {"module": "acme", "version": "1.0.0", "path": path}


def test_unknown_path_raw_is_404_file_not_found_as_json(pushed: SpokeClient) -> None:
    result = pushed.simulate_get(url("nope.proto"), params={"raw": "true"})
    assert_error(result, 404, "file_not_found")


def test_file_of_unknown_version_is_404_version_not_found(pushed: SpokeClient) -> None:
    assert_error(pushed.simulate_get(url(TOP, "2.0.0")), 404, "version_not_found")


def test_file_of_unknown_module_is_404_module_not_found(pushed: SpokeClient) -> None:
    result = pushed.simulate_get(f"{API}/modules/nope/versions/1.0.0/files/{TOP}")
    assert_error(result, 404, "module_not_found")


def test_a_file_path_that_climbs_out_is_not_served(pushed: SpokeClient) -> None:
    for path in ("../../../../etc/passwd", "a/../top.proto", "%2e%2e/top.proto"):
        result = pushed.simulate_get(url(path))
        assert result.status_code == 404, (path, result.text)
        assert_error(result, 404)


def test_repeated_reads_in_any_order_give_each_representation_unchanged(
    pushed: SpokeClient,
) -> None:
    # Answers are kept in process after the first read; the order of reads must not matter.
    expected_json = {
        path: {
            "path": path,
            "content": text,
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "size": len(text.encode()),
        }
        for path, text in FILES.items()
    }
    for _ in range(3):
        for path, text in FILES.items():
            for version in ("1.0.0", "v1.0.0", "latest"):
                assert pushed.simulate_get(url(path, version)).json == expected_json[path]
                raw = pushed.simulate_get(url(path, version), params={"raw": "true"})
                assert raw.text == text
                assert raw.headers["content-type"].startswith("text/plain")


def test_a_new_version_is_served_by_latest_after_earlier_reads(pushed: SpokeClient) -> None:
    assert pushed.simulate_get(url(TOP, "latest")).json["content"] == FILES[TOP]
    changed = {**FILES, TOP: FILES[TOP] + "// 1.1.0\n"}
    assert push(pushed, "acme", "1.1.0", changed).status_code == 201
    assert pushed.simulate_get(url(TOP, "latest")).json["content"] == changed[TOP]
    assert pushed.simulate_get(url(TOP, "1.0.0")).json["content"] == FILES[TOP]
