"""One side of a diff: the target files' elements by fully-qualified name, and how the two
sides' elements are paired.

The checker's :class:`~spoke.compat.model.Index` is reused so that the diff sees the same
elements, names and resolved features as the rules do. Map entry messages are left out: they
are generated for a ``map<K, V>`` field, which the diff reports as the field's type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf import descriptor_pb2 as d

from spoke.compat.diff_model import loc
from spoke.compat.diff_options import OptionReader
from spoke.compat.model import EnumInfo, FieldInfo, Index, Msg, ServiceInfo
from spoke.compat.modes import Schema


def extension_name(x: FieldInfo) -> str:
    """Package-relative name of an extension: its declaring scope, then its own name."""
    return f"{x.scope}.{x.proto.name}" if x.scope else str(x.proto.name)


def full(package: str, name: str) -> str:
    return f"{package}.{name}" if package else name


class Side:
    """The target files of one schema version and everything declared in them."""

    def __init__(self, schema: Schema) -> None:
        fds = d.FileDescriptorSet()
        fds.ParseFromString(schema.descriptor_set)
        self.index = Index.build(fds, set(schema.targets))
        self.files = self.index.files
        self.messages: dict[str, Msg] = {
            name: m for name, m in self.index.messages.items() if not m.proto.options.map_entry
        }
        self.enums: dict[str, EnumInfo] = self.index.enums
        self.services: dict[str, ServiceInfo] = self.index.services
        self.extensions: dict[str, FieldInfo] = {
            full(x.file.package, extension_name(x)): x for x in self.index.extensions.values()
        }
        self.options = OptionReader(fds)

    def locations_within(self, file: str, scope: str, kind: str) -> list[str]:
        """Locations of the elements of ``kind`` (``file``, ``message``, ``enum``, ``field``
        or ``extension``) in ``file`` at or under ``scope`` (a package-relative message name,
        "" for the whole file). Map entries and their fields are included: the checker
        reports on them too."""

        def inside(name: str) -> bool:
            return not scope or name == scope or name.startswith(f"{scope}.")

        extensions = [
            loc(file, extension_name(x))
            for x in self.extensions.values()
            if x.file.name == file and inside(x.scope)
        ]
        if kind == "file":
            return [file]
        if kind == "extension":
            return extensions
        if kind == "enum":
            return [
                loc(file, e.name)
                for e in self.enums.values()
                if e.file.name == file and inside(e.name)
            ]
        messages = [m for m in self.index.messages.values() if m.file.name == file]
        if kind == "message":
            return [loc(file, m.name) for m in messages if inside(m.name)]
        fields = [
            loc(file, m.name, str(f.name))
            for m in messages
            if inside(m.name)
            for f in m.proto.field
        ]
        return fields + extensions

    def names_in_file(self, file: str) -> list[str]:
        """Package-relative names of every message, enum, service and extension of a file."""
        groups: tuple[Mapping[str, Msg | EnumInfo | ServiceInfo], ...] = (
            self.index.messages,
            self.enums,
            self.services,
        )
        names = [e.name for group in groups for e in group.values() if e.file.name == file]
        names.extend(extension_name(x) for x in self.extensions.values() if x.file.name == file)
        return names


E = TypeVar("E", Msg, EnumInfo, ServiceInfo, FieldInfo)


@dataclass(frozen=True, slots=True)
class Pairing(Generic[E]):
    """Elements of both sides: ``pairs`` (old, new) and the unpaired ones by full name."""

    pairs: list[tuple[str, E, str, E]]
    removed: dict[str, E]
    added: dict[str, E]


def pair_elements(
    old: Mapping[str, E], new: Mapping[str, E], name_of: Callable[[E], str]
) -> Pairing[E]:
    """Pair by fully-qualified name (so an element moved to another file of the same package
    stays paired); what is left is paired within one file by package-relative name, which
    keeps the contents of a file whose package changed comparable."""
    pairs = [(name, old[name], name, new[name]) for name in old if name in new]
    removed = {name: e for name, e in old.items() if name not in new}
    added = {name: e for name, e in new.items() if name not in old}
    by_place = {(e.file.name, name_of(e)): name for name, e in added.items()}
    for name, e in list(removed.items()):
        match = by_place.get((e.file.name, name_of(e)))
        if match is not None and match in added:
            pairs.append((name, e, match, added.pop(match)))
            del removed[name]
    pairs.sort(key=lambda p: p[2])
    return Pairing(pairs, removed, added)
