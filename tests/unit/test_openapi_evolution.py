"""openapi.yaml's schema evolution shapes agree with what the code answers."""

from __future__ import annotations

from typing import Any

import pytest

from spoke.compat import Comparison, Violation
from spoke.compat.diff import Change
from spoke.errors import IncompatibleSchema


@pytest.fixture(scope="module")
def schemas(spec: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = dict(spec["components"]["schemas"])
    found["_version_parameter"] = spec["components"]["parameters"]["VersionOrLatest"]["schema"]
    return found


def test_body_versions_take_what_the_version_path_parameter_takes(
    schemas: dict[str, Any],
) -> None:
    body = schemas["VersionOrLatest"]
    parameter = schemas["_version_parameter"]
    assert (body["pattern"], body["maxLength"]) == (parameter["pattern"], parameter["maxLength"])


def test_the_comparison_schema_lists_exactly_what_to_dict_writes(schemas: dict[str, Any]) -> None:
    violation = Violation("FIELD_NO_DELETE", "gone", "a.proto", 1, 1, "a.proto:M.f", "1.0.0")
    comparison = Comparison("BACKWARD", "FILE", ("1.0.0",), (violation,))
    assert set(schemas["Comparison"]["required"]) == set(comparison.to_dict())
    assert set(schemas["Comparison"]["properties"]) == set(comparison.to_dict())
    assert set(schemas["Violation"]["required"]) == set(violation.to_dict())
    assert set(schemas["Violation"]["properties"]) == set(violation.to_dict())


def test_the_change_schema_lists_exactly_what_to_dict_writes(schemas: dict[str, Any]) -> None:
    change = Change("field_added", "non_breaking", "a.proto:M.f", None, "int32 f = 1", "added")
    assert set(schemas["Change"]["required"]) == set(change.to_dict())
    assert set(schemas["Change"]["properties"]) == set(change.to_dict())
    assert schemas["Change"]["properties"]["severity"]["enum"] == ["breaking", "non_breaking"]


def test_the_requests_refuse_unknown_fields(schemas: dict[str, Any]) -> None:
    for name in ("CompatibilityRequest", "DiffRequest"):
        assert schemas[name]["additionalProperties"] is False, name


def test_incompatible_schema_is_a_409() -> None:
    assert (IncompatibleSchema.status, IncompatibleSchema.default_code) == (
        409,
        "incompatible_schema",
    )
