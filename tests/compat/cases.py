"""Hand-written pairs (old files, new files) for the oracle test: each names what it covers."""

from __future__ import annotations

F = "a/v1/a.proto"
V2 = 'syntax = "proto3";\npackage a.v2;\n'
P2 = 'syntax = "proto2";\npackage a.v1;\n'
H = 'syntax = "proto3";\npackage a.v1;\n'

# (id, old files, new files); one file per side unless a dict is given.
CASES: list[tuple[str, dict[str, str], dict[str, str]]] = [
    ("no_change", {F: H + "message M { int32 x = 1; }\n"}, {F: H + "message M { int32 x = 1; }\n"}),
    (
        "file_delete",
        {F: H + "message M {}\n", "a/v1/b.proto": H + "message B {}\n"},
        {F: H + "message M {}\n"},
    ),
    ("message_delete", {F: H + "message M {}\nmessage N {}\n"}, {F: H + "message M {}\n"}),
    (
        "nested_message_delete",
        {F: H + "message M { message N { message O {} } }\n"},
        {F: H + "message M { message N {} }\n"},
    ),
    (
        "field_delete",
        {F: H + "message M { int32 x = 1; string y = 2; }\n"},
        {F: H + "message M { int32 x = 1; }\n"},
    ),
    (
        "field_delete_reserved",
        {F: H + "message M { int32 x = 1; string y = 2; }\n"},
        {F: H + 'message M { int32 x = 1; reserved 2; reserved "y"; }\n'},
    ),
    (
        "nested_field_delete",
        {F: H + "message M { message N { int32 a = 1; int32 b = 2; } }\n"},
        {F: H + "message M { message N { int32 a = 1; } }\n"},
    ),
    (
        "enum_delete",
        {F: H + "enum E { E_UNSPECIFIED = 0; }\nmessage M {}\n"},
        {F: H + "message M {}\n"},
    ),
    (
        "nested_enum_delete",
        {F: H + "message M { enum E { E_UNSPECIFIED = 0; } }\n"},
        {F: H + "message M {}\n"},
    ),
    (
        "enum_value_delete",
        {F: H + "enum E { E_UNSPECIFIED = 0; E_A = 1; E_B = 2; }\n"},
        {F: H + "enum E { E_UNSPECIFIED = 0; E_A = 1; }\n"},
    ),
    (
        "enum_value_rename",
        {F: H + "enum E { E_UNSPECIFIED = 0; E_A = 1; }\n"},
        {F: H + "enum E { E_UNSPECIFIED = 0; E_AA = 1; }\n"},
    ),
    (
        "service_delete",
        {F: H + "message M {}\nservice S { rpc Do(M) returns (M); }\n"},
        {F: H + "message M {}\n"},
    ),
    (
        "rpc_delete",
        {F: H + "message M {}\nservice S { rpc Do(M) returns (M); rpc Undo(M) returns (M); }\n"},
        {F: H + "message M {}\nservice S { rpc Do(M) returns (M); }\n"},
    ),
    (
        "rpc_request_response",
        {F: H + "message M {}\nmessage N {}\nservice S { rpc Do(M) returns (M); }\n"},
        {F: H + "message M {}\nmessage N {}\nservice S { rpc Do(N) returns (N); }\n"},
    ),
    (
        "rpc_streaming",
        {
            F: H
            + "message M {}\nservice S { rpc Do(M) returns (M); rpc Go(stream M) returns (stream M); }\n"
        },
        {
            F: H
            + "message M {}\nservice S { rpc Do(stream M) returns (stream M); rpc Go(M) returns (M); }\n"
        },
    ),
    (
        "field_type_scalar",
        {F: H + "message M { int32 x = 1; }\n"},
        {F: H + "message M { int64 x = 1; }\n"},
    ),
    (
        "field_type_message",
        {F: H + "message A {}\nmessage B {}\nmessage M { A x = 1; }\n"},
        {F: H + "message A {}\nmessage B {}\nmessage M { B x = 1; }\n"},
    ),
    (
        "field_type_enum_to_int",
        {F: H + "enum E { E_UNSPECIFIED = 0; }\nmessage M { E x = 1; }\n"},
        {F: H + "enum E { E_UNSPECIFIED = 0; }\nmessage M { int32 x = 1; }\n"},
    ),
    (
        "field_rename",
        {F: H + "message M { int32 x = 1; }\n"},
        {F: H + "message M { int32 y = 1; }\n"},
    ),
    (
        "field_json_name",
        {F: H + "message M { int32 x = 1; }\n"},
        {F: H + 'message M { int32 x = 1 [json_name = "ex"]; }\n'},
    ),
    (
        "field_into_oneof",
        {F: H + "message M { int32 x = 1; }\n"},
        {F: H + "message M { oneof o { int32 x = 1; } }\n"},
    ),
    (
        "field_oneof_renamed",
        {F: H + "message M { oneof o { int32 x = 1; } }\n"},
        {F: H + "message M { oneof p { int32 x = 1; } }\n"},
    ),
    (
        "proto3_optional_not_oneof",
        {F: H + "message M { optional int32 x = 1; }\n"},
        {F: H + "message M { optional int32 x = 1; }\n"},
    ),
    (
        "package_change",
        {F: H + "message M {}\n"},
        {F: 'syntax = "proto3";\npackage a.v2;\nmessage M {}\n'},
    ),
    (
        "go_package_change",
        {F: H + 'option go_package = "x/a";\nmessage M {}\n'},
        {F: H + 'option go_package = "x/b";\nmessage M {}\n'},
    ),
    (
        "go_package_added",
        {F: H + "message M {}\n"},
        {F: H + 'option go_package = "x/b";\nmessage M {}\n'},
    ),
    (
        "java_package_removed",
        {F: H + 'option java_package = "com.a";\nmessage M {}\n'},
        {F: H + "message M {}\n"},
    ),
    (
        "reserved_message_delete",
        {F: H + 'message M { reserved 2, 5 to 9; reserved "a", "b"; }\n'},
        {F: H + 'message M { reserved 2; reserved "a"; }\n'},
    ),
    (
        "reserved_message_widened",
        {F: H + "message M { reserved 5 to 9; }\n"},
        {F: H + "message M { reserved 4 to 10; }\n"},
    ),
    (
        "reserved_enum_delete",
        {F: H + 'enum E { E_UNSPECIFIED = 0; reserved 3, 7 to 8; reserved "E_X"; }\n'},
        {F: H + "enum E { E_UNSPECIFIED = 0; reserved 3; }\n"},
    ),
    (
        "map_field_delete",
        {F: H + "message M { map<string, int32> m = 1; int32 x = 2; }\n"},
        {F: H + "message M { int32 x = 2; }\n"},
    ),
    (
        "proto2_fields",
        {
            F: 'syntax = "proto2";\npackage a.v1;\nmessage M { optional int32 x = 1; optional string y = 2; }\n'
        },
        {F: 'syntax = "proto2";\npackage a.v1;\nmessage M { optional int64 x = 1; }\n'},
    ),
    (
        "import_target_only",
        {
            F: 'syntax = "proto3";\npackage a.v1;\nimport "google/protobuf/timestamp.proto";\n'
            "message M { google.protobuf.Timestamp t = 1; }\n"
        },
        {
            F: 'syntax = "proto3";\npackage a.v1;\nimport "google/protobuf/duration.proto";\n'
            "message M { google.protobuf.Duration t = 1; }\n"
        },
    ),
]

