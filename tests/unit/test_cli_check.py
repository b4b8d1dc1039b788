"""``spoke check NEW_DIR --against OLD_DIR``: real .proto files in tmp_path, click's runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import spoke.compat
import spoke.protobuf
from spoke import cli_check
from spoke.cli import main
from spoke.cli_check import Located
from spoke.compat import CATEGORIES, MODES, Violation

HEADER = 'syntax = "proto3";\npackage shop.v1;\n'
ORDER_V1 = HEADER + "message Order {\n  string id = 1;\n  int64 total = 2;\n}\n"
# `total` deleted: FIELD_NO_DELETE, reported at the message (line 3, column 1) of the new file.
ORDER_NO_TOTAL = HEADER + "message Order {\n  string id = 1;\n}\n"
ORDER_RENAMED = HEADER + "message Order {\n  string id = 1;\n  int64 amount = 2;\n}\n"
ORDER_PATH = "shop/v1/order.proto"
DELETED = 'Previously present field "2" with name "total" on message "Order" was deleted.'


def write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def run(*args: str, cwd: Path) -> Result:
    """Run ``spoke check`` from ``cwd`` so that paths as given are short and relative."""
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, ["check", *args])
    finally:
        os.chdir(previous)


@pytest.fixture
def pair(tmp_path: Path) -> Path:
    """``old/`` with Order.total, ``new/`` without it."""
    write(tmp_path / "old", {ORDER_PATH: ORDER_V1})
    write(tmp_path / "new", {ORDER_PATH: ORDER_NO_TOTAL})
    return tmp_path


def assert_input_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


# --- verdicts ----------------------------------------------------------------------------------


def test_a_compatible_pair_exits_0_with_a_summary(tmp_path: Path) -> None:
    write(tmp_path / "old", {ORDER_PATH: ORDER_V1})
    write(tmp_path / "new", {ORDER_PATH: ORDER_V1 + "message Refund {\n  string id = 1;\n}\n"})
    result = run("new", "--against", "old", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == "no breaking changes against old (BACKWARD, FILE)\n"


@pytest.mark.parametrize("output_format", ["text", "json", "github"])
def test_a_deleted_field_exits_1_naming_the_rule(pair: Path, output_format: str) -> None:
    result = run("new", "--against", "old", "--format", output_format, cwd=pair)
    assert result.exit_code == 1, result.output
    assert "FIELD_NO_DELETE" in result.stdout
    assert result.stderr == "1 breaking change against old (BACKWARD, FILE)\n"


def test_text_is_one_line_per_violation_in_the_new_directory(pair: Path) -> None:
    result = run("new", "--against", "old", cwd=pair)
    assert result.stdout == f"new/{ORDER_PATH}:3:1: {DELETED} (FIELD_NO_DELETE)\n"


def test_text_omits_the_position_when_there_is_none(tmp_path: Path) -> None:
    # A deleted file has no position: it exists on the old side only.
    write(tmp_path / "old", {ORDER_PATH: ORDER_V1, "shop/v1/cart.proto": HEADER + "message C {}\n"})
    write(tmp_path / "new", {ORDER_PATH: ORDER_V1})
    result = run("new", "--against", "old", cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stdout == (
        'old/shop/v1/cart.proto: Previously present file "shop/v1/cart.proto" was deleted.'
        " (FILE_NO_DELETE)\n"
    )


def test_json_is_the_comparison(pair: Path) -> None:
    result = run("new", "--against", "old", "--format", "json", cwd=pair)
    document = json.loads(result.stdout)
    assert document["compatible"] is False
    assert document["mode"] == "BACKWARD"
    assert document["rules"] == "FILE"
    assert document["checked_against"] == ["old"]
    [violation] = document["violations"]
    assert violation["rule"] == "FIELD_NO_DELETE"
    assert violation["file"] == ORDER_PATH
    assert (violation["line"], violation["column"]) == (3, 1)
    assert violation["against"] == "old"


def test_github_is_one_workflow_command_per_violation(pair: Path) -> None:
    result = run("new", "--against", "old", "--format", "github", cwd=pair)
    assert result.stdout == (
        f"::error file=new/{ORDER_PATH},line=3,col=1,title=FIELD_NO_DELETE::{DELETED}\n"
    )


def test_github_escapes_properties_and_message() -> None:
    violation = Violation("RULE_X", "50% off\r\nnow: a, b", "a.proto", None, None)
    line = Located(violation, "dir,with:odd%/a.proto").github()
    assert line == "::error file=dir%2Cwith%3Aodd%25/a.proto,title=RULE_X::50%25 off%0D%0Anow: a, b"


def test_paths_are_joined_with_the_directory_as_given(tmp_path: Path) -> None:
    write(tmp_path / "old", {ORDER_PATH: ORDER_V1})
    write(tmp_path / "new", {ORDER_PATH: ORDER_NO_TOTAL})
    result = run(str(tmp_path / "new") + "/", "--against", str(tmp_path / "old"), cwd=tmp_path)
    assert result.stdout.startswith(f"{tmp_path}/new/{ORDER_PATH}:3:1: ")
    assert result.stderr.endswith(f"against {tmp_path}/old (BACKWARD, FILE)\n")


def test_forward_points_into_the_old_directory(tmp_path: Path) -> None:
    # The new side adds a field: under FORWARD the old side plays "new", and lacks it.
    write(tmp_path / "old", {ORDER_PATH: ORDER_NO_TOTAL})
    write(tmp_path / "new", {ORDER_PATH: ORDER_V1})
    assert run("new", "--against", "old", cwd=tmp_path).exit_code == 0
    result = run("new", "--against", "old", "--mode", "FORWARD", "--format", "github", cwd=tmp_path)
    assert result.exit_code == 1, result.output
    assert result.stdout == (
        f"::error file=old/{ORDER_PATH},line=3,col=1,title=FIELD_NO_DELETE::{DELETED}\n"
    )
    assert result.stderr == "1 breaking change against old (FORWARD, FILE)\n"


def test_full_points_each_direction_at_its_directory(tmp_path: Path) -> None:
    write(tmp_path / "old", {ORDER_PATH: ORDER_NO_TOTAL, "a.proto": HEADER + "message A {}\n"})
    write(tmp_path / "new", {ORDER_PATH: ORDER_V1, "b.proto": HEADER + "message B {}\n"})
    result = run("new", "--against", "old", "--mode", "full", cwd=tmp_path)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert 'old/a.proto: Previously present file "a.proto" was deleted. (FILE_NO_DELETE)' in lines
    assert 'new/b.proto: Previously present file "b.proto" was deleted. (FILE_NO_DELETE)' in lines
    assert f"old/{ORDER_PATH}:3:1: {DELETED} (FIELD_NO_DELETE)" in lines
    assert result.stderr == "3 breaking changes against old (FULL, FILE)\n"


def test_mode_none_checks_nothing(pair: Path) -> None:
    result = run("new", "--against", "old", "--mode", "NONE", cwd=pair)
    assert result.exit_code == 0
    assert result.stderr == "no breaking changes against old (NONE, FILE)\n"


def test_wire_rules_let_a_rename_through_that_file_rules_reject(tmp_path: Path) -> None:
    write(tmp_path / "old", {ORDER_PATH: ORDER_V1})
    write(tmp_path / "new", {ORDER_PATH: ORDER_RENAMED})
    strict = run("new", "--against", "old", cwd=tmp_path)
    assert strict.exit_code == 1
    assert "(FIELD_SAME_NAME)" in strict.stdout
    wire = run("new", "--against", "old", "--rules", "WIRE", cwd=tmp_path)
    assert wire.exit_code == 0, wire.output
    assert wire.stderr == "no breaking changes against old (BACKWARD, WIRE)\n"


def test_include_supplies_an_imported_dependency_to_both_sides(tmp_path: Path) -> None:
    write(
        tmp_path / "vendor",
        {
            "money/v1/money.proto": 'syntax = "proto3";\npackage money.v1;\nmessage Money {\n  int64 units = 1;\n}\n'
        },
    )
    importing = (
        HEADER + 'import "money/v1/money.proto";\nmessage Order {\n  money.v1.Money total = 1;\n'
    )
    write(tmp_path / "old", {ORDER_PATH: importing + "  string note = 2;\n}\n"})
    write(tmp_path / "new", {ORDER_PATH: importing + "}\n"})
    missing = run("new", "--against", "old", cwd=tmp_path)
    assert_input_error(
        missing,
        f"spoke: new: new/{ORDER_PATH} imports money/v1/money.proto, which neither new nor an "
        "--include directory provides",
        f"spoke: old: old/{ORDER_PATH} imports money/v1/money.proto",
    )
    result = run("new", "--against", "old", "--include", "vendor", cwd=tmp_path)
    assert result.exit_code == 1, result.output
    # Only the sides' own files are checked: the vendored file is an import.
    assert result.stdout == (
        f'new/{ORDER_PATH}:4:1: Previously present field "2" with name "note" on message "Order"'
        " was deleted. (FIELD_NO_DELETE)\n"
    )


def test_well_known_types_are_built_in_and_copies_are_not_read(tmp_path: Path) -> None:
    text = (
        HEADER
        + 'import "google/protobuf/timestamp.proto";\nmessage E {\n  google.protobuf.Timestamp at = 1;\n}\n'
    )
    write(tmp_path / "old", {"e.proto": text})
    write(tmp_path / "new", {"e.proto": text, "google/protobuf/timestamp.proto": "not protobuf"})
    result = run("new", "--against", "old", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "new/google/protobuf/timestamp.proto: a well-known type, built in" in result.stderr


def test_hidden_directories_are_skipped(pair: Path) -> None:
    write(pair / "new" / ".cache", {"broken.proto": "this is not protobuf"})
    assert run("new", "--against", "old", cwd=pair).exit_code == 1


def test_symbolic_links_inside_the_directory_are_followed(tmp_path: Path) -> None:
    write(tmp_path / "old", {ORDER_PATH: ORDER_V1})
    write(tmp_path / "new", {"real/order.proto": ORDER_V1})
    (tmp_path / "new" / "shop").mkdir()
    (tmp_path / "new" / "shop" / "v1").symlink_to("../real", target_is_directory=True)
    (tmp_path / "new" / "real" / "loop").symlink_to("..", target_is_directory=True)
    # new/ holds real/order.proto and the same file as shop/v1/order.proto: two definitions.
    result = run("new", "--against", "old", cwd=tmp_path)
    assert_input_error(result, "spoke: new: ", "already defined")
    (tmp_path / "new" / "real" / "order.proto").rename(tmp_path / "order.proto")
    (tmp_path / "new" / "real" / "order.proto").symlink_to("../../order.proto")
    assert_input_error(run("new", "--against", "old", cwd=tmp_path), "outside new: refused")


# --- input errors: exit 2, one clear line, no traceback --------------------------------------


def test_transitive_modes_are_a_usage_error(pair: Path) -> None:
    result = run("new", "--against", "old", "--mode", "BACKWARD_TRANSITIVE", cwd=pair)
    assert_input_error(
        result, "BACKWARD_TRANSITIVE compares a version with every earlier", "use BACKWARD"
    )


def test_an_unknown_mode_or_rule_category_is_a_usage_error(pair: Path) -> None:
    assert_input_error(
        run("new", "--against", "old", "--mode", "SIDEWAYS", cwd=pair),
        "'SIDEWAYS' is not one of NONE, BACKWARD, FORWARD, FULL",
    )
    assert_input_error(
        run("new", "--against", "old", "--rules", "STRICT", cwd=pair),
        "'STRICT' is not one of FILE, PACKAGE",
    )


def test_the_options_offer_every_mode_and_category_of_the_checker() -> None:
    assert tuple(m for m in MODES if not m.endswith("_TRANSITIVE")) == cli_check.CHECK_MODES
    assert cli_check.RULE_CATEGORIES == CATEGORIES


def test_against_is_required(pair: Path) -> None:
    assert_input_error(run("new", cwd=pair), "Missing option '--against'")


def test_a_missing_directory_is_refused(pair: Path) -> None:
    assert_input_error(run("new", "--against", "gone", cwd=pair), "Directory 'gone' does not exist")
    assert_input_error(
        run("new", "--against", "old", "-I", "gone", cwd=pair), "'gone' does not exist"
    )


def test_a_file_instead_of_a_directory_is_refused(pair: Path) -> None:
    result = run(f"new/{ORDER_PATH}", "--against", "old", cwd=pair)
    assert_input_error(result, "is a file")


def test_a_directory_without_proto_files_is_refused(pair: Path) -> None:
    write(pair / "empty", {"README.md": "nothing here"})
    assert_input_error(
        run("empty", "--against", "old", cwd=pair), "spoke: empty: no .proto files in NEW_DIR"
    )
    assert_input_error(
        run("new", "--against", "empty", cwd=pair), "spoke: empty: no .proto files in OLD_DIR"
    )


def test_a_file_that_is_not_utf8_is_refused_with_its_position(pair: Path) -> None:
    (pair / "new" / "latin1.proto").write_bytes(b'syntax = "proto3";\n// caf\xe9\n')
    result = run("new", "--against", "old", cwd=pair)
    assert_input_error(result, "spoke: new/latin1.proto:2:7: not valid UTF-8 (byte 0xe9)")


def test_compile_errors_are_listed_for_each_side(pair: Path) -> None:
    write(pair / "new", {"bad.proto": HEADER + "message Bad {\n  Missing m = 1;\n}\n"})
    write(pair / "old", {"worse.proto": HEADER + "message Worse {\n  int32 x = 1\n}\n"})
    result = run("new", "--against", "old", cwd=pair)
    assert_input_error(
        result,
        'spoke: new: new/bad.proto:4:3: "Missing" is not defined.',
        'spoke: old: old/worse.proto:5:1: Expected ";".',
    )
    assert result.stdout == ""


def test_past_a_hundred_compile_errors_the_rest_are_counted(pair: Path) -> None:
    write(pair / "new", {"flood.proto": HEADER + ".1e" * 200})
    result = run("new", "--against", "old", cwd=pair)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert sum(1 for line in lines if line.startswith("spoke: new: new/flood.proto:")) == 100
    assert lines[-1] == "spoke: new: ... and 300 more errors not shown"


def test_a_symbolic_link_out_of_the_directory_is_refused(pair: Path, tmp_path: Path) -> None:
    write(tmp_path / "elsewhere", {"x.proto": HEADER})
    (pair / "new" / "x.proto").symlink_to(tmp_path / "elsewhere" / "x.proto")
    result = run("new", "--against", "old", cwd=pair)
    assert_input_error(result, "spoke: new/x.proto: symbolic link to ", "outside new: refused")
    (pair / "new" / "x.proto").unlink()
    (pair / "new" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert_input_error(
        run("new", "--against", "old", cwd=pair), "spoke: new/linked: symbolic link to "
    )


def test_a_file_over_the_size_limit_is_refused(pair: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli_check.MAX_FILE_BYTES == 10 * 1024 * 1024  # the server's default body limit
    monkeypatch.setattr(cli_check, "MAX_FILE_BYTES", 64)
    write(pair / "new", {"big.proto": HEADER + "// " + "x" * 64 + "\n"})
    result = run("new", "--against", "old", cwd=pair)
    assert_input_error(result, "spoke: new/big.proto: 104 bytes, over the limit of 64 bytes")


def test_a_checker_failure_is_exit_2_not_a_traceback(
    pair: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(spoke.compat, "compare", broken)
    result = run("new", "--against", "old", cwd=pair)
    assert_input_error(result, "spoke: internal error in the checker: KeyError: 'boom'")


def test_a_compiler_failure_is_exit_2_not_a_traceback(
    pair: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spoke.protobuf, "compile_files", broken)
    result = run("new", "--against", "old", cwd=pair)
    assert_input_error(
        result,
        "spoke: new: cannot compile: OSError: [Errno 28] No space left on device",
        "spoke: old: cannot compile: ",
    )


# --- the installed command ---------------------------------------------------------------------


def test_the_installed_console_script_runs_the_check(pair: Path) -> None:
    script = Path(sys.executable).with_name("spoke")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "spoke"]
    proc = subprocess.run(
        [*argv, "check", "new", "--against", "old", "--format", "github"],
        cwd=pair,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert (
        proc.stdout
        == f"::error file=new/{ORDER_PATH},line=3,col=1,title=FIELD_NO_DELETE::{DELETED}\n"
    )
    assert proc.stderr == "1 breaking change against old (BACKWARD, FILE)\n"
