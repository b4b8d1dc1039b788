"""Input rules for names, versions, file paths and dependency pins.

Each check raises :class:`spoke.errors.Unprocessable` with a stable code (``invalid_name``,
``invalid_version``, ``invalid_path``, ``invalid_dependency``) and the offending value in
``details``, so a client can point at the exact field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from spoke.domain import DependencyRef, ModuleName, VersionString
from spoke.errors import Unprocessable, bounded
from spoke.semver import SemVer, parse_semver

__all__ = [
    "MAX_PATH_LENGTH",
    "MODULE_NAME_PATTERN",
    "find_path_clash",
    "validate_dependency",
    "validate_module_name",
    "validate_path",
    "validate_version",
]

MODULE_NAME_PATTERN = r"^[a-z][a-z0-9._-]{0,127}$"
_MODULE_NAME = re.compile(MODULE_NAME_PATTERN, re.ASCII)
MAX_PATH_LENGTH = 512
MAX_SEGMENT_LENGTH = 255  # a file name on every common filesystem
# Printable ASCII without space, backslash and the characters shells and URLs treat specially:
# what real .proto trees use, and nothing a path could be abused with.
_PATH_CHARS = re.compile(r"[A-Za-z0-9._/+-]+", re.ASCII)


def validate_module_name(name: object) -> ModuleName:
    """A module name: lowercase letter first, then up to 127 of ``a-z 0-9 . _ -``."""
    if not isinstance(name, str) or not _MODULE_NAME.fullmatch(name):
        shown = bounded(name) if isinstance(name, str) else name
        raise Unprocessable(
            f"invalid module name {shown!r}: use a lowercase letter followed by up to 127 "
            "lowercase letters, digits, '.', '_' or '-'",
            code="invalid_name",
            details={"name": bounded(name) if isinstance(name, str) else None},
        )
    return ModuleName(name)


def validate_version(version: object) -> tuple[VersionString, SemVer]:
    """A semver 2.0 version, optionally with a leading ``v``; returns it normalized (no ``v``)."""
    if not isinstance(version, str):
        raise Unprocessable(
            "version must be a string", code="invalid_version", details={"version": None}
        )
    try:
        parsed = parse_semver(version)
    except ValueError as exc:
        raise Unprocessable(
            bounded(str(exc)), code="invalid_version", details={"version": bounded(version)}
        ) from None
    return VersionString(str(parsed)), parsed


def validate_path(path: object) -> str:
    """A relative ``/``-separated path ending in ``.proto``; refused rather than normalized."""
    problem = _path_problem(path)
    if problem:
        shown = path if isinstance(path, str) and len(path) <= MAX_PATH_LENGTH else None
        raise Unprocessable(
            f"invalid file path {shown!r}: {problem}", code="invalid_path", details={"path": shown}
        )
    assert isinstance(path, str)
    return path


def _path_problem(path: object) -> str | None:
    if not isinstance(path, str):
        return "path must be a string"
    if not path:
        return "path is empty"
    if len(path) > MAX_PATH_LENGTH:
        return f"path is longer than {MAX_PATH_LENGTH} characters"
    if "\\" in path:
        return "use '/' as the separator, not '\\'"
    if "\x00" in path:
        return "path contains a NUL character"
    if path.startswith("/"):
        return "path must be relative"
    if not path.endswith(".proto"):
        return "path must end in .proto"
    if path == ".proto" or path.endswith("/.proto"):
        # protoc takes it, but code generators cannot name their output after an empty stem
        # (grpc_tools: "Invalid proto file name").
        return "the file name before .proto is empty"
    segments = path.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return "path must not contain empty, '.' or '..' segments"
    if any(len(segment) > MAX_SEGMENT_LENGTH for segment in segments):
        return f"a path segment is longer than {MAX_SEGMENT_LENGTH} characters"
    if not _PATH_CHARS.fullmatch(path):
        return "path may contain only letters, digits and . _ - + /"
    return None


def find_path_clash(paths: Iterable[str]) -> tuple[str, str] | None:
    """A pair ``(file, path inside it)`` when one file's path is another file's directory.

    ``a.proto`` and ``a.proto/b.proto`` cannot both exist in one import tree.
    """
    files = set(paths)
    for path in sorted(files):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if directory in files:
                return directory, path
    return None


def validate_dependency(pin: object, *, module: str) -> DependencyRef:
    """A dependency pin ``module@version`` with an exact version, on another module."""
    if not isinstance(pin, str):
        raise Unprocessable(
            "invalid dependency: expected a 'module@version' string",
            code="invalid_dependency",
            details={"dependency": None},
        )
    shown = bounded(pin)
    if pin.count("@") != 1:
        raise Unprocessable(
            f"invalid dependency {shown!r}: expected 'module@version'",
            code="invalid_dependency",
            details={"dependency": shown},
        )
    name, _, version = pin.partition("@")
    if version == "latest":
        raise Unprocessable(
            f"dependency {shown!r} must pin an exact version, not 'latest'",
            code="invalid_dependency",
            details={"dependency": shown},
        )
    module_name = validate_module_name(name)
    normalized, _ = validate_version(version)
    if module_name == module:
        raise Unprocessable(
            f"module {module!r} cannot depend on itself",
            code="invalid_dependency",
            details={"dependency": shown},
        )
    return DependencyRef(module_name, normalized)
