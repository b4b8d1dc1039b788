"""API resources of code generation: languages, archive downloads, compile jobs."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import falcon

from spoke.api.http import conditional_immutable, expect_fields, query_flag, read_json
from spoke.compile_jobs import MAX_LANGUAGES, CompileJobs
from spoke.errors import InvalidRequest
from spoke.generation import Archive, ArchiveInfo, ArchiveRequest, CodeGenerator
from spoke.lru import ObjectLRU

__all__ = [
    "CompileJobResource",
    "CompileResource",
    "DownloadResource",
    "LanguageResource",
    "LanguagesResource",
]

NO_CACHE = ["no-cache"]
PREPARED_ANSWERS = 256
PREPARED_MAX_BYTES = 1024 * 1024
MAX_OPTIONS = 16
MAX_OPTION_LENGTH = 200


def _options(req: falcon.Request) -> tuple[str, ...]:
    """``?option=key=value`` (repeatable): generator options, checked against an allow-list."""
    values = req.get_param_as_list("option") or []
    if len(values) > MAX_OPTIONS:
        raise InvalidRequest(f"at most {MAX_OPTIONS} options", details={"parameter": "option"})
    for value in values:
        if not value or len(value) > MAX_OPTION_LENGTH:
            raise InvalidRequest(
                f"an option must have 1 to {MAX_OPTION_LENGTH} characters",
                details={"parameter": "option"},
            )
    return tuple(values)


class LanguagesResource:
    """``/languages``: every known language, enabled or not (with the reason)."""

    def __init__(self, generator: CodeGenerator) -> None:
        self.generator = generator

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = [status.to_dict() for status in self.generator.languages.all()]


class LanguageResource:
    """``/languages/{language}``: one language; 404 ``language_not_found``."""

    def __init__(self, generator: CodeGenerator) -> None:
        self.generator = generator

    def on_get(self, req: falcon.Request, resp: falcon.Response, language: str) -> None:
        resp.media = self.generator.languages.get(language).to_dict()


class DownloadResource:
    """``.../versions/{version}/download/{language}``: the generated code as a zip.

    Query: ``grpc``, ``include_dependencies`` (booleans), ``option`` (repeatable). An exact
    version's archive is immutable (the same request always gives the same bytes), so it is
    served with a strong ETag and ``Cache-Control: immutable``; ``latest`` is not.
    """

    def __init__(self, generator: CodeGenerator) -> None:
        self.generator = generator
        # Answers of exact versions, keyed by path and query: an archive never changes, so a
        # repeated download skips parsing, validation and the lookups. Small archives only: a
        # large body costs more to send than everything this skips.
        self._answers: ObjectLRU[tuple[str, str, str, str], Archive] = ObjectLRU(
            max_items=PREPARED_ANSWERS
        )

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, name: str, version: str, language: str
    ) -> None:
        key = (name, version, language, req.query_string)
        archive = self._answers.get(key) if version != "latest" else None
        if archive is None:
            archive = self.generator.archive(_archive_request(req, name, version, language))
            if version != "latest" and len(archive.data) <= PREPARED_MAX_BYTES:
                self._answers.put(key, dataclasses.replace(archive, cache_hit=True))
        if _send_headers(req, resp, archive, version):
            return
        # A stream, not resp.data: waitress sends a file-like body through wsgi.file_wrapper
        # as it is, where it would copy bytes into its output buffer, and past 1 MiB
        # (outbuf_overflow) into a temporary file, on every request. BytesIO shares the bytes.
        resp.stream = io.BytesIO(archive.data)

    def on_head(
        self, req: falcon.Request, resp: falcon.Response, name: str, version: str, language: str
    ) -> None:
        """The GET's headers, without the body: a stored archive's size and digest come from
        its index entry and its bytes are not read; one not stored yet is generated."""
        key = (name, version, language, req.query_string)
        archive = self._answers.get(key) if version != "latest" else None
        info = archive or self.generator.describe(_archive_request(req, name, version, language))
        _send_headers(req, resp, info, version)


def _archive_request(req: falcon.Request, name: str, version: str, language: str) -> ArchiveRequest:
    return ArchiveRequest(
        module=name,
        version=version,
        language=language,
        grpc=query_flag(req, "grpc"),
        include_dependencies=query_flag(req, "include_dependencies"),
        options=_options(req),
    )


def _send_headers(
    req: falcon.Request, resp: falcon.Response, archive: ArchiveInfo, version: str
) -> bool:
    """Every header of a download; ``True`` when the answer is a complete 304."""
    resp.set_header("Digest", archive.digest_header)
    resp.set_header("X-Spoke-Cache", "hit" if archive.cache_hit else "miss")
    if version == "latest":
        resp.etag = archive.sha256
        resp.cache_control = NO_CACHE
    elif conditional_immutable(req, resp, etag=archive.sha256):
        return True
    resp.content_type = "application/zip"
    resp.downloadable_as = archive.filename
    resp.content_length = archive.size
    return False


class CompileResource:
    """``.../versions/{version}/compile``: start a compile job (202)."""

    def __init__(self, jobs: CompileJobs, *, max_body_bytes: int) -> None:
        self.jobs = jobs
        self.max_body_bytes = max_body_bytes

    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        body = read_json(req, max_bytes=self.max_body_bytes)
        expect_fields(
            body, required=["languages"], optional=["include_grpc", "include_dependencies"]
        )
        languages = body["languages"]
        # Counted as sent, duplicates included, as the spec's maxItems counts them.
        if (
            not isinstance(languages, list)
            or not 0 < len(languages) <= MAX_LANGUAGES
            or not all(isinstance(item, str) and 0 < len(item) <= 64 for item in languages)
        ):
            raise InvalidRequest(
                f"'languages' must be a list of 1 to {MAX_LANGUAGES} language ids"
                " (GET /api/v1/languages lists them)",
                details={"field": "languages"},
            )
        job = self.jobs.submit(
            module=name,
            version=version,
            languages=languages,
            grpc=_bool_field(body, "include_grpc"),
            include_dependencies=_bool_field(body, "include_dependencies"),
        )
        resp.status = falcon.HTTP_202
        resp.location = f"{req.path}/{job['job_id']}"
        resp.cache_control = NO_CACHE
        resp.media = job


class CompileJobResource:
    """``.../versions/{version}/compile/{job_id}``: a job's status while it lives."""

    def __init__(self, jobs: CompileJobs) -> None:
        self.jobs = jobs

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, name: str, version: str, job_id: str
    ) -> None:
        resp.cache_control = NO_CACHE
        resp.media = self.jobs.get(module=name, version=version, job_id=job_id)


def _bool_field(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be true or false", details={"field": name})
    return value
