"""API resources: parse the request, call the service, write the answer. Nothing else."""

from __future__ import annotations

import json
from typing import Any

import falcon

from spoke.api.http import (
    Pagination,
    conditional_immutable,
    expect_fields,
    optional_str,
    query_flag,
    read_json,
    send_page,
)
from spoke.api.representations import (
    dependency_list,
    file_body,
    module_body,
    version_body,
    version_summary,
)
from spoke.domain import DependencyRef, SourceInfo, Version
from spoke.errors import InvalidRequest, Unprocessable
from spoke.evolution import check_policy
from spoke.lru import LRUCache
from spoke.service import PushRequest, RegistryService
from spoke.validation import (
    validate_dependency,
    validate_module_name,
    validate_path,
    validate_version,
)

__all__ = [
    "DependenciesResource",
    "DependentsResource",
    "DescriptorResource",
    "FileResource",
    "ModuleResource",
    "ModulesResource",
    "TransitiveDependenciesResource",
    "ValidateResource",
    "VersionResource",
    "VersionsResource",
]

MAX_DESCRIPTION = 4096
MAX_FILES = 10_000
MAX_SOURCE_FIELD = 1024
NO_CACHE = ["no-cache"]
# Encoded answers of file GETs kept per resource; files are immutable, so entries never go stale.
RENDERED_BODY_BUDGET = 16 * 1024 * 1024


class _Resource:
    def __init__(self, service: RegistryService, *, max_body_bytes: int) -> None:
        self.service = service
        self.max_body_bytes = max_body_bytes

    def _version(self, name: str, version: str) -> Version:
        return self.service.get_version(module=name, version=version)


def _set_version_caching(
    req: falcon.Request, resp: falcon.Response, requested: str, etag: str
) -> bool:
    """Immutable caching for an exact version; ``latest`` is resolved on every request."""
    if requested == "latest":
        resp.cache_control = NO_CACHE
        return False
    return conditional_immutable(req, resp, etag=etag)


