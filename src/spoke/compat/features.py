"""Resolved protobuf features (editions) for the elements the breaking rules look at.

protoc writes features into a descriptor set as the source spelled them (unresolved). The
value that applies to an element is the edition's default, overridden by the file, then by
each enclosing message, then by the element itself. proto2 and proto3 files behave like the
pseudo-editions whose defaults reproduce their semantics.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf import descriptor_pb2 as d

Features = Mapping[str, int]

FS = d.FeatureSet
_PROTO2: Features = {
    "field_presence": FS.EXPLICIT,
    "enum_type": FS.CLOSED,
    "repeated_field_encoding": FS.EXPANDED,
    "utf8_validation": FS.NONE,
    "message_encoding": FS.LENGTH_PREFIXED,
    "json_format": FS.LEGACY_BEST_EFFORT,
    # Extensions of FeatureSet, by their "(pb.lang).name" spelling.
    "java.utf8_validation": 1,  # JavaFeatures.DEFAULT
    "cpp.string_type": 3,  # CppFeatures.STRING
}
_PROTO3: Features = {
    **_PROTO2,
    "field_presence": FS.IMPLICIT,
    "enum_type": FS.OPEN,
    "repeated_field_encoding": FS.PACKED,
    "utf8_validation": FS.VERIFY,
    "json_format": FS.ALLOW,
}
_EDITION_2023: Features = {**_PROTO3, "field_presence": FS.EXPLICIT}
_EDITION_2024: Features = {**_EDITION_2023, "cpp.string_type": 1}  # CppFeatures.VIEW

# FeatureSet extension numbers (google/protobuf/cpp_features.proto, java_features.proto) and
# the fields of their messages that the rules need.
_EXTENSIONS = {1000: {2: "cpp.string_type"}, 1001: {2: "java.utf8_validation"}}


def file_features(f: d.FileDescriptorProto) -> Features:
    """The features of a file: its edition's defaults with the file's own overrides."""
    if f.syntax == "editions":
        base = _EDITION_2024 if f.edition >= d.EDITION_2024 else _EDITION_2023
    elif f.syntax == "proto3":
        base = _PROTO3
    else:
        base = _PROTO2
    return merge(base, f.options)


def merge(
    parent: Features,
    options: d.FileOptions | d.MessageOptions | d.EnumOptions | d.FieldOptions | d.OneofOptions,
) -> Features:
    """``parent`` overridden by the features set in ``options``."""
    if not options.HasField("features"):
        return parent
    fs = options.features
    resolved = dict(parent)
    for field, value in fs.ListFields():
        resolved[field.name] = int(value)
    for number, fields in _EXTENSIONS.items():
        for name, value in _extension_fields(fs, number).items():
            if name in fields:
                resolved[fields[name]] = value
    return resolved


def _extension_fields(fs: d.FeatureSet, number: int) -> dict[int, int]:
    """Varint fields of the FeatureSet extension ``number`` (kept as unknown bytes, since the
    language feature protos are not compiled into this process)."""
    found: dict[int, int] = {}
    raw = fs.SerializeToString()
    for tag, payload in _fields(raw):
        if tag == (number << 3 | 2) and isinstance(payload, bytes):
            for inner_tag, inner in _fields(payload):
                if inner_tag & 7 == 0 and isinstance(inner, int):
                    found[inner_tag >> 3] = inner
    return found


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(tag, value) pairs of a serialized message: varints as int, length-delimited as bytes;
    other wire types are skipped."""
    out: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        tag, at = _varint(data, at)
        wire = tag & 7
        if wire == 0:
            value, at = _varint(data, at)
            out.append((tag, value))
        elif wire == 2:
            size, at = _varint(data, at)
            out.append((tag, data[at : at + size]))
            at += size
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        else:  # groups never appear in FeatureSet
            break
    return out
