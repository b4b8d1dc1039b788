"""Generators that misbehave, and requests that must never reach one: timeouts (and nothing left
running), crashes, signals, empty output, options outside the allow-list, shell metacharacters.

The generators here are tiny protoc plugins written to ``tmp_path`` and run by the bundled
protoc through a third-party language registered in the test, exactly as a real one would be.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from spoke.codegen import (
    GenerationFailed,
    LanguageRegistry,
    LanguageStatus,
    generate,
)
from spoke.codegen.process import default_search_path
from spoke.plugins import PluginRegistry, create_plugin_registry
from spoke.testing.languages import LanguagesPlugin, plugin_language, write_executable

PROTO = 'syntax = "proto3";\npackage t.v1;\nmessage M { string s = 1; }\n'
FILES = {"t/v1/m.proto": PROTO}
TARGETS = ["t/v1/m.proto"]

# A protoc plugin in Python: reads the CodeGeneratorRequest, writes one file holding its
# parameter and environment, and records that it ran.
ECHO_PLUGIN = """\
import json, os, sys
from google.protobuf.compiler import plugin_pb2
if sys.argv[1:] == ["--version"]:
    print("protoc-gen-echo 1.0.0")
    sys.exit(0)
with open({ran!r}, "a") as f:
    f.write("ran\\n")
