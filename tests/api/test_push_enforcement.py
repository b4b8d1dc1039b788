"""Pushes are checked against the module's compatibility policy before anything is stored."""

from __future__ import annotations

import pytest

from spoke.api.app import Application

from .conftest import (
    API,
    THING_LINE,
    THING_PATH,
    SpokeClient,
    assert_error,
    blob_digests,
    create_module,
    metric_value,
    proto,
    push,
    set_policy,
    thing,
    version_names,
)

ID = "string id = 1"
NAME = "string name = 2"


def _breaking_push(client: SpokeClient) -> dict[str, object]:
    """1.0.0 with ``id`` and ``name``, then 1.1.0 without ``name``: the 409's body."""
    assert push(client, "acme", "1.0.0", thing(ID, NAME)).status_code == 201
    return assert_error(push(client, "acme", "1.1.0", thing(ID)), 409, "incompatible_schema")


def test_deleting_a_field_is_409_naming_the_rule_the_place_and_the_version(
    client: SpokeClient,
) -> None:
    body = _breaking_push(client)

    assert body["details"] == {
        "compatible": False,
        "mode": "BACKWARD",
        "rules": "FILE",
        "checked_against": ["1.0.0"],
        "violations": [
            {
                "rule": "FIELD_NO_DELETE",
                "message": 'Previously present field "2" with name "name" on message "Thing" '
                "was deleted.",
                "file": THING_PATH,
                "line": THING_LINE,  # the message that lost the field, in the new file
                "column": 1,
                "location": f"{THING_PATH}:Thing.name",
                "against": "1.0.0",
            }
        ],
    }
    message = str(body["error"])
    for part in ("1.1.0", "'acme'", "against 1.0.0", "BACKWARD/FILE", "FIELD_NO_DELETE"):
        assert part in message, message


def test_a_refused_push_stores_nothing(app: Application, client: SpokeClient) -> None:
    assert push(client, "acme", "1.0.0", thing(ID, NAME)).status_code == 201
    blobs = blob_digests(app)

    refused = push(client, "acme", "1.1.0", thing(ID, extra="message New {}\n"))

    assert_error(refused, 409, "incompatible_schema")
    assert version_names(client, "acme") == ["1.0.0"]
    assert blob_digests(app) == blobs  # neither the files nor the descriptor set
    assert_error(client.simulate_get(f"{API}/modules/acme/versions/1.1.0"), 404)
    assert client.simulate_get(f"{API}/modules/acme").json["latest_version"] == "1.0.0"


def test_a_compatible_push_is_stored(client: SpokeClient) -> None:
    assert push(client, "acme", "1.0.0", thing(ID)).status_code == 201
    added = push(client, "acme", "1.1.0", thing(ID, NAME, extra="message New {}\n"))
    assert added.status_code == 201, added.text
    assert version_names(client, "acme") == ["1.1.0", "1.0.0"]


def test_the_first_version_of_a_module_has_nothing_to_break(client: SpokeClient) -> None:
    create_module(client, "acme", compatibility={"mode": "FULL_TRANSITIVE"})
    assert push(client, "acme", "3.0.0", thing(ID)).status_code == 201


def test_mode_none_accepts_any_change(client: SpokeClient) -> None:
    create_module(client, "acme", compatibility={"mode": "NONE"})
    assert push(client, "acme", "1.0.0", thing(ID, NAME)).status_code == 201
    retyped = push(client, "acme", "1.1.0", thing("int64 id = 1"))
    assert retyped.status_code == 201, retyped.text
    moved = push(client, "acme", "1.2.0", {"acme/v2/other.proto": proto("acme.v2", "")})
    assert moved.status_code == 201, moved.text


def test_a_break_is_accepted_after_the_policy_is_patched_to_none_and_refused_again_after(
    client: SpokeClient,
) -> None:
    _breaking_push(client)

    set_policy(client, "acme", "NONE")
    assert push(client, "acme", "1.1.0", thing(ID)).status_code == 201
    set_policy(client, "acme", "BACKWARD")

    # The next push is checked against 1.1.0, the highest version below it.
    assert_error(push(client, "acme", "1.2.0", thing("int32 id = 1")), 409, "incompatible_schema")
    assert push(client, "acme", "1.2.0", thing(ID, NAME)).status_code == 201  # re-adding is fine


def test_an_identical_repush_is_200_without_any_check(client: SpokeClient) -> None:
    assert push(client, "acme", "1.0.0", thing(ID)).status_code == 201
    assert push(client, "acme", "1.1.0", thing(ID, NAME)).status_code == 201
    set_policy(client, "acme", "FULL")  # 1.1.0 added a field: FULL would refuse it now

    again = push(client, "acme", "1.1.0", thing(ID, NAME))

    assert again.status_code == 200, again.text


def test_a_different_repush_is_still_version_exists(client: SpokeClient) -> None:
    assert push(client, "acme", "1.0.0", thing(ID, NAME)).status_code == 201
    assert_error(push(client, "acme", "1.0.0", thing(ID)), 409, "version_exists")


