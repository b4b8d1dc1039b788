"""The compatibility endpoints: a stored version or candidate files against earlier versions."""

from __future__ import annotations

from typing import Any

import falcon.testing
import pytest

from .conftest import (
    API,
    THING_LINE,
    THING_PATH,
    SpokeClient,
    assert_error,
    create_module,
    file_list,
    make_app,
    metric_value,
    post_raw,
    proto,
    push,
    set_policy,
    thing,
)

ID = "string id = 1"
NAME = "string name = 2"
CHECK = f"{API}/modules/acme/compatibility"


def check(client: SpokeClient, **body: Any) -> falcon.testing.Result:
    return client.simulate_post(CHECK, json=body)


def check_ok(client: SpokeClient, **body: Any) -> dict[str, Any]:
    result = check(client, **body)
    assert result.status_code == 200, result.text
    answer: dict[str, Any] = result.json
    assert set(answer) == {"compatible", "mode", "rules", "checked_against", "violations"}
    assert answer["compatible"] == (not answer["violations"])
    return answer


def stored_check(client: SpokeClient, version: str, **params: str) -> falcon.testing.Result:
    url = f"{API}/modules/acme/versions/{version}/compatibility"
    return client.simulate_get(url, params=params)


def history(client: SpokeClient, *versions: tuple[str, dict[str, str]]) -> None:
    """Push ``versions`` in order to ``acme`` under NONE, then set the policy to BACKWARD."""
    create_module(client, "acme", compatibility={"mode": "NONE"})
    for version, files in versions:
        assert push(client, "acme", version, files).status_code == 201
    set_policy(client, "acme", "BACKWARD")


# Candidate files ---------------------------------------------------------------------------


def test_candidate_files_that_delete_a_field_are_reported_against_the_latest(
    client: SpokeClient,
) -> None:
    history(client, ("1.0.0", thing(ID, NAME)), ("1.1.0", thing(ID, NAME, "int32 n = 3")))

    answer = check_ok(client, files=file_list(thing(ID, "int32 n = 3")))

    assert answer["compatible"] is False
    assert (answer["mode"], answer["rules"]) == ("BACKWARD", "FILE")
    assert answer["checked_against"] == ["1.1.0"]
    (violation,) = answer["violations"]
    assert violation == {
        "rule": "FIELD_NO_DELETE",
        "message": 'Previously present field "2" with name "name" on message "Thing" was deleted.',
        "file": THING_PATH,
        "line": THING_LINE,
        "column": 1,
        "location": f"{THING_PATH}:Thing.name",
        "against": "1.1.0",
    }


def test_candidate_files_that_only_add_are_compatible(client: SpokeClient) -> None:
    history(client, ("1.0.0", thing(ID)))
    answer = check_ok(client, files=file_list(thing(ID, NAME)))
    assert answer == {
        "compatible": True,
        "mode": "BACKWARD",
        "rules": "FILE",
        "checked_against": ["1.0.0"],
        "violations": [],
    }


def test_a_candidate_counts_as_newer_than_every_stored_version(client: SpokeClient) -> None:
    history(client, ("2.0.0", thing(ID, NAME)), ("1.0.0", thing(ID)))

    latest_only = check_ok(client, files=file_list(thing(ID)))
    every = check_ok(client, files=file_list(thing(ID)), mode="BACKWARD_TRANSITIVE")

    assert latest_only["checked_against"] == ["2.0.0"]
    assert [v["against"] for v in latest_only["violations"]] == ["2.0.0"]
    assert every["checked_against"] == ["2.0.0", "1.0.0"]  # newest first
    assert [v["against"] for v in every["violations"]] == ["2.0.0"]


