"""File-level rules, deletions within a file (``FILE``) and within a package (``PACKAGE``)."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf import descriptor_pb2 as d

from spoke.compat.categories import FILE_OPTIONS
from spoke.compat.model import Element, FileInfo, Index, Path, Report, syntax_of


def _option_text(options: d.FileOptions, field: str) -> str:
    """The option's effective value as text (its default when unset)."""
    value = getattr(options, field)
    descriptor = d.FileOptions.DESCRIPTOR.fields_by_name[field]
    if descriptor.enum_type is not None:
        return str(descriptor.enum_type.values_by_number[value].name)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_files(old: Index, new: Index, report: Report) -> None:
    for name in sorted(old.files):
        before = old.files[name]
        after = new.files.get(name)
        if after is None:
            report.add(
                "FILE_NO_DELETE",
                f'Previously present file "{name}" was deleted.',
                None,
                None,
                file_name=name,
            )
            continue
        _check_file(before, after, report)
        _check_deletions_in_file(old, new, before, after, report)


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
    for field in FILE_OPTIONS:
        before, after = _option_text(o.options, field), _option_text(n.options, field)
        if before != after:
            number = d.FileOptions.DESCRIPTOR.fields_by_name[field].number
            report.add(
                f"FILE_SAME_{field.upper()}",
                f'File option "{field}" changed from "{before}" to "{after}".',
                new,
                (8, number) if n.options.HasField(field) else None,
            )


def _in_file(names: Mapping[str, Element], file: FileInfo) -> set[str]:
    """Package-relative names of the elements of ``names`` declared in ``file``."""
    return {e.name for e in names.values() if e.file is file}


def _enclosing(new: Index, file: FileInfo, name: str) -> tuple[Path | None, str]:
    """The path of the nearest message of ``file`` that encloses ``name`` (package-relative),
    for locating a deleted element, and that message's name."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        parent = ".".join(parts[:cut])
        full = f"{file.package}.{parent}" if file.package else parent
        found = new.messages.get(full)
        if found is not None and found.file is file:
            return found.path, parent
    return None, ""


def _check_deletions_in_file(
    old: Index, new: Index, before: FileInfo, after: FileInfo, report: Report
) -> None:
    """Deletions matched by package-relative name within one file (Buf's FILE category)."""
    pairs: tuple[tuple[str, str, Mapping[str, Element], Mapping[str, Element]], ...] = (
        ("message", "MESSAGE_NO_DELETE", old.messages, new.messages),
        ("enum", "ENUM_NO_DELETE", old.enums, new.enums),
    )
    for kind, rule, old_names, new_names in pairs:
        kept = _in_file(new_names, after)
        for name in sorted(_in_file(old_names, before) - kept):
            path, _ = _enclosing(new, after, name)
            report.add(
                rule,
                f'Previously present {kind} "{name}" was deleted from file.',
                after,
                path,
                name,
            )
    kept_ext = _extension_names(new, after)
    for name, scope in sorted(_extension_names(old, before).items()):
        if name not in kept_ext:
            path, _ = _enclosing(new, after, f"{scope}.x") if scope else (None, "")
            report.add(
                "EXTENSION_NO_DELETE",
                f'Previously present extension "{name}" was deleted from file.',
                after,
                path,
                name,
            )
    kept_services = {s.name for s in after.proto.service}
    for svc in before.proto.service:
        if svc.name not in kept_services:
            report.add(
                "SERVICE_NO_DELETE",
                f'Previously present service "{svc.name}" was deleted from file.',
                after,
                None,
                svc.name,
            )


def _extension_names(index: Index, file: FileInfo) -> dict[str, str]:
    """Extensions declared in ``file``: package-relative name -> declaring scope."""
    return {
        f"{x.scope}.{x.proto.name}" if x.scope else str(x.proto.name): x.scope
        for x in index.extensions.values()
        if x.file is file
    }


def check_packages(old: Index, new: Index, report: Report) -> None:
    """Deletions matched by fully-qualified name within a package (Buf's PACKAGE category)."""
    new_packages = new.packages()
    groups: tuple[tuple[str, str, Mapping[str, Element], Mapping[str, Element]], ...] = (
        ("message", "PACKAGE_MESSAGE_NO_DELETE", old.messages, new.messages),
        ("enum", "PACKAGE_ENUM_NO_DELETE", old.enums, new.enums),
        ("service", "PACKAGE_SERVICE_NO_DELETE", old.services, new.services),
    )
    held = {kind: {e.file.package for e in new_map.values()} for kind, _, _, new_map in groups}
    for package in sorted(old.packages()):
        if package not in new_packages:
            report.add(
                "PACKAGE_NO_DELETE",
                f'Previously present package "{package}" was deleted.',
                None,
                None,
                file_name="",
            )
    for kind, rule, old_map, new_map in groups:
        for full, element in sorted(old_map.items()):
            package = element.file.package
            if full in new_map or package not in new_packages:
                continue
            # buf 1.75 reports deleted messages and enums only while the package still holds
            # one (services: always).
            if kind == "service" or package in held[kind]:
                _package_deletion(new, rule, kind, element.name, package, element.file, report)
    for package in sorted(set(old.packages()) & set(new_packages)):
        _package_extension_deletions(old, new, package, report)


def _package_deletion(
    new: Index,
    rule: str,
    kind: str,
    name: str,
    package: str,
    old_file: FileInfo,
    report: Report,
) -> None:
    message = f'Previously present {kind} "{name}" was deleted from package "{package}".'
    still = new.files.get(old_file.name)
    if still is None:
        # buf names no file here; the location still says where the element was.
        report.add(rule, message, None, None, name, element_file=old_file.name)
        return
    path, _ = _enclosing(new, still, name) if kind != "service" else (None, "")
    report.add(rule, message, still, path, name)


def _package_extension_deletions(old: Index, new: Index, package: str, report: Report) -> None:
    new_names = {
        _extension_full(x.file, x.scope, str(x.proto.name))
        for x in new.extensions.values()
        if x.file.package == package
    }
    if not new_names:
        return  # as for messages and enums above
    for x in old.extensions.values():
        if x.file.package != package:
            continue
        full = _extension_full(x.file, x.scope, str(x.proto.name))
        if full not in new_names:
            name = f"{x.scope}.{x.proto.name}" if x.scope else str(x.proto.name)
            _package_deletion(
                new, "PACKAGE_EXTENSION_NO_DELETE", "extension", name, package, x.file, report
            )


def _extension_full(file: FileInfo, scope: str, name: str) -> str:
    inner = f"{scope}.{name}" if scope else name
    return f"{file.package}.{inner}" if file.package else inner
