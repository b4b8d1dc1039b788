"""Deterministic zip archives of generated code, and the README that goes in them.

The same files must give the same bytes in every process, on every replica, after every
restart: the archive's sha256 is its ``ETag`` and ``Digest``, and a client comparing two
downloads must not see a difference that is only a timestamp. So nothing that depends on when
or where the archive is built goes in: entries are sorted, every timestamp is 1980-01-01
00:00:00 (the earliest a zip can hold), permissions are fixed, there are no extra fields and no
comment, and deflate runs at one fixed level (zlib's output is a function of its input and
level).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

from spoke.codegen.languages import LanguageStatus

__all__ = ["FIXED_TIMESTAMP", "README_NAME", "build_zip", "readme_text"]

FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
README_NAME = "README.md"
COMPRESS_LEVEL = 6
_FILE_MODE = 0o100644  # a regular file, rw-r--r--
_UNIX = 3  # "made by" system: Unix, so readers apply the mode above


def build_zip(files: Mapping[str, bytes], *, readme: str | None = None) -> bytes:
    """A zip of ``files`` (relative '/'-separated path -> bytes), plus ``README.md`` when
    ``readme`` is given. The same arguments give byte-identical output in any process.

    Raises ValueError for a path that is absolute, has an empty, ``.`` or ``..`` component or a
    backslash, or collides with the README.
    """
    entries = dict(files)
    for path in entries:
        _check_entry_name(path)
    if readme is not None:
        if README_NAME in entries:
            raise ValueError(f"a generated file is already called {README_NAME}")
        entries[README_NAME] = readme.encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(entries):
            info = zipfile.ZipInfo(path, date_time=FIXED_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = _UNIX
            info.external_attr = _FILE_MODE << 16
            archive.writestr(info, entries[path], compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def _check_entry_name(path: str) -> None:
    if (
        not isinstance(path, str)
        or not path
        or path.startswith("/")
        or "\\" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise ValueError(f"invalid archive entry name {path!r}")


def readme_text(
    *,
    status: LanguageStatus,
    module: str,
    version: str,
    fingerprint: str,
    generator_versions: Mapping[str, str],
    grpc: bool = False,
    options: tuple[str, ...] = (),
    dependencies: tuple[str, ...] = (),
    include_dependencies: bool = False,
) -> str:
    """The README of an archive: what it was generated from and with, and how to use it.

    Deterministic like the archive: no date, no host, only what the caller passes.
    """
    language = status.language
    generators = ", ".join(f"{name} {v}" for name, v in sorted(generator_versions.items()))
    if dependencies:
        deps = ", ".join(dependencies) + (
            " (their code is included)" if include_dependencies else " (not included)"
        )
    else:
        deps = "none"
    lines = [
        f"# {module} {version}: {language.name} code",
        "",
        f"- module: {module}",
        f"- version: {version}",
        f"- fingerprint: {fingerprint}",
        f"- language: {language.id}" + (" with gRPC stubs" if grpc else ""),
        f"- generator: {status.generator}",
        f"- generator versions: {generators or 'unknown'}",
        f"- options: {', '.join(options) or 'none'}",
        f"- dependencies: {deps}",
    ]
    notes = language.readme_notes.strip()
    if notes:
        lines += ["", notes]
    return "\n".join(lines) + "\n"