def test_a_candidate_is_compiled_with_its_dependencies(client: SpokeClient) -> None:
    money = "common/v1/money.proto"
    common = {money: proto("common.v1", "message Money {\n  int64 units = 1;\n}\n")}
    assert push(client, "common", "1.0.0", common).status_code == 201
    uses = proto("acme.v1", "message Thing {\n  common.v1.Money price = 1;\n}\n", imports=[money])
    assert push(client, "acme", "1.0.0", {THING_PATH: uses}, ["common@1.0.0"]).status_code == 201
    retyped = proto("acme.v1", "message Thing {\n  string price = 1;\n}\n")

    same = check_ok(client, files=file_list({THING_PATH: uses}), dependencies=["common@1.0.0"])
    changed = check_ok(client, files=file_list({THING_PATH: retyped}))

    assert same["compatible"] is True and same["checked_against"] == ["1.0.0"]
    assert "FIELD_SAME_TYPE" in {v["rule"] for v in changed["violations"]}


def test_candidate_files_that_do_not_compile_are_422_with_diagnostics(client: SpokeClient) -> None:
    history(client, ("1.0.0", thing(ID)))
    bad = {THING_PATH: 'syntax = "proto3";\nmessage Thing {\n  Missing m = 1;\n}\n'}

    body = assert_error(check(client, files=file_list(bad)), 422, "invalid_schema")

    (error,) = body["details"]["errors"]
    assert (error["file"], error["line"]) == (THING_PATH, 3)


def test_a_candidate_with_an_unresolved_import_is_422(client: SpokeClient) -> None:
    history(client, ("1.0.0", thing(ID)))
    files = {THING_PATH: proto("acme.v1", "", imports=["common/v1/nowhere.proto"])}
    assert_error(check(client, files=file_list(files)), 422, "unresolved_import")


def test_a_candidate_pinning_a_missing_dependency_is_422(client: SpokeClient) -> None:
    history(client, ("1.0.0", thing(ID)))
    result = check(client, files=file_list(thing(ID)), dependencies=["common@9.9.9"])
    assert_error(result, 422, "dependency_not_found")


def test_a_module_without_versions_is_compatible_with_nothing_checked(
    client: SpokeClient,
) -> None:
    create_module(client, "acme")
    answer = check_ok(client, files=file_list(thing(ID)))
    assert (answer["compatible"], answer["checked_against"]) == (True, [])


# Stored versions ---------------------------------------------------------------------------


def test_a_stored_version_is_checked_against_the_versions_below_it(client: SpokeClient) -> None:
    history(
        client,
        ("1.0.0", thing(ID, NAME)),
        ("1.1.0", thing(ID)),  # deleted name
        ("1.2.0", thing(ID, "int64 other = 3")),
    )

    answer = check_ok(client, new_version="1.1.0")
    latest = check_ok(client, new_version="latest")
    first = check_ok(client, new_version="v1.0.0")

    assert answer["checked_against"] == ["1.0.0"]
    assert [(v["rule"], v["against"]) for v in answer["violations"]] == [
        ("FIELD_NO_DELETE", "1.0.0")
    ]
    assert latest == {**latest, "compatible": True, "checked_against": ["1.1.0"]}
    assert first == {**first, "compatible": True, "checked_against": []}


def test_old_version_is_the_only_one_checked_whatever_the_mode(client: SpokeClient) -> None:
    history(
        client,
        ("1.0.0", thing(ID)),
        ("1.1.0", thing(ID, NAME)),
        ("1.2.0", thing(ID, NAME, "int32 n = 3")),
    )

    backward = check_ok(client, new_version="1.0.0", old_version="1.2.0")
    transitive = check_ok(
        client, new_version="1.0.0", old_version="1.2.0", mode="BACKWARD_TRANSITIVE"
    )
    forward = check_ok(client, new_version="1.1.0", old_version="1.0.0", mode="FORWARD")
    none = check_ok(client, new_version="1.0.0", old_version="1.2.0", mode="NONE")

    # 1.0.0 lacks both fields 1.2.0 has.
    assert backward["checked_against"] == ["1.2.0"]
    assert sorted(v["location"] for v in backward["violations"]) == [
        f"{THING_PATH}:Thing.n",
        f"{THING_PATH}:Thing.name",
    ]
    assert transitive["checked_against"] == ["1.2.0"]
    assert transitive["violations"] == backward["violations"]
    # FORWARD swaps the sides: 1.1.0 added `name`, which readers of 1.0.0 lose.
    assert forward["checked_against"] == ["1.0.0"]
    assert [v["rule"] for v in forward["violations"]] == ["FIELD_NO_DELETE"]
    assert none == {**none, "compatible": True, "checked_against": [], "mode": "NONE"}


