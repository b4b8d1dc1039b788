"""Pairs for the PACKAGE, WIRE_JSON and WIRE categories, editions features, and the type and
cardinality tables (each checked against buf in every category)."""

from __future__ import annotations

from .cases import P2, F, H

E23 = 'edition = "2023";\npackage a.v1;\n'
B = "a/v1/b.proto"

_TYPES = [
    "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64",
    "sfixed32", "sfixed64", "bool", "float", "double", "string", "bytes", "E", "N",
]  # fmt: skip
_PAIRS = [(a, b) for a in _TYPES for b in _TYPES if a != b]
_DECLS = "enum E { E_U = 0; }\nmessage N {}\n"


def _matrix(side: int) -> str:
    fields = "".join(f"  {pair[side]} f{i} = {i + 1};\n" for i, pair in enumerate(_PAIRS))
    return H + _DECLS + "message M {\n" + fields + "}\n"


_CARDS = ["int32 {n}", "optional int32 {n}", "repeated int32 {n}", "map<int32, int32> {n}"]
_CARD_PAIRS = [(a, b) for a in _CARDS for b in _CARDS if a != b]


def _cardinality(side: int) -> str:
    fields = "".join(
        "  " + pair[side].format(n=f"f{i}") + f" = {i + 1};\n" for i, pair in enumerate(_CARD_PAIRS)
    )
    return H + "message M {\n" + fields + "}\n"


