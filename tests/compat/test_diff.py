"""The diff engine on real compiled protos: what it lists, where, and how severe."""

from __future__ import annotations

import dataclasses

import pytest

from spoke.compat import Schema, check, compare
from spoke.compat.categories import ALL_RULES
from spoke.compat.diff import Change, diff, find_changes
from spoke.compat.diff_rules import CHANGE_TYPES, OPTION_RULES, RULES_BY_CHANGE
from spoke.protobuf import compile_files

from .cases import CASES as CHECKER_CASES
from .cases_categories import CASES as CATEGORY_CASES
from .mutations import random_pairs

F = "a/v1/a.proto"
H = 'syntax = "proto3";\npackage a.v1;\n'
P2 = 'syntax = "proto2";\npackage a.v1;\n'
ED = 'edition = "2023";\npackage a.v1;\n'
DESC = 'import "google/protobuf/descriptor.proto";\n'

Files = dict[str, str]
Row = tuple[str, str, str | None, str | None]


def _files(src: str | Files) -> Files:
    return {F: src} if isinstance(src, str) else src


def schema(src: str | Files, label: str = "v", deps: Files | None = None) -> Schema:
    files = _files(src)
    result = compile_files(files=files, include_files=deps)
    return Schema(label, result.descriptor_set, frozenset(files))


def rows(old: str | Files, new: str | Files) -> list[Row]:
    return [
        (c.type, c.location, c.old_value, c.new_value)
        for c in diff(schema(old, "1"), schema(new, "2"))
    ]


M = "message M { int32 x = 1; }\n"
SVC = "message Req {}\nmessage Resp {}\n"
EXT = P2 + "message Base { extensions 100 to 199; }\n"

