"""Rules on a pair of fields (or extensions) with the same number: type, wire and JSON type
compatibility, cardinality, name, JSON name, oneof, default, and language options."""

from __future__ import annotations

from google.protobuf import descriptor_pb2 as d

from spoke.compat.features import FS
from spoke.compat.model import NAMED_TYPES, TYPE_NAMES, FieldInfo, Report, T

# Kinds whose values the binary format decodes interchangeably (FIELD_WIRE_COMPATIBLE_TYPE)
# and, narrower, those whose JSON form is the same too (FIELD_WIRE_JSON_COMPATIBLE_TYPE).
# Verified pair by pair against buf 1.75 (tests/compat).
_VARINT = ("int32", "int64", "uint32", "uint64", "bool")
_WIRE_GROUPS = (_VARINT, ("sint32", "sint64"), ("fixed32", "sfixed32"), ("fixed64", "sfixed64"))
_WIRE_JSON_GROUPS = (
    ("int32", "uint32"),
    ("int64", "uint64"),
    ("fixed32", "sfixed32"),
    ("fixed64", "sfixed64"),
)


def _groups(groups: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, members in enumerate(groups):
        for kind in members:
            found[kind] = i
    return found


WIRE_GROUP = _groups(_WIRE_GROUPS)
WIRE_JSON_GROUP = _groups(_WIRE_JSON_GROUPS)

_IMPLICIT, _EXPLICIT = "optional with implicit presence", "optional with explicit presence"
# Cardinalities a reader can take in place of each other, for the two wire categories.
_WIRE_CARDINALITY = {_IMPLICIT: 1, _EXPLICIT: 1, "required": 2, "repeated": 3, "map": 3}
_WIRE_JSON_CARDINALITY = {**_WIRE_CARDINALITY, "map": 4}


def kind(f: FieldInfo) -> str:
    """The field's kind: its scalar type name, ``enum``, ``message``, or ``group`` (which
    includes messages encoded as delimited in editions)."""
    t = f.proto.type
    if t == T.TYPE_GROUP or (
        t == T.TYPE_MESSAGE and f.features["message_encoding"] == FS.DELIMITED
    ):
        return "group"
    return TYPE_NAMES[int(t)]


def is_map(f: FieldInfo) -> bool:
    if f.proto.label != T.LABEL_REPEATED or f.proto.type != T.TYPE_MESSAGE or f.owner is None:
        return False
    entry = str(f.proto.type_name).rsplit(".", 1)[-1]
    return any(n.name == entry and n.options.map_entry for n in f.owner.proto.nested_type)


def cardinality(f: FieldInfo) -> str:
    p = f.proto
    if p.label == T.LABEL_REPEATED:
        return "map" if is_map(f) else "repeated"
    presence = f.features["field_presence"]
    if p.label == T.LABEL_REQUIRED or presence == FS.LEGACY_REQUIRED:
        return "required"
    if (
        presence == FS.IMPLICIT
        and not p.proto3_optional
        and not p.HasField("oneof_index")
        and not f.is_extension
        and p.type not in (T.TYPE_MESSAGE, T.TYPE_GROUP)
    ):
        return _IMPLICIT
    return _EXPLICIT


def _type_text(f: FieldInfo) -> str:
    k = kind(f)
    if f.proto.type in NAMED_TYPES:
        return str(f.proto.type_name).lstrip(".")
    return k


def _describe(f: FieldInfo) -> str:
    p = f.proto
    if f.is_extension:
        return f'Extension "{p.number}" with name "{p.name}" on message "{p.extendee.lstrip(".")}"'
    return f'Field "{p.number}" with name "{p.name}" on message "{f.scope}"'


def _element(f: FieldInfo) -> str:
    return f"{f.scope}.{f.proto.name}" if f.scope else str(f.proto.name)


def check_field(
    old: FieldInfo, new: FieldInfo, report: Report, *, enums: EnumLookup | None = None
) -> None:
    o, n = old.proto, new.proto
    where = (new.file, new.path, _element(new))
    both_map_entries = (
        old.owner is not None
        and new.owner is not None
        and old.owner.proto.options.map_entry
        and new.owner.proto.options.map_entry
    )
    old_kind, new_kind = kind(old), kind(new)
    type_path = (*new.path, 6) if n.type_name else (*new.path, 5)
    changed = f'{_describe(new)} changed type from "{_type_text(old)}" to "{_type_text(new)}".'
    if old_kind != new_kind or (o.type in NAMED_TYPES and o.type_name != n.type_name):
        report.add("FIELD_SAME_TYPE", changed, new.file, type_path, _element(new))
    for rule, groups in (
        ("FIELD_WIRE_COMPATIBLE_TYPE", WIRE_GROUP),
        ("FIELD_WIRE_JSON_COMPATIBLE_TYPE", WIRE_JSON_GROUP),
    ):
        if old_kind != new_kind:
            same = old_kind in groups and groups[old_kind] == groups.get(new_kind)
            if rule == "FIELD_WIRE_COMPATIBLE_TYPE" and (old_kind, new_kind) == ("string", "bytes"):
                same = True  # every string is valid bytes; the reverse needs UTF-8
            if not same:
                report.add(rule, changed, new.file, type_path, _element(new))
        elif o.type_name != n.type_name and not (
            old_kind == "enum" and enums is not None and enums.compatible(o.type_name, n.type_name)
        ):
            report.add(rule, changed, new.file, type_path, _element(new))
    if not both_map_entries:
        before, after = cardinality(old), cardinality(new)
        if before != after:
            text = f'{_describe(new)} changed cardinality from "{before}" to "{after}".'
            report.add("FIELD_SAME_CARDINALITY", text, *where)
            if _WIRE_CARDINALITY[before] != _WIRE_CARDINALITY[after]:
                report.add("FIELD_WIRE_COMPATIBLE_CARDINALITY", text, *where)
            if _WIRE_JSON_CARDINALITY[before] != _WIRE_JSON_CARDINALITY[after]:
                report.add("FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY", text, *where)
    old_name = f"{old.scope}.{o.name}" if old.is_extension else o.name
    new_name = f"{new.scope}.{n.name}" if new.is_extension else n.name
    if old_name != new_name:
        report.add(
            "FIELD_SAME_NAME",
            f'{_describe(new)} changed name from "{old_name}" to "{new_name}".',
            new.file,
            (*new.path, 1),
            _element(new),
        )
    if not old.is_extension:
        if o.json_name != n.json_name:
            report.add(
                "FIELD_SAME_JSON_NAME",
                f'{_describe(new)} changed option "json_name" from "{o.json_name}" to '
                f'"{n.json_name}".',
                *where,
            )
        before_oneof, after_oneof = _oneof(old), _oneof(new)
        if before_oneof != after_oneof:
            report.add(
                "FIELD_SAME_ONEOF",
                f'{_describe(new)} moved from oneof "{before_oneof or ""}" to oneof '
                f'"{after_oneof or ""}".',
                *where,
            )
    _check_default(old, new, old_kind, new_kind, enums, report)
    _check_language_options(old, new, old_kind, new_kind, both_map_entries, report)


def _oneof(f: FieldInfo) -> str | None:
    if f.owner is None or not f.proto.HasField("oneof_index") or f.proto.proto3_optional:
        return None
    return str(f.owner.proto.oneof_decl[f.proto.oneof_index].name)


class EnumLookup:
    """Enum types of both sides, for defaults and wire compatibility of enum fields."""

    def __init__(
        self, old: dict[str, d.EnumDescriptorProto], new: dict[str, d.EnumDescriptorProto]
    ) -> None:
        self.old = old
        self.new = new

    def compatible(self, old_name: str, new_name: str) -> bool:
        """An enum field may switch to another enum type with the same short name that
        still has every old value (name and number)."""
        before, after = self.old.get(old_name), self.new.get(new_name)
        if before is None or after is None or before.name != after.name:
            return False
        values = {(v.name, v.number) for v in after.value}
        return all((v.name, v.number) in values for v in before.value)

    def first_value(self, type_name: str, *, new: bool) -> str:
        found = (self.new if new else self.old).get(type_name)
        return str(found.value[0].name) if found is not None and found.value else ""


_FLOATS = ("float", "double")
_INTEGERS = (
    *("int32", "int64", "uint32", "uint64", "sint32", "sint64"),
    *("fixed32", "fixed64", "sfixed32", "sfixed64"),
)


def _default(f: FieldInfo, k: str, enums: EnumLookup | None, *, new: bool) -> object:
    """The default a reader sees, as a comparable value (an unset default is the zero)."""
    text = str(f.proto.default_value)
    has = f.proto.HasField("default_value")
    if k in _FLOATS:
        return float(text) if has else 0.0
    if k in _INTEGERS:
        return int(text) if has else 0
    if k == "bool":
        return text == "true"
    if k == "enum":
        if has:
            return text
        return enums.first_value(str(f.proto.type_name), new=new) if enums is not None else ""
    return text.encode("utf-8") if k == "string" else text


def _check_default(
    old: FieldInfo,
    new: FieldInfo,
    old_kind: str,
    new_kind: str,
    enums: EnumLookup | None,
    report: Report,
) -> None:
    if old.proto.label == T.LABEL_REPEATED or new.proto.label == T.LABEL_REPEATED:
        return
    if "message" in (old_kind, new_kind) or "group" in (old_kind, new_kind):
        return
    if not (old.proto.HasField("default_value") or new.proto.HasField("default_value")):
        return
    before = _default(old, old_kind, enums, new=False)
    after = _default(new, new_kind, enums, new=True)
    if isinstance(before, bytes) or isinstance(after, bytes):
        before = _as_bytes(before)
        after = _as_bytes(after)
    if before != after:
        report.add(
            "FIELD_SAME_DEFAULT",
            f'{_describe(new)} changed default value from "{old.proto.default_value}" to '
            f'"{new.proto.default_value}".',
            new.file,
            (*new.path, 7) if new.proto.HasField("default_value") else new.path,
            _element(new),
        )


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    # bytes defaults are C-escaped by protoc; decode the escapes to the raw bytes.
    return (
        str(value).encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1")
    )


_CPP_STRING_TYPES = {1: "VIEW", 2: "CORD", 3: "STRING"}


def _cpp_string_type(f: FieldInfo) -> str:
    if f.proto.options.HasField("ctype"):
        return str(d.FieldOptions.CType.Name(f.proto.options.ctype))
    return _CPP_STRING_TYPES.get(f.features["cpp.string_type"], "STRING")


def _java_utf8(f: FieldInfo) -> str:
    if f.file.proto.options.java_string_check_utf8 or f.features["java.utf8_validation"] == 2:
        return "VERIFY"
    return "VERIFY" if f.features["utf8_validation"] == FS.VERIFY else "NONE"


def _check_language_options(
    old: FieldInfo,
    new: FieldInfo,
    old_kind: str,
    new_kind: str,
    both_map_entries: bool,
    report: Report,
) -> None:
    where = (new.file, new.path, _element(new))
    sixty_four = ("int64", "uint64", "sint64", "fixed64", "sfixed64")
    if old_kind in sixty_four and new_kind in sixty_four:
        before = d.FieldOptions.JSType.Name(old.proto.options.jstype)
        after = d.FieldOptions.JSType.Name(new.proto.options.jstype)
        if before != after:
            report.add(
                "FIELD_SAME_JSTYPE",
                f'{_describe(new)} changed option "jstype" from "{before}" to "{after}".',
                *where,
            )
    strings = ("string", "bytes")
    if old_kind in strings and new_kind in strings and not both_map_entries:
        before, after = _cpp_string_type(old), _cpp_string_type(new)
        # Moving from STRING_PIECE to STRING is safe for C++ callers.
        if before != after and not (before == "STRING_PIECE" and after == "STRING"):
            report.add(
                "FIELD_SAME_CPP_STRING_TYPE",
                f'{_describe(new)} changed C++ string type from "{before}" to "{after}".',
                *where,
            )
    if old_kind == "string" and new_kind == "string":
        before_utf8 = FS.Utf8Validation.Name(old.features["utf8_validation"])
        after_utf8 = FS.Utf8Validation.Name(new.features["utf8_validation"])
        if before_utf8 != after_utf8:
            report.add(
                "FIELD_SAME_UTF8_VALIDATION",
                f"{_describe(new)} changed UTF8 validation from {before_utf8} to {after_utf8}.",
                *where,
            )
        before, after = _java_utf8(old), _java_utf8(new)
        if before != after:
            report.add(
                "FIELD_SAME_JAVA_UTF8_VALIDATION",
                f'{_describe(new)} changed Java string UTF8 validation from "{before}" to '
                f'"{after}".',
                *where,
            )