# Modes -------------------------------------------------------------------------------------


def test_forward_refuses_an_added_field_pointing_into_the_earlier_version(
    client: SpokeClient,
) -> None:
    create_module(client, "acme", compatibility={"mode": "FORWARD"})
    assert push(client, "acme", "1.0.0", thing(ID)).status_code == 201

    body = assert_error(push(client, "acme", "1.1.0", thing(ID, NAME)), 409, "incompatible_schema")

    (violation,) = body["details"]["violations"]
    # Readers built on 1.1.0 lose `name` when they read what 1.0.0 wrote: the checker sees
    # 1.0.0 as the newer side, so the place is in 1.0.0's file.
    assert violation["rule"] == "FIELD_NO_DELETE"
    assert (violation["file"], violation["line"]) == (THING_PATH, THING_LINE)
    assert violation["against"] == "1.0.0"


def test_forward_accepts_a_deleted_field(client: SpokeClient) -> None:
    create_module(client, "acme", compatibility={"mode": "FORWARD"})
    assert push(client, "acme", "1.0.0", thing(ID, NAME)).status_code == 201
    assert push(client, "acme", "1.1.0", thing(ID)).status_code == 201


@pytest.mark.parametrize(
    ("fields", "rule"),
    [((ID, NAME), "FIELD_NO_DELETE"), ((), "FIELD_NO_DELETE")],
    ids=["added", "deleted"],
)
def test_full_refuses_both_directions(
    client: SpokeClient, fields: tuple[str, ...], rule: str
) -> None:
    create_module(client, "acme", compatibility={"mode": "FULL"})
    assert push(client, "acme", "1.0.0", thing(ID)).status_code == 201
    body = assert_error(push(client, "acme", "1.1.0", thing(*fields)), 409, "incompatible_schema")
    assert {v["rule"] for v in body["details"]["violations"]} == {rule}


def test_full_accepts_a_change_of_comments_and_layout(client: SpokeClient) -> None:
    create_module(client, "acme", compatibility={"mode": "FULL"})
    assert push(client, "acme", "1.0.0", thing(ID)).status_code == 201
    commented = thing("// the key\n  string id = 1")
    assert push(client, "acme", "1.0.1", commented).status_code == 201


@pytest.mark.parametrize(("mode", "status"), [("BACKWARD", 201), ("BACKWARD_TRANSITIVE", 409)])
def test_transitive_modes_catch_a_break_against_an_older_version_only(
    client: SpokeClient, mode: str, status: int
) -> None:
    create_module(client, "acme", compatibility={"mode": "NONE"})
    assert push(client, "acme", "1.0.0", thing(ID, NAME)).status_code == 201
    assert push(client, "acme", "1.1.0", thing(ID)).status_code == 201  # name deleted
    set_policy(client, "acme", mode)

    # Against 1.1.0 this only adds a field; against 1.0.0 it retypes `name`.
    result = push(client, "acme", "1.2.0", thing(ID, "int64 name = 2"))

    assert result.status_code == status, result.text
    if status == 409:
        details = result.json["details"]
        assert details["checked_against"] == ["1.1.0", "1.0.0"]
        assert [(v["rule"], v["against"]) for v in details["violations"]] == [
            ("FIELD_SAME_TYPE", "1.0.0")
        ]
        assert details["violations"][0]["line"] == THING_LINE + 2


@pytest.mark.parametrize(("rules", "status"), [("FILE", 409), ("PACKAGE", 409), ("WIRE", 201)])
def test_renaming_a_field_breaks_file_but_not_wire(
    client: SpokeClient, rules: str, status: int
) -> None:
    create_module(client, "acme", compatibility={"mode": "BACKWARD", "rules": rules})
    assert push(client, "acme", "1.0.0", thing(ID)).status_code == 201

    result = push(client, "acme", "1.1.0", thing("string key = 1"))

    assert result.status_code == status, result.text
    if status == 409:
        rules_found = {v["rule"] for v in result.json["details"]["violations"]}
        assert "FIELD_SAME_NAME" in rules_found


def test_wire_accepts_a_deleted_field_only_when_its_number_is_reserved(client: SpokeClient) -> None:
    create_module(client, "acme", compatibility={"mode": "BACKWARD", "rules": "WIRE"})
    assert push(client, "acme", "1.0.0", thing(ID, NAME)).status_code == 201
    unreserved = push(client, "acme", "1.1.0", thing(ID))
    assert_error(unreserved, 409, "incompatible_schema")
    assert unreserved.json["details"]["violations"][0]["rule"] == (
        "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED"
    )
    assert push(client, "acme", "1.1.0", thing(ID, "reserved 2")).status_code == 201


def test_a_deleted_file_is_file_no_delete_without_a_position(client: SpokeClient) -> None:
    assert push(client, "acme", "1.0.0", thing(ID)).status_code == 201
    renamed = {"acme/v1/renamed.proto": thing(ID)[THING_PATH]}

    body = assert_error(push(client, "acme", "1.1.0", renamed), 409, "incompatible_schema")

    (violation,) = body["details"]["violations"]
    assert violation["rule"] == "FILE_NO_DELETE"
    assert (violation["file"], violation["line"], violation["column"]) == (THING_PATH, None, None)


