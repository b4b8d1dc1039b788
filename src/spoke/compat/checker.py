"""Compare two FileDescriptorSets and report breaking changes with Buf's rule IDs.

Elements are paired the way Buf pairs them: files by path; messages, enums and services by
fully-qualified name across all target files (so a message moved to another file of the same
package is still compared field by field); fields by number; enum values by number; RPCs by
name; extensions by (extendee, number). Every rule is evaluated, then the category filters.
Locations point into the new file (1-based line and column from its source info); for
deletions, the nearest enclosing element that still exists, or None.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import descriptor_pb2 as d

from spoke.compat.categories import ALL_RULES, CATEGORIES, RULES_BY_CATEGORY
from spoke.compat.model import Index, Msg, Report, Violation
from spoke.compat.rules_fields import EnumLookup, check_field
from spoke.compat.rules_files import check_files, check_packages
from spoke.compat.rules_messages import check_enum, check_message
from spoke.compat.rules_services import check_service

# Rules Spoke does not evaluate (docs/compatibility.md says why).
NOT_IMPLEMENTED: frozenset[str] = frozenset()
IMPLEMENTED_RULES = tuple(sorted(ALL_RULES - NOT_IMPLEMENTED))


def _parse(data: bytes | d.FileDescriptorSet) -> d.FileDescriptorSet:
    if isinstance(data, d.FileDescriptorSet):
        return data
    fds = d.FileDescriptorSet()
    fds.ParseFromString(data)
    return fds


def check(
    old: bytes | d.FileDescriptorSet,
    new: bytes | d.FileDescriptorSet,
    *,
    category: str = "FILE",
    targets_old: Iterable[str] | None = None,
    targets_new: Iterable[str] | None = None,
) -> list[Violation]:
    """Report what breaks when ``new`` replaces ``old`` (FileDescriptorSets, serialized or not).

    ``targets_old``/``targets_new`` name the files of each side to compare (default: all of
    them, imports included); the other files only resolve types. ``category`` is one of
    ``FILE``, ``PACKAGE``, ``WIRE_JSON``, ``WIRE``.
    """
    if category not in RULES_BY_CATEGORY:
        raise ValueError(f"unknown rule category {category!r}; use one of {', '.join(CATEGORIES)}")
    enabled = RULES_BY_CATEGORY[category]
    old_set, new_set = _parse(old), _parse(new)
    before = Index.build(old_set, set(targets_old) if targets_old is not None else None)
    after = Index.build(new_set, set(targets_new) if targets_new is not None else None)
    report = Report()
    check_files(before, after, report)
    check_packages(before, after, report)
    enums = EnumLookup(before.all_enums, after.all_enums)
    for name, old_msg in before.messages.items():
        new_msg = after.messages.get(name)
        if new_msg is not None and not _same_message(old_msg, new_msg):
            check_message(old_msg, new_msg, report, enums)
    for key, old_ext in before.extensions.items():
        new_ext = after.extensions.get(key)
        if new_ext is not None:
            check_field(old_ext, new_ext, report, enums=enums)
    for name, old_enum in before.enums.items():
        new_enum = after.enums.get(name)
        if new_enum is not None and not (
            old_enum.proto == new_enum.proto and old_enum.features == new_enum.features
        ):
            check_enum(old_enum, new_enum, report)
    for name, old_svc in before.services.items():
        new_svc = after.services.get(name)
        if new_svc is not None and old_svc.proto != new_svc.proto:
            check_service(old_svc, new_svc, report)
    return [v for v in report.violations if v.rule in enabled]


def _same_message(old: Msg, new: Msg) -> bool:
    """Whether no message rule can fire: the same declaration (nested types included), the
    same inherited features, and the same file option the field rules read. Most messages of
    a new version are unchanged; comparing them is one C-level equality test."""
    return (
        old.proto == new.proto
        and old.features == new.features
        and old.file.proto.options.java_string_check_utf8
        == new.file.proto.options.java_string_check_utf8
    )