def test_old_version_with_candidate_files(client: SpokeClient) -> None:
    history(client, ("1.0.0", thing(ID)), ("1.1.0", thing(ID, NAME)))
    answer = check_ok(client, files=file_list(thing(ID)), old_version="1.0.0")
    assert (answer["compatible"], answer["checked_against"]) == (True, ["1.0.0"])


def test_mode_and_rules_default_to_the_module_policy_and_can_be_overridden(
    client: SpokeClient,
) -> None:
    create_module(client, "acme", compatibility={"mode": "FORWARD", "rules": "WIRE_JSON"})
    assert push(client, "acme", "1.0.0", thing(ID)).status_code == 201
    renamed = file_list(thing("string key = 1"))

    default = check_ok(client, files=renamed)
    wire = check_ok(client, files=renamed, mode="BACKWARD", rules="WIRE")
    file = check_ok(client, files=renamed, rules="FILE")
    null = check_ok(client, files=renamed, mode=None, rules=None, old_version=None)

    assert (default["mode"], default["rules"], default["compatible"]) == (
        "FORWARD",
        "WIRE_JSON",
        False,  # a renamed field changes the JSON name
    )
    assert (wire["mode"], wire["rules"], wire["compatible"]) == ("BACKWARD", "WIRE", True)
    assert (file["mode"], file["rules"], file["compatible"]) == ("FORWARD", "FILE", False)
    assert null == default


def test_the_answer_is_not_cached(client: SpokeClient) -> None:
    history(client, ("1.0.0", thing(ID)))
    result = check(client, new_version="1.0.0")
    assert result.headers["cache-control"] == "no-cache"
    assert "etag" not in result.headers


# GET .../versions/{version}/compatibility --------------------------------------------------


def test_get_checks_a_stored_version_against_the_previous_one(client: SpokeClient) -> None:
    history(client, ("1.0.0", thing(ID, NAME)), ("1.1.0", thing(ID)))

    result = stored_check(client, "1.1.0")

    assert result.status_code == 200, result.text
    assert result.json["checked_against"] == ["1.0.0"]
    assert [v["rule"] for v in result.json["violations"]] == ["FIELD_NO_DELETE"]
    # The policy can change, and so can the answer: never immutable.
    assert result.headers["cache-control"] == "no-cache" and "etag" not in result.headers
    set_policy(client, "acme", "NONE")
    assert stored_check(client, "1.1.0").json["compatible"] is True


def test_get_takes_mode_and_rules_from_the_query(client: SpokeClient) -> None:
    history(
        client,
        ("1.0.0", thing(ID, NAME)),
        ("1.1.0", thing(ID, "reserved 2")),
        ("1.2.0", thing(ID, "int64 name = 2")),
    )

    previous = stored_check(client, "latest")
    transitive = stored_check(client, "1.2.0", mode="BACKWARD_TRANSITIVE", rules="WIRE")
    forward = stored_check(client, "1.1.0", mode="FORWARD", rules="WIRE")

    assert previous.json["checked_against"] == ["1.1.0"]
    assert transitive.json["checked_against"] == ["1.1.0", "1.0.0"]
    assert {(v["rule"], v["against"]) for v in transitive.json["violations"]} >= {
        ("FIELD_WIRE_COMPATIBLE_TYPE", "1.0.0")
    }
    assert (forward.json["mode"], forward.json["rules"]) == ("FORWARD", "WIRE")


