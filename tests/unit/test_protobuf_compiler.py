"""Behaviour of spoke.protobuf against the real protoc bundled in grpc_tools (no mocks)."""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2  # type: ignore[import-untyped, unused-ignore]

from spoke.protobuf import (
    CompilationFailed,
    CompileResult,
    Diagnostic,
    UnresolvedImport,
    compile_files,
    fingerprint_descriptor_set,
    well_known_paths,
)
from spoke.protobuf.compiler import _well_known_root
from spoke.protobuf.diagnostics import parse_protoc_output
from spoke.protobuf.screening import MAX_NESTING

PROTO3_HEADER = 'syntax = "proto3";\n'

PERSON = """\
syntax = "proto3";
package acme.v1;

import "google/protobuf/timestamp.proto";

// A person.
message Person {
  string name = 1;  // their name
  int32 id = 2;
  google.protobuf.Timestamp born = 3;
}
"""


def parse_set(data: bytes) -> descriptor_pb2.FileDescriptorSet:
    parsed = descriptor_pb2.FileDescriptorSet()
    parsed.ParseFromString(data)
    return parsed


def files_by_name(result: CompileResult) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    return {f.name: f for f in parse_set(result.descriptor_set).file}


def compile_error(
    files: dict[str, str], include_files: dict[str, str] | None = None
) -> CompilationFailed:
    with pytest.raises(CompilationFailed) as info:
        compile_files(files=files, include_files=include_files)
    return info.value


def fingerprint_of(text: str, path: str = "acme/v1/person.proto") -> str:
    return compile_files(files={path: text}).fingerprint


# --- success ---------------------------------------------------------------------------------


def test_descriptor_set_has_targets_imports_and_source_info() -> None:
    result = compile_files(files={"acme/v1/person.proto": PERSON})

    by_name = files_by_name(result)
    assert set(by_name) == {"acme/v1/person.proto", "google/protobuf/timestamp.proto"}
    person = by_name["acme/v1/person.proto"]
    assert person.package == "acme.v1"
    assert [f.name for f in person.message_type[0].field] == ["name", "id", "born"]
    assert person.source_code_info.location
    comments = [loc.leading_comments for loc in person.source_code_info.location]
    assert " A person.\n" in comments
    assert by_name["google/protobuf/timestamp.proto"].source_code_info.location
    assert result.warnings == ()


def test_imports_come_before_the_files_that_import_them() -> None:
    result = compile_files(files={"acme/v1/person.proto": PERSON})

    names = [f.name for f in parse_set(result.descriptor_set).file]
    assert names == ["google/protobuf/timestamp.proto", "acme/v1/person.proto"]


def test_result_fingerprint_is_the_fingerprint_of_the_targets() -> None:
    files = {"a.proto": PROTO3_HEADER + "message A {}\n", "b.proto": PROTO3_HEADER + "message B {}"}
    result = compile_files(files=files)

    assert result.fingerprint == fingerprint_descriptor_set(result.descriptor_set, targets=files)
    assert result.fingerprint.startswith("sha256:")
    assert len(result.fingerprint) == len("sha256:") + 64
    int(result.fingerprint.removeprefix("sha256:"), 16)


def test_dependency_from_include_files_is_importable_and_included() -> None:
    dep = PROTO3_HEADER + "package dep;\nmessage Money { int64 units = 1; }\n"
    target = PROTO3_HEADER + 'import "dep/money.proto";\nmessage Order { dep.Money total = 1; }\n'

    result = compile_files(files={"order.proto": target}, include_files={"dep/money.proto": dep})

    by_name = files_by_name(result)
    assert set(by_name) == {"order.proto", "dep/money.proto"}
    assert by_name["order.proto"].dependency == ["dep/money.proto"]
    assert by_name["order.proto"].message_type[0].field[0].type_name == ".dep.Money"