class ModulesResource(_Resource):
    """``/modules``: create and list modules."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, max_bytes=self.max_body_bytes)
        expect_fields(body, required=["name"], optional=["description", "compatibility"])
        name = validate_module_name(body["name"])
        description = optional_str(body, "description", max_length=MAX_DESCRIPTION) or ""
        compatibility = check_policy(body.get("compatibility", {}))
        module = self.service.create_module(
            name=name, description=description, compatibility=compatibility
        )
        resp.status = falcon.HTTP_201
        resp.location = f"{req.path}/{module.name}"
        resp.media = module_body(module)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        pagination = Pagination(req)
        prefix = req.get_param("q") or ""
        if len(prefix) > 128:
            raise InvalidRequest("'q' is longer than 128 characters", details={"parameter": "q"})
        page = self.service.list_modules(
            prefix=prefix, limit=pagination.limit, offset=pagination.offset
        )
        send_page(
            req,
            resp,
            page,
            pagination,
            [module_body(m) for m in page.items],
            query={"q": prefix} if prefix else {},
        )


class ModuleResource(_Resource):
    """``/modules/{name}``: read and update one module."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        module = self.service.get_module(name=name)
        versions = self.service.list_versions(module=name, limit=50, offset=0)
        body = module_body(module)
        body["versions"] = [version_summary(v) for v in versions.items]
        resp.media = body

    def on_patch(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        body = read_json(req, max_bytes=self.max_body_bytes)
        expect_fields(body, optional=["description", "compatibility"])
        description = optional_str(body, "description", max_length=MAX_DESCRIPTION)
        compatibility = check_policy(body["compatibility"]) if "compatibility" in body else None
        module = self.service.update_module(
            name=name, description=description, compatibility=compatibility
        )
        resp.media = module_body(module)


class VersionsResource(_Resource):
    """``/modules/{name}/versions``: push and list versions."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        body = read_json(req, max_bytes=self.max_body_bytes)
        expect_fields(body, required=["version", "files"], optional=["dependencies", "source_info"])
        request = PushRequest(
            version=validate_version(body["version"])[0],
            files=parse_files(body["files"]),
            dependencies=parse_dependencies(body.get("dependencies"), module=name),
            source_info=parse_source_info(body.get("source_info")),
        )
        result = self.service.push_version(module=name, request=request)
        resp.status = falcon.HTTP_201 if result.created else falcon.HTTP_200
        resp.location = f"{req.path}/{result.version.version}"
        resp.media = version_body(result.version, self.service.version_files(result.version))

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        pagination = Pagination(req)
        page = self.service.list_versions(
            module=name, limit=pagination.limit, offset=pagination.offset
        )
        send_page(req, resp, page, pagination, [version_summary(v) for v in page.items])


class VersionResource(_Resource):
    """``/modules/{name}/versions/{version}``: one version with its files.

    An exact version's encoded answer is kept (within a byte budget) like a file's: it can never
    change. ``latest`` is encoded on each request after resolving it.
    """

    def __init__(self, service: RegistryService, *, max_body_bytes: int) -> None:
        super().__init__(service, max_body_bytes=max_body_bytes)
        self._bodies = LRUCache(max_bytes=RENDERED_BODY_BUDGET)

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        found = self._version(name, version)
        if _set_version_caching(req, resp, version, f"{found.fingerprint}:{found.version}"):
            return
        key = f"{found.module_name}@{found.version}"
        body = self._bodies.get(key=key)
        if body is None:
            body = json.dumps(version_body(found, self.service.version_files(found))).encode()
            self._bodies.set(key=key, value=body)
        resp.content_type = falcon.MEDIA_JSON
        resp.data = body


class FileResource(_Resource):
    """``/modules/{name}/versions/{version}/files/{path}``: one file, as JSON or raw text.

    A file's bytes never change, so its encoded answer is kept (by sha256 and path, within a
    byte budget) and sent as is: the hot path of builds fetching one file at a time.
    """

    def __init__(self, service: RegistryService, *, max_body_bytes: int) -> None:
        super().__init__(service, max_body_bytes=max_body_bytes)
        self._bodies = LRUCache(max_bytes=RENDERED_BODY_BUDGET)

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, name: str, version: str, path: str
    ) -> None:
        raw = query_flag(req, "raw")
        _, ref = self.service.find_file(module=name, version=version, path=path)
        if _set_version_caching(req, resp, version, f"{ref.sha256}{'-raw' if raw else ''}"):
            return
        key = f"{'raw' if raw else 'json'}:{ref.sha256}:{ref.path}"
        body = self._bodies.get(key=key)
        if body is None:
            file = self.service.read_file(ref)
            body = file.content.encode() if raw else json.dumps(file_body(file)).encode()
            self._bodies.set(key=key, value=body)
        resp.content_type = "text/plain; charset=utf-8" if raw else falcon.MEDIA_JSON
        resp.data = body


class DescriptorResource(_Resource):
    """``.../descriptor``: the compiled FileDescriptorSet, imports included."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        found = self._version(name, version)
        if _set_version_caching(req, resp, version, found.descriptor_sha256):
            return
        resp.content_type = "application/x-protobuf"
        resp.data = self.service.descriptor_set(found)
        resp.downloadable_as = f"{found.module_name}-{found.version}.binpb"


class DependenciesResource(_Resource):
    """``.../dependencies``: the version's direct pins."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        found = self._version(name, version)
        resp.media = dependency_list(found.dependencies)


class TransitiveDependenciesResource(_Resource):
    """``.../dependencies/transitive``: every dependency, dependencies before dependents."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        found = self._version(name, version)
        ordered = self.service.dependencies.transitive(found.dependencies)
        resp.media = dependency_list([DependencyRef(v.module_name, v.version) for v in ordered])


