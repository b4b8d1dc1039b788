"""Modules: create, read, update, list."""

from __future__ import annotations

import pytest

from .conftest import (
    API,
    TIMESTAMP,
    SpokeClient,
    assert_error,
    create_module,
    module_names,
    push_ok,
)


def test_create_module_is_201_with_location(any_client: SpokeClient) -> None:
    result = any_client.simulate_post(
        f"{API}/modules", json={"name": "acme.billing", "description": "Billing APIs"}
    )

    assert result.status_code == 201
    assert result.headers["location"].endswith(f"{API}/modules/acme.billing")
    body = result.json
    assert body["name"] == "acme.billing"
    assert body["description"] == "Billing APIs"
    assert body["compatibility"] == {"mode": "BACKWARD", "rules": "FILE"}
    assert body["latest_version"] is None
    assert TIMESTAMP.match(body["created_at"]) and TIMESTAMP.match(body["updated_at"])
    assert set(body) == {
        "name",
        "description",
        "compatibility",
        "created_at",
        "updated_at",
        "latest_version",
    }


def test_created_module_can_be_read_back(any_client: SpokeClient) -> None:
    created = create_module(
        any_client, "acme", description="d", compatibility={"mode": "FULL", "rules": "WIRE"}
    ).json

    result = any_client.simulate_get(f"{API}/modules/acme")

    assert result.status_code == 200
    body = result.json
    assert body.pop("versions") == []
    assert body == created
    assert body["compatibility"] == {"mode": "FULL", "rules": "WIRE"}


def test_compatibility_defaults_are_filled_in(client: SpokeClient) -> None:
    body = create_module(client, "acme", compatibility={"mode": "NONE"}).json
    assert body["compatibility"] == {"mode": "NONE", "rules": "FILE"}


def test_duplicate_module_is_409_module_exists(any_client: SpokeClient) -> None:
    create_module(any_client, "acme", description="first")

    result = any_client.simulate_post(
        f"{API}/modules", json={"name": "acme", "description": "second"}
    )

    body = assert_error(result, 409, "module_exists")
    assert body["details"] == {"module": "acme"}
    assert any_client.simulate_get(f"{API}/modules/acme").json["description"] == "first"


@pytest.mark.parametrize(
    "name",
    [
        "Acme",
        "ACME",
        "1acme",
        "a" * 129,
        "",
        "has space",
        "../x",
        "a/b",
        "-acme",
        ".acme",
        "_acme",
        "acme!",
        "acmé",
        " acme",
        "acme\t",
        "acme\n",
        "acme\r\n",
    ],
)
def test_invalid_module_name_is_422_invalid_name(client: SpokeClient, name: str) -> None:
    result = client.simulate_post(f"{API}/modules", json={"name": name})

    body = assert_error(result, 422, "invalid_name")
    assert body["details"]["name"] == name
    assert module_names(client) == []


@pytest.mark.parametrize("name", [5, None, True, ["acme"], {"name": "acme"}, 1.5])
def test_non_string_module_name_is_422_invalid_name(client: SpokeClient, name: object) -> None:
    result = client.simulate_post(f"{API}/modules", json={"name": name})

    body = assert_error(result, 422, "invalid_name")
    assert body["details"]["name"] is None
    assert module_names(client) == []


@pytest.mark.parametrize("name", ["a", "a" * 128, "a1", "acme.billing-v2_x", "x.y.z"])
def test_valid_module_names_are_accepted(client: SpokeClient, name: str) -> None:
    create_module(client, name)
    assert module_names(client) == [name]


def test_get_unknown_module_is_404_module_not_found(any_client: SpokeClient) -> None:
    result = any_client.simulate_get(f"{API}/modules/nope")

    body = assert_error(result, 404, "module_not_found")
    assert body["details"] == {"module": "nope"}


def test_get_module_lists_versions_newest_first(any_client: SpokeClient) -> None:
    for version in ["1.0.0", "1.10.0", "1.2.0", "2.0.0-rc.1"]:
        push_ok(any_client, "acme", version)

    body = any_client.simulate_get(f"{API}/modules/acme").json

    assert [v["version"] for v in body["versions"]] == ["2.0.0-rc.1", "1.10.0", "1.2.0", "1.0.0"]
    assert body["latest_version"] == "1.10.0"
    for summary in body["versions"]:
        assert set(summary) == {
            "module_name",
            "version",
            "created_at",
            "fingerprint",
            "file_count",
            "dependencies",
        }


def test_patch_changes_description(any_client: SpokeClient) -> None:
    created = create_module(any_client, "acme", description="old").json

    result = any_client.simulate_patch(f"{API}/modules/acme", json={"description": "new"})

    assert result.status_code == 200
    body = result.json
    assert body["description"] == "new"
    assert body["compatibility"] == created["compatibility"]
    assert body["created_at"] == created["created_at"]
    assert body["updated_at"] >= created["updated_at"]
    assert any_client.simulate_get(f"{API}/modules/acme").json["description"] == "new"