def test_unused_include_files_are_not_in_the_descriptor_set() -> None:
    result = compile_files(
        files={"a.proto": PROTO3_HEADER + "message A {}\n"},
        include_files={"unused.proto": PROTO3_HEADER + "message U {}\n"},
    )

    assert set(files_by_name(result)) == {"a.proto"}


def test_files_in_nested_directories_import_each_other() -> None:
    files = {
        "acme/v1/a.proto": PROTO3_HEADER + 'import "acme/v1/b.proto";\nmessage A { B b = 1; }\n',
        "acme/v1/b.proto": PROTO3_HEADER + "message B {}\n",
    }

    result = compile_files(files=files)

    assert set(files_by_name(result)) == set(files)


@pytest.mark.parametrize(
    ("text", "syntax", "edition"),
    [
        (
            'syntax = "proto2";\nmessage M { required int32 x = 1; optional string s = 2; }\n',
            "",
            None,
        ),  # protoc leaves `syntax` unset for proto2
        ('syntax = "proto3";\nmessage M { optional int32 x = 1; }\n', "proto3", None),
        (
            'edition = "2023";\nmessage M { int32 x = 1 [features.field_presence = IMPLICIT]; }\n',
            "editions",
            descriptor_pb2.EDITION_2023,
        ),
    ],
    ids=["proto2", "proto3-optional", "edition-2023"],
)
def test_compiles_every_syntax(text: str, syntax: str, edition: int | None) -> None:
    result = compile_files(files={"m.proto": text})

    file = files_by_name(result)["m.proto"]
    assert file.syntax == syntax
    if edition is not None:
        assert file.edition == edition
    assert result.warnings == ()


def test_proto3_optional_becomes_a_synthetic_oneof() -> None:
    result = compile_files(files={"m.proto": PROTO3_HEADER + "message M { optional int32 x = 1; }"})

    field = files_by_name(result)["m.proto"].message_type[0].field[0]
    assert field.proto3_optional


def test_a_file_in_the_working_directory_with_a_target_name_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.proto").write_text("garbage that would not compile")
    monkeypatch.chdir(tmp_path)

    result = compile_files(files={"a.proto": PROTO3_HEADER + "message A {}\n"})

    assert set(files_by_name(result)) == {"a.proto"}


def test_well_known_paths_are_the_protos_shipped_with_grpc_tools() -> None:
    paths = well_known_paths()

    assert "google/protobuf/timestamp.proto" in paths
    assert "google/protobuf/descriptor.proto" in paths
    assert all(p.endswith(".proto") and not p.startswith("/") for p in paths)


# --- errors ----------------------------------------------------------------------------------


def test_undefined_type_error_has_file_line_and_column() -> None:
    text = PROTO3_HEADER + "package p;\n\nmessage A {\n  int32 x = 1;\n  strin y = 2;\n}\n"

    error = compile_error({"dir/a.proto": text})

    assert error.errors == (Diagnostic("dir/a.proto", 6, 3, '"strin" is not defined.'),)
    assert error.warnings == ()
    assert error.unresolved_imports == ()
    assert str(error) == 'dir/a.proto:6:3: "strin" is not defined.'


def test_syntax_error_has_file_line_and_column() -> None:
    text = PROTO3_HEADER + "message A {\n  int32 x = 1\n}\n"

    error = compile_error({"a.proto": text})

    assert error.errors == (Diagnostic("a.proto", 4, 1, 'Expected ";".'),)


def test_errors_in_several_files_are_all_reported() -> None:
    error = compile_error(
        {
            "a.proto": PROTO3_HEADER + "message A { Nope x = 1; }\n",
            "b.proto": PROTO3_HEADER + "message B { Nada y = 1; }\n",
        }
    )

    assert {(d.file, d.line, d.column) for d in error.errors} == {
        ("a.proto", 2, 13),
        ("b.proto", 2, 13),
    }