CASES: list[tuple[str, dict[str, str], dict[str, str]]] = [
    ("type_matrix", {F: _matrix(0)}, {F: _matrix(1)}),
    ("cardinality_matrix", {F: _cardinality(0)}, {F: _cardinality(1)}),
    (
        "required_cardinality",
        {F: P2 + "message M { required int32 a = 1; optional int32 b = 2; repeated int32 c = 3; }"},
        {F: P2 + "message M { optional int32 a = 1; required int32 b = 2; required int32 c = 3; }"},
    ),
    (
        "field_delete_number_reserved_only",
        {F: H + "message M { int32 a = 1; int32 b = 2; }\n"},
        {F: H + "message M { int32 a = 1; reserved 2; }\n"},
    ),
    (
        "field_delete_name_reserved_only",
        {F: H + "message M { int32 a = 1; int32 b = 2; }\n"},
        {F: H + 'message M { int32 a = 1; reserved "b"; }\n'},
    ),
    (
        "enum_value_delete_variants",
        {F: H + "enum E { E_U = 0; E_A = 1; E_B = 2; E_C = 3; }\n"},
        {F: H + 'enum E { E_U = 0; reserved 1; reserved "E_B"; }\n'},
    ),
    (
        "enum_value_alias_names",
        {F: H + "enum E { option allow_alias = true; E_U = 0; E_A = 1; E_AA = 1; E_B = 2; }\n"},
        {F: H + "enum E { option allow_alias = true; E_U = 0; E_A = 1; E_BB = 2; E_B = 2; }\n"},
    ),
    (
        "message_moved_to_other_file",
        {F: H + "message M { int32 x = 1; }\n", B: H},
        {F: H, B: H + "message M { int64 x = 1; string y = 2; }\n"},
    ),
    (
        "enum_moved_to_other_file",
        {F: H + "enum E { E_U = 0; E_A = 1; }\n", B: H + "message Z {}\n"},
        {F: H + "message K {}\n", B: H + "message Z {}\nenum E { E_U = 0; }\n"},
    ),
    (
        "service_moved_to_other_file",
        {F: H + "message Q {}\nmessage R {}\nservice S { rpc A(Q) returns (Q); }\n", B: H},
        {
            F: H + "message Q {}\nmessage R {}\n",
            B: H + 'import "a/v1/a.proto";\nservice S { rpc A(R) returns (Q); }\n',
        },
    ),
    (
        "package_deleted",
        {F: H + "message M {}\n", B: 'syntax = "proto3";\npackage b.v1;\nmessage Z {}\n'},
        {F: H + "message M {}\n"},
    ),
    (
        "package_renamed",
        {F: H + "message M {}\nenum E { E_U = 0; }\nservice S {}\n"},
        {F: 'syntax = "proto3";\npackage a.v2;\nmessage M {}\nenum E { E_U = 0; }\nservice S {}\n'},
    ),
    (
        "package_message_enum_service_deleted",
        {
            F: H
            + "message M {}\nmessage N { message O {} }\nenum E { E_U = 0; }\nenum G { G_U = 0; }\nservice S {}\nservice T {}\n",
            B: H + "message Z {}\n",
        },
        {F: H + "message N {}\nenum E { E_U = 0; }\nservice S {}\n", B: H + "message Z {}\n"},
    ),
    (
        "package_elements_in_deleted_file",
        {
            F: H + "message M {}\nenum E { E_U = 0; }\nservice S {}\n",
            B: H + "message Z {}\nenum Y { Y_U = 0; }\n",
        },
        {B: H + "message Z {}\nenum Y { Y_U = 0; }\n"},
    ),
    (
        "package_last_message_and_enum_deleted",
        {F: H + "message M {}\nenum E { E_U = 0; }\nservice S {}\n"},
        {F: H + "service S {}\n"},
    ),
    (
        "package_extension_deleted",
        {
            F: P2
            + "message M { extensions 10 to 20; }\nextend M { optional int32 e = 10; optional int32 f = 11; }\n"
        },
        {F: P2 + "message M { extensions 10 to 20; }\nextend M { optional int32 e = 10; }\n"},
    ),
    (
        "extension_changes",
        {
            F: P2
            + "message M { extensions 10 to 20; }\nextend M { optional int32 e = 10; optional int32 f = 11; repeated string g = 12; }\n"
        },
        {
            F: P2
            + "message M { extensions 10 to 20; }\nextend M { optional int64 e = 10; optional int32 ff = 11; optional string g = 12; }\n"
        },
    ),
    (
        "nested_extension_changes",
        {
            F: P2
            + "message M { extensions 10 to 20; }\nmessage N { extend M { optional int32 e = 10; } }\n"
        },
        {
            F: P2
            + "message M { extensions 10 to 20; }\nmessage N { extend M { optional sint32 e = 10; } }\n"
        },
    ),
    (
        "extension_range_shrunk",
        {F: P2 + "message M { extensions 10 to 20, 30 to max; }\n"},
        {F: P2 + "message M { extensions 10 to 15, 17 to 20; }\n"},
    ),
    (
        "no_standard_descriptor_accessor",
        {F: P2 + "message M {}\nmessage N { option no_standard_descriptor_accessor = true; }\n"},
        {F: P2 + "message M { option no_standard_descriptor_accessor = true; }\nmessage N {}\n"},
    ),
    (
        "proto3_to_proto2_json_enum_type_utf8",
        {
            F: H
            + "enum E { E_U = 0; }\nmessage Z { string s = 1; E e = 2; map<string, string> m = 3; }\n"
        },
        {
            F: P2
            + "enum E { E_U = 0; }\nmessage Z { optional string s = 1; optional E e = 2; map<string, string> m = 3; }\n"
        },
    ),
    (
        "proto2_to_proto3",
        {
            F: P2
            + "enum E { E_U = 0; }\nmessage Z { optional string s = 1; repeated int32 r = 2; }\n"
        },
        {
            F: H
            + "enum E { E_U = 0; }\nmessage Z { optional string s = 1; repeated int32 r = 2; }\n"
        },
    ),
    (
        "proto3_to_editions",
        {
            F: H
            + "enum E { E_U = 0; }\nmessage Z { string s = 1; optional int32 o = 2; int32 i = 3; }\n"
        },
        {
            F: E23
            + "enum E { E_U = 0; }\nmessage Z { string s = 1; int32 o = 2; int32 i = 3 [features.field_presence = IMPLICIT]; }\n"
        },
    ),
    (
        "editions_features_changed",
        {
            F: E23
            + "enum E { E_U = 0; }\nenum G { option features.enum_type = CLOSED; G_U = 0; }\nmessage Z { string s = 1; int32 i = 2; message Q {} Q q = 3; }\n"
        },
        {
            F: E23
            + "enum E { option features.enum_type = CLOSED; E_U = 0; }\nenum G { G_U = 0; }\nmessage Z { option features.json_format = LEGACY_BEST_EFFORT; string s = 1 [features.utf8_validation = NONE]; int32 i = 2 [features.field_presence = LEGACY_REQUIRED]; message Q {} Q q = 3 [features.message_encoding = DELIMITED]; }\n"
        },
    ),
    (
        "editions_file_level_features",
        {F: E23 + "enum E { E_U = 0; }\nmessage Z { string s = 1; int32 i = 2; }\n"},
        {
            F: E23
            + "option features.utf8_validation = NONE;\noption features.field_presence = IMPLICIT;\noption features.enum_type = CLOSED;\noption features.json_format = LEGACY_BEST_EFFORT;\nenum E { E_U = 0; }\nmessage Z { string s = 1; int32 i = 2; }\n"
        },
    ),
    (
        "editions_nested_message_inherits_features",
        {F: E23 + "message Z { message Y { int32 s = 1; enum E { E_U = 0; } } }\n"},
        {
            F: E23
            + "message Z { option features.json_format = LEGACY_BEST_EFFORT; message Y { int32 s = 1; enum E { E_U = 0; } } }\n"
        },
    ),
    (
        "language_feature_extensions",
        {
            F: E23
            + 'import "google/protobuf/cpp_features.proto";\nimport "google/protobuf/java_features.proto";\nmessage Z { string s = 1; string t = 2; bytes b = 3; }\n'
        },
        {
            F: E23
            + 'import "google/protobuf/cpp_features.proto";\nimport "google/protobuf/java_features.proto";\noption features.(pb.java).utf8_validation = VERIFY;\nmessage Z { string s = 1 [features.(pb.cpp).string_type = CORD]; string t = 2 [features.(pb.java).utf8_validation = VERIFY]; bytes b = 3 [features.(pb.cpp).string_type = CORD]; }\n'
        },
    ),
    (
        "java_string_check_utf8",
        {F: P2 + "message Z { optional string s = 1; }\n"},
        {F: P2 + "option java_string_check_utf8 = true;\nmessage Z { optional string s = 1; }\n"},
    ),
    (
        "ctype_string_piece",
        {
            F: P2
            + "message Z { optional string s = 1 [ctype = STRING_PIECE]; optional string t = 2; optional bytes u = 3 [ctype = CORD]; }\n"
        },
        {
            F: P2
            + "message Z { optional string s = 1; optional string t = 2 [ctype = STRING_PIECE]; optional bytes u = 3 [ctype = STRING]; }\n"
        },
    ),
    (
        "defaults_equal_to_zero",
        {
            F: P2
            + 'enum E { A = 1; B = 2; }\nmessage Z { optional int32 s = 1; optional E e = 2; optional bool b = 3; optional string t = 4 [default = "x"]; optional double d = 5; optional E f = 6; }\n'
        },
        {
            F: P2
            + 'enum E { A = 1; B = 2; }\nmessage Z { optional int32 s = 1 [default = 0]; optional E e = 2 [default = A]; optional bool b = 3 [default = false]; optional bytes t = 4 [default = "x"]; optional double d = 5 [default = 0.0]; optional E f = 6 [default = B]; }\n'
        },
    ),
    (
        "enum_field_switches_enum_type",
        {
            F: H
            + "enum E { E_U = 0; E_A = 1; }\nmessage Q { enum E { E_U = 0; E_A = 1; E_B = 2; } }\nmessage R { enum E { E_U = 0; } }\nmessage Z { E a = 1; E b = 2; }\n"
        },
        {
            F: H
            + "enum E { E_U = 0; E_A = 1; }\nmessage Q { enum E { E_U = 0; E_A = 1; E_B = 2; } }\nmessage R { enum E { E_U = 0; } }\nmessage Z { Q.E a = 1; R.E b = 2; }\n"
        },
    ),
    (
        "map_value_type_change",
        {F: H + "message Z { map<string, int32> m = 1; map<int32, string> n = 2; }\n"},
        {F: H + "message Z { map<string, int64> m = 1; map<int64, string> n = 2; }\n"},
    ),
    (
        "map_to_repeated_entry",
        {F: H + "message Z { map<string, int32> m = 1; }\n"},
        {
            F: H
            + "message Z { message MEntry { string key = 1; int32 value = 2; } repeated MEntry m = 1; }\n"
        },
    ),
    (
        "group_to_message",
        {F: P2 + "message Z { optional group G = 1 { optional int32 a = 2; } }\n"},
        {F: P2 + "message Z { message G { optional int32 a = 2; } optional G g = 1; }\n"},
    ),
    (
        "oneof_moves_wire",
        {
            F: H
            + "message Z { oneof o { int32 a = 1; int32 b = 2; } int32 c = 3; oneof p { int32 d = 4; } }\n"
        },
        {
            F: H
            + "message Z { int32 a = 1; oneof o { int32 b = 2; int32 c = 3; } oneof q { int32 d = 4; } }\n"
        },
    ),
]
