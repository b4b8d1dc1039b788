"""Helpers to compare Spoke's breaking-change checker with ``buf breaking``.

buf (the PyPI ``buf-bin`` wheel works offline) reads a FileDescriptorSet as an *image*: the files
that are imports, not targets, carry buf's ``ImageFileExtension`` (field 8042 of
``FileDescriptorProto``) with ``is_import`` (its field 1) set, and ``--exclude-imports`` then
leaves them out of the check. Used by Spoke's oracle tests and by ``benchmarks/bench_compat.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable

from google.protobuf import descriptor_pb2

__all__ = ["buf_executable", "buf_image", "parse_findings"]


def buf_executable() -> str | None:
    """``buf`` on PATH, or beside the interpreter (buf-bin installs it there; a venv need not
    be on PATH)."""
    return shutil.which("buf") or shutil.which("buf", path=os.path.dirname(sys.executable))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


_IS_IMPORT = _varint((8042 << 3) | 2) + _varint(2) + b"\x08\x01"


def buf_image(descriptor_set: bytes, targets: Iterable[str]) -> bytes:
    """``descriptor_set`` as a buf image in which only ``targets`` are not imports."""
    wanted = set(targets)
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(descriptor_set)
    out = bytearray()
    for f in fds.file:
        raw = f.SerializeToString() + (b"" if f.name in wanted else _IS_IMPORT)
        out += b"\x0a" + _varint(len(raw)) + raw
    return bytes(out)


def parse_findings(stdout: str, *, prefix: str = "") -> set[tuple[str, str]]:
    """(rule, file) pairs of ``buf breaking --error-format=json`` output; ``prefix`` (a
    directory input) is taken off the paths. buf names no path for a deleted file: its name is
    taken from the message, as Spoke reports it."""
    found = set()
    for line in stdout.splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        path = item.get("path", "")
        if not path and item["type"] == "FILE_NO_DELETE":
            path = item["message"].split('"')[1]
        found.add((item["type"], path.removeprefix(prefix)))
    return found