def test_text_that_is_not_proto_fails() -> None:
    error = compile_error({"a.proto": PROTO3_HEADER + "this is not proto\n"})

    assert error.errors[0].file == "a.proto"
    assert error.errors[0].line == 2
    assert "Expected top-level statement" in error.errors[0].message


def test_nul_character_fails_with_its_position() -> None:
    error = compile_error({"a.proto": PROTO3_HEADER + "message A { int32 x\0 = 1; }\n"})

    assert error.errors == (
        Diagnostic("a.proto", 2, 20, "Invalid control characters encountered in text."),
    )


def test_lone_surrogate_fails_with_its_position() -> None:
    error = compile_error({"a.proto": PROTO3_HEADER + "// caf\udce9\nmessage A {}\n"})

    assert error.errors == (
        Diagnostic("a.proto", 2, 7, "File is not valid UTF-8 (lone surrogate)."),
    )


def test_cyclic_imports_fail_without_unresolved_imports() -> None:
    error = compile_error(
        {
            "a.proto": PROTO3_HEADER + 'import "b.proto";\nmessage A {}\n',
            "b.proto": PROTO3_HEADER + 'import "a.proto";\nmessage B {}\n',
        }
    )

    assert any("File recursively imports itself" in d.message for d in error.errors)
    assert error.unresolved_imports == ()


def test_errors_in_a_dependency_name_the_dependency() -> None:
    error = compile_error(
        {"a.proto": PROTO3_HEADER + 'import "dep.proto";\nmessage A {}\n'},
        include_files={"dep.proto": PROTO3_HEADER + "message D { Missing m = 1; }\n"},
    )

    assert Diagnostic("dep.proto", 2, 13, '"Missing" is not defined.') in error.errors
    assert (
        Diagnostic("a.proto", 2, 1, 'Import "dep.proto" was not found or had errors.')
        in error.errors
    )
    assert error.unresolved_imports == ()


def test_compilation_failed_survives_pickling() -> None:
    error = compile_error({"a.proto": PROTO3_HEADER + 'import "nope.proto";\n'})

    copy = pickle.loads(pickle.dumps(error))

    assert isinstance(copy, CompilationFailed)
    assert copy.errors == error.errors
    assert copy.unresolved_imports == error.unresolved_imports
    assert str(copy) == str(error)


def test_diagnostic_to_dict() -> None:
    assert Diagnostic("a.proto", 3, 7, "boom").to_dict() == {
        "file": "a.proto",
        "line": 3,
        "column": 7,
        "message": "boom",
    }
    assert Diagnostic(None, None, None, "x").to_dict()["file"] is None


# --- unresolved imports ----------------------------------------------------------------------


def test_unresolved_import_names_the_importing_file() -> None:
    text = PROTO3_HEADER + 'package a;\nimport "missing/x.proto";\nmessage A {}\n'

    error = compile_error({"a.proto": text})

    assert error.unresolved_imports == (UnresolvedImport("a.proto", "missing/x.proto"),)
    assert error.errors == (
        Diagnostic("missing/x.proto", None, None, "File not found."),
        Diagnostic("a.proto", 3, 1, 'Import "missing/x.proto" was not found or had errors.'),
    )


def test_unresolved_import_inside_a_dependency_names_the_dependency() -> None:
    error = compile_error(
        {"a.proto": PROTO3_HEADER + 'import "dep.proto";\nmessage A {}\n'},
        include_files={"dep.proto": PROTO3_HEADER + 'import "gone.proto";\n'},
    )

    # a.proto's import of dep.proto failed too, but dep.proto exists: not unresolved.
    assert error.unresolved_imports == (UnresolvedImport("dep.proto", "gone.proto"),)


def test_every_unresolved_import_is_reported_once() -> None:
    error = compile_error(
        {
            "a.proto": PROTO3_HEADER + 'import "x.proto";\nimport "y.proto";\n',
            "b.proto": PROTO3_HEADER + 'import "x.proto";\n',
        }
    )

    assert sorted(error.unresolved_imports, key=lambda u: (u.file, u.import_path)) == [
        UnresolvedImport("a.proto", "x.proto"),
        UnresolvedImport("a.proto", "y.proto"),
        UnresolvedImport("b.proto", "x.proto"),
    ]


