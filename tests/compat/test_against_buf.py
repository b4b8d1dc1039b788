"""Spoke's breaking-change checker agrees with ``buf breaking`` (the oracle) on a corpus."""

from __future__ import annotations

import copy
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2

from spoke.compat import IMPLEMENTED_RULES, check
from spoke.protobuf import compile_files

# buf-bin installs `buf` beside the interpreter; the venv may not be on PATH.
BUF = shutil.which("buf") or shutil.which("buf", path=os.path.dirname(sys.executable))
if BUF is None:
    if os.environ.get("CI") == "true":
        pytest.fail("buf (PyPI buf-bin) is required under CI", pytrace=False)
    pytest.skip("buf is not on PATH (pip install buf-bin)", allow_module_level=True)

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

# Cases where Spoke intentionally differs from buf: id -> reason.
KNOWN_DIFFERENCES: dict[str, str] = {}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


# buf's Image is a FileDescriptorSet whose files may carry an extension at field 8042
# (ImageFileExtension, whose field 1 is is_import); with --exclude-imports buf then skips them.
_IS_IMPORT = _varint((8042 << 3) | 2) + _varint(2) + b"\x08\x01"


def _image(data: bytes, targets: set[str]) -> bytes:
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(data)
    out = bytearray()
    for f in fds.file:
        raw = f.SerializeToString() + (b"" if f.name in targets else _IS_IMPORT)
        out += b"\x0a" + _varint(len(raw)) + raw
    return bytes(out)


def _buf(old: bytes, new: bytes, tmp: Path) -> set[tuple[str, str]]:
    (tmp / "old.binpb").write_bytes(old)
    (tmp / "new.binpb").write_bytes(new)
    assert BUF is not None
    proc = subprocess.run(
        [
            BUF,
            "breaking",
            "new.binpb",
            "--against",
            "old.binpb",
            "--error-format=json",
            "--exclude-imports",
            "--config",
            '{"version":"v2","breaking":{"use":["FILE"]}}',
        ],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 100), proc.stderr
    found = set()
    for line in proc.stdout.splitlines():
        if line.strip():
            item = json.loads(line)
            path = item.get("path", "")
            if not path and item["type"] == "FILE_NO_DELETE":
                # buf gives a deleted file no path; its name is in the message.
                path = re.search(r'file "([^"]+)"', item["message"]).group(1)
            found.add((item["type"], path))
    return found