# Which versions take part ------------------------------------------------------------------


def test_versions_are_ordered_by_semver_not_by_push_order(client: SpokeClient) -> None:
    assert push(client, "acme", "1.0.0", thing(ID)).status_code == 201
    assert push(client, "acme", "2.0.0", thing(ID, NAME, "string extra = 3")).status_code == 201

    # 1.5.0 sits between 1.0.0 and 2.0.0: it is checked against 1.0.0 only, so lacking
    # `extra` (which 2.0.0 has) is no break.
    assert push(client, "acme", "1.5.0", thing(ID, NAME)).status_code == 201
    body = assert_error(push(client, "acme", "1.6.0", thing(NAME)), 409, "incompatible_schema")
    assert body["details"]["checked_against"] == ["1.5.0"]

    # 2.1.0 is checked against 2.0.0, although 1.5.0 was pushed last.
    body = assert_error(push(client, "acme", "2.1.0", thing(ID, NAME)), 409, "incompatible_schema")
    assert body["details"]["checked_against"] == ["2.0.0"]
    assert body["details"]["violations"][0]["location"] == f"{THING_PATH}:Thing.extra"


def test_enforcement_works_on_every_backend(any_client: SpokeClient) -> None:
    assert push(any_client, "acme", "2.0.0", thing(ID, NAME)).status_code == 201
    assert push(any_client, "acme", "1.0.0", thing(ID)).status_code == 201  # below 2.0.0
    body = assert_error(push(any_client, "acme", "2.1.0", thing(ID)), 409, "incompatible_schema")
    assert body["details"]["checked_against"] == ["2.0.0"]
    assert version_names(any_client, "acme") == ["2.0.0", "1.0.0"]


def test_prereleases_are_ordered_by_semver_precedence(client: SpokeClient) -> None:
    assert push(client, "acme", "1.0.0", thing(ID)).status_code == 201
    assert push(client, "acme", "2.0.0-rc.1", thing(ID, NAME)).status_code == 201

    # A release ranks above its prereleases: 2.0.0 is checked against 2.0.0-rc.1.
    body = assert_error(push(client, "acme", "2.0.0", thing(ID)), 409, "incompatible_schema")
    assert body["details"]["checked_against"] == ["2.0.0-rc.1"]

    # alpha < rc.1: 2.0.0-alpha is checked against 1.0.0, which it does not break.
    assert push(client, "acme", "2.0.0-alpha", thing(ID)).status_code == 201
    # rc.1 < rc.2 (numeric identifiers compare as numbers, rc.10 > rc.2 too).
    body = assert_error(push(client, "acme", "2.0.0-rc.10", thing(ID)), 409, "incompatible_schema")
    assert body["details"]["checked_against"] == ["2.0.0-rc.1"]


def test_only_the_version_own_files_are_checked_not_its_dependencies(
    client: SpokeClient,
) -> None:
    money = "common/v1/money.proto"
    assert (
        push(
            client,
            "common",
            "1.0.0",
            {money: proto("common.v1", "message Money {\n  int64 units = 1;\n}\n")},
        ).status_code
        == 201
    )
    uses = proto("acme.v1", "message Thing {\n  common.v1.Money price = 1;\n}\n", imports=[money])
    assert push(client, "acme", "1.0.0", {THING_PATH: uses}, ["common@1.0.0"]).status_code == 201
    set_policy(client, "common", "NONE")
    retyped = {money: proto("common.v1", "message Money {\n  string units = 1;\n}\n")}
    assert push(client, "common", "2.0.0", retyped).status_code == 201

    # The same file of acme over a broken dependency: acme's own files did not change.
    result = push(client, "acme", "1.1.0", {THING_PATH: uses}, ["common@2.0.0"])

    assert result.status_code == 201, result.text


# Metrics -----------------------------------------------------------------------------------


def test_checks_are_counted_by_mode_and_result(client: SpokeClient, health: SpokeClient) -> None:
    incompatible = 'spoke_compatibility_checks_total{mode="BACKWARD",result="incompatible"}'
    compatible = 'spoke_compatibility_checks_total{mode="BACKWARD",result="compatible"}'

    _breaking_push(client)  # 1.0.0 (nothing to break), then a refused 1.1.0
    assert push(client, "acme", "1.1.0", thing(ID, NAME)).status_code == 201
    create_module(client, "free", compatibility={"mode": "NONE"})
    assert push(client, "free", "1.0.0", thing(ID)).status_code == 201  # NONE checks nothing

    assert metric_value(health, compatible) == 2
    assert metric_value(health, incompatible) == 1
    assert metric_value(health, "spoke_compatibility_check_duration_seconds_count") == 3
    none = 'spoke_compatibility_checks_total{mode="NONE",result="compatible"}'
    assert metric_value(health, none) == 0