# --- warnings --------------------------------------------------------------------------------


def test_unused_import_is_a_warning_with_position() -> None:
    text = PROTO3_HEADER + 'import "google/protobuf/timestamp.proto";\nmessage A {}\n'

    result = compile_files(files={"a.proto": text})

    assert result.warnings == (
        Diagnostic("a.proto", 2, 1, "Import google/protobuf/timestamp.proto is unused."),
    )


def test_missing_syntax_is_a_warning_naming_the_file() -> None:
    result = compile_files(files={"old.proto": "message A {}\n"})

    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert (warning.file, warning.line, warning.column) == ("old.proto", None, None)
    assert warning.message.startswith("No edition or syntax specified for the proto file")


def test_missing_syntax_warning_is_repeated_on_every_compile() -> None:
    for _ in range(3):
        assert len(compile_files(files={"old.proto": "message A {}\n"}).warnings) == 1


def test_warnings_are_kept_when_compilation_fails() -> None:
    text = PROTO3_HEADER + 'import "google/protobuf/timestamp.proto";\nmessage A { Nope n = 1; }\n'

    error = compile_error({"a.proto": text, "b.proto": "message B {}\n"})

    assert error.errors == (Diagnostic("a.proto", 3, 13, '"Nope" is not defined.'),)
    assert [w.file for w in error.warnings] == ["b.proto"]


# --- fingerprint -----------------------------------------------------------------------------


def test_fingerprint_ignores_formatting_and_comments() -> None:
    reformatted = """\
syntax="proto3";
// The package.
package   acme.v1 ;
import "google/protobuf/timestamp.proto";
/* A person,
   reformatted. */
message Person { string name = 1; int32 id = 2;
    google.protobuf.Timestamp born = 3; // born
}
"""
    assert fingerprint_of(reformatted) == fingerprint_of(PERSON)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("int32 id = 2;", "int32 id = 4;"),
        ("int32 id = 2;", "int32 ident = 2;"),
        ("int32 id = 2;", "int64 id = 2;"),
        ("int32 id = 2;", "int32 id = 2 [deprecated = true];"),
        ("package acme.v1;", "package acme.v2;"),
        ("message Person {", "message Human {"),
    ],
    ids=["renumbered", "renamed", "retyped", "option", "package", "message-renamed"],
)
def test_fingerprint_changes_with_the_schema(old: str, new: str) -> None:
    assert old in PERSON
    assert fingerprint_of(PERSON.replace(old, new)) != fingerprint_of(PERSON)


def test_fingerprint_changes_with_the_file_path() -> None:
    assert fingerprint_of(PERSON, "a.proto") != fingerprint_of(PERSON, "b.proto")


def test_fingerprint_is_independent_of_the_order_of_files() -> None:
    a = PROTO3_HEADER + 'import "b.proto";\nmessage A { B b = 1; }\n'
    b = PROTO3_HEADER + "message B {}\n"

    forward = compile_files(files={"a.proto": a, "b.proto": b})
    backward = compile_files(files={"b.proto": b, "a.proto": a})

    assert forward.fingerprint == backward.fingerprint


def test_fingerprint_ignores_comments_in_dependencies() -> None:
    target = {"a.proto": PROTO3_HEADER + 'import "d.proto";\nmessage A { D d = 1; }\n'}
    dep = PROTO3_HEADER + "message D {}\n"

    plain = compile_files(files=target, include_files={"d.proto": dep})
    commented = compile_files(files=target, include_files={"d.proto": "// hi\n" + dep})

    assert plain.fingerprint == commented.fingerprint


