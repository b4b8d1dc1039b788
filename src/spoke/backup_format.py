"""The ``spoke backup`` archive: a tar (optionally gzipped) of JSON lines, blobs and a manifest.

Layout, in this order::

    modules.jsonl                    one module per line, sorted by name
    versions.jsonl                   one version per line, by module then semver ascending
    blobs/sha256/<2 hex>/<64 hex>    every blob a version names, sorted by digest
    manifest.json                    last: format, counts, and sha256 + size of every entry

Every JSON document is canonical (sorted keys, no spaces, UTF-8), tar headers carry no time or
owner and gzip no name or time, so the same registry content always gives the same entries.
Derived data (a module's ``latest_version``) is left out.

Reading never extracts anything to disk: members are read one at a time into memory, after
their name, type and declared size were checked (see :class:`ArchiveReader`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

__all__ = [
    "BLOB_MEMBER",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "MAX_MEMBER_BYTES",
    "MODULES",
    "VERSIONS",
    "ArchiveError",
    "ArchiveReader",
    "ArchiveWriter",
    "blob_member",
    "canonical_line",
    "module_record",
    "version_record",
]

FORMAT = "spoke-backup"
FORMAT_VERSION = 1
MODULES = "modules.jsonl"
VERSIONS = "versions.jsonl"
MANIFEST = "manifest.json"
BLOB_MEMBER = re.compile(r"blobs/sha256/([0-9a-f]{2})/([0-9a-f]{64})")
#: The largest member read into memory (a blob, or one of the JSON lines files).
MAX_MEMBER_BYTES = 512 * 1024 * 1024
_HEADER_ROOM = 1024 * 1024  # tar and pax headers of one member, and read-ahead


class ArchiveError(Exception):
    """The archive cannot be read safely: not a tar, truncated, or a hostile member."""


def canonical_line(data: Any) -> bytes:
    """``data`` as one line of canonical JSON (sorted keys, compact, UTF-8), newline included."""
    return (
        json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        + b"\n"
    )


def blob_member(digest: str) -> str:
    """The archive name of a blob: ``blobs/sha256/ab/ab12...``."""
    return f"blobs/sha256/{digest[:2]}/{digest}"


def module_record(data: dict[str, Any]) -> dict[str, Any]:
    """A module's ``to_dict`` without the derived ``latest_version``."""
    return {key: value for key, value in data.items() if key != "latest_version"}


def version_record(data: dict[str, Any]) -> dict[str, Any]:
    """A version's ``to_dict`` in canonical form: files by path, pins sorted, empty source
    info as ``null`` (backends differ in how they return those; the content does not)."""
    record = dict(data)
    record["files"] = sorted(record["files"], key=lambda f: f["path"])
    record["dependencies"] = sorted(
        record["dependencies"], key=lambda d: (d["module"], d["version"])
    )
    source = record.get("source_info")
    if not source or all(value is None for value in source.values()):
        record["source_info"] = None
    return record


class _HashingWriter(io.RawIOBase):
    """Counts and hashes what goes through to ``target``."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.target.write(chunk)
        self.digest.update(chunk)
        self.size += len(chunk)
        return len(chunk)


class ArchiveWriter:
    """Writes members in the order given; :meth:`finish` appends the manifest.

    ``target`` is a binary file opened for writing; the writer does not close it.
    """

    def __init__(self, target: IO[bytes], *, compress: bool = True) -> None:
        self._out = _HashingWriter(target)
        self._gzip: gzip.GzipFile | None = None
        stream: Any = self._out
        if compress:
            self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=stream, mtime=0)
            stream = self._gzip
        # Closed by finish(): the writer's lifetime spans several calls.
        self._tar = tarfile.open(  # noqa: SIM115
            fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT
        )
        self.entries: dict[str, dict[str, Any]] = {}

    def add(self, name: str, data: bytes) -> None:
        """Add one member; names are unique."""
        if name in self.entries or name == MANIFEST:
            raise ValueError(f"duplicate archive member {name}")
        self._add(name, data)
        self.entries[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def _add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        self._tar.addfile(info, io.BytesIO(data))

    def abort(self) -> None:
        """Close the streams after a failure; the (incomplete) output is the caller's to drop."""
        try:
            self._tar.close()
            if self._gzip is not None:
                self._gzip.close()
        except (OSError, ValueError):
            pass

    def finish(self, manifest: dict[str, Any]) -> tuple[int, str]:
        """Write ``manifest`` (with ``entries`` filled in) last, close the archive.

        Returns the archive's size and sha256.
        """
        document = {**manifest, "entries": self.entries}
        self._add(MANIFEST, json.dumps(document, sort_keys=True, indent=1).encode() + b"\n")
        self._tar.close()
        if self._gzip is not None:
            self._gzip.close()
        return self._out.size, self._out.digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Member:
    """One member read from an archive."""

    name: str
    data: bytes


