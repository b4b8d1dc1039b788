"""An old/new pair of the 50-file benchmark module with a realistic set of breaking changes.

The files come from ``bench_core.generate_module`` (each file its own package, with messages,
enums, a service, a ``map``, a ``oneof``, imports of siblings and of a well-known type), so the
compatibility benchmark checks the same kind of module the push benchmark pushes. The new side
changes a handful of files the way a careless pull request might; each change is applied by an
exact text edit that must match once, so a change to the generator cannot silently turn the
pair into two identical modules.

This file is not a test; ``tests/unit/test_bench_compat_smoke.py`` imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

# benchmarks/ is on the import path: it is the script's directory for bench_compat.py, and the
# smoke test puts it there.
from bench_core import generate_module

MIN_FILES = 48  # the highest file index edited below, plus one
REVISION = "compat"

# Reserved numbers and a name in every tenth file's delete request, on both sides: long-lived
# schemas collect these, and removing one is a change the checker must catch.
RESERVED = '  reserved 3 to 5;\n  reserved "etag";\n'
_RESERVED_AFTER = "  int64 expected_revision = 2;\n"


@dataclass(frozen=True)
class Change:
    """One edit of the new side: in file number ``index``, ``old`` becomes ``new``."""

    index: int
    what: str
    old: str
    new: str


CHANGES = (
    Change(3, "field deleted", "  int64 revision = 8;\n", ""),
    Change(11, "field deleted", "  repeated string tags = 11;\n", ""),
    Change(24, "field deleted", "  string filter = 3;\n", ""),
    Change(7, "field type changed", "  int32 page_size = 1;\n", "  int64 page_size = 1;\n"),
    Change(16, "field renamed", "  string display_name = 2;\n", "  string title = 2;\n"),
    Change(39, "reserved range removed", "  reserved 3 to 5;\n", ""),
    Change(45, "enum value renamed", "_STATE_ARCHIVED = 3;\n", "_STATE_RETIRED = 3;\n"),
    Change(
        30,
        "message added",
        "// Reads and writes",
        "// An entry of the audit trail.\nmessage AuditEntry {\n  string id = 1;\n"
        "  string actor = 2;\n}\n\n// Reads and writes",
    ),
)


def _edit(text: str, old: str, new: str, where: str) -> str:
    found = text.count(old)
    if found != 1:
        raise RuntimeError(f"{where}: expected {old!r} once, found it {found} times")
    return text.replace(old, new)


def make_pair(count: int = 50) -> tuple[dict[str, str], dict[str, str]]:
    """(old, new): ``count`` files each, path -> text; ``new`` carries :data:`CHANGES`."""
    if count < MIN_FILES:
        raise ValueError(f"the pair needs at least {MIN_FILES} files, not {count}")
    old = generate_module(count, REVISION)
    paths = list(old)
    for index in range(9, count, 10):
        path = paths[index]
        old[path] = _edit(old[path], _RESERVED_AFTER, _RESERVED_AFTER + RESERVED, path)
    new = dict(old)
    for change in CHANGES:
        path = paths[change.index]
        new[path] = _edit(new[path], change.old, change.new, path)
    return old, new