def test_fingerprint_of_descriptor_set_rejects_bad_input() -> None:
    result = compile_files(files={"acme/v1/person.proto": PERSON})

    with pytest.raises(ValueError, match="not in the descriptor set"):
        fingerprint_descriptor_set(result.descriptor_set, targets=["other.proto"])
    with pytest.raises(ValueError, match="empty"):
        fingerprint_descriptor_set(result.descriptor_set, targets=[])
    with pytest.raises(ValueError, match="FileDescriptorSet"):
        fingerprint_descriptor_set(b"\xff\xff\xff", targets=["a.proto"])
    with pytest.raises(TypeError):
        fingerprint_descriptor_set(result.descriptor_set, targets="acme/v1/person.proto")


def test_fingerprint_of_descriptor_set_covers_only_targets() -> None:
    result = compile_files(files={"acme/v1/person.proto": PERSON})
    targets = ["acme/v1/person.proto"]

    with_imports = fingerprint_descriptor_set(result.descriptor_set, targets=targets)
    only_target = descriptor_pb2.FileDescriptorSet()
    only_target.file.extend(
        f for f in parse_set(result.descriptor_set).file if f.name == "acme/v1/person.proto"
    )

    assert fingerprint_descriptor_set(only_target.SerializeToString(), targets=targets) == (
        with_imports
    )


# --- guards ----------------------------------------------------------------------------------


def test_empty_files_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        compile_files(files={})


def test_file_also_in_include_files_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"a\.proto"):
        compile_files(files={"a.proto": "x"}, include_files={"a.proto": "y"})


def test_file_shadowing_a_well_known_type_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="timestamp"):
        compile_files(files={"google/protobuf/timestamp.proto": PROTO3_HEADER})


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/abs.proto",
        "../up.proto",
        "a/../b.proto",
        "./a.proto",
        "a//b.proto",
        "a\\b.proto",
        "a\nb.proto",
        "dir/",
    ],
)
def test_malformed_path_is_a_value_error(path: str) -> None:
    with pytest.raises(ValueError):
        compile_files(files={path: PROTO3_HEADER})
    with pytest.raises(ValueError):
        compile_files(files={"ok.proto": PROTO3_HEADER}, include_files={path: PROTO3_HEADER})


def test_path_that_is_both_file_and_directory_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="both a file and a directory"):
        compile_files(files={"a": PROTO3_HEADER, "a/b.proto": PROTO3_HEADER})


# --- nesting (protoc has limits; some of them abort the process) -----------------------------

OPTION_HEADER = """\
syntax = "proto2";
import "google/protobuf/descriptor.proto";
message O { optional O o = 1; optional int32 v = 2; }
extend google.protobuf.MessageOptions { optional O opt = 50000; }
extend google.protobuf.FieldOptions { optional O fopt = 50000; }
"""


def test_two_thousand_nested_messages_fail_without_crashing() -> None:
    text = PROTO3_HEADER + "message M { " * 2000 + "}" * 2000 + "\n"

    error = compile_error({"deep.proto": text})

    assert len(error.errors) == 1
    assert error.errors[0].file == "deep.proto"
    assert error.errors[0].line == 2
    assert error.errors[0].message.startswith("Nesting too deep")


def test_messages_nested_beyond_protocs_limit_fail_with_protocs_error() -> None:
    text = PROTO3_HEADER + "message M { " * 40 + "}" * 40 + "\n"

    error = compile_error({"deep.proto": text})

    assert error.errors[0] == Diagnostic(
        "deep.proto", 2, 373, "Reached maximum recursion limit for nested messages."
    )


def test_messages_nested_thirty_deep_compile() -> None:
    text = PROTO3_HEADER + "message M { int32 x = 1; " * 30 + "}" * 30 + "\n"

    compile_files(files={"deep.proto": text})


