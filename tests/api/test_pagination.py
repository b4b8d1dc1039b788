"""Lists: ``limit``/``offset``, ``X-Total-Count``, ``Link: rel="next"``, no file contents."""

from __future__ import annotations

import re

import falcon.testing
import pytest

from .conftest import API, SpokeClient, assert_error, create_module, push_ok

LINK_NEXT = re.compile(r'^<(?P<url>[^>]+)>;\s*rel="next"$')
NAMES = [f"mod{i:02d}" for i in range(7)]


def next_link(result: falcon.testing.Result) -> str | None:
    header = result.headers.get("link")
    if header is None:
        return None
    match = LINK_NEXT.match(header)
    assert match, header
    return match.group("url")


@pytest.fixture
def seven_modules(any_client: SpokeClient) -> SpokeClient:
    for name in reversed(NAMES):
        create_module(any_client, name)
    return any_client


def test_limit_and_offset_select_a_page(seven_modules: SpokeClient) -> None:
    result = seven_modules.simulate_get(f"{API}/modules", params={"limit": "3", "offset": "2"})

    assert result.status_code == 200
    assert [m["name"] for m in result.json] == NAMES[2:5]
    assert result.headers["x-total-count"] == "7"


def test_following_next_links_walks_every_page_once(seven_modules: SpokeClient) -> None:
    pages: list[list[str]] = []
    url: str | None = f"{API}/modules?limit=3"
    while url is not None:
        assert url.startswith(f"{API}/modules?")
        result = seven_modules.simulate_get(url)
        assert result.status_code == 200
        assert result.headers["x-total-count"] == "7"
        pages.append([m["name"] for m in result.json])
        url = next_link(result)
        assert len(pages) < 10

    assert pages == [NAMES[0:3], NAMES[3:6], NAMES[6:7]]


def test_link_is_absent_on_the_last_page(seven_modules: SpokeClient) -> None:
    for params in ({"limit": "7"}, {"limit": "1000"}, {"limit": "2", "offset": "5"}, {}):
        result = seven_modules.simulate_get(f"{API}/modules", params=params)
        assert "link" not in result.headers, params


def test_link_is_present_when_exactly_one_more_remains(seven_modules: SpokeClient) -> None:
    result = seven_modules.simulate_get(f"{API}/modules", params={"limit": "6"})

    url = next_link(result)
    assert url is not None
    assert [m["name"] for m in seven_modules.simulate_get(url).json] == NAMES[6:]


def test_next_link_keeps_the_query_filter(any_client: SpokeClient) -> None:
    for name in ["a1", "a2", "a3", "b1"]:
        create_module(any_client, name)

    first = any_client.simulate_get(f"{API}/modules", params={"q": "a", "limit": "2"})
    url = next_link(first)
    assert url is not None

    second = any_client.simulate_get(url)
    assert [m["name"] for m in second.json] == ["a3"]
    assert second.headers["x-total-count"] == "3"
    assert next_link(second) is None


def test_next_link_carries_only_the_parameters_the_list_knows(seven_modules: SpokeClient) -> None:
    huge = "z" * 80_000
    result = seven_modules.simulate_get(
        f"{API}/modules", params={"limit": "3", "q": "mod", "cachebuster": huge, "raw": "true"}
    )

    assert result.status_code == 200
    assert next_link(result) == f"{API}/modules?limit=3&offset=3&q=mod"


def test_next_link_of_versions_carries_only_limit_and_offset(client: SpokeClient) -> None:
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        push_ok(client, "acme", version)

    result = client.simulate_get(
        f"{API}/modules/acme/versions", params={"limit": "1", "q": "x" * 80_000}
    )

    assert next_link(result) == f"{API}/modules/acme/versions?limit=1&offset=1"


def test_a_repeated_parameter_is_carried_once_as_the_list_read_it(
    seven_modules: SpokeClient,
) -> None:
    result = seven_modules.simulate_get(f"{API}/modules?limit=2&q=no&q=mod")

    assert [m["name"] for m in result.json] == NAMES[:2]
    assert next_link(result) == f"{API}/modules?limit=2&offset=2&q=mod"