def test_get_follows_semver_not_push_order(client: SpokeClient) -> None:
    history(client, ("2.0.0", thing(ID, NAME)), ("1.0.0", thing(ID)), ("1.5.0", thing(ID)))
    assert stored_check(client, "2.0.0").json["checked_against"] == ["1.5.0"]
    assert stored_check(client, "1.5.0").json["checked_against"] == ["1.0.0"]
    assert stored_check(client, "1.0.0").json["checked_against"] == []


@pytest.mark.parametrize("query", ["mode=", "rules=", "mode=&rules=", "mode=FULL&rules="])
def test_get_with_an_empty_mode_or_rules_is_400(client: SpokeClient, query: str) -> None:
    """Empty is refused, not read as absent: ``?mode=$MODE`` with MODE unset is a slip that
    must not quietly check under the module's policy instead."""
    history(client, ("1.0.0", thing(ID)))
    result = client.simulate_get(
        f"{API}/modules/acme/versions/1.0.0/compatibility", query_string=query
    )
    body = assert_error(result, 400, "invalid_request")
    assert body["details"]["parameter"] in query


def test_get_without_mode_and_rules_uses_the_policy(client: SpokeClient) -> None:
    history(client, ("1.0.0", thing(ID)))
    result = client.simulate_get(f"{API}/modules/acme/versions/1.0.0/compatibility")
    assert (result.json["mode"], result.json["rules"]) == ("BACKWARD", "FILE")


def test_checks_from_the_endpoints_are_counted(client: SpokeClient, health: SpokeClient) -> None:
    history(client, ("1.0.0", thing(ID, NAME)), ("1.1.0", thing(ID)))
    stored_check(client, "1.1.0")
    check_ok(client, new_version="1.1.0", mode="FULL")
    check_ok(client, files=file_list(thing(ID, NAME)), mode="FULL")
    counted = 'spoke_compatibility_checks_total{{mode="{}",result="{}"}}'
    assert metric_value(health, counted.format("BACKWARD", "incompatible")) == 1
    assert metric_value(health, counted.format("FULL", "incompatible")) == 2


# Refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "SIDEWAYS"},
        {"mode": "backward"},
        {"mode": 3},
        {"rules": "LOOSE"},
        {"rules": ["FILE"]},
    ],
)
def test_an_unknown_mode_or_rule_category_is_422(client: SpokeClient, body: dict[str, Any]) -> None:
    history(client, ("1.0.0", thing(ID)))
    assert_error(check(client, new_version="1.0.0", **body), 422, "invalid_compatibility")
    assert_error(check(client, files=file_list(thing(ID)), **body), 422, "invalid_compatibility")


@pytest.mark.parametrize("query", ["mode=SIDEWAYS", "rules=LOOSE", "mode=NONE&rules=wire"])
def test_get_with_an_unknown_mode_or_rule_category_is_422(client: SpokeClient, query: str) -> None:
    history(client, ("1.0.0", thing(ID)))
    url = f"{API}/modules/acme/versions/1.0.0/compatibility"
    assert_error(client.simulate_get(url, query_string=query), 422, "invalid_compatibility")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"old_version": "1.0.0"},
        {"new_version": "1.0.0", "files": file_list(thing(ID))},
        {"new_version": None, "files": None},
    ],
    ids=["empty", "only-old", "both", "both-null"],
)
def test_exactly_one_of_new_version_and_files_is_required(
    client: SpokeClient, body: dict[str, Any]
) -> None:
    history(client, ("1.0.0", thing(ID)))
    answer = assert_error(check(client, **body), 400, "invalid_request")
    assert "'new_version'" in answer["error"] and "'files'" in answer["error"]


@pytest.mark.parametrize(
    "body",
    [
        {"new_version": 1},
        {"new_version": ["1.0.0"]},
        {"new_version": "1.0.0", "old_version": {"v": 1}},
        {"new_version": "1.0.0", "dependencies": ["common@1.0.0"]},
        {"new_version": "1.0.0", "extra": True},
        {"files": "syntax = 'proto3';"},
        {"files": []},
        {"files": [{"path": "a.proto"}]},
        {"files": [{"path": "a.proto", "content": 5}]},
        {"files": [{"path": "a.proto", "content": "\u0000"}]},
        {"files": file_list(thing(ID)), "dependencies": "common@1.0.0"},
    ],
)
def test_wrong_types_and_shapes_are_400(client: SpokeClient, body: dict[str, Any]) -> None:
    history(client, ("1.0.0", thing(ID)))
    assert_error(check(client, **body), 400, "invalid_request")


