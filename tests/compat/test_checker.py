"""Unit tests of the checker's messages and locations (no buf needed)."""

from __future__ import annotations

import dataclasses

import pytest

from spoke.compat import Violation, check
from spoke.protobuf import compile_files

F = "a/v1/a.proto"
H = 'syntax = "proto3";\npackage a.v1;\n'


def _run(old: dict[str, str], new: dict[str, str]) -> list[Violation]:
    return check(
        compile_files(files=old).descriptor_set,
        compile_files(files=new).descriptor_set,
        targets_old=list(old),
        targets_new=list(new),
    )


def test_no_change_is_empty() -> None:
    src = {F: H + "message M { int32 x = 1; }\n"}
    assert _run(src, src) == []


def test_field_type_change_message_and_location() -> None:
    (v,) = _run(
        {F: H + "message M {\n  int32 x = 1;\n}\n"}, {F: H + "message M {\n  int64 x = 1;\n}\n"}
    )
    assert v.rule == "FIELD_SAME_TYPE"
    assert (
        v.message == 'Field "1" with name "x" on message "M" changed type from "int32" to "int64".'
    )
    assert (v.file, v.line, v.column) == (F, 4, 3)


def test_field_delete_points_at_enclosing_message() -> None:
    (v,) = _run(
        {F: H + "message M {\n  int32 x = 1;\n  int32 y = 2;\n}\n"},
        {F: H + "message M {\n  int32 x = 1;\n}\n"},
    )
    assert v.rule == "FIELD_NO_DELETE"
    assert '"y"' in v.message and '"2"' in v.message
    assert (v.line, v.column) == (3, 1)


def test_top_level_deletion_has_no_location() -> None:
    (v,) = _run({F: H + "message M {}\nmessage N {}\n"}, {F: H + "message M {}\n"})
    assert (v.rule, v.line, v.column) == ("MESSAGE_NO_DELETE", None, None)


def test_nested_deletion_points_at_parent() -> None:
    (v,) = _run({F: H + "\nmessage M {\n  message N {}\n}\n"}, {F: H + "\nmessage M {\n}\n"})
    assert (v.rule, v.line, v.column) == ("MESSAGE_NO_DELETE", 4, 1)


def test_file_delete() -> None:
    (v,) = _run({F: H, "a/v1/b.proto": H}, {F: H})
    assert v == Violation(
        "FILE_NO_DELETE",
        'Previously present file "a/v1/b.proto" was deleted.',
        "a/v1/b.proto",
        None,
        None,
        "a/v1/b.proto",
    )


def test_package_change_location() -> None:
    (v,) = _run({F: H}, {F: 'syntax = "proto3";\npackage a.v2;\n'})
    assert (v.rule, v.line, v.column) == ("FILE_SAME_PACKAGE", 2, 1)
    assert '"a.v1"' in v.message and '"a.v2"' in v.message


def test_reserved_union_covers_old_range() -> None:
    assert (
        _run(
            {F: H + "message M { reserved 5 to 9; }\n"},
            {F: H + "message M { reserved 4 to 6, 7 to 20; }\n"},
        )
        == []
    )
    (v,) = _run(
        {F: H + "message M { reserved 5 to 9; }\n"}, {F: H + "message M { reserved 5 to 8; }\n"}
    )
    assert v.rule == "RESERVED_MESSAGE_NO_DELETE" and "[5 to 9]" in v.message


def test_rpc_streaming_messages() -> None:
    rules = {
        v.rule
        for v in _run(
            {F: H + "message M {}\nservice S { rpc Do(M) returns (M); }\n"},
            {F: H + "message M {}\nservice S { rpc Do(stream M) returns (stream M); }\n"},
        )
    }
    assert rules == {"RPC_SAME_CLIENT_STREAMING", "RPC_SAME_SERVER_STREAMING"}


