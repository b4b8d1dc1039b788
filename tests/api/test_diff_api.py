"""POST /modules/{name}/diff: every change between two stored versions, with its severity."""

from __future__ import annotations

from typing import Any

import falcon.testing
import pytest

from .conftest import (
    API,
    THING_PATH,
    SpokeClient,
    assert_error,
    create_module,
    make_app,
    post_raw,
    push,
    set_policy,
    thing,
)

DIFF = f"{API}/modules/acme/diff"
OLD = thing("string id = 1", "string name = 2", "string note = 3")
NEW = thing("string id = 1", "int64 name = 2", "string extra = 4")


def diff(client: SpokeClient, **body: Any) -> falcon.testing.Result:
    return client.simulate_post(DIFF, json=body)


def changes(client: SpokeClient, old: str = "1.0.0", new: str = "1.1.0") -> dict[str, str]:
    """``{location: severity}`` of the diff; asserts 200 and one change per location."""
    result = diff(client, from_version=old, to_version=new)
    assert result.status_code == 200, result.text
    found = {c["location"]: c["severity"] for c in result.json["changes"]}
    assert len(found) == len(result.json["changes"])
    return found


@pytest.fixture
def acme(client: SpokeClient) -> SpokeClient:
    """``acme`` 1.0.0 and 1.1.0 (a field added, one retyped, one removed), policy BACKWARD/FILE."""
    create_module(client, "acme", compatibility={"mode": "NONE"})
    assert push(client, "acme", "1.0.0", OLD).status_code == 201
    assert push(client, "acme", "1.1.0", NEW).status_code == 201
    set_policy(client, "acme", "BACKWARD")
    return client


def test_diff_lists_added_removed_and_changed_elements(acme: SpokeClient) -> None:
    result = diff(acme, from_version="1.0.0", to_version="1.1.0")

    assert result.status_code == 200, result.text
    assert result.headers["cache-control"] == "no-cache"
    body = result.json
    assert (body["from_version"], body["to_version"]) == ("1.0.0", "1.1.0")
    by_type = {c["type"]: c for c in body["changes"]}
    assert set(by_type) == {"field_added", "field_removed", "field_type_changed"}
    added, removed, retyped = (
        by_type["field_added"],
        by_type["field_removed"],
        by_type["field_type_changed"],
    )
    assert added["location"] == f"{THING_PATH}:Thing.extra"
    assert (added["old_value"], added["severity"]) == (None, "non_breaking")
    assert "extra" in added["new_value"]
    assert removed["location"] == f"{THING_PATH}:Thing.note"
    assert (removed["new_value"], removed["severity"]) == (None, "breaking")
    assert (retyped["old_value"], retyped["new_value"]) == ("string", "int64")
    assert retyped["severity"] == "breaking"
    for change in body["changes"]:
        assert set(change) == {
            "type",
            "severity",
            "location",
            "old_value",
            "new_value",
            "description",
        }
        assert change["description"]


def test_latest_is_answered_as_the_version_it_resolves_to(acme: SpokeClient) -> None:
    result = diff(acme, from_version="v1.0.0", to_version="latest")
    assert (result.json["from_version"], result.json["to_version"]) == ("1.0.0", "1.1.0")


def test_a_version_against_itself_has_no_changes(acme: SpokeClient) -> None:
    assert diff(acme, from_version="1.1.0", to_version="latest").json["changes"] == []


@pytest.mark.parametrize(
    ("mode", "rules", "expected"),
    [
        # Deleting `note` breaks readers of 1.0.0; adding `extra` does not.
        ("BACKWARD", "FILE", ("non_breaking", "breaking", "breaking")),
        ("BACKWARD_TRANSITIVE", "FILE", ("non_breaking", "breaking", "breaking")),
        # FORWARD swaps the sides: now the addition breaks and the deletion does not.
        ("FORWARD", "FILE", ("breaking", "breaking", "non_breaking")),
        ("FULL", "WIRE", ("breaking", "breaking", "breaking")),
        ("NONE", "FILE", ("non_breaking", "non_breaking", "non_breaking")),
    ],
)
def test_severity_follows_the_module_policy(
    acme: SpokeClient, mode: str, rules: str, expected: tuple[str, str, str]
) -> None:
    set_policy(acme, "acme", mode, rules)
    found = changes(acme)
    located = tuple(found[f"{THING_PATH}:Thing.{name}"] for name in ("extra", "name", "note"))
    assert located == expected


def test_diff_runs_backwards_too(acme: SpokeClient) -> None:
    found = changes(acme, old="1.1.0", new="1.0.0")
    # From 1.1.0 to 1.0.0 `extra` is removed (breaking) and `note` added.
    assert found[f"{THING_PATH}:Thing.extra"] == "breaking"
    assert found[f"{THING_PATH}:Thing.note"] == "non_breaking"


def test_diff_is_not_a_compatibility_check_for_the_metrics(
    acme: SpokeClient, health: SpokeClient
) -> None:
    changes(acme)
    assert "spoke_compatibility_checks_total{" not in health.simulate_get("/metrics").text


# Refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"from_version": "1.0.0"},
        {"to_version": "1.0.0"},
        {"from_version": "1.0.0", "to_version": 1},
        {"from_version": None, "to_version": "1.0.0"},
        {"from_version": ["1.0.0"], "to_version": "1.0.0"},
        {"from_version": "1.0.0", "to_version": "1.1.0", "mode": "FULL"},
    ],
)
def test_missing_unknown_and_mistyped_fields_are_400(
    acme: SpokeClient, body: dict[str, Any]
) -> None:
    assert_error(diff(acme, **body), 400, "invalid_request")


@pytest.mark.parametrize("raw", ["[]", "1", '"1.0.0"', "{"])
def test_a_body_that_is_not_a_json_object_is_400(acme: SpokeClient, raw: str) -> None:
    assert_error(post_raw(acme, DIFF, raw), 400, "invalid_request")


@pytest.mark.parametrize(
    ("url", "body", "code"),
    [
        (
            f"{API}/modules/ghost/diff",
            {"from_version": "1.0.0", "to_version": "1.1.0"},
            "module_not_found",
        ),
        (DIFF, {"from_version": "0.9.0", "to_version": "1.1.0"}, "version_not_found"),
        (DIFF, {"from_version": "1.0.0", "to_version": "2.0.0"}, "version_not_found"),
    ],
)
def test_unknown_modules_and_versions_are_404(
    acme: SpokeClient, url: str, body: dict[str, str], code: str
) -> None:
    assert_error(acme.simulate_post(url, json=body), 404, code)


@pytest.mark.parametrize("version", ["1", "1.0.0-", "../1.0.0", "x" * 300])
def test_a_malformed_version_is_422(acme: SpokeClient, version: str) -> None:
    assert_error(diff(acme, from_version=version, to_version="1.0.0"), 422, "invalid_version")


def test_an_oversized_body_is_413() -> None:
    application = make_app({"SPOKE_MAX_BODY_BYTES": "1KiB"})
    try:
        client = SpokeClient(application.api)
        body = {"from_version": "1.0.0", "to_version": "1" * 2000}
        assert_error(client.simulate_post(DIFF, json=body), 413, "payload_too_large")
    finally:
        application.close()