@pytest.mark.parametrize("raw", ["[]", '"files"', "null", "{", '{"new_version": "1.0.0"'])
def test_a_body_that_is_not_a_json_object_is_400(client: SpokeClient, raw: str) -> None:
    history(client, ("1.0.0", thing(ID)))
    assert_error(post_raw(client, CHECK, raw), 400, "invalid_request")


def test_a_body_that_is_not_json_is_415(client: SpokeClient) -> None:
    history(client, ("1.0.0", thing(ID)))
    assert_error(post_raw(client, CHECK, "x", content_type="text/plain"), 415)


def test_an_oversized_body_is_413() -> None:
    application = make_app({"SPOKE_MAX_BODY_BYTES": "1KiB"})
    try:
        client = SpokeClient(application.api)
        create_module(client, "acme")
        big = file_list({THING_PATH: "//" + "x" * 2000})
        body = assert_error(check(client, files=big), 413, "payload_too_large")
        assert body["details"] == {"max_bytes": 1024}
    finally:
        application.close()


@pytest.mark.parametrize(
    "path",
    [
        "../acme/v1/api.proto",
        "/etc/api.proto",
        "acme/./api.proto",
        "acme\\api.proto",
        "acme//api.proto",
        "acme/v1/api.txt",
        "acme/v1/\u0000.proto",
        "google/protobuf/timestamp.proto",
    ],
)
def test_hostile_paths_in_candidate_files_are_refused(client: SpokeClient, path: str) -> None:
    history(client, ("1.0.0", thing(ID)))
    result = check(client, files=[{"path": path, "content": thing(ID)[THING_PATH]}])
    assert_error(result, 422, "invalid_path")


@pytest.mark.parametrize(
    ("url", "body", "code"),
    [
        (f"{API}/modules/ghost/compatibility", {"new_version": "1.0.0"}, "module_not_found"),
        (f"{API}/modules/ghost/compatibility", {"files": file_list(thing(ID))}, "module_not_found"),
        (CHECK, {"new_version": "9.9.9"}, "version_not_found"),
        (CHECK, {"new_version": "1.0.0", "old_version": "0.9.0"}, "version_not_found"),
        (CHECK, {"files": file_list(thing(ID)), "old_version": "0.9.0"}, "version_not_found"),
    ],
)
def test_unknown_modules_and_versions_are_404(
    client: SpokeClient, url: str, body: dict[str, Any], code: str
) -> None:
    history(client, ("1.0.0", thing(ID)))
    assert_error(client.simulate_post(url, json=body), 404, code)


def test_latest_of_a_module_without_versions_is_404(client: SpokeClient) -> None:
    create_module(client, "acme")
    assert_error(check(client, new_version="latest"), 404, "version_not_found")
    assert_error(stored_check(client, "latest"), 404, "version_not_found")


@pytest.mark.parametrize("version", ["1.0", "one", "1.0.0.0", "x" * 200])
def test_a_malformed_version_is_422(client: SpokeClient, version: str) -> None:
    history(client, ("1.0.0", thing(ID)))
    assert_error(check(client, new_version=version), 422, "invalid_version")
    assert_error(check(client, new_version="1.0.0", old_version=version), 422, "invalid_version")


def test_get_of_unknown_modules_and_versions_is_404(client: SpokeClient) -> None:
    history(client, ("1.0.0", thing(ID)))
    unknown = client.simulate_get(f"{API}/modules/ghost/versions/1.0.0/compatibility")
    assert_error(unknown, 404, "module_not_found")
    assert_error(stored_check(client, "2.0.0"), 404, "version_not_found")
    assert_error(stored_check(client, "2.0"), 422, "invalid_version")