# (id, old, new, the complete diff as (type, location, old_value, new_value)).
CASES: list[tuple[str, str | Files, str | Files, list[Row]]] = [
    ("file_added", {F: H}, {F: H, "a/v1/b.proto": H + M}, [("file_added", "a/v1/b.proto", None, "a/v1/b.proto")]),
    ("file_removed", {F: H, "a/v1/b.proto": H + M}, {F: H}, [("file_removed", "a/v1/b.proto", "a/v1/b.proto", None)]),
    ("file_package_changed", H + M, 'syntax = "proto3";\npackage a.v2;\n' + M, [("file_package_changed", F, "a.v1", "a.v2")]),
    ("file_syntax_changed", P2 + "message M { optional int32 x = 1; }\n", H + "message M { optional int32 x = 1; }\n", [("file_syntax_changed", F, "proto2", "proto3")]),
    ("file_syntax_editions", H + M, ED + "message M { int32 x = 1 [features.field_presence = IMPLICIT]; }\n", [("file_syntax_changed", F, "proto3", "editions 2023")]),
    ("file_option_changed", H + 'option go_package = "x/a";\n', H + 'option go_package = "x/b";\noption java_multiple_files = true;\n', [("file_option_changed", F, None, "java_multiple_files=true"), ("file_option_changed", F, 'go_package="x/a"', 'go_package="x/b"')]),
    ("file_option_default_is_no_change", H, H + "option cc_enable_arenas = true;\n", []),
    ("message_added", H + M, H + M + "message N { int32 y = 1; }\n", [("message_added", f"{F}:N", None, "a.v1.N")]),
    ("message_removed", H + M + "message N { int32 y = 1; }\n", H + M, [("message_removed", f"{F}:N", "a.v1.N", None)]),
    ("message_moved", {F: H + M, "a/v1/b.proto": H}, {F: H, "a/v1/b.proto": H + "message M { int64 x = 1; }\n"}, [("message_moved", "a/v1/b.proto:M", F, "a/v1/b.proto"), ("field_type_changed", "a/v1/b.proto:M.x", "int32", "int64")]),
    ("message_option_changed", H + M, H + "message M { option deprecated = true; int32 x = 1; }\n", [("message_option_changed", f"{F}:M", None, "deprecated=true")]),
    ("nested_message_added", H + M, H + "message M { int32 x = 1; message In { message Deep { int32 d = 1; } int32 i = 1; } }\n", [("message_added", f"{F}:M.In", None, "a.v1.M.In")]),
    ("nested_message_removed", H + "message M { int32 x = 1; message In { message Deep {} } }\n", H + M, [("message_removed", f"{F}:M.In", "a.v1.M.In", None)]),
    ("nested_field_changed", H + "message M { message In { int32 i = 1; } }\n", H + "message M { message In { uint32 i = 1; } }\n", [("field_type_changed", f"{F}:M.In.i", "int32", "uint32")]),
    ("field_added", H + M, H + "message M { int32 x = 1; repeated string tags = 2; }\n", [("field_added", f"{F}:M.tags", None, "repeated string tags = 2")]),
    ("field_removed", H + "message M { int32 x = 1; optional string y = 2; }\n", H + M, [("field_removed", f"{F}:M.y", "optional string y = 2", None)]),
    ("field_renamed", H + "message M { int32 old_name = 1; }\n", H + "message M { int32 new_name = 1; }\n", [("field_renamed", f"{F}:M.new_name", "old_name", "new_name")]),
    ("field_renamed_and_retyped", H + "message M { int32 a = 1; }\n", H + "message M { int64 b = 1; }\n", [("field_renamed", f"{F}:M.b", "a", "b"), ("field_type_changed", f"{F}:M.b", "int32", "int64")]),
    ("field_type_to_message", H + M + "message N { int32 x = 1; }\n", H + "message M { N x = 1; }\nmessage N { M x = 1; }\n", [("field_cardinality_changed", f"{F}:M.x", "optional with implicit presence", "optional with explicit presence"), ("field_type_changed", f"{F}:M.x", "int32", "a.v1.N"), ("field_cardinality_changed", f"{F}:N.x", "optional with implicit presence", "optional with explicit presence"), ("field_type_changed", f"{F}:N.x", "int32", "a.v1.M")]),
    ("field_cardinality_optional", H + M, H + "message M { optional int32 x = 1; }\n", [("field_cardinality_changed", f"{F}:M.x", "optional with implicit presence", "optional with explicit presence") ]),
    ("field_cardinality_repeated", H + M, H + "message M { repeated int32 x = 1; }\n", [("field_cardinality_changed", f"{F}:M.x", "optional with implicit presence", "repeated")]),
    ("field_cardinality_required", P2 + "message M { optional int32 x = 1; }\n", P2 + "message M { required int32 x = 1; }\n", [("field_cardinality_changed", f"{F}:M.x", "optional with explicit presence", "required")]),
    ("field_json_name_changed", H + M, H + 'message M { int32 x = 1 [json_name = "ex"]; }\n', [("field_json_name_changed", f"{F}:M.x", "x", "ex")]),
    ("field_oneof_changed", H + "message M { oneof a { int32 x = 1; } oneof b { int32 y = 2; } }\n", H + "message M { oneof a { int32 y = 2; } oneof b { int32 x = 1; } }\n", [("field_oneof_changed", f"{F}:M.x", "a", "b"), ("field_oneof_changed", f"{F}:M.y", "b", "a")]),
    ("field_default_changed", P2 + "message M { optional int32 x = 1 [default = 5]; optional string s = 2; }\n", P2 + 'message M { optional int32 x = 1 [default = 6]; optional string s = 2 [default = "hi"]; }\n', [("field_default_changed", f"{F}:M.s", None, '"hi"'), ("field_default_changed", f"{F}:M.x", "5", "6")]),
    ("field_option_changed", P2 + "message M { optional int64 x = 1; repeated int32 p = 2; }\n", P2 + "message M { optional int64 x = 1 [jstype = JS_STRING, deprecated = true]; repeated int32 p = 2 [packed = true]; }\n", [("field_option_changed", f"{F}:M.p", None, "packed=true"), ("field_option_changed", f"{F}:M.x", None, "deprecated=true"), ("field_option_changed", f"{F}:M.x", None, "jstype=JS_STRING")]),
    ("field_option_custom", H + DESC + "extend google.protobuf.FieldOptions { string tag = 50001; }\n" + M, H + DESC + "extend google.protobuf.FieldOptions { string tag = 50001; }\n" + 'message M { int32 x = 1 [(tag) = "pii"]; }\n', [("field_option_changed", f"{F}:M.x", None, '(a.v1.tag)="pii"')]),
    ("oneof_added", H + M, H + "message M { oneof choice { int32 x = 1; } }\n", [("oneof_added", f"{F}:M.choice", None, "choice"), ("field_cardinality_changed", f"{F}:M.x", "optional with implicit presence", "optional with explicit presence"), ("field_oneof_changed", f"{F}:M.x", None, "choice")]),
    ("oneof_removed", H + "message M { oneof choice { string s = 2; } int32 x = 1; }\n", H + "message M { int32 x = 1; }\n", [("oneof_removed", f"{F}:M.choice", "choice", None), ("field_removed", f"{F}:M.s", "string s = 2", None)]),
    ("oneof_option_changed", H + DESC + "extend google.protobuf.OneofOptions { bool exclusive = 50002; }\n" + "message M { oneof c { int32 x = 1; } }\n", H + DESC + "extend google.protobuf.OneofOptions { bool exclusive = 50002; }\n" + "message M { oneof c { option (exclusive) = true; int32 x = 1; } }\n", [("oneof_option_changed", f"{F}:M.c", None, "(a.v1.exclusive)=true")]),
    ("reserved_message", H + 'message M { reserved 5 to 9, 20; reserved "a"; }\n', H + 'message M { reserved 5 to 6, 7 to 8, 30 to max; reserved "b"; }\n', [("reserved_added", f"{F}:M", None, '"b"'), ("reserved_added", f"{F}:M", None, "30 to max"), ("reserved_removed", f"{F}:M", '"a"', None), ("reserved_removed", f"{F}:M", "20", None), ("reserved_removed", f"{F}:M", "9", None)]),
    ("reserved_enum", H + "enum E { E0 = 0; reserved 3 to 5; }\n", H + 'enum E { E0 = 0; reserved 3 to 5, 9 to max; reserved "OLD"; }\n', [("reserved_added", f"{F}:E", None, '"OLD"'), ("reserved_added", f"{F}:E", None, "9 to max")]),
    ("extension_ranges", EXT, P2 + "message Base { extensions 100 to 149, 500; }\n", [("extension_range_added", f"{F}:Base", None, "500"), ("extension_range_removed", f"{F}:Base", "150 to 199", None)]),
    ("enum_added", H + M, H + M + "message N { enum Kind { K0 = 0; } }\n", [("message_added", f"{F}:N", None, "a.v1.N")]),
    ("enum_added_nested", H + M, H + "message M { int32 x = 1; enum Kind { K0 = 0; } }\n", [("enum_added", f"{F}:M.Kind", None, "a.v1.M.Kind")]),
    ("enum_removed", H + "enum E { E0 = 0; }\n", H, [("enum_removed", f"{F}:E", "a.v1.E", None)]),
    ("enum_moved", {F: H + "enum E { E0 = 0; }\n", "a/v1/b.proto": H}, {F: H, "a/v1/b.proto": H + "enum E { E0 = 0; }\n"}, [("enum_moved", "a/v1/b.proto:E", F, "a/v1/b.proto")]),
    ("enum_option_changed", H + "enum E { E0 = 0; E1 = 1; }\n", H + "enum E { option allow_alias = true; E0 = 0; E1 = 1; ALSO_ONE = 1; }\n", [("enum_option_changed", f"{F}:E", None, "allow_alias=true"), ("enum_value_renamed", f"{F}:E.E1", "E1", "E1, ALSO_ONE")]),
    ("enum_value_added", H + "message M { enum E { E0 = 0; } }\n", H + "message M { enum E { E0 = 0; E1 = 1; } }\n", [("enum_value_added", f"{F}:M.E.E1", None, "E1 = 1")]),
    ("enum_value_removed", H + "enum E { E0 = 0; E1 = 1; }\n", H + "enum E { E0 = 0; }\n", [("enum_value_removed", f"{F}:E.E1", "E1 = 1", None)]),
    ("enum_value_renamed", H + "enum E { E0 = 0; E1 = 1; }\n", H + "enum E { E0 = 0; ONE = 1; }\n", [("enum_value_renamed", f"{F}:E.ONE", "E1", "ONE")]),
    ("enum_value_option_changed", H + "enum E { E0 = 0; E1 = 1; }\n", H + "enum E { E0 = 0; E1 = 1 [deprecated = true]; }\n", [("enum_value_option_changed", f"{F}:E.E1", None, "deprecated=true")]),
    ("service_added", H + SVC, H + SVC + "service S { rpc Get(Req) returns (Resp); }\n", [("service_added", f"{F}:S", None, "a.v1.S")]),
    ("service_removed", H + SVC + "service S { rpc Get(Req) returns (Resp); }\n", H + SVC, [("service_removed", f"{F}:S", "a.v1.S", None)]),
    ("service_moved", {F: H + SVC + "service S {}\n", "a/v1/b.proto": H}, {F: H + SVC, "a/v1/b.proto": H + "service S {}\n"}, [("service_moved", "a/v1/b.proto:S", F, "a/v1/b.proto")]),
    ("service_option_changed", H + "service S {}\n", H + "service S { option deprecated = true; }\n", [("service_option_changed", f"{F}:S", None, "deprecated=true")]),
    ("rpc_added", H + SVC + "service S {}\n", H + SVC + "service S { rpc Get(Req) returns (stream Resp); }\n", [("rpc_added", f"{F}:S.Get", None, "Get(a.v1.Req) returns (stream a.v1.Resp)")]),
    ("rpc_removed", H + SVC + "service S { rpc Get(Req) returns (Resp); }\n", H + SVC + "service S {}\n", [("rpc_removed", f"{F}:S.Get", "Get(a.v1.Req) returns (a.v1.Resp)", None)]),
    ("rpc_types_changed", H + SVC + "service S { rpc Get(Req) returns (Resp); }\n", H + SVC + "service S { rpc Get(Resp) returns (Req); }\n", [("rpc_request_type_changed", f"{F}:S.Get", "a.v1.Req", "a.v1.Resp"), ("rpc_response_type_changed", f"{F}:S.Get", "a.v1.Resp", "a.v1.Req")]),
    ("rpc_streaming_changed", H + SVC + "service S { rpc Get(Req) returns (stream Resp); }\n", H + SVC + "service S { rpc Get(stream Req) returns (stream Resp); }\n", [("rpc_streaming_changed", f"{F}:S.Get", "server streaming", "bidirectional streaming")]),
    ("rpc_idempotency_and_option", H + SVC + "service S { rpc Get(Req) returns (Resp); }\n", H + SVC + "service S { rpc Get(Req) returns (Resp) { option idempotency_level = NO_SIDE_EFFECTS; option deprecated = true; } }\n", [("rpc_idempotency_changed", f"{F}:S.Get", "IDEMPOTENCY_UNKNOWN", "NO_SIDE_EFFECTS"), ("rpc_option_changed", f"{F}:S.Get", None, "deprecated=true")]),
    ("extension_added", EXT, EXT + "extend Base { optional int32 ext = 100; }\nmessage Scope { extend Base { repeated string tags = 101; } }\n", [("message_added", f"{F}:Scope", None, "a.v1.Scope"), ("extension_added", f"{F}:ext", None, "int32 ext = 100 (extends a.v1.Base)")]),
    ("extension_removed_nested", EXT + "message Scope { extend Base { repeated string tags = 101; } }\n", EXT + "message Scope {}\n", [("extension_removed", f"{F}:Scope.tags", "repeated string tags = 101 (extends a.v1.Base)", None) ]),
    ("extension_moved", { F: EXT + "extend Base { optional int32 ext = 100; }\n", "a/v1/b.proto": P2 + 'import "a/v1/a.proto";\n', }, { F: EXT, "a/v1/b.proto": P2 + 'import "a/v1/a.proto";\nextend Base { optional int32 ext = 100; }\n', }, [("extension_moved", "a/v1/b.proto:ext", F, "a/v1/b.proto")]),
    ("extension_number_and_type", EXT + "extend Base { optional int32 ext = 100; }\n", EXT + "extend Base { optional sint32 ext = 101; }\n", [("extension_number_changed", f"{F}:ext", "100", "101"), ("field_type_changed", f"{F}:ext", "int32", "sint32")]),
    ("extension_extendee_changed", EXT + "message Other { extensions 100 to 199; }\nextend Base { optional int32 ext = 100; }\n", EXT + "message Other { extensions 100 to 199; }\nextend Other { optional int32 ext = 100; }\n", [("extension_extendee_changed", f"{F}:ext", "a.v1.Base", "a.v1.Other")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_change_types_with_locations_and_values(
    old: str | Files, new: str | Files, expected: list[Row]
) -> None:
    assert rows(old, new) == expected


def test_every_change_type_is_exercised_above() -> None:
    seen = {row[0] for case in CASES for row in case[3]}
    assert seen == set(CHANGE_TYPES)


def test_rule_tables_name_only_buf_rules() -> None:
    named = {rule for rules in RULES_BY_CHANGE.values() for rule in rules}
    named |= {rule for pairs in OPTION_RULES.values() for rule, _ in pairs}
    assert named <= ALL_RULES


def test_no_change_is_empty() -> None:
    src = {
        F: H + DESC + "extend google.protobuf.FieldOptions { string tag = 50001; }\n"
        'message M { int32 x = 1 [(tag) = "t"]; map<string, M> m = 2; oneof o { string s = 3; } '
        "optional int32 p = 4; reserved 9; enum E { E0 = 0; } }\n"
        "service S { rpc Get(M) returns (stream M); }\n",
        "a/v1/e.proto": ED
        + "option features.field_presence = IMPLICIT;\nmessage N { int32 n = 1; }\n",
    }
    assert rows(src, src) == []


def test_descriptions_say_what_changed_from_what_to_what() -> None:
    old, new = (
        schema(H + "message M { int32 a = 1; }\n"),
        schema(H + "message M { int64 b = 1; }\n"),
    )
    assert [c.description for c in diff(old, new)] == [
        'Field 1 of message "M" was renamed from "a" to "b" (JSON name "a" to "b").',
        'Field 1 "b" of message "M" changed type from "int32" to "int64".',
    ]


def test_change_is_frozen_and_serializes_every_key() -> None:
    (change,) = diff(schema(H + M), schema(H + "message M { int64 x = 1; }\n"))
    assert isinstance(change, Change)
    assert change.to_dict() == {
        "type": "field_type_changed",
        "severity": "non_breaking",
        "location": f"{F}:M.x",
        "old_value": "int32",
        "new_value": "int64",
        "description": 'Field 1 "x" of message "M" changed type from "int32" to "int64".',
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.type = "x"  # type: ignore[misc]


def test_map_field_is_one_field_with_a_map_type() -> None:
    base = H + M
    assert rows(base, H + "message M { int32 x = 1; map<string, int32> counts = 2; }\n") == [
        ("field_added", f"{F}:M.counts", None, "map<string, int32> counts = 2")
    ]
    assert rows(
        H + "message M { map<string, int32> counts = 2; }\n",
        H + "message M { map<string, M> counts = 2; }\n",
    ) == [("field_type_changed", f"{F}:M.counts", "map<string, int32>", "map<string, a.v1.M>")]
    assert rows(H + "message M { map<string, int32> counts = 2; }\n", H + "message M { }\n") == [
        ("field_removed", f"{F}:M.counts", "map<string, int32> counts = 2", None)
    ]


def test_proto3_optional_is_presence_not_a_oneof() -> None:
    assert rows(H + M, H + "message M { optional int32 x = 1; }\n") == [
        (
            "field_cardinality_changed",
            f"{F}:M.x",
            "optional with implicit presence",
            "optional with explicit presence",
        )
    ]


def test_proto2_group_and_required() -> None:
    assert rows(
        P2 + "message M { optional int32 x = 1; }\n",
        P2
        + "message M { optional int32 x = 1; required string r = 3; optional group G = 2 { optional int32 g = 1; } }\n",
    ) == [
        ("message_added", f"{F}:M.G", None, "a.v1.M.G"),
        ("field_added", f"{F}:M.g", None, "group a.v1.M.G g = 2"),
        ("field_added", f"{F}:M.r", None, "required string r = 3"),
    ]


def test_editions_features_show_as_cardinality_type_and_options() -> None:
    old = ED + "message M { int32 a = 1; N n = 2; }\nmessage N {}\nenum E { E0 = 0; }\n"
    new = (
        ED + "option features.field_presence = IMPLICIT;\n"
        "message M { int32 a = 1; N n = 2 [features.message_encoding = DELIMITED]; }\n"
        "message N {}\nenum E { option features.enum_type = CLOSED; E0 = 0; }\n"
    )
    assert rows(old, new) == [
        ("file_option_changed", F, None, "features.field_presence=IMPLICIT"),
        ("enum_option_changed", f"{F}:E", None, "features.enum_type=CLOSED"),
        (
            "field_cardinality_changed",
            f"{F}:M.a",
            "optional with explicit presence",
            "optional with implicit presence",
        ),
        ("field_type_changed", f"{F}:M.n", "a.v1.N", "a.v1.N (delimited)"),
    ]
    (change,) = diff(
        schema(ED + M),
        schema(ED + "message M { int32 x = 1 [features.field_presence = LEGACY_REQUIRED]; }\n"),
    )
    assert (change.type, change.new_value) == ("field_cardinality_changed", "required")


def test_imports_are_not_compared() -> None:
    target = {"a/v1/a.proto": H + 'import "dep/d.proto";\nmessage A { d.D d = 1; }\n'}
    dep_old = {"dep/d.proto": 'syntax = "proto3";\npackage d;\nmessage D { int32 a = 1; }\n'}
    dep_new = {
        "dep/d.proto": 'syntax = "proto3";\npackage d;\nmessage D { string a = 1; }\nmessage E {}\n'
    }
    assert diff(schema(target, deps=dep_old), schema(target, deps=dep_new)) == []


def test_message_moved_into_a_new_file_is_still_compared() -> None:
    old = {F: H + M}
    new = {F: H, "a/v1/b.proto": H + "message M { int32 x = 1; int32 y = 2; enum E { E0 = 0; } }\n"}
    assert rows(old, new) == [
        ("file_added", "a/v1/b.proto", None, "a/v1/b.proto"),
        ("message_moved", "a/v1/b.proto:M", F, "a/v1/b.proto"),
        ("enum_added", "a/v1/b.proto:M.E", None, "a.v1.M.E"),
        ("field_added", "a/v1/b.proto:M.y", None, "int32 y = 2"),
    ]


def test_package_rename_keeps_the_file_comparable() -> None:
    assert rows(
        H + "message M { M self = 1; }\n",
        'syntax = "proto3";\npackage a.v2;\nmessage M { M self = 1; int32 y = 2; }\n',
    ) == [
        ("file_package_changed", F, "a.v1", "a.v2"),
        ("field_added", f"{F}:M.y", None, "int32 y = 2"),
    ]


def test_order_is_by_location_then_type_and_does_not_depend_on_declaration_order() -> None:
    old = H + "message A { int32 a = 1; }\nmessage B { int32 b = 1; }\nenum E { E0 = 0; }\n"
    new_1 = (
        H
        + "message B { int64 b = 1; string c = 2; }\nmessage A { uint32 z = 1; }\nenum E { E0 = 0; E1 = 1; }\n"
    )
    new_2 = (
        H
        + "enum E { E0 = 0; E1 = 1; }\nmessage A { uint32 z = 1; }\nmessage B { string c = 2; int64 b = 1; }\n"
    )
    first = diff(schema(old), schema(new_1))
    assert first == diff(schema(old), schema(new_2))
    assert [(c.location, c.type) for c in first] == sorted((c.location, c.type) for c in first)
    assert [c.location for c in first] == [
        f"{F}:A.z",
        f"{F}:A.z",
        f"{F}:B.b",
        f"{F}:B.c",
        f"{F}:E.E1",
    ]


def severities(
    old: str | Files, new: str | Files, *, mode: str = "BACKWARD", rules: str = "FILE"
) -> dict[tuple[str, str], str]:
    """(type, location) -> severity, with the violations of a real check under the policy."""
    before, after = schema(old, "1.0.0"), schema(new, "2.0.0")
    found = compare(after, [before], mode=mode, rules=rules).violations
    return {(c.type, c.location): c.severity for c in diff(before, after, violations=found)}


FIELDS_OLD = H + "message M { int32 a = 1; string s = 2; int32 gone = 3; int32 kept = 4; }\n"
FIELDS_NEW = (
    H + "message M { int64 a = 1; int32 s = 2; reserved 3; int32 renamed = 4; bool fresh = 5; }\n"
)


def test_severity_under_file_rules() -> None:
    assert severities(FIELDS_OLD, FIELDS_NEW) == {
        ("field_type_changed", f"{F}:M.a"): "breaking",
        ("field_type_changed", f"{F}:M.s"): "breaking",
        ("field_removed", f"{F}:M.gone"): "breaking",
        ("field_renamed", f"{F}:M.renamed"): "breaking",
        ("field_added", f"{F}:M.fresh"): "non_breaking",
        ("reserved_added", f"{F}:M"): "non_breaking",
    }


def test_severity_under_wire_rules() -> None:
    # int32 -> int64 reads the same bytes, names are not on the wire, and a deleted field's
    # number is reserved: only string -> int32 breaks.
    assert severities(FIELDS_OLD, FIELDS_NEW, rules="WIRE") == {
        ("field_type_changed", f"{F}:M.a"): "non_breaking",
        ("field_type_changed", f"{F}:M.s"): "breaking",
        ("field_removed", f"{F}:M.gone"): "non_breaking",
        ("field_renamed", f"{F}:M.renamed"): "non_breaking",
        ("field_added", f"{F}:M.fresh"): "non_breaking",
        ("reserved_added", f"{F}:M"): "non_breaking",
    }
    unreserved = severities(
        H + "message M { int32 a = 1; int32 b = 2; }\n",
        H + "message M { int32 a = 1; }\n",
        rules="WIRE",
    )
    assert unreserved == {("field_removed", f"{F}:M.b"): "breaking"}


def test_forward_policy_makes_additions_breaking() -> None:
    old, new = H + M, H + "message M { int32 x = 1; int32 y = 2; }\nenum E { E0 = 0; }\n"
    assert set(severities(old, new).values()) == {"non_breaking"}
    assert severities(old, new, mode="FORWARD") == {
        ("field_added", f"{F}:M.y"): "breaking",
        ("enum_added", f"{F}:E"): "breaking",
    }


def test_severity_of_options_moves_and_inherited_features() -> None:
    assert severities(H, H + 'option go_package = "x/y";\n') == {
        ("file_option_changed", F): "breaking"
    }
    assert severities(H, H + 'option go_package = "x/y";\n', rules="WIRE") == {
        ("file_option_changed", F): "non_breaking"
    }
    # A feature set on the file is reported once, on the file, and breaks through the enums
    # that inherit it.
    closed = severities(
        ED + "enum E { E0 = 0; }\n",
        ED + "option features.enum_type = CLOSED;\nenum E { E0 = 0; }\n",
    )
    assert closed == {("file_option_changed", F): "breaking"}
    # The checker reports a map's value type change on the generated entry's field.
    assert severities(
        H + "message M { map<string, int32> m = 1; }\n",
        H + "message M { map<string, string> m = 1; }\n",
    ) == {("field_type_changed", f"{F}:M.m"): "breaking"}
    moved = ({F: H + M, "a/v1/b.proto": H}, {F: H, "a/v1/b.proto": H + M})
    assert severities(*moved) == {("message_moved", "a/v1/b.proto:M"): "breaking"}
    assert severities(*moved, rules="PACKAGE") == {
        ("message_moved", "a/v1/b.proto:M"): "non_breaking"
    }


def test_removed_file_breaks_package_rules_through_its_elements() -> None:
    old = {F: H + M, "a/v1/b.proto": H + "message B {}\n"}
    assert severities(old, {F: H + M}, rules="PACKAGE") == {
        ("file_removed", "a/v1/b.proto"): "breaking"
    }
    moved_away = {F: H + M + "message B {}\n"}
    assert severities(old, moved_away, rules="PACKAGE") == {
        ("file_removed", "a/v1/b.proto"): "non_breaking",
        ("message_moved", f"{F}:B"): "non_breaking",
    }


def test_removed_field_locations_equal_the_checkers() -> None:
    """The contract between the two: the diff's location for a removed field is the
    location of the checker's FIELD_NO_DELETE violation for it."""
    old = {
        F: H + "message M { int32 a = 1; int32 b = 2; message In { int32 c = 1; int32 d = 2; } }\n",
        "a/v1/b.proto": H + "message Moving { int32 e = 1; int32 f = 2; }\n",
    }
    new = {
        F: H
        + "message M { int32 a = 1; message In { int32 c = 1; } }\nmessage Moving { int32 e = 1; }\n",
        "a/v1/b.proto": H,
    }
    before, after = schema(old, "1"), schema(new, "2")
    violations = check(
        before.descriptor_set,
        after.descriptor_set,
        targets_old=before.targets,
        targets_new=after.targets,
    )
    expected = {v.location for v in violations if v.rule == "FIELD_NO_DELETE"}
    removed = {c.location for c in diff(before, after) if c.type == "field_removed"}
    assert removed == expected == {f"{F}:M.b", f"{F}:M.In.d", f"{F}:Moving.f"}


def _many_files(count: int, *, changed: bool) -> Files:
    files: Files = {}
    for i in range(count):
        kind = "int64" if changed and i % 5 == 0 else "int32"
        extra = f"  string added_{i} = 9;\n" if changed and i % 7 == 0 else ""
        files[f"pkg/v1/f{i:02}.proto"] = (
            'syntax = "proto3";\npackage pkg.v1;\n'
            f"message Msg{i} {{\n  {kind} id = 1;\n  repeated string tags = 2;\n"
            f"  map<string, int64> counts = 3;\n  oneof choice {{ string s = 4; int32 n = 5; }}\n{extra}"
            f"  message Inner {{ int32 x = 1; }}\n  enum Kind {{ KIND_UNSPECIFIED = 0; KIND_A = 1; }}\n}}\n"
            f"service Svc{i} {{ rpc Get(Msg{i}) returns (Msg{i}); }}\n"
        )
    return files


def test_fifty_file_pair() -> None:
    old, new = schema(_many_files(50, changed=False)), schema(_many_files(50, changed=True))
    found = compare(new, [old], mode="FULL").violations
    changes = diff(old, new, violations=found)
    assert {(c.type, c.severity) for c in changes} == {
        ("field_type_changed", "breaking"),
        ("field_added", "breaking"),
    }
    assert len(changes) == 10 + 8


def _checker_pairs() -> list[tuple[str, Files, Files]]:
    pairs = [(name, old, new) for name, old, new in [*CHECKER_CASES, *CATEGORY_CASES]]
    pairs += [(f"random_{i}", {F: o}, {F: n}) for i, (o, n) in enumerate(random_pairs(100, 11))]
    return pairs


def test_every_violation_is_explained_by_a_listed_change() -> None:
    """Over the checker's own test pairs, in every category and both directions, each
    violation falls on some change the diff lists, so no breaking change goes unseen."""
    unexplained: list[tuple[str, str, str]] = []
    checked = 0
    for name, old_files, new_files in _checker_pairs():
        old, new = schema(old_files, "1"), schema(new_files, "2")
        matches = set().union(*(f.matches for f in find_changes(old, new)))
        for rules in ("FILE", "PACKAGE", "WIRE_JSON", "WIRE"):
            for v in compare(new, [old], mode="FULL", rules=rules).violations:
                checked += 1
                if (v.rule, v.location) not in matches:
                    unexplained.append((name, v.rule, v.location))
    assert unexplained == []
    assert checked > 500