class DependentsResource(_Resource):
    """``.../dependents``: stored versions that depend on this one (``?direct=true``)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        found = self._version(name, version)
        direct = query_flag(req, "direct")
        resp.media = dependency_list(
            self.service.dependencies.dependents(
                module=found.module_name, version=found.version, direct=direct
            )
        )


class ValidateResource(_Resource):
    """``/validate``: compile files (with dependencies) without storing them."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, max_bytes=self.max_body_bytes)
        expect_fields(body, optional=["files", "content", "dependencies"])
        if ("files" in body) == ("content" in body):
            raise InvalidRequest("send either 'files' or 'content' (one file)")
        if "content" in body:
            if not isinstance(body["content"], str):
                raise InvalidRequest("'content' must be a string", details={"field": "content"})
            files = {"input.proto": file_text(body["content"], "'content'", path="input.proto")}
        else:
            files = parse_files(body["files"])
        dependencies = parse_dependencies(body.get("dependencies"), module="")
        result = self.service.validate(files=files, dependencies=dependencies)
        resp.media = result.to_dict()


def parse_files(raw: Any) -> dict[str, str]:
    """``[{"path", "content"}]`` into a path -> text mapping, refusing anything doubtful."""
    if not isinstance(raw, list):
        raise InvalidRequest(
            "'files' must be a list of {path, content}", details={"field": "files"}
        )
    if not raw:
        raise InvalidRequest("'files' is empty; a version needs at least one .proto file")
    if len(raw) > MAX_FILES:
        raise InvalidRequest(f"more than {MAX_FILES} files in one push")
    files: dict[str, str] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"path", "content"}:
            raise InvalidRequest(
                f"files[{index}] must be an object with exactly 'path' and 'content'",
                details={"index": index},
            )
        if not isinstance(item["path"], str):
            raise InvalidRequest(f"files[{index}].path must be a string", details={"index": index})
        path = validate_path(item["path"])
        content = item["content"]
        if not isinstance(content, str):
            raise InvalidRequest(
                f"files[{index}].content must be a string", details={"index": index}
            )
        content = file_text(content, f"files[{index}].content", path=path)
        if path in files:
            # A clash between paths, like a file that is also a directory: 422, not 400. The
            # request is well-formed; the spec cannot say "unique by path" of a list of objects.
            raise Unprocessable(
                f"file {path!r} appears twice", code="invalid_path", details={"path": path}
            )
        files[path] = content
    return files


def file_text(content: str, where: str, *, path: str) -> str:
    """A file's text as sent (``where`` names it): refused with a NUL, which no .proto file
    holds, whether it came in ``files`` or as ``/validate``'s ``content``."""
    if "\x00" in content:
        raise InvalidRequest(f"{where} contains a NUL character", details={"path": path})
    return content


def parse_dependencies(raw: Any, *, module: str) -> tuple[DependencyRef, ...]:
    """``["module@version", ...]`` into checked pins (existence is checked by the service)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidRequest(
            "'dependencies' must be a list of 'module@version' strings",
            details={"field": "dependencies"},
        )
    if len(raw) > 1000:
        raise InvalidRequest("more than 1000 dependencies")
    pins = [validate_dependency(item, module=module) for item in raw]
    # The same string twice is malformed (the spec's uniqueItems); two spellings of one pin
    # ("a@v1.0.0", "a@1.0.0") pin a module twice, which resolving the pins refuses with a 422.
    if len(set(raw)) != len(raw):
        raise InvalidRequest("a dependency is listed twice")
    return tuple(pins)


def parse_source_info(raw: Any) -> SourceInfo | None:
    """``{"repository"?, "commit_sha"?, "branch"?}`` or null."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidRequest("'source_info' must be an object", details={"field": "source_info"})
    expect_fields(raw, optional=["repository", "commit_sha", "branch"])
    return SourceInfo(
        repository=optional_str(raw, "repository", max_length=MAX_SOURCE_FIELD),
        commit_sha=optional_str(raw, "commit_sha", max_length=MAX_SOURCE_FIELD),
        branch=optional_str(raw, "branch", max_length=MAX_SOURCE_FIELD),
    )
