"""Rules on messages, fields, oneofs, enums and reserved ranges (Buf's FILE category)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from google.protobuf import descriptor_pb2 as d

from spoke.compat.model import (
    NAMED_TYPES,
    TYPE_NAMES,
    EnumInfo,
    FileInfo,
    Msg,
    Path,
    Report,
    T,
    syntax_of,
)


def _type_label(f: d.FieldDescriptorProto) -> str:
    if f.type in NAMED_TYPES:
        return str(f.type_name).lstrip(".")
    return TYPE_NAMES[int(f.type)]


def _relative_type(f: d.FieldDescriptorProto, package: str) -> str:
    """The field's type name with the file's own package stripped (a package change alone
    is reported once, as FILE_SAME_PACKAGE)."""
    prefix = f".{package}." if package else "."
    name = str(f.type_name)
    return name[len(prefix) :] if name.startswith(prefix) else name


def _cardinality(m: d.DescriptorProto, f: d.FieldDescriptorProto, syntax: str) -> str:
    if f.label == T.LABEL_REPEATED:
        entry = str(f.type_name).rsplit(".", 1)[-1]
        # A map field's entry message is always nested in the message that holds the field.
        if f.type == T.TYPE_MESSAGE and any(
            n.name == entry and n.options.map_entry for n in m.nested_type
        ):
            return "map"
        return "repeated"
    if f.label == T.LABEL_REQUIRED:
        return "required"
    if syntax == "proto3" and not (
        f.proto3_optional or f.HasField("oneof_index") or f.type in (T.TYPE_MESSAGE, T.TYPE_GROUP)
    ):
        return "optional with implicit presence"
    return "optional with explicit presence"


def _oneof_name(m: d.DescriptorProto, f: d.FieldDescriptorProto) -> str | None:
    if not f.HasField("oneof_index") or f.proto3_optional:
        return None
    return str(m.oneof_decl[f.oneof_index].name)


def check_message(old: Msg, new: Msg, old_file: FileInfo, file: FileInfo, report: Report) -> None:
    short = old.full_name.rsplit(".", 1)[-1]
    old_syntax = syntax_of(old_file.proto)
    new_syntax = syntax_of(file.proto)
    new_oneofs = {_oneof_name(new.proto, f) for f in new.proto.field}
    for oneof in sorted({_oneof_name(old.proto, f) for f in old.proto.field} - new_oneofs, key=str):
        if oneof is not None:
            report.add(
                "ONEOF_NO_DELETE",
                f'Previously present oneof "{oneof}" on message "{short}" was deleted.',
                file,
                new.path,
            )
    old_required = {f.number for f in old.proto.field if f.label == T.LABEL_REQUIRED}
    new_required = {f.number for f in new.proto.field if f.label == T.LABEL_REQUIRED}
    for number in sorted(old_required ^ new_required):
        what = "removed" if number in old_required else "added"
        report.add(
            "MESSAGE_SAME_REQUIRED_FIELDS",
            f'Message "{short}" had required field "{number}" {what}; the set of required '
            "fields must stay the same.",
            file,
            new.path,
        )
    new_fields = {f.number: (i, f) for i, f in enumerate(new.proto.field)}
    for of in old.proto.field:
        entry = new_fields.get(of.number)
        if entry is None:
            report.add(
                "FIELD_NO_DELETE",
                f'Previously present field "{of.number}" with name "{of.name}" on message '
                f'"{short}" was deleted.',
                file,
                new.path,
            )
            continue
        index, nf = entry
        fpath = (*new.path, 2, index)
        if of.name != nf.name:
            report.add(
                "FIELD_SAME_NAME",
                f'Field "{of.number}" on message "{short}" changed name from "{of.name}" to '
                f'"{nf.name}".',
                file,
                (*fpath, 1),
            )
        if of.json_name != nf.json_name:
            report.add(
                "FIELD_SAME_JSON_NAME",
                f'Field "{of.number}" with name "{nf.name}" on message "{short}" changed '
                f'option "json_name" from "{of.json_name}" to "{nf.json_name}".',
                file,
                fpath,
            )
        before_card, after_card = (
            _cardinality(old.proto, of, old_syntax),
            _cardinality(new.proto, nf, new_syntax),
        )
        if before_card != after_card:
            report.add(
                "FIELD_SAME_CARDINALITY",
                f'Field "{of.number}" with name "{nf.name}" on message "{short}" changed '
                f'cardinality from "{before_card}" to "{after_card}".',
                file,
                fpath,
            )
        if of.type != nf.type or (
            of.type in NAMED_TYPES
            and _relative_type(of, old_file.proto.package) != _relative_type(nf, file.proto.package)
        ):
            report.add(
                "FIELD_SAME_TYPE",
                f'Field "{of.number}" with name "{nf.name}" on message "{short}" changed type '
                f'from "{_type_label(of)}" to "{_type_label(nf)}".',
                file,
                (*fpath, 6) if nf.type_name else (*fpath, 5),
            )
        before, after = _oneof_name(old.proto, of), _oneof_name(new.proto, nf)
        if before != after:
            report.add(
                "FIELD_SAME_ONEOF",
                f'Field "{of.number}" with name "{nf.name}" on message "{short}" moved from '
                f'oneof "{before or ""}" to oneof "{after or ""}".',
                file,
                fpath,
            )
        _check_field_options(of, nf, short, file, fpath, report)
        if of.type == nf.type and of.default_value != nf.default_value:
            report.add(
                "FIELD_SAME_DEFAULT",
                f'Field "{of.number}" with name "{nf.name}" on message "{short}" changed '
                f'default value from "{of.default_value}" to "{nf.default_value}".',
                file,
                fpath,
            )
    _check_reserved(
        "RESERVED_MESSAGE_NO_DELETE",
        f'message "{short}"',
        [(r.start, r.end - 1) for r in old.proto.reserved_range],
        [(r.start, r.end - 1) for r in new.proto.reserved_range],
        old.proto.reserved_name,
        new.proto.reserved_name,
        file,
        new.path,
        report,
    )


def check_enum(old: EnumInfo, new: EnumInfo, file: FileInfo, report: Report) -> None:
    short = old.full_name.rsplit(".", 1)[-1]
    new_by_number: dict[int, list[tuple[int, str]]] = {}
    for i, v in enumerate(new.proto.value):
        new_by_number.setdefault(v.number, []).append((i, v.name))
    old_by_number: dict[int, list[str]] = {}
    for v in old.proto.value:
        old_by_number.setdefault(v.number, []).append(v.name)
    for number, old_names in old_by_number.items():
        entries = new_by_number.get(number)
        if entries is None:
            report.add(
                "ENUM_VALUE_NO_DELETE",
                f'Previously present enum value "{number}" on enum "{short}" was deleted.',
                file,
                new.path,
            )
            continue
        new_names = [name for _, name in entries]
        if sorted(old_names) != sorted(new_names):
            report.add(
                "ENUM_VALUE_SAME_NAME",
                f'Enum value "{number}" on enum "{short}" changed name from '
                f'"{", ".join(sorted(old_names))}" to "{", ".join(sorted(new_names))}".',
                file,
                (*new.path, 2, entries[0][0], 1),
            )
    _check_reserved(
        "RESERVED_ENUM_NO_DELETE",
        f'enum "{short}"',
        [(r.start, r.end) for r in old.proto.reserved_range],
        [(r.start, r.end) for r in new.proto.reserved_range],
        old.proto.reserved_name,
        new.proto.reserved_name,
        file,
        new.path,
        report,
    )


def _check_reserved(
    rule: str,
    what: str,
    old_ranges: Sequence[tuple[int, int]],
    new_ranges: Sequence[tuple[int, int]],
    old_names: Iterable[str],
    new_names: Iterable[str],
    file: FileInfo,
    path: Path,
    report: Report,
) -> None:
    """Ranges are inclusive (start, end); each old range must still be reserved exactly."""
    for start, end in old_ranges:
        if not _covered(start, end, new_ranges):
            shown = str(start) if start == end else f"{start} to {end}"
            report.add(
                rule,
                f'Previously present reserved range "[{shown}]" on {what} is missing.',
                file,
                path,
            )
    names = set(new_names)
    for name in old_names:
        if name not in names:
            report.add(
                rule, f'Previously present reserved name "{name}" on {what} is missing.', file, path
            )


def _covered(start: int, end: int, ranges: Sequence[tuple[int, int]]) -> bool:
    """Whether every number in the inclusive range is inside the union of ``ranges``."""
    at = start
    for low, high in sorted(ranges):
        if low > at:
            break
        if high >= at:
            at = high + 1
            if at > end:
                return True
    return at > end


def _field_option(f: d.FieldDescriptorProto, name: str) -> str:
    value = getattr(f.options, name)
    enum = d.FieldOptions.DESCRIPTOR.fields_by_name[name].enum_type
    return str(enum.values_by_number[value].name)


def _check_field_options(
    of: d.FieldDescriptorProto,
    nf: d.FieldDescriptorProto,
    short: str,
    file: FileInfo,
    fpath: Path,
    report: Report,
) -> None:
    before, after = _field_option(of, "jstype"), _field_option(nf, "jstype")
    if before != after:
        report.add(
            "FIELD_SAME_JSTYPE",
            f'Field "{of.number}" with name "{nf.name}" on message "{short}" changed option '
            f'"jstype" from "{before}" to "{after}".',
            file,
            fpath,
        )
    strings = (T.TYPE_STRING, T.TYPE_BYTES)
    if of.type in strings and nf.type in strings:
        before, after = _field_option(of, "ctype"), _field_option(nf, "ctype")
        if before != after:
            report.add(
                "FIELD_SAME_CPP_STRING_TYPE",
                f'Field "{of.number}" with name "{nf.name}" on message "{short}" changed C++ '
                f'string type from "{before}" to "{after}".',
                file,
                fpath,
            )


def _extensions(info: FileInfo) -> dict[str, str]:
    """Extensions declared in the file, by scope-qualified name -> enclosing message name."""
    found = {f".{e.name}": "" for e in info.proto.extension}
    for name, msg in info.messages.items():
        for e in msg.proto.extension:
            found[f"{name}.{e.name}"] = name
    return found


def check_extensions(old: FileInfo, new: FileInfo, report: Report) -> None:
    """EXTENSION_NO_DELETE: an extension declared in the old file is gone from the new."""
    kept = _extensions(new)
    for name, scope in _extensions(old).items():
        if name not in kept:
            enclosing = new.messages.get(scope) if scope else None
            report.add(
                "EXTENSION_NO_DELETE",
                f'Previously present extension "{name[1:]}" was deleted from file.',
                new,
                enclosing.path if enclosing is not None else None,
            )
