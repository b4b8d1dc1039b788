"""Spoke's errors: one exception family, each with an HTTP status and a stable ``code``.

Backends and the service raise these; the API renders every one of them (and falcon's own errors)
as ``{"error": message, "code": code, "details": {...}}`` in exactly one place,
:mod:`spoke.api.errors`. Drivers' exceptions are translated at the plugin boundary with
``raise SpokeError(...) from exc`` and never reach a client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "ECHO_LIMIT",
    "BackendUnavailable",
    "CodeGenerationFailed",
    "Conflict",
    "FileNotFound",
    "IncompatibleSchema",
    "InvalidRequest",
    "LanguageNotFound",
    "LimitExceeded",
    "ModuleExists",
    "ModuleNotFound",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "SpokeError",
    "Unprocessable",
    "UnsupportedMediaType",
    "VersionExists",
    "VersionNotFound",
    "bounded",
]


# How much of a client's value an error echoes: names and versions from a URL or a body can be
# megabytes long, and an answer (or a log line) must not grow with them.
ECHO_LIMIT = 256


def bounded(value: str, limit: int = ECHO_LIMIT) -> str:
    """``value``, cut to ``limit`` characters (with an ellipsis) for echoing in an error."""
    return value if len(value) <= limit else value[:limit] + "…"


class SpokeError(Exception):
    """Base of every error a client may see. ``details`` must be JSON-serializable."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The error envelope."""
        return {"error": self.message, "code": self.code, "details": self.details}


class InvalidRequest(SpokeError):
    """The request is malformed: bad JSON, a missing field, a wrong type (400)."""

    status = 400
    default_code = "invalid_request"


class NotFound(SpokeError):
    """Something named in the request does not exist (404)."""

    status = 404
    default_code = "not_found"


class ModuleNotFound(NotFound):
    """No module has this name."""

    default_code = "module_not_found"

    def __init__(self, name: str) -> None:
        name = bounded(name)
        super().__init__(f"module {name!r} not found", details={"module": name})


class VersionNotFound(NotFound):
    """The module exists but has no such version."""

    default_code = "version_not_found"

    def __init__(self, module: str, version: str) -> None:
        module, version = bounded(module), bounded(version)
        super().__init__(
            f"version {version!r} of module {module!r} not found",
            details={"module": module, "version": version},
        )


class FileNotFound(NotFound):
    """The version exists but holds no file at this path."""

    default_code = "file_not_found"

    def __init__(self, module: str, version: str, path: str) -> None:
        module, version, path = bounded(module), bounded(version), bounded(path, 1024)
        super().__init__(
            f"file {path!r} not found in {module}@{version}",
            details={"module": module, "version": version, "path": path},
        )


class LanguageNotFound(NotFound):
    """No code generation language has this id (installed or not: a language whose generator is
    missing is still known, and answers 422 with the reason instead)."""

    default_code = "language_not_found"

    def __init__(self, language: str) -> None:
        shown = bounded(language, 64)
        super().__init__(
            f"language {shown!r} not found; GET /api/v1/languages lists them",
            details={"language": shown},
        )


class Conflict(SpokeError):
    """The request clashes with what is stored (409)."""

    status = 409
    default_code = "conflict"


class ModuleExists(Conflict):
    """A module with this name already exists."""

    default_code = "module_exists"

    def __init__(self, name: str) -> None:
        super().__init__(f"module {name!r} already exists", details={"module": name})


class VersionExists(Conflict):
    """The version is already stored with different content; versions are immutable."""

    default_code = "version_exists"


class IncompatibleSchema(Conflict):
    """A push breaks the module's compatibility policy against an earlier version.

    A 409 rather than a 422: the files compile and would be accepted by another module, or by
    this one under another policy; what they conflict with is the history already stored.
    """

    default_code = "incompatible_schema"


class PayloadTooLarge(SpokeError):
    """The request body is over SPOKE_MAX_BODY_BYTES (413)."""

    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(SpokeError):
    """The body is not JSON (415)."""

    status = 415
    default_code = "unsupported_media_type"


class Unprocessable(SpokeError):
    """Well-formed but unacceptable: a bad name, version, path or schema (422)."""

    status = 422
    default_code = "invalid_schema"


class BackendUnavailable(SpokeError):
    """A backend cannot be reached right now; the client may retry (503)."""

    status = 503
    default_code = "backend_unavailable"


class Overloaded(BackendUnavailable):
    """Too much work is waiting already; the client should retry after ``retry_after`` seconds
    (503 with ``Retry-After``)."""

    default_code = "server_busy"

    def __init__(
        self,
        message: str,
        *,
        retry_after: int,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.retry_after = max(1, int(retry_after))


class LimitExceeded(Unprocessable):
    """Handling the request's input would take more time or memory than a request may use
    (422 ``limit_exceeded``): the same input fails the same way, so it is not worth a retry.

    ``details`` names the ``limit`` (``time`` or ``memory``) and its value."""

    default_code = "limit_exceeded"


class CodeGenerationFailed(SpokeError):
    """A code generator crashed, failed or timed out (500, ``compilation_failed``).

    ``details`` carries the language, whether it timed out, the exit code and the generator's
    stderr (trimmed): what an operator needs, never a server path of Spoke's own.
    """

    status = 500
    default_code = "compilation_failed"
