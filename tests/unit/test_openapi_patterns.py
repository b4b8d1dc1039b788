"""openapi.yaml's patterns and lengths accept exactly what the server's validation accepts.

Each test runs values through a schema of the spec (pattern, minLength, maxLength) and through
the code that validates the same input, boundary values included, and expects one answer.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from spoke.api import resources
from spoke.codegen.languages import _LANGUAGE_ID
from spoke.compile_jobs import MAX_LANGUAGES
from spoke.errors import SpokeError
from spoke.semver import parse_semver
from spoke.validation import (
    MODULE_NAME_PATTERN,
    validate_dependency,
    validate_module_name,
    validate_path,
)


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(spec["components"]["schemas"][name])


def test_module_name_pattern_is_the_code_pattern(spec: dict[str, Any]) -> None:
    assert _schema(spec, "ModuleName")["pattern"] == MODULE_NAME_PATTERN
    assert spec["components"]["parameters"]["ModuleName"]["schema"]["$ref"].endswith("/ModuleName")


def _matches(pattern: str, value: str) -> bool:
    # JSON Schema patterns are ECMA-262: without the multiline flag `$` is the very end.
    return re.search(pattern.replace("$", r"\Z"), value) is not None


def _conforms(schema: dict[str, Any], value: str) -> bool:
    """``value`` meets the string schema's pattern and lengths (code points, as Python counts)."""
    low, high = schema.get("minLength", 0), schema.get("maxLength", len(value))
    return _matches(schema["pattern"], value) and low <= len(value) <= high


def _accepted(check: Any, value: str) -> bool:
    try:
        check(value)
    except ValueError:
        return False
    except SpokeError:
        return False
    return True


VERSIONS = [
    "1.0.0",
    "v1.2.3",
    "0.0.0-alpha.1+build.5",
    "1.0.0-0A.is.legal",
    "10.20.30",
    "1.0.0-rc.1",
    "1.0",
    "01.0.0",
    "1.0.0-01",
    "1.0.0+",
    "V1.0.0",
    "1.0.0 ",
    "1.0.0\n",
    "\u0661.0.0",
    "latest",
    "",
    "9" * 18 + ".0.0",  # the 18 digits a signed 64-bit column holds
    "1" + "0" * 18 + ".0.0",
    "0." + "9" * 18 + ".0",
    "0.0." + "1" * 19,
    "0.0.1-" + "1" * 99,  # numeric prerelease identifiers: at most 99 digits
    "0.0.1-" + "1" * 100,
    "0.0.1-a" + "1" * 100,  # alphanumeric ones have no digit limit
    "1.0.0-" + "a" * 122,  # 128 characters
    "1.0.0-" + "a" * 123,
    "v1.0.0-" + "a" * 122,  # 129 with the v, which counts
    "1.0.0+" + "b" * 122,
]
STORED_VERSIONS = [value for value in VERSIONS if not value.startswith("v")]


@pytest.mark.parametrize("value", VERSIONS)
def test_version_pattern_agrees_with_the_semver_parser(spec: dict[str, Any], value: str) -> None:
    schema = _schema(spec, "SemanticVersion")
    assert _conforms(schema, value) == _accepted(parse_semver, value)


@pytest.mark.parametrize("value", VERSIONS)
def test_version_path_parameter_also_takes_latest(spec: dict[str, Any], value: str) -> None:
    schema = spec["components"]["parameters"]["VersionOrLatest"]["schema"]
    expected = value == "latest" or _accepted(parse_semver, value)
    assert _conforms(schema, value) == expected


@pytest.mark.parametrize("value", STORED_VERSIONS)
def test_stored_version_pattern_agrees_with_the_semver_parser(
    spec: dict[str, Any], value: str
) -> None:
    schema = _schema(spec, "StoredVersion")
    assert _conforms(schema, value) == _accepted(parse_semver, value)


@pytest.mark.parametrize("value", VERSIONS)
def test_version_or_latest_schema_is_the_path_parameter_pattern(
    spec: dict[str, Any], value: str
) -> None:
    schema = _schema(spec, "VersionOrLatest")
    expected = value == "latest" or _accepted(parse_semver, value)
    assert _conforms(schema, value) == expected


def _version_patterns(spec: dict[str, Any]) -> dict[str, str]:
    schemas = spec["components"]["schemas"]
    summary = schemas["VersionSummary"]["properties"]["dependencies"]["items"]
    return {
        "SemanticVersion": schemas["SemanticVersion"]["pattern"],
        "VersionOrLatest": schemas["VersionOrLatest"]["pattern"],
        "VersionOrLatest parameter": spec["components"]["parameters"]["VersionOrLatest"]["schema"][
            "pattern"
        ],
        "DependencyPin": schemas["DependencyPin"]["pattern"],
        "VersionSummary.dependencies": summary["pattern"],
    }


