"""The canonical fingerprint of a compiled set of ``.proto`` files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from google.protobuf import descriptor_pb2  # type: ignore[import-untyped, unused-ignore]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped, unused-ignore]

__all__ = ["fingerprint_descriptor_set"]


def fingerprint_descriptor_set(descriptor_set: bytes, *, targets: Iterable[str]) -> str:
    """The canonical fingerprint of the target files of a descriptor set.

    Only the files named in ``targets`` count (their imports are fingerprinted by their own
    versions). Each is stripped of ``source_code_info`` so that comments and layout do not
    matter, the files are sorted by name so input order does not matter, and the resulting
    ``FileDescriptorSet`` is serialized deterministically and hashed with SHA-256. Anything
    that changes the schema (a field's number, name or type, an option, the package, the
    imports) changes the fingerprint.

    Returns ``"sha256:<64 hex digits>"``. Raises ValueError if ``descriptor_set`` does not
    parse, ``targets`` is empty, or a target is not in the set.
    """
    if isinstance(targets, str):
        # A str is an Iterable[str] of characters: almost certainly a caller's mistake.
        raise TypeError("targets must be an iterable of paths, not a single str")
    wanted = set(targets)
    if not wanted:
        raise ValueError("targets must not be empty")

    parsed = descriptor_pb2.FileDescriptorSet()
    try:
        parsed.ParseFromString(descriptor_set)
    except DecodeError as exc:
        raise ValueError(f"not a serialized FileDescriptorSet: {exc}") from exc

    by_name: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    for file in parsed.file:
        if file.name in wanted:
            if file.name in by_name:
                raise ValueError(f"descriptor set contains {file.name!r} more than once")
            by_name[file.name] = file
    missing = wanted - by_name.keys()
    if missing:
        raise ValueError(f"targets not in the descriptor set: {sorted(missing)}")

    canonical = descriptor_pb2.FileDescriptorSet()
    for name in sorted(by_name):
        copy = canonical.file.add()
        copy.CopyFrom(by_name[name])
        copy.ClearField("source_code_info")
    digest = hashlib.sha256(canonical.SerializeToString(deterministic=True)).hexdigest()
    return f"sha256:{digest}"
