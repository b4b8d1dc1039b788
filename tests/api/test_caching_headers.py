"""Caching: immutable versions carry strong ETags and answer If-None-Match; ``latest`` does not."""

from __future__ import annotations

import pytest

from .conftest import API, IMMUTABLE, SpokeClient, message, proto, push

PATH = "acme/v1/a.proto"
VERSION_URL = f"{API}/modules/acme/versions/1.0.0"
FILE_URL = f"{VERSION_URL}/files/{PATH}"
RAW = {"raw": "true"}


@pytest.fixture
def pushed(any_client: SpokeClient) -> SpokeClient:
    result = push(any_client, "acme", "1.0.0", {PATH: proto("acme.v1", message("A", "int32 x"))})
    assert result.status_code == 201, result.text
    return any_client


IMMUTABLE_REQUESTS = [
    pytest.param(VERSION_URL, None, id="version"),
    pytest.param(f"{API}/modules/acme/versions/v1.0.0", None, id="version-v-prefix"),
    pytest.param(FILE_URL, None, id="file-json"),
    pytest.param(FILE_URL, RAW, id="file-raw"),
    pytest.param(f"{VERSION_URL}/descriptor", None, id="descriptor"),
]


def is_strong_etag(value: str) -> bool:
    return value.startswith('"') and value.endswith('"') and len(value) > 2


@pytest.mark.parametrize(("path", "params"), IMMUTABLE_REQUESTS)
def test_exact_version_resources_carry_strong_etag_and_immutable_cache_control(
    pushed: SpokeClient, path: str, params: dict[str, str] | None
) -> None:
    result = pushed.simulate_get(path, params=params)

    assert result.status_code == 200
    assert is_strong_etag(result.headers["etag"]), result.headers["etag"]
    assert result.headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize(("path", "params"), IMMUTABLE_REQUESTS)
def test_if_none_match_with_the_etag_is_304_without_body(
    pushed: SpokeClient, path: str, params: dict[str, str] | None
) -> None:
    etag = pushed.simulate_get(path, params=params).headers["etag"]

    result = pushed.simulate_get(path, params=params, headers={"If-None-Match": etag})

    assert result.status_code == 304
    assert result.content == b""
    assert result.headers["etag"] == etag
    assert result.headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize(("path", "params"), IMMUTABLE_REQUESTS)
def test_if_none_match_in_a_list_or_weak_or_star_is_304(
    pushed: SpokeClient, path: str, params: dict[str, str] | None
) -> None:
    etag = pushed.simulate_get(path, params=params).headers["etag"]

    for header in (f'"other", {etag}', f"W/{etag}", "*"):
        result = pushed.simulate_get(path, params=params, headers={"If-None-Match": header})
        assert result.status_code == 304, header


@pytest.mark.parametrize(("path", "params"), IMMUTABLE_REQUESTS)
def test_if_none_match_with_another_etag_is_200(
    pushed: SpokeClient, path: str, params: dict[str, str] | None
) -> None:
    result = pushed.simulate_get(path, params=params, headers={"If-None-Match": '"stale"'})

    assert result.status_code == 200
    assert result.content


def test_etag_is_stable_across_requests(pushed: SpokeClient) -> None:
    first = pushed.simulate_get(VERSION_URL).headers["etag"]
    second = pushed.simulate_get(VERSION_URL).headers["etag"]
    assert first == second


def test_raw_and_json_file_representations_have_different_etags(pushed: SpokeClient) -> None:
    json_etag = pushed.simulate_get(FILE_URL).headers["etag"]
    raw_etag = pushed.simulate_get(FILE_URL, params=RAW).headers["etag"]

    assert json_etag != raw_etag
    # The JSON representation's tag must not validate the raw one, nor the other way round.
    raw = pushed.simulate_get(FILE_URL, params=RAW, headers={"If-None-Match": json_etag})
    assert raw.status_code == 200
    assert pushed.simulate_get(FILE_URL, headers={"If-None-Match": raw_etag}).status_code == 200


def test_different_versions_have_different_version_etags(pushed: SpokeClient) -> None:
    push(pushed, "acme", "1.0.1", {PATH: proto("acme.v1", message("A", "int32 x"))})

    first = pushed.simulate_get(VERSION_URL).headers["etag"]
    second = pushed.simulate_get(f"{API}/modules/acme/versions/1.0.1").headers["etag"]

    assert first != second


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param(f"{API}/modules/acme/versions/latest", None, id="version"),
        pytest.param(f"{API}/modules/acme/versions/latest/files/{PATH}", None, id="file"),
        pytest.param(f"{API}/modules/acme/versions/latest/files/{PATH}", RAW, id="raw"),
        pytest.param(f"{API}/modules/acme/versions/latest/descriptor", None, id="descriptor"),
    ],
)
def test_latest_is_no_cache_and_never_immutable(
    pushed: SpokeClient, path: str, params: dict[str, str] | None
) -> None:
    etag = pushed.simulate_get(VERSION_URL).headers["etag"]

    result = pushed.simulate_get(path, params=params)

    assert result.status_code == 200
    assert result.headers["cache-control"] == "no-cache"
    assert "immutable" not in result.headers["cache-control"]
    # Even with a matching tag, latest is resolved again and sent in full.
    again = pushed.simulate_get(path, params=params, headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert again.content == result.content


def test_latest_moves_when_a_new_version_is_pushed(pushed: SpokeClient) -> None:
    before = pushed.simulate_get(f"{API}/modules/acme/versions/latest").json["version"]
    push(pushed, "acme", "1.1.0", {PATH: proto("acme.v1", message("A", "int32 x", "int32 y"))})
    after = pushed.simulate_get(f"{API}/modules/acme/versions/latest").json["version"]

    assert (before, after) == ("1.0.0", "1.1.0")


@pytest.mark.parametrize(
    "path",
    [f"{API}/modules", f"{API}/modules/acme", f"{API}/modules/acme/versions"],
)
def test_mutable_resources_are_not_immutable(pushed: SpokeClient, path: str) -> None:
    result = pushed.simulate_get(path)

    assert result.status_code == 200
    assert "immutable" not in result.headers.get("cache-control", "")


def test_errors_are_not_cached_as_immutable(pushed: SpokeClient) -> None:
    result = pushed.simulate_get(f"{API}/modules/acme/versions/9.9.9")

    assert result.status_code == 404
    assert "immutable" not in result.headers.get("cache-control", "")