def test_an_offset_past_the_end_is_an_empty_page(seven_modules: SpokeClient) -> None:
    result = seven_modules.simulate_get(f"{API}/modules", params={"offset": "100"})

    assert result.status_code == 200
    assert result.json == []
    assert result.headers["x-total-count"] == "7"
    assert "link" not in result.headers


def test_default_limit_is_50(client: SpokeClient) -> None:
    for i in range(52):
        create_module(client, f"m{i:03d}")

    result = client.simulate_get(f"{API}/modules")

    assert len(result.json) == 50
    assert result.headers["x-total-count"] == "52"
    url = next_link(result)
    assert url is not None
    assert [m["name"] for m in client.simulate_get(url).json] == ["m050", "m051"]


def test_versions_are_paginated_newest_first(any_client: SpokeClient) -> None:
    versions = ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0"]
    for version in versions:
        push_ok(any_client, "acme", version)

    seen: list[str] = []
    url: str | None = f"{API}/modules/acme/versions?limit=2"
    while url is not None:
        result = any_client.simulate_get(url)
        assert result.headers["x-total-count"] == "5"
        seen += [v["version"] for v in result.json]
        url = next_link(result)

    assert seen == list(reversed(versions))


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "-1"},
        {"limit": "abc"},
        {"limit": "1.5"},
        {"limit": "99999999999999999999999"},
        {"offset": "-1"},
        {"offset": "abc"},
        {"offset": "2147483648"},
    ],
)
@pytest.mark.parametrize("path", ["modules", "modules/acme/versions"])
def test_bad_limit_or_offset_is_400(client: SpokeClient, params: dict[str, str], path: str) -> None:
    create_module(client, "acme")

    result = client.simulate_get(f"{API}/{path}", params=params)

    body = assert_error(result, 400, "invalid_request")
    assert body["details"]["parameter"] in params


@pytest.mark.parametrize(
    "value",
    [
        "5_0",  # int() reads 50
        " 5",
        "5 ",
        "+5",
        "\uff15",  # a full-width 5
        "\u0665",  # an Arabic-Indic 5
        "\U0001d7d3",  # a mathematical bold 5
        "0x10",
        "1e2",
        "",
    ],
    ids=repr,
)
@pytest.mark.parametrize("name", ["limit", "offset"])
def test_only_ascii_digits_are_an_integer(client: SpokeClient, name: str, value: str) -> None:
    create_module(client, "acme")

    result = client.simulate_get(f"{API}/modules", params={name: value})

    body = assert_error(result, 400, "invalid_request")
    assert body["details"] == {"parameter": name}
    assert "0-9" in body["error"]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"limit": "002"}, NAMES[:2]),
        ({"limit": "2", "offset": "0000000000000000000000005"}, NAMES[5:7]),
    ],
)
def test_leading_zeros_are_still_ascii_digits(
    seven_modules: SpokeClient, params: dict[str, str], names: list[str]
) -> None:
    result = seven_modules.simulate_get(f"{API}/modules", params=params)

    assert result.status_code == 200, result.text
    assert [m["name"] for m in result.json] == names


def test_a_number_of_thousands_of_digits_is_out_of_range_not_a_crash(
    client: SpokeClient,
) -> None:
    result = client.simulate_get(f"{API}/modules", params={"offset": "9" * 5000})

    body = assert_error(result, 400, "invalid_request")
    assert "between" in body["error"]


@pytest.mark.parametrize("limit", ["1", "1000"])
def test_limit_bounds_are_accepted(client: SpokeClient, limit: str) -> None:
    create_module(client, "acme")
    result = client.simulate_get(f"{API}/modules", params={"limit": limit})
    assert result.status_code == 200


def test_lists_never_contain_file_contents(any_client: SpokeClient) -> None:
    marker = "UNIQUE_MARKER_FIELD"
    files = {"acme/v1/a.proto": f'syntax = "proto3";\nmessage A {{ string {marker} = 1; }}\n'}
    push_ok(any_client, "acme", "1.0.0", files)

    for url in (f"{API}/modules", f"{API}/modules/acme/versions", f"{API}/modules/acme"):
        result = any_client.simulate_get(url)
        assert result.status_code == 200
        assert marker not in result.text, url
        assert '"files"' not in result.text, url
        assert '"content"' not in result.text, url
