"""Changes of one field (or extension) paired by number: name, type, cardinality, JSON name,
oneof, default and options.

Types are shown as written in a schema, full names for messages and enums, and a map field
as ``map<K, V>``: its entry message is generated and not a change of its own. Named types are
compared relative to the file's package, so that a package rename is reported once, as
``file_package_changed``, and not again on every field that refers to a sibling type.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import descriptor_pb2 as d
from google.protobuf import text_encoding

from spoke.compat.diff_model import Changes, Place, loc
from spoke.compat.diff_options import OptionReader, compare_options
from spoke.compat.diff_rules import OPTION_RULES, RULES_BY_CHANGE
from spoke.compat.model import NAMED_TYPES, TYPE_NAMES, FieldInfo, T
from spoke.compat.rules_fields import cardinality, is_map, kind

# Features whose effect the diff reports as the field's cardinality and type instead.
_SHOWN_ELSEWHERE = ("features.field_presence", "features.message_encoding")


@dataclass(frozen=True, slots=True)
class FieldType:
    text: str  # as shown: "int32", "a.v1.Item", "map<string, int32>"
    key: str  # as compared: named types relative to the file's package


def _named(f: d.FieldDescriptorProto, package: str) -> tuple[str, str]:
    name = str(f.type_name).lstrip(".")
    prefix = f"{package}." if package else ""
    return name, name.removeprefix(prefix)


def _scalar_or_named(f: d.FieldDescriptorProto, package: str) -> FieldType:
    if f.type in NAMED_TYPES:
        text, relative = _named(f, package)
        return FieldType(text, relative)
    name = TYPE_NAMES[int(f.type)]
    return FieldType(name, name)


def field_type(f: FieldInfo) -> FieldType:
    package = f.file.package
    if is_map(f) and f.owner is not None:
        entry = map_entry_name(f)
        for nested in f.owner.proto.nested_type:
            if nested.name == entry:
                parts = {p.number: _scalar_or_named(p, package) for p in nested.field}
                k, v = parts[1], parts[2]
                return FieldType(f"map<{k.text}, {v.text}>", f"map<{k.key}, {v.key}>")
    shown = _scalar_or_named(f.proto, package)
    what = kind(f)
    if what == "group":
        if f.proto.type == T.TYPE_GROUP:
            return FieldType(f"group {shown.text}", f"group {shown.key}")
        return FieldType(f"{shown.text} (delimited)", f"group {shown.key}")
    return FieldType(shown.text, f"{what} {shown.key}" if f.proto.type in NAMED_TYPES else what)


def map_entry_name(f: FieldInfo) -> str:
    return str(f.proto.type_name).rsplit(".", 1)[-1]


def declaration(f: FieldInfo) -> str:
    """The field as a schema would declare it: ``repeated string tags = 3``."""
    card = cardinality(f)
    label = {"repeated": "repeated ", "required": "required "}.get(card, "")
    if f.proto.proto3_optional:
        label = "optional "
    text = f"{label}{field_type(f).text} {f.proto.name} = {f.proto.number}"
    if f.is_extension:
        text += f" (extends {str(f.proto.extendee).lstrip('.')})"
    return text


def default_json_name(name: str) -> str:
    """The JSON name protoc derives from a field name (``foo_bar`` -> ``fooBar``)."""
    out: list[str] = []
    upper = False
    for char in name:
        if char == "_":
            upper = True
        else:
            out.append(char.upper() if upper else char)
            upper = False
    return "".join(out)


def oneof_of(f: FieldInfo) -> str | None:
    """The real oneof holding the field (a proto3 ``optional`` field's is synthetic: None)."""
    if f.owner is None or not f.proto.HasField("oneof_index") or f.proto.proto3_optional:
        return None
    return str(f.owner.proto.oneof_decl[f.proto.oneof_index].name)


def default_text(f: FieldInfo) -> str | None:
    p = f.proto
    if not p.HasField("default_value"):
        return None
    if p.type == T.TYPE_STRING:
        return f'"{text_encoding.CEscape(str(p.default_value), as_utf8=True)}"'
    if p.type == T.TYPE_BYTES:
        return f'"{p.default_value}"'  # protoc keeps bytes defaults C-escaped already
    return str(p.default_value)


def map_entry_pairs(*fields: FieldInfo) -> list[tuple[str, str]]:
    """What the checker reports on the entry message generated for a map field: the entry's
    deletion (when the field is deleted, renamed or stops being a map) and its key or value
    type changing. The diff folds these into the map field's own change."""
    pairs: list[tuple[str, str]] = []
    for f in fields:
        if f.owner is None or not is_map(f):
            continue
        entry = f"{f.owner.name}.{map_entry_name(f)}"
        deleted = ("MESSAGE_NO_DELETE", "PACKAGE_MESSAGE_NO_DELETE")
        pairs.extend((rule, loc(f.file.name, entry)) for rule in deleted)
        pairs.extend(
            (rule, loc(f.file.name, entry, part))
            for rule in RULES_BY_CHANGE["field_type_changed"]
            for part in ("key", "value")
        )
    return pairs


def compare_field(
    old: FieldInfo,
    new: FieldInfo,
    place: Place,
    what: str,
    out: Changes,
    readers: tuple[OptionReader, OptionReader],
) -> None:
    """Report how ``new`` differs from ``old``; ``what`` names the field in descriptions
    (``field 2 "name" of message "M"``)."""
    o, n = old.proto, new.proto
    what_cap = what[0].upper() + what[1:]
    if not new.is_extension:
        _compare_names(old, new, place, what_cap, out)
    before, after = field_type(old), field_type(new)
    if before.key != after.key:
        out.add(
            "field_type_changed",
            place,
            before.text,
            after.text,
            f'{what_cap} changed type from "{before.text}" to "{after.text}".',
            extra=map_entry_pairs(old, new),
        )
    card_before, card_after = cardinality(old), cardinality(new)
    if card_before != card_after:
        out.add(
            "field_cardinality_changed",
            place,
            card_before,
            card_after,
            f'{what_cap} changed cardinality from "{card_before}" to "{card_after}".',
            extra=map_entry_pairs(old, new),
        )
    oneof_before, oneof_after = oneof_of(old), oneof_of(new)
    if oneof_before != oneof_after:
        out.add(
            "field_oneof_changed",
            place,
            oneof_before,
            oneof_after,
            f"{what_cap} moved from {_oneof_words(oneof_before)} to {_oneof_words(oneof_after)}.",
        )
    default_before, default_after = default_text(old), default_text(new)
    if default_before != default_after:
        out.add(
            "field_default_changed",
            place,
            default_before,
            default_after,
            f"{what_cap} changed its default from {default_before or 'none'} to "
            f"{default_after or 'none'}.",
        )
    old_reader, new_reader = readers
    for change in compare_options(
        old_reader.read(o.options, skip=_SHOWN_ELSEWHERE),
        new_reader.read(n.options, skip=_SHOWN_ELSEWHERE),
    ):
        out.add(
            "field_option_changed",
            place,
            change.value(new=False),
            change.value(new=True),
            f'{what_cap} changed option "{change.name}" from {change.shown(new=False)} to '
            f"{change.shown(new=True)}.",
            rules=[rule for rule, _ in OPTION_RULES.get(change.name, ())],
        )


def _compare_names(old: FieldInfo, new: FieldInfo, place: Place, what: str, out: Changes) -> None:
    o, n = old.proto, new.proto
    # A rename changes the derived JSON name with it; that is part of the rename, and only a
    # JSON name that moved on its own (or was set with json_name) is a change of its own.
    follows = o.json_name == default_json_name(o.name) and n.json_name == default_json_name(n.name)
    if o.name != n.name:
        json_too = o.json_name != n.json_name and follows
        note = f' (JSON name "{o.json_name}" to "{n.json_name}")' if json_too else ""
        rules = ["FIELD_SAME_NAME", *(["FIELD_SAME_JSON_NAME"] if json_too else [])]
        if is_map(old) or is_map(new):
            # The entry message is named after the field, so the field's type name changes.
            rules.extend(RULES_BY_CHANGE["field_type_changed"])
        out.add(
            "field_renamed",
            place,
            str(o.name),
            str(n.name),
            f'Field {n.number} of message "{_message_of(new)}" was renamed from "{o.name}" to '
            f'"{n.name}"{note}.',
            rules=rules,
            extra=map_entry_pairs(old, new),
        )
    if o.json_name != n.json_name and not (o.name != n.name and follows):
        out.add(
            "field_json_name_changed",
            place,
            str(o.json_name),
            str(n.json_name),
            f'{what} changed its JSON name from "{o.json_name}" to "{n.json_name}".',
        )


def _message_of(f: FieldInfo) -> str:
    return f.owner.name if f.owner is not None else f.scope


def _oneof_words(name: str | None) -> str:
    return f'oneof "{name}"' if name is not None else "no oneof"