request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
response = plugin_pb2.CodeGeneratorResponse()
out = response.file.add()
out.name = "echo.json"
out.content = json.dumps(
    {{"parameter": request.parameter, "targets": list(request.file_to_generate),
      "env": sorted(os.environ), "cwd": os.getcwd()}}
)
sys.stdout.buffer.write(response.SerializeToString())
"""


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """A directory of test plugins: sleepy, crashy, silent, suicidal, echo."""
    directory = tmp_path / "bin"
    directory.mkdir()
    version = 'if [ "$1" = "--version" ]; then echo "$(basename "$0") 0.0.1"; exit 0; fi\n'
    write_executable(
        directory / "protoc-gen-sleepy",
        "#!/bin/sh\n" + version + f'echo $$ >> "{tmp_path}/pids"\n'
        f'sleep 300 &\necho $! >> "{tmp_path}/pids"\nwait\n',
    )
    write_executable(
        directory / "protoc-gen-crashy",
        "#!/bin/sh\n" + version + 'echo "crashy: cannot generate M: kaboom" >&2\nexit 1\n',
    )
    write_executable(directory / "protoc-gen-silent", "#!/bin/sh\n" + version + "cat >/dev/null\n")
    write_executable(
        directory / "protoc-gen-suicidal", "#!/bin/sh\n" + version + "kill -SEGV $PPID\nsleep 5\n"
    )
    write_executable(
        directory / "protoc-gen-echo",
        f"#!{sys.executable}\n" + ECHO_PLUGIN.format(ran=str(tmp_path / "echo-ran")),
    )
    return directory


@pytest.fixture
def registry(tools: Path) -> LanguageRegistry:
    plugins = create_plugin_registry()
    plugins.register(
        LanguagesPlugin(
            plugin_language("sleepy"),
            plugin_language("crashy"),
            plugin_language("silent"),
            plugin_language("suicidal"),
            plugin_language(
                "echo",
                options=(
                    "mode=fast",
                    f"x=$(touch {tools.parent}/pwned)",
                    f"y=`touch {tools.parent}/pwned2`; rm -rf {tools.parent}",
                ),
            ),
        ),
        name="failing-generators",
    )
    return LanguageRegistry.load(
        plugins, search_path=os.pathsep.join([str(tools), default_search_path()])
    )


def enabled(registry: LanguageRegistry, language_id: str) -> LanguageStatus:
    status = registry.get(language_id)
    assert status.enabled, status.reason
    return status


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its reaper does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_a_generator_that_times_out_is_killed_with_its_children(
    registry: LanguageRegistry, tmp_path: Path
) -> None:
    status = enabled(registry, "sleepy")
    start = time.monotonic()
    with pytest.raises(GenerationFailed) as raised:
        generate(status, files=FILES, targets=TARGETS, grpc=False, options=[], timeout=2)
    assert time.monotonic() - start < 20
    failure = raised.value
    assert failure.timed_out is True
    assert failure.exit_code is None
    assert failure.language == "sleepy"
    assert "timed out after 2s" in failure.message
    pids = [int(line) for line in (tmp_path / "pids").read_text().split()]
    assert len(pids) == 2  # the plugin and the child it started
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if alive(pid)] == []


def test_a_generator_that_fails_reports_its_stderr(registry: LanguageRegistry) -> None:
    with pytest.raises(GenerationFailed) as raised:
        generate(
            enabled(registry, "crashy"), files=FILES, targets=TARGETS, grpc=False, options=[],
            timeout=30,
        )  # fmt: skip
    failure = raised.value
    assert failure.timed_out is False
    assert failure.exit_code == 1
    assert "crashy: cannot generate M: kaboom" in failure.stderr
    assert "protoc-gen-crashy: Plugin failed with status code 1" in failure.stderr
    assert failure.message == "crashy generator (protoc-gen-crashy) failed with exit status 1"


def test_a_generator_killed_by_a_signal(registry: LanguageRegistry) -> None:
    with pytest.raises(GenerationFailed) as raised:
        generate(
            enabled(registry, "suicidal"), files=FILES, targets=TARGETS, grpc=False, options=[],
            timeout=30,
        )  # fmt: skip
    assert raised.value.exit_code == -11
    assert raised.value.message.endswith("was killed by SIGSEGV")


def test_a_generator_that_writes_nothing_fails(registry: LanguageRegistry) -> None:
    with pytest.raises(GenerationFailed, match="wrote no file") as raised:
        generate(
            enabled(registry, "silent"), files=FILES, targets=TARGETS, grpc=False, options=[],
            timeout=30,
        )  # fmt: skip
    assert raised.value.exit_code == 0 and not raised.value.timed_out


def test_stderr_is_trimmed_and_has_no_server_directories() -> None:
    failure = GenerationFailed("x", stderr="a" * 3000 + "MIDDLE" + "b" * 3000)
    assert len(failure.stderr) < 4200
    assert failure.stderr.startswith("a" * 100) and failure.stderr.endswith("b" * 100)
    assert "MIDDLE" not in failure.stderr and "characters omitted" in failure.stderr


def test_a_protoc_error_names_the_file_not_the_temp_directory(registry: LanguageRegistry) -> None:
    broken = {"t/v1/m.proto": 'syntax = "proto3";\nmessage M { strin s = 1; }\n'}
    with pytest.raises(GenerationFailed) as raised:
        generate(
            registry.get("python"), files=broken, targets=TARGETS, grpc=False, options=[],
            timeout=30,
        )  # fmt: skip
    assert raised.value.stderr.startswith("t/v1/m.proto:2:")
    assert "spoke-codegen-" not in raised.value.stderr


# Options and environment -------------------------------------------------------------------


def test_allowed_options_are_passed_literally_never_to_a_shell(
    registry: LanguageRegistry, tmp_path: Path
) -> None:
    import json

    status = enabled(registry, "echo")
    options = list(status.language.options)
    code = generate(status, files=FILES, targets=TARGETS, grpc=False, options=options, timeout=30)
    seen = json.loads(code.files["echo.json"])
    assert seen["parameter"] == ",".join(sorted(options))
    assert seen["targets"] == TARGETS
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    assert (tmp_path / "bin").is_dir()


def test_the_generator_sees_a_minimal_environment(
    registry: LanguageRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    monkeypatch.setenv("SPOKE_TEST_SECRET", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    status = enabled(registry, "echo")
    code = generate(status, files=FILES, targets=TARGETS, grpc=False, options=[], timeout=30)
    seen = json.loads(code.files["echo.json"])
    # protoc may add a variable or two of its own; nothing of the server's gets through.
    assert "SPOKE_TEST_SECRET" not in seen["env"] and "AWS_SECRET_ACCESS_KEY" not in seen["env"]
    assert {"PATH", "HOME", "TMPDIR", "LC_ALL"} <= set(seen["env"])
    assert seen["cwd"] != os.getcwd() and "spoke-codegen-" in seen["cwd"]


@pytest.mark.parametrize(
    "option",
    [
        "mode=slow",
        "mode=fast,x=1",
        "mode=fast; touch /tmp/spoke-pwned",
        "$(touch /tmp/spoke-pwned)",
        "--plugin=protoc-gen-evil=/bin/sh",
    ],
)
def test_options_outside_the_allow_list_are_refused_before_anything_runs(
    registry: LanguageRegistry, tmp_path: Path, option: str
) -> None:
    status = enabled(registry, "echo")
    with pytest.raises(ValueError, match="options not allowed for 'echo'"):
        generate(status, files=FILES, targets=TARGETS, grpc=False, options=[option], timeout=30)
    assert not (tmp_path / "echo-ran").exists()
    assert not Path("/tmp/spoke-pwned").exists()


def test_builtin_languages_refuse_options_they_do_not_list() -> None:
    registry = LanguageRegistry.load(create_plugin_registry())
    with pytest.raises(ValueError, match=r"allowed: none"):
        generate(
            registry.get("python"), files=FILES, targets=TARGETS, grpc=False,
            options=["pyi_out"], timeout=30,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"targets": []}, "no target"),
        ({"targets": ["t/v1/other.proto"]}, "targets missing from files"),
        (
            {"files": {"../escape.proto": PROTO}, "targets": ["../escape.proto"]},
            "invalid .proto path",
        ),
        ({"files": {"/abs.proto": PROTO}, "targets": ["/abs.proto"]}, "invalid .proto path"),
        ({"files": {"t/v1/m.txt": PROTO}, "targets": ["t/v1/m.txt"]}, "invalid .proto path"),
        (
            {"files": {**FILES, "google/protobuf/timestamp.proto": PROTO}},
            "paths of well-known types",
        ),
        ({"grpc": True}, "does not generate gRPC code"),
        ({"timeout": 0}, "timeout must be positive"),
    ],
)
def test_requests_that_cannot_run_are_value_errors(
    registry: LanguageRegistry, tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "files": FILES,
        "targets": TARGETS,
        "grpc": False,
        "options": [],
        "timeout": 30,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        generate(enabled(registry, "echo"), **arguments)  # type: ignore[arg-type]
    assert not (tmp_path / "echo-ran").exists()


def test_a_disabled_language_is_a_value_error_with_its_reason() -> None:
    plugins = PluginRegistry()
    plugins.register(LanguagesPlugin(plugin_language("nowhere")), name="nowhere")
    status = LanguageRegistry.load(plugins).get("nowhere")
    assert not status.enabled
    with pytest.raises(ValueError, match="disabled: protoc-gen-nowhere not found on PATH"):
        generate(status, files=FILES, targets=TARGETS, grpc=False, options=[], timeout=30)


def test_generation_failed_survives_pickling() -> None:
    import pickle

    failure = GenerationFailed("boom", stderr="err", timed_out=True, exit_code=None, language="go")
    copy = pickle.loads(pickle.dumps(failure))
    assert (copy.message, copy.stderr, copy.timed_out, copy.exit_code, copy.language) == (
        "boom",
        "err",
        True,
        None,
        "go",
    )


def test_a_generator_uninstalled_after_detection_fails_cleanly(
    registry: LanguageRegistry, tools: Path
) -> None:
    import dataclasses

    status = enabled(registry, "crashy")
    (tools / "protoc-gen-crashy").unlink()
    with pytest.raises(GenerationFailed) as raised:
        generate(status, files=FILES, targets=TARGETS, grpc=False, options=[], timeout=30)
    assert raised.value.exit_code == 1
    assert "protoc-gen-crashy" in raised.value.stderr
    assert status.invocation is not None
    gone = dataclasses.replace(
        status,
        invocation=dataclasses.replace(status.invocation, protoc=(str(tools / "protoc"),)),
    )
    with pytest.raises(GenerationFailed, match="could not be started: No such file"):
        generate(gone, files=FILES, targets=TARGETS, grpc=False, options=[], timeout=30)