@pytest.mark.parametrize(("old", "new"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_agrees_with_buf(
    old: dict[str, str], new: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    case_id = request.node.callspec.id
    if case_id in KNOWN_DIFFERENCES:
        pytest.xfail(KNOWN_DIFFERENCES[case_id])
    old_set = compile_files(files=old).descriptor_set
    new_set = compile_files(files=new).descriptor_set
    ours = {
        (v.rule, v.file)
        for v in check(old_set, new_set, targets_old=list(old), targets_new=list(new))
    }
    theirs = _buf(_image(old_set, set(old)), _image(new_set, set(new)), tmp_path)
    assert ours == theirs


# --- random mutations (fixed seed): the same assertion on generated pairs --------------------

_SCALARS = ["int32", "int64", "uint32", "sint32", "string", "bytes", "bool", "double", "fixed32"]


def _random_schema(rng: random.Random) -> dict[str, Any]:
    messages = []
    for m in range(rng.randint(1, 3)):
        fields = [
            {"name": f"f{n}", "number": n, "type": rng.choice(_SCALARS), "label": "", "oneof": None}
            for n in range(1, rng.randint(2, 5))
        ]
        messages.append(
            {"name": f"M{m}", "fields": fields, "reserved": [], "nested": rng.random() < 0.5}
        )
    return {
        "package": "a.v1",
        "go_package": "x/a",
        "messages": messages,
        "enum": ["E_UNSPECIFIED", "E_A", "E_B"],
        "rpcs": [{"name": "Get", "req": "M0", "res": "M0", "cs": False, "ss": False}],
    }


def _render(s: dict[str, Any]) -> str:
    out = [f'syntax = "proto3";\npackage {s["package"]};\noption go_package = "{s["go_package"]}";']
    for m in s["messages"]:
        body = []
        oneofs: dict[str, list[str]] = {}
        for f in m["fields"]:
            json = f' [json_name = "{f["json"]}"]' if f.get("json") else ""
            line = f"{f['label']}{f['type']} {f['name']} = {f['number']}{json};"
            if f["oneof"]:
                oneofs.setdefault(f["oneof"], []).append(line)
            else:
                body.append(line)
        body += [f"oneof {name} {{ {' '.join(lines)} }}" for name, lines in oneofs.items()]
        if m["reserved"]:
            body.append("reserved " + ", ".join(str(r) for r in m["reserved"]) + ";")
        if m["nested"]:
            body.append("message Inner { int32 x = 1; }")
        out.append(f"message {m['name']} {{ {' '.join(body)} }}")
    if s["enum"]:
        values = " ".join(f"{v} = {i};" for i, v in enumerate(s["enum"]))
        out.append(f"enum E {{ {values} }}")
    rpcs = " ".join(
        f"rpc {r['name']}({'stream ' if r['cs'] else ''}{r['req']}) "
        f"returns ({'stream ' if r['ss'] else ''}{r['res']});"
        for r in s["rpcs"]
    )
    if rpcs:
        out.append(f"service S {{ {rpcs} }}")
    return "\n".join(out) + "\n"


def _mutate(s: dict[str, Any], rng: random.Random) -> None:
    m = rng.choice(s["messages"])
    f = rng.choice(m["fields"])
    kind = rng.choice(
        [
            "rename",
            "renumber",
            "retype",
            "delete",
            "reserve",
            "oneof",
            "optional",
            "repeated",
            "package",
            "go_package",
            "nested",
            "enum_value",
            "stream",
            "rpc_type",
            "message_delete",
            "enum_delete",
            "json_name",
            "rpc_delete",
            "unreserve",
        ]
    )
    used = {x["number"] for x in m["fields"]} | set(m["reserved"])
    if kind == "rename":
        f["name"] += "x"
    elif kind == "renumber":
        f["number"] = max(used) + 1
    elif kind == "retype":
        f["type"] = rng.choice(_SCALARS)
    elif kind in ("delete", "reserve") and len(m["fields"]) > 1:
        m["fields"].remove(f)
        if kind == "reserve":
            m["reserved"].append(f["number"])
    elif kind == "oneof" and not f["label"]:
        f["oneof"] = rng.choice(["o", "p"])
    elif kind == "optional" and not f["oneof"]:
        f["label"] = "optional "
    elif kind == "repeated" and not f["oneof"]:
        f["label"] = "repeated "
    elif kind == "package":
        s["package"] = "a.v2"
    elif kind == "go_package":
        s["go_package"] = "x/b"
    elif kind == "nested":
        m["nested"] = not m["nested"]
    elif kind == "enum_value" and len(s["enum"]) > 1:
        s["enum"].pop()
    elif kind == "stream" and s["rpcs"]:
        s["rpcs"][0]["ss"] = not s["rpcs"][0]["ss"]
    elif kind == "message_delete" and len(s["messages"]) > 1 and m["name"] != "M0":
        s["messages"].remove(m)
    elif kind == "enum_delete":
        s["enum"] = []
    elif kind == "json_name":
        f["json"] = "j" + f["name"]
    elif kind == "rpc_delete":
        s["rpcs"] = []
    elif kind == "unreserve" and m["reserved"]:
        m["reserved"].pop()
    elif kind == "rpc_type" and s["rpcs"]:
        s["rpcs"][0]["res"] = rng.choice([x["name"] for x in s["messages"]])


def _random_pairs(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        old = _random_schema(rng)
        if rng.random() < 0.3:
            _mutate(old, rng)  # e.g. a reserved range in the old version
        new = copy.deepcopy(old)
        for _ in range(rng.randint(1, 3)):
            _mutate(new, rng)
        pairs.append((_render(old), _render(new)))
    return pairs


@pytest.mark.parametrize(("old", "new"), _random_pairs(200, seed=4))
def test_random_mutation_agrees_with_buf(old: str, new: str, tmp_path: Path) -> None:
    old_set = compile_files(files={F: old}).descriptor_set
    new_set = compile_files(files={F: new}).descriptor_set
    ours = {(v.rule, v.file) for v in check(old_set, new_set, targets_old=[F], targets_new=[F])}
    theirs = _buf(_image(old_set, {F}), _image(new_set, {F}), tmp_path)
    assert ours == theirs, f"old:\n{old}\nnew:\n{new}"


def test_corpus_covers_every_implemented_rule() -> None:
    seen: set[str] = set()
    for _, old, new in CASES:
        old_set = compile_files(files=old).descriptor_set
        new_set = compile_files(files=new).descriptor_set
        seen |= {
            v.rule for v in check(old_set, new_set, targets_old=list(old), targets_new=list(new))
        }
    assert set(IMPLEMENTED_RULES) - seen == set()