def test_patch_changes_compatibility_and_keeps_description(any_client: SpokeClient) -> None:
    create_module(any_client, "acme", description="keep me")

    result = any_client.simulate_patch(
        f"{API}/modules/acme", json={"compatibility": {"mode": "FULL_TRANSITIVE"}}
    )

    assert result.status_code == 200
    assert result.json["compatibility"] == {"mode": "FULL_TRANSITIVE", "rules": "FILE"}
    stored = any_client.simulate_get(f"{API}/modules/acme").json
    assert stored["description"] == "keep me"
    assert stored["compatibility"] == {"mode": "FULL_TRANSITIVE", "rules": "FILE"}


def test_patch_with_empty_object_changes_nothing(client: SpokeClient) -> None:
    created = create_module(client, "acme", description="same").json

    result = client.simulate_patch(f"{API}/modules/acme", json={})

    assert result.status_code == 200
    assert result.json["description"] == "same"
    assert result.json["compatibility"] == created["compatibility"]


def test_patch_keeps_latest_version(client: SpokeClient) -> None:
    push_ok(client, "acme", "1.0.0")
    result = client.simulate_patch(f"{API}/modules/acme", json={"description": "x"})
    assert result.json["latest_version"] == "1.0.0"


@pytest.mark.parametrize(
    "compatibility",
    [{"mode": "SIDEWAYS"}, {"mode": "backward"}, {"rules": "BYTES"}, {"mode": 3}],
)
def test_patch_bad_compatibility_is_422_invalid_compatibility(
    client: SpokeClient, compatibility: dict[str, object]
) -> None:
    create_module(client, "acme")

    result = client.simulate_patch(f"{API}/modules/acme", json={"compatibility": compatibility})

    assert_error(result, 422, "invalid_compatibility")
    stored = client.simulate_get(f"{API}/modules/acme").json
    assert stored["compatibility"] == {"mode": "BACKWARD", "rules": "FILE"}


def test_create_with_bad_compatibility_mode_is_422_and_creates_nothing(
    client: SpokeClient,
) -> None:
    result = client.simulate_post(
        f"{API}/modules", json={"name": "acme", "compatibility": {"mode": "SIDEWAYS"}}
    )

    assert_error(result, 422, "invalid_compatibility")
    assert module_names(client) == []


@pytest.mark.parametrize(
    "patch",
    [
        {"name": "renamed"},
        {"descripton": "typo"},
        {"compatibility": {"mode": "FULL", "extra": 1}},
        {"compatibility": "FULL"},
        {"description": 5},
        {"description": "x" * 4097},
    ],
)
def test_bad_patch_is_400(client: SpokeClient, patch: dict[str, object]) -> None:
    create_module(client, "acme", description="unchanged")

    result = client.simulate_patch(f"{API}/modules/acme", json=patch)

    assert_error(result, 400, "invalid_request")
    stored = client.simulate_get(f"{API}/modules/acme").json
    assert stored["description"] == "unchanged"
    assert stored["compatibility"] == {"mode": "BACKWARD", "rules": "FILE"}


def test_patch_unknown_module_is_404(client: SpokeClient) -> None:
    result = client.simulate_patch(f"{API}/modules/nope", json={"description": "x"})

    assert_error(result, 404, "module_not_found")
    assert module_names(client) == []


def test_list_modules_is_sorted_by_name(any_client: SpokeClient) -> None:
    for name in ["zeta", "acme.billing", "acme", "beta", "acme.auth"]:
        create_module(any_client, name)

    result = any_client.simulate_get(f"{API}/modules")

    assert result.status_code == 200
    assert [m["name"] for m in result.json] == ["acme", "acme.auth", "acme.billing", "beta", "zeta"]
    assert result.headers["x-total-count"] == "5"


def test_list_modules_q_filters_by_name_prefix(any_client: SpokeClient) -> None:
    for name in ["acme", "acme.billing", "acme.auth", "beta", "xacme"]:
        create_module(any_client, name)

    result = any_client.simulate_get(f"{API}/modules", params={"q": "acme."})

    assert [m["name"] for m in result.json] == ["acme.auth", "acme.billing"]
    assert result.headers["x-total-count"] == "2"


def test_list_modules_q_without_match_is_empty(client: SpokeClient) -> None:
    create_module(client, "acme")

    result = client.simulate_get(f"{API}/modules", params={"q": "zzz"})

    assert result.status_code == 200
    assert result.json == []
    assert result.headers["x-total-count"] == "0"
    assert "link" not in result.headers


def test_list_modules_q_longer_than_128_is_400(client: SpokeClient) -> None:
    result = client.simulate_get(f"{API}/modules", params={"q": "a" * 129})
    assert_error(result, 400, "invalid_request")


def test_list_modules_shows_latest_version(any_client: SpokeClient) -> None:
    push_ok(any_client, "acme", "1.0.0")
    push_ok(any_client, "acme", "1.1.0-beta.1")
    create_module(any_client, "empty")

    modules = {m["name"]: m for m in any_client.simulate_get(f"{API}/modules").json}

    assert modules["acme"]["latest_version"] == "1.0.0"
    assert modules["empty"]["latest_version"] is None
