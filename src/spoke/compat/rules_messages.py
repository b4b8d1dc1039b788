"""Rules on paired messages and enums: deletions inside them, oneofs, required fields,
reserved and extension ranges, JSON format, enum openness and value names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from google.protobuf import descriptor_pb2 as d

from spoke.compat.features import FS, Features
from spoke.compat.model import EnumInfo, FieldInfo, FileInfo, Msg, Path, Report, T, message_fields
from spoke.compat.rules_fields import EnumLookup, check_field


def _oneofs(m: d.DescriptorProto) -> set[str]:
    """Names of the real (not synthetic, proto3 ``optional``) oneofs of a message."""
    synthetic = {f.oneof_index for f in m.field if f.proto3_optional and f.HasField("oneof_index")}
    return {o.name for i, o in enumerate(m.oneof_decl) if i not in synthetic}


def check_message(old: Msg, new: Msg, report: Report, enums: EnumLookup) -> None:
    name, file = new.name, new.file
    for oneof in sorted(_oneofs(old.proto) - _oneofs(new.proto)):
        report.add(
            "ONEOF_NO_DELETE",
            f'Previously present oneof "{oneof}" on message "{name}" was deleted.',
            file,
            new.path,
            f"{name}.{oneof}",
        )
    old_fields, new_fields = message_fields(old), message_fields(new)
    required = {n for n, f in old_fields.items() if f.proto.label == T.LABEL_REQUIRED}
    now_required = {n for n, f in new_fields.items() if f.proto.label == T.LABEL_REQUIRED}
    for number in sorted(required ^ now_required):
        what = "removed" if number in required else "added"
        field = new_fields.get(number) or old_fields[number]
        report.add(
            "MESSAGE_SAME_REQUIRED_FIELDS",
            f'Message "{name}" had required field "{number}" {what}; required fields must '
            "always be sent, so a side that does not know the field breaks.",
            file,
            new_fields[number].path if number in now_required - required else new.path,
            f"{name}.{field.proto.name}",
        )
    reserved = [(r.start, r.end - 1) for r in new.proto.reserved_range]
    reserved_names = set(new.proto.reserved_name)
    for number, of in sorted(old_fields.items()):
        nf = new_fields.get(number)
        if nf is None:
            _field_deleted(of, new, reserved, reserved_names, report)
        else:
            check_field(of, nf, report, enums=enums)
    check_ranges(
        "RESERVED_MESSAGE_NO_DELETE",
        "reserved range",
        f'message "{name}"',
        [(r.start, r.end - 1) for r in old.proto.reserved_range],
        reserved,
        file,
        new.path,
        name,
        report,
    )
    check_reserved_names(
        "RESERVED_MESSAGE_NO_DELETE",
        f'message "{name}"',
        old.proto.reserved_name,
        reserved_names,
        file,
        new.path,
        name,
        report,
    )
    check_ranges(
        "EXTENSION_MESSAGE_NO_DELETE",
        "extension range",
        f'message "{name}"',
        [(r.start, r.end - 1) for r in old.proto.extension_range],
        [(r.start, r.end - 1) for r in new.proto.extension_range],
        file,
        new.path,
        name,
        report,
    )
    if (
        not old.proto.options.no_standard_descriptor_accessor
        and new.proto.options.no_standard_descriptor_accessor
    ):
        report.add(
            "MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR",
            f'Message "{name}" changed option "no_standard_descriptor_accessor" from "false" '
            'to "true".',
            file,
            new.path,
            name,
        )
    _check_json_format("Message", name, old.features, new.features, file, new.path, report)


def _field_deleted(
    of: FieldInfo,
    new: Msg,
    reserved: Sequence[tuple[int, int]],
    reserved_names: set[str],
    report: Report,
) -> None:
    field = of.proto
    what = f'field "{field.number}" with name "{field.name}" on message "{new.name}"'
    element = f"{new.name}.{field.name}"
    report.add(
        "FIELD_NO_DELETE", f"Previously present {what} was deleted.", new.file, new.path, element
    )
    if not covered(field.number, field.number, reserved):
        report.add(
            "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
            f'Previously present {what} was deleted without reserving the number "{field.number}".',
            new.file,
            new.path,
            element,
        )
    if field.name not in reserved_names:
        report.add(
            "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
            f'Previously present {what} was deleted without reserving the name "{field.name}".',
            new.file,
            new.path,
            element,
        )


def _check_json_format(
    kind: str,
    name: str,
    old: Features,
    new: Features,
    file: FileInfo,
    path: Path,
    report: Report,
) -> None:
    before = old["json_format"]
    after = new["json_format"]
    if before == FS.ALLOW and after != FS.ALLOW:
        report.add(
            f"{kind.upper()}_SAME_JSON_FORMAT",
            f'{kind} "{name}" JSON format support changed from {FS.JsonFormat.Name(before)} to '
            f"{FS.JsonFormat.Name(after)}.",
            file,
            path,
            name,
        )


def check_enum(old: EnumInfo, new: EnumInfo, report: Report) -> None:
    name, file = new.name, new.file
    new_by_number: dict[int, list[tuple[int, str]]] = {}
    for i, v in enumerate(new.proto.value):
        new_by_number.setdefault(v.number, []).append((i, v.name))
    old_by_number: dict[int, list[str]] = {}
    for v in old.proto.value:
        old_by_number.setdefault(v.number, []).append(v.name)
    reserved = [(r.start, r.end) for r in new.proto.reserved_range]
    reserved_names = set(new.proto.reserved_name)
    for number, old_names in sorted(old_by_number.items()):
        entries = new_by_number.get(number)
        if entries is None:
            element = f"{name}.{old_names[0]}"
            what = f'enum value "{number}" on enum "{name}"'
            gone = f"Previously present {what} was deleted"
            report.add("ENUM_VALUE_NO_DELETE", f"{gone}.", file, new.path, element)
            if not covered(number, number, reserved):
                report.add(
                    "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
                    f'{gone} without reserving the number "{number}".',
                    file,
                    new.path,
                    element,
                )
            if not all(n in reserved_names for n in old_names):
                report.add(
                    "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
                    f"{gone} without reserving the name"
                    f"{'s' if len(old_names) > 1 else ''} "
                    + ", ".join(f'"{n}"' for n in sorted(old_names))
                    + ".",
                    file,
                    new.path,
                    element,
                )
            continue
        new_names = [n for _, n in entries]
        if not set(new_names) <= set(old_names):
            report.add(
                "ENUM_VALUE_SAME_NAME",
                f'Enum value "{number}" on enum "{name}" changed name from '
                f'"{", ".join(sorted(old_names))}" to "{", ".join(sorted(new_names))}".',
                file,
                (*new.path, 2, entries[0][0], 2),
                f"{name}.{entries[0][1]}",
            )
    check_ranges(
        "RESERVED_ENUM_NO_DELETE",
        "reserved range",
        f'enum "{name}"',
        [(r.start, r.end) for r in old.proto.reserved_range],
        reserved,
        file,
        new.path,
        name,
        report,
    )
    check_reserved_names(
        "RESERVED_ENUM_NO_DELETE",
        f'enum "{name}"',
        old.proto.reserved_name,
        reserved_names,
        file,
        new.path,
        name,
        report,
    )
    before, after = old.features.get("enum_type"), new.features.get("enum_type")
    if before != after:
        states = {FS.OPEN: "open", FS.CLOSED: "closed"}
        report.add(
            "ENUM_SAME_TYPE",
            f'Enum "{name}" changed from {states.get(before or 0, "?")} to '
            f"{states.get(after or 0, '?')}.",
            file,
            new.path,
            name,
        )
    _check_json_format("Enum", name, old.features, new.features, file, new.path, report)


def check_ranges(
    rule: str,
    kind: str,
    what: str,
    old_ranges: Sequence[tuple[int, int]],
    new_ranges: Sequence[tuple[int, int]],
    file: FileInfo,
    path: Path,
    element: str,
    report: Report,
) -> None:
    """Inclusive (start, end) ranges: each old range must stay covered by the new ones."""
    for start, end in old_ranges:
        if not covered(start, end, new_ranges):
            shown = str(start) if start == end else f"{start} to {end}"
            report.add(
                rule,
                f'Previously present {kind} "[{shown}]" on {what} is missing.',
                file,
                path,
                element,
            )


def check_reserved_names(
    rule: str,
    what: str,
    old_names: Iterable[str],
    new_names: set[str],
    file: FileInfo,
    path: Path,
    element: str,
    report: Report,
) -> None:
    for reserved in old_names:
        if reserved not in new_names:
            report.add(
                rule,
                f'Previously present reserved name "{reserved}" on {what} was deleted.',
                file,
                path,
                element,
            )


def covered(start: int, end: int, ranges: Sequence[tuple[int, int]]) -> bool:
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