CASES += [
    (
        "field_into_oneof_message",
        {F: H + "message A {}\nmessage M { A a = 1; }\n"},
        {F: H + "message A {}\nmessage M { oneof o { A a = 1; } }\n"},
    ),
    (
        "field_to_optional",
        {F: H + "message M { int32 a = 1; }\n"},
        {F: H + "message M { optional int32 a = 1; }\n"},
    ),
    (
        "field_to_repeated",
        {F: H + "message M { int32 a = 1; }\n"},
        {F: H + "message M { repeated int32 a = 1; }\n"},
    ),
    (
        "reserved_split",
        {F: H + "message M { reserved 5 to 9; }\n"},
        {F: H + "message M { reserved 5 to 6, 7 to 9; }\n"},
    ),
    (
        "reserved_partly_gone",
        {F: H + "message M { reserved 5 to 9; }\n"},
        {F: H + "message M { reserved 5 to 6, 8 to 9; }\n"},
    ),
    (
        "package_change_with_refs",
        {F: H + "message A {}\nmessage M { A a = 1; }\n"},
        {F: 'syntax = "proto3";\npackage a.v2;\nmessage A {}\nmessage M { A a = 1; }\n'},
    ),
    (
        "oneof_delete",
        {F: H + "message M { oneof o { int32 a = 1; string b = 2; } }\n"},
        {F: H + "message M { int32 a = 1; string b = 2; }\n"},
    ),
    (
        "proto2_required_to_optional",
        {F: 'syntax = "proto2";\npackage a.v1;\nmessage M { required int32 x = 1; }\n'},
        {F: 'syntax = "proto2";\npackage a.v1;\nmessage M { optional int32 x = 1; }\n'},
    ),
    (
        "proto2_to_proto3",
        {F: 'syntax = "proto2";\npackage a.v1;\nmessage M { optional int32 x = 1; }\n'},
        {F: H + "message M { int32 x = 1; }\n"},
    ),
    (
        "message_move_to_nested",
        {F: H + "message M {}\nmessage N {}\n"},
        {F: H + "message M { message N {} }\n"},
    ),
    (
        "two_files_mixed",
        {
            F: H + "message M { int32 x = 1; }\n",
            "a/v1/b.proto": H + "enum E { E_UNSPECIFIED = 0; E_A = 1; }\n",
        },
        {
            F: H + "message M { uint32 x = 1; }\n",
            "a/v1/b.proto": H + "enum E { E_UNSPECIFIED = 0; }\n",
        },
    ),
    (
        "enum_alias_added",
        {F: H + "enum E { option allow_alias = true; E_UNSPECIFIED = 0; E_A = 1; E_AA = 1; }\n"},
        {F: H + "enum E { option allow_alias = true; E_UNSPECIFIED = 0; E_A = 1; E_B = 1; }\n"},
    ),
    (
        "file_option_java_outer_classname",
        {F: H + "message M {}\n"},
        {F: H + 'option java_outer_classname = "X";\nmessage M {}\n'},
    ),
    (
        "file_option_java_multiple_files",
        {F: H + "message M {}\n"},
        {F: H + "option java_multiple_files = true;\nmessage M {}\n"},
    ),
    (
        "file_option_optimize_for",
        {F: H + "message M {}\n"},
        {F: H + "option optimize_for = CODE_SIZE;\nmessage M {}\n"},
    ),
    (
        "file_option_cc_generic_services",
        {F: H + "message M {}\n"},
        {F: H + "option cc_generic_services = true;\nmessage M {}\n"},
    ),
    (
        "file_option_java_generic_services",
        {F: H + "message M {}\n"},
        {F: H + "option java_generic_services = true;\nmessage M {}\n"},
    ),
    (
        "file_option_py_generic_services",
        {F: H + "message M {}\n"},
        {F: H + "option py_generic_services = true;\nmessage M {}\n"},
    ),
    (
        "file_option_cc_enable_arenas",
        {F: H + "message M {}\n"},
        {F: H + "option cc_enable_arenas = false;\nmessage M {}\n"},
    ),
    (
        "file_option_objc_class_prefix",
        {F: H + "message M {}\n"},
        {F: H + 'option objc_class_prefix = "X";\nmessage M {}\n'},
    ),
    (
        "file_option_csharp_namespace",
        {F: H + "message M {}\n"},
        {F: H + 'option csharp_namespace = "X";\nmessage M {}\n'},
    ),
    (
        "file_option_swift_prefix",
        {F: H + "message M {}\n"},
        {F: H + 'option swift_prefix = "X";\nmessage M {}\n'},
    ),
    (
        "file_option_php_class_prefix",
        {F: H + "message M {}\n"},
        {F: H + 'option php_class_prefix = "X";\nmessage M {}\n'},
    ),
    (
        "file_option_php_namespace",
        {F: H + "message M {}\n"},
        {F: H + 'option php_namespace = "X";\nmessage M {}\n'},
    ),
    (
        "file_option_php_metadata_namespace",
        {F: H + "message M {}\n"},
        {F: H + 'option php_metadata_namespace = "X";\nmessage M {}\n'},
    ),
    (
        "file_option_ruby_package",
        {F: H + "message M {}\n"},
        {F: H + 'option ruby_package = "X";\nmessage M {}\n'},
    ),
    (
        "file_option_java_string_check_utf8",
        {F: H + "message M {}\n"},
        {F: H + "option java_string_check_utf8 = true;\nmessage M {}\n"},
    ),
    (
        "file_option_deprecated",
        {F: H + "message M {}\n"},
        {F: H + "option deprecated = true;\nmessage M {}\n"},
    ),
    ("file_option_go_package_removed", {F: H + 'option go_package = "x/a";\n'}, {F: H}),
    (
        "rpc_idempotency",
        {F: H + "message M {}\nservice S { rpc Do(M) returns (M); }\n"},
        {
            F: H
            + "message M {}\nservice S { rpc Do(M) returns (M) { option idempotency_level = IDEMPOTENT; } }\n"
        },
    ),
    (
        "rpc_package_change",
        {F: H + "message M {}\nservice S { rpc Do(M) returns (M); }\n"},
        {
            F: 'syntax = "proto3";\npackage a.v2;\nmessage M {}\nservice S { rpc Do(M) returns (M); }\n'
        },
    ),
    (
        "field_jstype",
        {F: H + "message M { int64 s = 1; }\n"},
        {F: H + "message M { int64 s = 1 [jstype = JS_STRING]; }\n"},
    ),
    (
        "field_ctype",
        {F: H + "message M { string s = 1; }\n"},
        {F: H + "message M { string s = 1 [ctype = CORD]; }\n"},
    ),
    (
        "field_ctype_with_type_change",
        {F: H + "message M { string s = 1; }\n"},
        {F: H + "message M { bytes s = 1 [ctype = CORD]; }\n"},
    ),
    (
        "map_value_type",
        {F: H + "message M { map<string, int32> m = 1; }\n"},
        {F: H + "message M { map<string, int64> m = 1; }\n"},
    ),
    (
        "map_to_repeated",
        {F: H + "message M { map<string, int32> m = 1; }\n"},
        {F: H + "message M { message E { string key = 1; int32 value = 2; } repeated E m = 1; }\n"},
    ),
    (
        "map_key_type",
        {F: H + "message M { map<string, int32> m = 1; }\n"},
        {F: H + "message M { map<int32, int32> m = 1; }\n"},
    ),
    (
        "nested_enum_value_delete",
        {F: H + "message M { enum E { E_UNSPECIFIED = 0; E_A = 1; } }\n"},
        {F: H + "message M { enum E { E_UNSPECIFIED = 0; } }\n"},
    ),
    (
        "field_to_nested_type_same_short_name",
        {F: H + "message A {}\nmessage M { A a = 1; }\n"},
        {F: H + "message A {}\nmessage M { message A {} A a = 1; }\n"},
    ),
    (
        "proto2_group_to_message",
        {F: P2 + "message M { optional group G = 1 { optional int32 x = 2; } }\n"},
        {F: P2 + "message M { message G { optional int32 x = 2; } optional G g = 1; }\n"},
    ),
    (
        "field_renumber",
        {F: H + "message M { int32 x = 1; }\n"},
        {F: H + "message M { int32 x = 2; }\n"},
    ),
    (
        "service_rename",
        {F: H + "message M {}\nservice S { rpc Do(M) returns (M); }\n"},
        {F: H + "message M {}\nservice T { rpc Do(M) returns (M); }\n"},
    ),
    (
        "enum_value_renumber",
        {F: H + "enum E { E_UNSPECIFIED = 0; E_A = 1; }\n"},
        {F: H + "enum E { E_UNSPECIFIED = 0; E_A = 2; }\n"},
    ),
    (
        "oneof_field_removed_from_oneof",
        {F: H + "message M { oneof o { int32 a = 1; string b = 2; } }\n"},
        {F: H + "message M { oneof o { int32 a = 1; } string b = 2; }\n"},
    ),
    (
        "proto3_optional_to_oneof",
        {F: H + "message M { optional int32 a = 1; }\n"},
        {F: H + "message M { oneof o { int32 a = 1; } }\n"},
    ),
    (
        "field_enum_type_change",
        {
            F: H
            + "enum E { E_UNSPECIFIED = 0; }\nenum G { G_UNSPECIFIED = 0; }\nmessage M { E a = 1; }\n"
        },
        {
            F: H
            + "enum E { E_UNSPECIFIED = 0; }\nenum G { G_UNSPECIFIED = 0; }\nmessage M { G a = 1; }\n"
        },
    ),
    (
        "cross_file_type_move",
        {F: H + "message A {}\nmessage M { A a = 1; }\n", "a/v1/b.proto": H + "message B {}\n"},
        {
            F: H + 'import "a/v1/b.proto";\nmessage A {}\nmessage M { B a = 1; }\n',
            "a/v1/b.proto": H + "message B {}\n",
        },
    ),
    (
        "extension_delete",
        {F: P2 + "message M { extensions 100 to 200; }\nextend M { optional int32 e = 100; }\n"},
        {F: P2 + "message M { extensions 100 to 200; }\n"},
    ),
    (
        "proto2_default_change",
        {F: P2 + "message M { optional int32 s = 1 [default = 3]; }\n"},
        {F: P2 + "message M { optional int32 s = 1 [default = 4]; }\n"},
    ),
    (
        "editions_field_type",
        {F: 'edition = "2023";\npackage a.v1;\nmessage M { int32 x = 1; string y = 2; }\n'},
        {F: 'edition = "2023";\npackage a.v1;\nmessage M { int64 x = 1; }\n'},
    ),
    (
        "nested_extension_delete",
        {
            F: P2
            + "message M { extensions 100 to 200; }\nmessage N { extend M { optional int32 e = 100; } }\n"
        },
        {F: P2 + "message M { extensions 100 to 200; }\nmessage N {}\n"},
    ),
    (
        "proto2_default_added",
        {F: P2 + "message M { optional string s = 1; }\n"},
        {F: P2 + 'message M { optional string s = 1 [default = "x"]; }\n'},
    ),
    (
        "proto2_float_default_same_value",
        {F: P2 + "message M { optional float f = 1 [default = 1.0]; }\n"},
        {F: P2 + "message M { optional float f = 1 [default = 1]; }\n"},
    ),
    (
        "package_change_with_deletions",
        {
            F: H
            + "message M { message N {} int32 x = 1; }\nenum E { E_UNSPECIFIED = 0; E_A = 1; }\nenum G { G_UNSPECIFIED = 0; }\nservice S { rpc Do(M) returns (M); rpc Go(M) returns (M); }\n"
        },
        {
            F: V2
            + "message M {}\nenum E { E_UNSPECIFIED = 0; }\nservice S { rpc Do(M) returns (M); }\n"
        },
    ),
    (
        "package_change_extension_delete",
        {F: P2 + "message M { extensions 100 to 200; }\nextend M { optional int32 e = 100; }\n"},
        {F: 'syntax = "proto2";\npackage a.v2;\nmessage M { extensions 100 to 200; }\n'},
    ),
]
