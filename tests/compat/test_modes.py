"""Modes on top of categories: which earlier versions a candidate is checked against, in which
direction, and how violations are labelled."""

from __future__ import annotations

import pytest

from spoke.compat import CATEGORIES, MODES, Comparison, Schema, compare, versions_to_check
from spoke.domain import COMPATIBILITY_MODES, COMPATIBILITY_RULES
from spoke.protobuf import compile_files

F = "a/v1/a.proto"
H = 'syntax = "proto3";\npackage a.v1;\n'


def _schema(label: str, body: str) -> Schema:
    files = {F: H + body}
    return Schema(label, compile_files(files=files).descriptor_set, frozenset(files))


V1 = _schema("1.0.0", "message M { int32 x = 1; }\n")
V2 = _schema("1.1.0", "message M {}\n")  # x deleted while the policy was NONE
V3_READDS = _schema("1.2.0", "message M { string x = 1; }\n")
WITH_FIELD = _schema("2.0.0", "message M { int32 x = 1; int32 y = 2; }\n")


def _rules(result: Comparison) -> set[tuple[str, str | None]]:
    return {(v.rule, v.against) for v in result.violations}


def test_modes_list_matches_the_api() -> None:
    assert MODES == (
        "NONE",
        "BACKWARD",
        "FORWARD",
        "FULL",
        "BACKWARD_TRANSITIVE",
        "FORWARD_TRANSITIVE",
        "FULL_TRANSITIVE",
    )


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("NONE", []),
        ("BACKWARD", ["1.1.0"]),
        ("FORWARD", ["1.1.0"]),
        ("FULL", ["1.1.0"]),
        ("BACKWARD_TRANSITIVE", ["1.0.0", "1.1.0"]),
        ("FULL_TRANSITIVE", ["1.0.0", "1.1.0"]),
    ],
)
def test_versions_to_check(mode: str, expected: list[str]) -> None:
    assert [s.label for s in versions_to_check(mode, [V1, V2])] == expected


def test_no_earlier_versions_is_compatible() -> None:
    result = compare(V1, [], mode="FULL_TRANSITIVE")
    assert result.compatible and result.checked_against == ()


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown compatibility mode"):
        compare(V1, [V1], mode="SIDEWAYS")


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown rule category"):
        compare(V2, [V1], rules="BINARY")


def test_backward_flags_a_deleted_field() -> None:
    result = compare(V2, [V1], mode="BACKWARD")
    assert not result.compatible
    assert _rules(result) == {("FIELD_NO_DELETE", "1.0.0")}
    assert result.to_dict()["checked_against"] == ["1.0.0"]
    (violation,) = result.violations
    assert violation.file == F and violation.location == f"{F}:M.x"


def test_forward_flags_an_added_field_backward_does_not() -> None:
    assert compare(WITH_FIELD, [V1], mode="BACKWARD").compatible
    forward = compare(WITH_FIELD, [V1], mode="FORWARD")
    assert _rules(forward) == {("FIELD_NO_DELETE", "1.0.0")}
    # Seen from the old side, the new field y is a deletion located in the old version.
    assert forward.violations[0].location == f"{F}:M.y"


def test_full_is_both_directions() -> None:
    narrowed = _schema("3.0.0", "message M { int32 y = 2; }\n")
    full = compare(narrowed, [V1], mode="FULL")
    assert {v.location for v in full.violations} == {f"{F}:M.x", f"{F}:M.y"}


def test_transitive_catches_what_the_latest_alone_misses() -> None:
    # Against 1.1.0 alone (x gone), a string x = 1 is a new field: compatible.
    assert compare(V3_READDS, [V1, V2], mode="BACKWARD").compatible
    result = compare(V3_READDS, [V1, V2], mode="BACKWARD_TRANSITIVE")
    assert _rules(result) == {("FIELD_SAME_TYPE", "1.0.0")}
    assert result.checked_against == ("1.1.0", "1.0.0")


def test_category_changes_the_verdict() -> None:
    renamed = _schema("1.0.1", "message M { int32 renamed = 1; }\n")
    assert {rule for rule, _ in _rules(compare(renamed, [V1], rules="FILE"))} == {
        "FIELD_SAME_NAME",
        "FIELD_SAME_JSON_NAME",
    }
    assert compare(renamed, [V1], rules="WIRE").compatible
    widened = _schema("1.0.2", "message M { int64 x = 1; }\n")
    assert not compare(widened, [V1], rules="WIRE_JSON").compatible
    assert compare(widened, [V1], rules="WIRE").compatible


def test_full_reports_each_violation_once() -> None:
    retyped = _schema("1.0.3", "message M { string x = 1; }\n")
    result = compare(retyped, [V1], mode="FULL")
    rules = [v.rule for v in result.violations]
    assert rules.count("FIELD_SAME_TYPE") == 2  # one per direction: different messages
    assert len(set(result.violations)) == len(result.violations)


def test_csr_flags_a_deleted_message_that_wire_json_allows() -> None:
    two = _schema("1.0.0", "message M { int32 x = 1; }\nmessage N {}\n")
    one = _schema("1.1.0", "message M { int32 x = 1; }\n")
    assert compare(one, [two], rules="WIRE_JSON").compatible
    assert _rules(compare(one, [two], rules="CSR")) == {("MESSAGE_NO_DELETE", "1.0.0")}


def test_categories_are_the_policy_values() -> None:
    """The rule categories the checker knows are exactly those a module policy accepts."""
    assert CATEGORIES == COMPATIBILITY_RULES
    assert MODES == COMPATIBILITY_MODES