class _Prefixed(io.RawIOBase):
    """``head`` (bytes already read from ``rest``) followed by the rest of ``rest``."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Budget(io.RawIOBase):
    """Passes reads through, failing once more than the allowance was read since ``reset``.

    tarfile reads a member's extended (pax) header into memory before any check can run; the
    allowance (a member's limit plus room for headers) bounds that, even in a gzip bomb.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._left = 0

    def reset(self, allowance: int) -> None:
        self._left = allowance

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._inner.read(size)
        self._left -= len(data)
        if self._left < 0:
            raise ArchiveError("refused, a member or its headers exceed the size limit")
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class ArchiveReader:
    """Reads an archive front to back, refusing anything that is not a plain, known member.

    Refused (``ArchiveError``): a file that is not a tar, a truncated one, a member that is not
    a regular file (links, devices, directories), a name outside the layout (``../x``,
    ``/etc/x``, anything unknown), a duplicate name, and a declared size above ``max_member``.
    """

    def __init__(self, source: IO[bytes], *, max_member: int = MAX_MEMBER_BYTES) -> None:
        self._source = source
        self._max_member = max_member

    def members(self) -> Iterator[Member]:
        seen: set[str] = set()
        try:
            head = self._source.read(2)
            stream: Any = _Prefixed(head, self._source)
            if head == b"\x1f\x8b":
                # Decompressed here rather than by tarfile, so that reading to the end below
                # checks the gzip trailer (CRC and length): a cut-off archive never passes.
                stream = gzip.GzipFile(fileobj=stream, mode="rb")
            budget = _Budget(stream)
            allowance = self._max_member + _HEADER_ROOM
            budget.reset(allowance)
            with tarfile.open(fileobj=budget, mode="r|") as tar:
                for info in tar:
                    name = info.name
                    self._check(info, seen)
                    seen.add(name)
                    handle = tar.extractfile(info)
                    if handle is None:  # pragma: no cover - _check admits regular files only
                        raise ArchiveError(f"{name!r}: not a regular file")
                    data = handle.read(info.size + 1)
                    if len(data) != info.size:
                        raise ArchiveError(f"{name}: truncated (archive ends inside it)")
                    budget.reset(allowance)
                    yield Member(name, data)
            while stream.read(1 << 16):  # the rest: end-of-archive blocks, gzip trailer
                pass
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ArchiveError(f"not a readable archive or truncated: {exc}") from None

    def _check(self, info: tarfile.TarInfo, seen: set[str]) -> None:
        name = info.name
        shown = repr(name[:200])
        if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):  # no sparse or contiguous
            raise ArchiveError(f"{shown}: refused, not a regular file (type {info.type!r})")
        if not (name in (MODULES, VERSIONS, MANIFEST) or BLOB_MEMBER.fullmatch(name)):
            raise ArchiveError(f"{shown}: refused, not a name a spoke backup contains")
        match = BLOB_MEMBER.fullmatch(name)
        if match and match.group(2)[:2] != match.group(1):
            raise ArchiveError(f"{shown}: refused, blob in the wrong directory")
        if name in seen:
            raise ArchiveError(f"{shown}: refused, appears twice")
        if info.size < 0 or info.size > self._max_member:
            raise ArchiveError(
                f"{shown}: refused, declared size {info.size} exceeds {self._max_member}"
            )
