"""The ``spoke`` command line (in process, through click's runner)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from spoke import __version__
from spoke.cli import main


def test_version_flag_prints_the_package_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_plugins_lists_builtin_backends_by_kind() -> None:
    result = CliRunner().invoke(main, ["plugins"], env={"SPOKE_STORAGE_TYPE": "memory"})
    assert result.exit_code == 0, result.output
    storage_part = result.output.split("blob backends:")[0]
    assert "filesystem" in storage_part
    assert "memory" in storage_part
    assert "none" in result.output.split("cache backends:")[1]


def test_settings_prints_every_variable_with_its_value() -> None:
    result = CliRunner().invoke(main, ["settings"], env={"SPOKE_PORT": "8181"})
    assert result.exit_code == 0
    assert "SPOKE_PORT=8181\n" in result.output
    assert "SPOKE_HEALTH_PORT=9090\n" in result.output


def test_settings_with_a_bad_value_exits_2_naming_the_variable() -> None:
    result = CliRunner().invoke(main, ["settings"], env={"SPOKE_THREADS": "lots"})
    assert result.exit_code == 2
    assert "SPOKE_THREADS: expected an integer, got 'lots'" in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_serve_reports_a_backend_that_cannot_start_in_one_line(tmp_path: Path) -> None:
    # A file where the data directory should be: the filesystem backend cannot start.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    result = CliRunner().invoke(
        main,
        ["serve"],
        env={"SPOKE_FILESYSTEM_ROOT": str(blocker / "data"), "SPOKE_PORT": "18181"},
    )
    assert result.exit_code == 1, result.output
    assert result.output.startswith("spoke: cannot start: ")
    assert str(tmp_path) not in result.output
    assert "Traceback" not in result.output
