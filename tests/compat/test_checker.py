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
