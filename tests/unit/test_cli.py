"""The ``spoke`` command line (in process, through click's runner)."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from spoke import __version__
from spoke.cli import main
from spoke.server import ListenError
from spoke.settings import SETTINGS, SettingSpec, environment_value, load_settings


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


# -- a port that is taken ----------------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another socket listens on (on every IPv4 address, as a second Spoke would)."""
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        yield int(busy.getsockname()[1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("setting", ["SPOKE_PORT", "SPOKE_HEALTH_PORT"])
def test_serve_on_a_busy_port_names_the_address_the_port_and_the_setting(
    busy_port: int, setting: str
) -> None:
    other = "SPOKE_HEALTH_PORT" if setting == "SPOKE_PORT" else "SPOKE_PORT"
    env = {
        "SPOKE_STORAGE_TYPE": "memory",
        "SPOKE_HOST": "127.0.0.1",
        "SPOKE_LOG_LEVEL": "error",
        setting: str(busy_port),
        other: str(_free_port()),
    }
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"spoke: cannot listen on 127.0.0.1:{busy_port} ({setting}): Address already in use\n"
    )


def test_the_message_brackets_an_ipv6_host_and_blames_the_host_when_it_does_not_resolve() -> None:
    in_use = OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
    assert str(ListenError("::", 8080, "SPOKE_PORT", in_use)) == (
        "cannot listen on [::]:8080 (SPOKE_PORT): Address already in use"
    )
    unknown = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert str(ListenError("nowhere.invalid", 8080, "SPOKE_PORT", unknown)) == (
        "cannot listen on nowhere.invalid:8080 (SPOKE_HOST): Name or service not known"
    )


def test_serve_on_a_host_that_does_not_resolve_blames_spoke_host() -> None:
    env = {
        "SPOKE_STORAGE_TYPE": "memory",
        "SPOKE_HOST": "nowhere.invalid",
        "SPOKE_LOG_LEVEL": "error",
    }
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("spoke: cannot listen on nowhere.invalid:8080 (SPOKE_HOST): ")


# -- spoke settings prints what the environment would hold ---------------------------------------

LIST_SETTINGS = [
    spec for spec in SETTINGS if isinstance(getattr(load_settings({}), spec.attribute), tuple)
]
LIST_VALUES = {
    "SPOKE_POSTGRES_REPLICA_URLS": "postgresql://s:pw@r1:5432/spoke,postgresql://s:pw@r2/spoke"
}


def _settings_output(env: dict[str, str]) -> dict[str, str]:
    result = CliRunner().invoke(main, ["settings"], env=env)
    assert result.exit_code == 0, result.output
    return dict(line.split("=", 1) for line in result.output.splitlines())


def test_there_are_list_settings_and_each_has_a_sample_value_here() -> None:
    assert LIST_SETTINGS
    assert {spec.env for spec in LIST_SETTINGS} == set(LIST_VALUES)


@pytest.mark.parametrize("spec", LIST_SETTINGS, ids=lambda spec: spec.env)
def test_a_list_setting_is_printed_comma_separated_or_hidden(spec: SettingSpec) -> None:
    assert _settings_output({})[spec.env] == ""  # not "()"
    shown = _settings_output({spec.env: LIST_VALUES[spec.env]})[spec.env]
    if spec.secret:
        assert shown == "(hidden)"
    # What would be printed unmasked parses back to the same list.
    value = getattr(load_settings({spec.env: LIST_VALUES[spec.env]}), spec.attribute)
    assert len(value) == 2
    assert environment_value(value) == LIST_VALUES[spec.env]
    assert getattr(load_settings({spec.env: environment_value(value)}), spec.attribute) == value


def test_every_printed_value_parses_back_to_the_same_setting() -> None:
    env = {
        "SPOKE_CACHE_ENABLED": "no",
        "SPOKE_SHUTDOWN_TIMEOUT": "1m",
        "SPOKE_L1_CACHE_SIZE": "2MiB",
        "SPOKE_REDIS_L1_TTL": "500ms",
        "SPOKE_OTEL_SAMPLE_RATIO": "0.25",
    }
    settings = load_settings(env)
    printed = _settings_output(env)
    assert printed["SPOKE_CACHE_ENABLED"] == "false"
    for spec in SETTINGS:
        if spec.secret:
            continue
        raw = printed[spec.env]
        again = load_settings({spec.env: raw} if raw else {})
        assert getattr(again, spec.attribute) == getattr(settings, spec.attribute), spec.env
