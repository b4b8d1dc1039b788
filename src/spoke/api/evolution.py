"""API resources of schema evolution: compatibility checks and diffs between versions.

The answers depend on the module's policy and on which versions are stored, both of which
change, so none of them is cached as immutable, not even for an exact version.
"""

from __future__ import annotations

from typing import Any

import falcon

from spoke.api.http import expect_fields, query_text, read_json
from spoke.api.resources import NO_CACHE, _Resource, parse_dependencies, parse_files
from spoke.errors import InvalidRequest

__all__ = ["CompatibilityResource", "DiffResource", "VersionCompatibilityResource"]


def _version_field(body: dict[str, Any], name: str) -> str | None:
    """An optional version string (exact or ``latest``); checked further by the service."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(
            f"'{name}' must be a version string or 'latest'", details={"field": name}
        )
    return value


class CompatibilityResource(_Resource):
    """``/modules/{name}/compatibility``: check a stored version or candidate files."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        body = read_json(req, max_bytes=self.max_body_bytes)
        expect_fields(
            body,
            optional=["old_version", "new_version", "files", "dependencies", "mode", "rules"],
        )
        # Every field is optional and null means absent, as for the push's optional fields.
        body = {key: value for key, value in body.items() if value is not None}
        if ("new_version" in body) == ("files" in body):
            raise InvalidRequest(
                "send exactly one of 'new_version' (a stored version) and 'files' (a candidate)"
                + (", not both" if "files" in body else ""),
                details={"fields": ["new_version", "files"]},
            )
        old_version = _version_field(body, "old_version")
        evolution = self.service.evolution
        if "files" in body:
            comparison = evolution.check_candidate(
                module=name,
                files=parse_files(body["files"]),
                dependencies=parse_dependencies(body.get("dependencies"), module=name),
                old_version=old_version,
                mode=body.get("mode"),
                rules=body.get("rules"),
            )
        else:
            if "dependencies" in body:
                raise InvalidRequest(
                    "'dependencies' goes with 'files'; a stored version keeps its own",
                    details={"field": "dependencies"},
                )
            new_version = _version_field(body, "new_version")
            assert new_version is not None
            comparison = evolution.check_stored(
                module=name,
                version=new_version,
                old_version=old_version,
                mode=body.get("mode"),
                rules=body.get("rules"),
            )
        resp.cache_control = NO_CACHE
        resp.media = comparison.to_dict()


class VersionCompatibilityResource(_Resource):
    """``.../versions/{version}/compatibility``: a stored version against its predecessors."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        comparison = self.service.evolution.check_stored(
            module=name,
            version=version,
            # Absent is the module's policy. Empty (``?mode=``) is refused rather than read as
            # absent: a check that silently used the module's policy would hide the slip.
            mode=query_text(req, "mode"),
            rules=query_text(req, "rules"),
        )
        resp.cache_control = NO_CACHE
        resp.media = comparison.to_dict()


class DiffResource(_Resource):
    """``/modules/{name}/diff``: what changed from one stored version to another."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        body = read_json(req, max_bytes=self.max_body_bytes)
        expect_fields(body, required=["from_version", "to_version"])
        for field in ("from_version", "to_version"):
            if not isinstance(body[field], str):
                raise InvalidRequest(
                    f"'{field}' must be a version string or 'latest'", details={"field": field}
                )
        result = self.service.evolution.diff(
            module=name, from_version=body["from_version"], to_version=body["to_version"]
        )
        resp.cache_control = NO_CACHE
        resp.media = result.to_dict()