@pytest.mark.parametrize(
    "body",
    [
        "message P { option (opt) = " + "{ o " * 150 + "{ v: 1 }" + " }" * 150 + "; }\n",
        "message P { option (opt) = " + "< o " * 150 + "< v: 1 >" + " >" * 150 + "; }\n",
        "message P { option (opt)" + ".o" * 150 + ".v = 1; }\n",
        "message P { optional int32 f = 1 [(fopt)" + ".o" * 150 + ".v = 1]; }\n",
        "message P { option (opt)"
        + ".o" * 40
        + " = "
        + "{ o " * 40
        + "{ v: 1 } "
        + "}" * 40
        + "; }\n",
    ],
    ids=["braces", "angles", "dotted-name", "dotted-field-option", "dots-plus-braces"],
)
def test_deeply_nested_option_value_fails_without_crashing(body: str) -> None:
    # protoc aborts the whole process (absl CHECK failure) on option values nested ~100 deep;
    # if the guard regressed, this test would take pytest down with it.
    error = compile_error({"deep.proto": OPTION_HEADER + body})

    assert len(error.errors) == 1
    assert error.errors[0].file == "deep.proto"
    assert error.errors[0].line == 6
    assert error.errors[0].message.startswith("Nesting too deep")


def test_nesting_in_a_dependency_is_also_rejected() -> None:
    deep = OPTION_HEADER + "message P { option (opt)" + ".o" * 150 + ".v = 1; }\n"

    error = compile_error({"a.proto": PROTO3_HEADER}, include_files={"deep.proto": deep})

    assert [d.file for d in error.errors] == ["deep.proto"]


def test_moderately_nested_option_value_compiles() -> None:
    body = "message P { option (opt) = " + "{ o " * 20 + "{ v: 1 }" + " }" * 20 + "; }\n"

    compile_files(files={"opts.proto": OPTION_HEADER + body})


def test_nesting_guard_ignores_dots_in_numbers_strings_comments_and_sibling_statements() -> None:
    floats = " ".join(f"f{i}: {i}.5e-1" for i in range(200))
    extends = "".join(
        f"extend google.protobuf.FileOptions {{ optional int32 e{i} = {50000 + i}; }}\n"
        for i in range(100)
    )
    text = (
        'syntax = "proto2";\n'
        'import "google/protobuf/descriptor.proto";\n'
        "message F { "
        + " ".join(f"optional double f{i} = {i + 1};" for i in range(200))
        + " }\n"
        + "extend google.protobuf.MessageOptions { optional F fl = 50000; }\n"
        + extends
        + "message P {\n"
        + f"  option (fl) = {{ {floats} }};\n"
        + '  optional string s = 1 [default = "'
        + "{[<." * 200
        + '"];\n'
        + "  // "
        + "{ . " * 200
        + "\n"
        + "  /* "
        + "{ . " * 200
        + " */\n"
        + "}\n"
    )

    compile_files(files={"many.proto": text})


def test_deepest_nesting_the_guard_lets_through_compiles() -> None:
    # `message P {` plus MAX_NESTING - 1 aggregate levels: exactly at the limit. protoc aborts
    # at about 100 levels, so this must compile (and not take the process down).
    levels = MAX_NESTING - 2
    body = "message P { option (opt) = " + "{ o " * levels + "{ v: 1 }" + " }" * levels + "; }\n"

    result = compile_files(files={"opts.proto": OPTION_HEADER + body})

    assert "opts.proto" in files_by_name(result)


# --- isolation -------------------------------------------------------------------------------


def test_temp_directory_is_removed_after_success_and_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    compile_files(files={"acme/v1/person.proto": PERSON})
    assert list(tmp_path.iterdir()) == []
    compile_error({"a.proto": PROTO3_HEADER + 'import "nope.proto";\nmessage A { X x = 1; }\n'})
    assert list(tmp_path.iterdir()) == []