def test_every_version_pattern_holds_the_stored_version_grammar(spec: dict[str, Any]) -> None:
    """The grammar is written six times in the spec; one edit must not leave the others behind."""
    grammar = _schema(spec, "StoredVersion")["pattern"].removeprefix("^").removesuffix("$")
    for name, pattern in _version_patterns(spec).items():
        assert grammar in pattern, name


@pytest.mark.parametrize(
    "value",
    [
        "common@1.0.0",
        "a.b-c_d@0.1.0-rc.1+build.7",
        "common@v1.0.0",
        "common@latest",
        "common@" + "1" * 19 + ".0.0",
        "common@1.0.0@2.0.0",
        "common@",
        "common@anything at all",
        "Common@1.0.0",
    ],
)
def test_stored_pins_of_a_summary_are_module_at_stored_version(
    spec: dict[str, Any], value: str
) -> None:
    pattern = _version_patterns(spec)["VersionSummary.dependencies"]
    name, _, version = value.partition("@")
    expected = _accepted(validate_module_name, name) and _accepted(parse_semver, version)
    assert _matches(pattern, value) == (expected and not version.startswith("v"))


@pytest.mark.parametrize(
    "value",
    [
        "a.proto",
        "acme/v1/person.proto",
        "a+b/c-d_e.proto",
        ".../x.proto",
        ".hidden/a.proto",
        ".proto",
        "a.proto.bak",
        "/abs.proto",
        "a//b.proto",
        "./a.proto",
        "a/../b.proto",
        "a\\b.proto",
        "a b.proto",
        "a:b.proto",
        "é.proto",
        "",
        "a" * 255 + "/x.proto",  # a segment may be 255 characters long
        "a" * 256 + "/x.proto",
        "." + "a" * 254 + "/x.proto",
        "." + "a" * 255 + "/x.proto",
        ".." + "." * 253 + "/x.proto",
        ".." + "." * 254 + "/x.proto",
        "b" * 249 + ".proto",
        "b" * 250 + ".proto",
        "a/" * 252 + "bc.proto",  # 512 characters
        "a/" * 252 + "bcd.proto",
        "..a/x.proto",
        ".../x.proto",
        "a/./x.proto",
        "a/.proto",  # no file name before .proto
        "..proto",
    ],
)
def test_file_path_pattern_agrees_with_validate_path(spec: dict[str, Any], value: str) -> None:
    schema = _schema(spec, "FilePath")
    assert _conforms(schema, value) == _accepted(validate_path, value)


@pytest.mark.parametrize(
    "value",
    [
        "common@1.0.0",
        "common@v1.0.0",
        "a.b-c_d@0.1.0-rc.1",
        "common@latest",
        "common",
        "Common@1.0.0",
        "common@1.0.0@2.0.0",
        "common@" + "9" * 18 + ".0.0",
        "common@" + "9" * 19 + ".0.0",
        "common@1.0.0-" + "1" * 100,
        "common@anything",
        "common@1.0.0 ",
        "a" * 128 + "@1.0.0-" + "r" * 122,  # 257 characters
    ],
)
def test_dependency_pattern_agrees_with_validate_dependency(
    spec: dict[str, Any], value: str
) -> None:
    schema = _schema(spec, "DependencyPin")
    accepted = _accepted(lambda pin: validate_dependency(pin, module="self"), value)
    assert _conforms(schema, value) == accepted


@pytest.mark.parametrize(
    "value",
    [
        "acme",
        "a",
        "a" * 128,
        "a" * 129,
        "acme.payments_v1-x",
        "Acme",
        "1acme",
        "-acme",
        "ac me",
        "ac/me",
        "",
        "acme\n",
        "acmé",
    ],
)
def test_module_name_pattern_agrees_with_validate_module_name(
    spec: dict[str, Any], value: str
) -> None:
    schema = _schema(spec, "ModuleName")
    assert _conforms(schema, value) == _accepted(validate_module_name, value)


@pytest.mark.parametrize("name", ["FileInput", "ValidateRequest"])
@pytest.mark.parametrize(
    ("content", "accepted"),
    [("", True), ('syntax = "proto3";\n', True), ("\u00e9\t\r\n\x01", True), ("a\x00b", False)],
)
def test_file_text_pattern_excludes_nul_as_the_server_does(
    spec: dict[str, Any], name: str, content: str, accepted: bool
) -> None:
    schema = _schema(spec, name)["properties"]["content"]
    assert _conforms(schema, content) == accepted
    server_accepts = _accepted(
        lambda text: resources.file_text(text, "content", path="input.proto"), content
    )
    assert server_accepts == accepted


def test_compile_language_count_is_the_code_limit(spec: dict[str, Any]) -> None:
    assert _schema(spec, "CompileRequest")["properties"]["languages"]["maxItems"] == MAX_LANGUAGES


def test_language_id_pattern_is_the_registry_rule(spec: dict[str, Any]) -> None:
    schema = spec["components"]["parameters"]["LanguageId"]["schema"]
    assert schema["pattern"] == _LANGUAGE_ID.pattern
