"""How domain records look on the wire (the shapes of API.md and openapi.yaml)."""

from __future__ import annotations

from typing import Any

from spoke.domain import DependencyRef, Module, Version, format_timestamp
from spoke.service import FileContent

__all__ = ["dependency_list", "file_body", "module_body", "version_body", "version_summary"]


def module_body(module: Module) -> dict[str, Any]:
    """A Module."""
    return module.to_dict()


def version_summary(version: Version) -> dict[str, Any]:
    """A VersionSummary: what a list shows, never file contents."""
    return {
        "module_name": version.module_name,
        "version": version.version,
        "created_at": format_timestamp(version.created_at),
        "fingerprint": version.fingerprint,
        "file_count": len(version.files),
        "dependencies": [str(d) for d in version.dependencies],
    }


def version_body(version: Version, files: list[FileContent]) -> dict[str, Any]:
    """A Version: the summary plus every file with its content, and where it came from."""
    body = version_summary(version)
    body["files"] = [file_body(f) for f in files]
    body["source_info"] = version.source_info.to_dict() if version.source_info else None
    return body


def file_body(file: FileContent) -> dict[str, Any]:
    """One file with its content."""
    return {"path": file.path, "content": file.content, "sha256": file.sha256, "size": file.size}


def dependency_list(refs: list[DependencyRef] | tuple[DependencyRef, ...]) -> list[dict[str, str]]:
    """``[{"module", "version"}]``."""
    return [ref.to_dict() for ref in refs]