def test_messages_never_contain_temp_or_install_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    server_paths = [str(tmp_path), str(_well_known_root()), "spoke-protoc-", "spoke-all-targets"]

    error = compile_error(
        {
            "a.proto": PROTO3_HEADER + 'import "dep.proto";\nimport "nope.proto";\n',
            "b.proto": "message B { Q q = 1; }\n",
        },
        include_files={"dep.proto": PROTO3_HEADER + "message D { Z z = 1; }\n"},
    )
    warned = compile_files(
        files={"c.proto": PROTO3_HEADER + 'import "google/protobuf/any.proto";\n'}
    )

    diagnostics = [*error.errors, *error.warnings, *warned.warnings]
    assert len(diagnostics) >= 6
    for diagnostic in diagnostics:
        for server_path in server_paths:
            assert server_path not in diagnostic.message
            assert server_path not in (diagnostic.file or "")
    assert {d.file for d in error.errors} >= {"a.proto", "b.proto", "dep.proto"}


def test_concurrent_compiles_get_their_own_results() -> None:
    threads = 8
    barrier = threading.Barrier(threads)

    def work(i: int) -> tuple[int, CompileResult | CompilationFailed]:
        # Odd workers fail with an error at a line unique to them; even ones succeed with a
        # warning naming their own file. Padding makes each compile take a little while.
        padding = "".join(f"message Pad{i}_{j} {{ int32 x = 1; }}\n" for j in range(200))
        path = f"worker{i}.proto"
        if i % 2:
            text = PROTO3_HEADER + "\n" * i + f"message W {{ Missing{i} m = 1; }}\n" + padding
        else:
            text = PROTO3_HEADER + 'import "google/protobuf/empty.proto";\n' + padding
        barrier.wait()
        outcomes: list[CompileResult | CompilationFailed] = []
        for _ in range(5):
            try:
                outcomes.append(compile_files(files={path: text}))
            except CompilationFailed as exc:
                outcomes.append(exc)
        assert all(type(o) is type(outcomes[0]) for o in outcomes)
        return i, outcomes[-1]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(work, range(threads)))

    for i, outcome in results:
        path = f"worker{i}.proto"
        if i % 2:
            assert isinstance(outcome, CompilationFailed)
            assert outcome.errors == (Diagnostic(path, 2 + i, 13, f'"Missing{i}" is not defined.'),)
        else:
            assert isinstance(outcome, CompileResult)
            assert outcome.warnings == (
                Diagnostic(path, 2, 1, "Import google/protobuf/empty.proto is unused."),
            )
            assert [f.name for f in parse_set(outcome.descriptor_set).file][-1] == path


def test_protoc_output_is_captured_and_stderr_restored(capfd: pytest.CaptureFixture[str]) -> None:
    os.write(2, b"before\n")
    compile_files(files={"old.proto": "message A {}\n"})
    compile_error({"a.proto": "message A { Nope n = 1; }\n", "b.proto": "garbage"})
    os.write(2, b"after\n")

    assert capfd.readouterr().err == "before\nafter\n"


# --- output parsing --------------------------------------------------------------------------


def test_parser_splits_known_paths_containing_colons_and_spaces() -> None:
    errors, warnings = parse_protoc_output(
        "odd:1:2: dir/a b.proto:3:4: boom\nodd:1:2: dir/a b.proto:5:6: warning: hm\n",
        known_paths=["odd:1:2: dir/a b.proto"],
    )

    assert errors == (Diagnostic("odd:1:2: dir/a b.proto", 3, 4, "boom"),)
    assert warnings == (Diagnostic("odd:1:2: dir/a b.proto", 5, 6, "hm"),)


def test_parser_keeps_unrecognised_lines_without_a_file_and_drops_absl_preamble() -> None:
    output = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "E0000 00:00:1795753497.391838    2585 retention.cc:127] Failed to strip\n"
        "something odd happened\n"
        "\n"
    )

    errors, warnings = parse_protoc_output(output, known_paths=[])

    assert errors == (
        Diagnostic(None, None, None, "Failed to strip"),
        Diagnostic(None, None, None, "something odd happened"),
    )
    assert warnings == ()