def test_violation_is_frozen() -> None:
    v = Violation("FIELD_NO_DELETE", "m", F, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.rule = "X"  # type: ignore[misc]


def test_unknown_category_rejected() -> None:
    with pytest.raises(ValueError, match="category"):
        check(b"", b"", category="SOURCE")


def test_cardinality_message_and_location() -> None:
    (v,) = _run(
        {F: H + "message M {\n  int32 a = 1;\n}\n"},
        {F: H + "message M {\n  repeated int32 a = 1;\n}\n"},
    )
    assert v.rule == "FIELD_SAME_CARDINALITY"
    assert '"optional with implicit presence" to "repeated"' in v.message
    assert (v.line, v.column) == (4, 3)


def test_package_change_compares_no_contents() -> None:
    rules = {
        v.rule
        for v in _run(
            {F: H + "message M { int32 x = 1; }\n"},
            {F: 'syntax = "proto3";\npackage a.v2;\nmessage M { int64 y = 2; }\n'},
        )
    }
    assert rules == {"FILE_SAME_PACKAGE"}


def test_file_option_defaults_are_compared() -> None:
    (v,) = _run({F: H}, {F: H + "option cc_enable_arenas = false;\n"})
    assert v.rule == "FILE_SAME_CC_ENABLE_ARENAS"
    assert v.message == 'File option "cc_enable_arenas" changed from "true" to "false".'
    assert (v.line, v.column) == (3, 1)


def test_targets_limit_the_files_compared() -> None:
    old = compile_files(files={F: H + "message M { int32 x = 1; }\n"}).descriptor_set
    new = compile_files(files={F: H}).descriptor_set
    assert check(old, new, targets_old=[], targets_new=[]) == []


def _locations(old: dict[str, str], new: dict[str, str], category: str = "FILE") -> set[str]:
    return {
        f"{v.rule} {v.location}"
        for v in check(
            compile_files(files=old).descriptor_set,
            compile_files(files=new).descriptor_set,
            category=category,
            targets_old=list(old),
            targets_new=list(new),
        )
    }


def test_locations_name_the_element() -> None:
    old = {
        F: H + "message M { message N { int32 x = 1; int32 y = 2; } }\n"
        "enum E { E_U = 0; E_B = 1; }\nservice S { rpc Do(M) returns (M); }\n"
    }
    new = {
        F: H + "message M { message N { int64 x = 1; } }\n"
        "enum E { E_U = 0; }\nservice S { rpc Do(M.N) returns (M); }\n"
    }
    assert _locations(old, new) == {
        f"FIELD_SAME_TYPE {F}:M.N.x",
        f"FIELD_NO_DELETE {F}:M.N.y",
        f"ENUM_VALUE_NO_DELETE {F}:E.E_B",
        f"RPC_SAME_REQUEST_TYPE {F}:S.Do",
    }


def test_deleted_element_located_in_old_file_name() -> None:
    old = {F: H + "message M {}\n", "a/v1/b.proto": H + "message Z {}\n"}
    new = {F: H + "message M {}\n"}
    (v,) = check(
        compile_files(files=old).descriptor_set,
        compile_files(files=new).descriptor_set,
        category="PACKAGE",
        targets_old=list(old),
        targets_new=list(new),
    )
    # buf attributes it to no file (the file is gone); the location keeps the old one.
    assert (v.rule, v.file, v.line, v.location) == (
        "PACKAGE_MESSAGE_NO_DELETE",
        "",
        None,
        "a/v1/b.proto:Z",
    )


def test_unless_reserved_variants_messages() -> None:
    old = {F: H + "message M { int32 a = 1; int32 b = 2; }\n"}
    new = {F: H + "message M { int32 a = 1; reserved 2; }\n"}
    found = check(
        compile_files(files=old).descriptor_set,
        compile_files(files=new).descriptor_set,
        category="WIRE_JSON",
    )
    assert [(v.rule, v.message) for v in found] == [
        (
            "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
            'Previously present field "2" with name "b" on message "M" was deleted without '
            'reserving the name "b".',
        )
    ]
    assert (
        check(
            compile_files(files=old).descriptor_set,
            compile_files(files=new).descriptor_set,
            category="WIRE",
        )
        == []
    )


def test_wire_type_change_message_names_both_types() -> None:
    (v,) = check(
        compile_files(files={F: H + "message M { int32 x = 1; }\n"}).descriptor_set,
        compile_files(files={F: H + "message M { sint32 x = 1; }\n"}).descriptor_set,
        category="WIRE",
    )
    assert v.rule == "FIELD_WIRE_COMPATIBLE_TYPE"
    assert '"int32" to "sint32"' in v.message
    assert (v.line, v.column) == (3, 13)


def test_enum_switch_to_superset_enum_is_wire_compatible() -> None:
    old = (
        H
        + "enum E { E_U = 0; }\nmessage Q { enum E { E_U = 0; E_A = 1; } }\nmessage M { E e = 1; }\n"
    )
    new = old.replace("message M { E e = 1; }", "message M { Q.E e = 1; }")
    rules = _locations({F: old}, {F: new}, "WIRE")
    assert rules == set()
    assert _locations({F: old}, {F: new}, "FILE") == {f"FIELD_SAME_TYPE {F}:M.e"}


def test_editions_feature_resolution() -> None:
    e = 'edition = "2023";\npackage a.v1;\n'
    old = {F: e + "message M { string s = 1; }\n"}
    new = {F: e + "option features.utf8_validation = NONE;\nmessage M { string s = 1; }\n"}
    assert _locations(old, new) == {
        f"FIELD_SAME_UTF8_VALIDATION {F}:M.s",
        f"FIELD_SAME_JAVA_UTF8_VALIDATION {F}:M.s",
    }
