"""Compare two FileDescriptorSets and report breaking changes with Buf's rule IDs.

Only the ``FILE`` category is implemented so far, and only a subset of its rules (see
``IMPLEMENTED_RULES``). Locations point into the new file (1-based line and column from
its source info); for deletions, the enclosing element in the new file, or None.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import descriptor_pb2 as d

from spoke.compat.categories import CATEGORIES, RULES_BY_CATEGORY
from spoke.compat.model import FileInfo, Path, Report, Violation, syntax_of
from spoke.compat.rules_messages import check_enum, check_extensions, check_message
from spoke.compat.rules_services import check_services

_FILE_OPTION_NAMES = (
    "go_package",
    "java_package",
    "java_outer_classname",
    "java_multiple_files",
    "optimize_for",
    "cc_generic_services",
    "java_generic_services",
    "py_generic_services",
    "cc_enable_arenas",
    "objc_class_prefix",
    "csharp_namespace",
    "swift_prefix",
    "php_class_prefix",
    "php_namespace",
    "php_metadata_namespace",
    "ruby_package",
)

IMPLEMENTED_RULES = (
    "FILE_NO_DELETE",
    "MESSAGE_NO_DELETE",
    "FIELD_NO_DELETE",
    "ENUM_NO_DELETE",
    "ENUM_VALUE_NO_DELETE",
    "SERVICE_NO_DELETE",
    "RPC_NO_DELETE",
    "FIELD_SAME_TYPE",
    "FIELD_SAME_NAME",
    "FIELD_SAME_JSON_NAME",
    "FIELD_SAME_ONEOF",
    "FIELD_SAME_CARDINALITY",
    "ONEOF_NO_DELETE",
    "MESSAGE_SAME_REQUIRED_FIELDS",
    "FILE_SAME_SYNTAX",
    "FIELD_SAME_DEFAULT",
    "EXTENSION_NO_DELETE",
    "ENUM_VALUE_SAME_NAME",
    "RPC_SAME_REQUEST_TYPE",
    "RPC_SAME_RESPONSE_TYPE",
    "RPC_SAME_CLIENT_STREAMING",
    "RPC_SAME_SERVER_STREAMING",
    "FILE_SAME_PACKAGE",
    *(f"FILE_SAME_{name.upper()}" for name in _FILE_OPTION_NAMES),
    "RPC_SAME_IDEMPOTENCY_LEVEL",
    "FIELD_SAME_JSTYPE",
    "FIELD_SAME_CPP_STRING_TYPE",
    "RESERVED_MESSAGE_NO_DELETE",
    "RESERVED_ENUM_NO_DELETE",
)


# File options whose change buf's FILE category reports as FILE_SAME_<OPTION>.
_FILE_OPTIONS = _FILE_OPTION_NAMES


def _option_text(options: d.FileOptions, field: str) -> str:
    """The option's effective value as text (its default when unset)."""
    value = getattr(options, field)
    descriptor = d.FileOptions.DESCRIPTOR.fields_by_name[field]
    if descriptor.enum_type is not None:
        return str(descriptor.enum_type.values_by_number[value].name)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse(data: bytes) -> dict[str, d.FileDescriptorProto]:
    fds = d.FileDescriptorSet()
    fds.ParseFromString(data)
    return {f.name: f for f in fds.file}


def check(
    old: bytes,
    new: bytes,
    *,
    category: str = "FILE",
    targets_old: Iterable[str] | None = None,
    targets_new: Iterable[str] | None = None,
) -> list[Violation]:
    """Report what breaks when ``new`` replaces ``old`` (both serialized FileDescriptorSets).

    ``targets_old``/``targets_new`` name the files of each side to compare (default: all of
    them, imports included). Only ``category="FILE"`` is supported so far.
    """
    if category not in RULES_BY_CATEGORY:
        raise ValueError(
            f"unknown rule category {category!r}; use one of {', '.join(CATEGORIES)}"
        )
    enabled = RULES_BY_CATEGORY[category]
    old_files = _parse(old)
    new_files = _parse(new)
    old_names = set(targets_old) if targets_old is not None else set(old_files)
    new_names = set(targets_new) if targets_new is not None else set(new_files)
    report = Report()
    for name in sorted(old_names):
        if name not in old_files:
            continue
        if name not in new_names or name not in new_files:
            report.violations.append(
                Violation(
                    "FILE_NO_DELETE",
                    f'Previously present file "{name}" was deleted.',
                    name,
                    None,
                    None,
                )
            )
            continue
        _check_file(FileInfo(old_files[name]), FileInfo(new_files[name]), report)
    return [v for v in report.violations if v.rule in enabled]


def _check_file(old: FileInfo, new: FileInfo, report: Report) -> None:
    o, n = old.proto, new.proto
    if o.package != n.package:
        report.add(
            "FILE_SAME_PACKAGE",
            f'File package changed from "{o.package}" to "{n.package}".',
            new,
            (2,),
        )
    old_syntax, new_syntax = syntax_of(o), syntax_of(n)
    if old_syntax != new_syntax:
        report.add(
            "FILE_SAME_SYNTAX",
            f'File syntax changed from "{old_syntax}" to "{new_syntax}".',
            new,
            (12,),
        )
    for field in _FILE_OPTIONS:
        before, after = _option_text(o.options, field), _option_text(n.options, field)
        if before != after:
            number = d.FileOptions.DESCRIPTOR.fields_by_name[field].number
            report.add(
                f"FILE_SAME_{field.upper()}",
                f'File option "{field}" changed from "{before}" to "{after}".',
                new,
                (8, number) if n.options.HasField(field) else None,
            )
    # Deletions of messages, enums, extensions and services are matched by package-relative
    # name, but buf pairs their contents by fully-qualified name: once the package differs,
    # nothing inside is compared (verified with buf 1.75).
    inner = o.package == n.package
    for name, old_msg in old.messages.items():
        new_msg = new.messages.get(name)
        if new_msg is None:
            report.add(
                "MESSAGE_NO_DELETE",
                f'Previously present message "{name[1:]}" was deleted from file.',
                new,
                _enclosing_message_path(new, name),
            )
            continue
        if inner:
            check_message(old_msg, new_msg, old, new, report)
    for name, old_enum in old.enums.items():
        new_enum = new.enums.get(name)
        if new_enum is None:
            report.add(
                "ENUM_NO_DELETE",
                f'Previously present enum "{name[1:]}" was deleted from file.',
                new,
                _enclosing_message_path(new, name),
            )
            continue
        if inner:
            check_enum(old_enum, new_enum, new, report)
    check_extensions(old, new, report)
    check_services(old, new, report, inner=inner)


def _enclosing_message_path(new: FileInfo, full_name: str) -> Path | None:
    parent = full_name.rsplit(".", 1)[0]
    found = new.messages.get(parent)
    return found.path if found is not None else None
