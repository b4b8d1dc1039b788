"""The checker's view of one side of a comparison: every element of the target files by the
key Buf pairs it with, its resolved features, and source locations."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from google.protobuf import descriptor_pb2 as d

from spoke.compat.features import Features, file_features, merge

T = d.FieldDescriptorProto
TYPE_NAMES: dict[int, str] = {value: name[len("TYPE_") :].lower() for name, value in T.Type.items()}
NAMED_TYPES = (T.TYPE_MESSAGE, T.TYPE_ENUM, T.TYPE_GROUP)


@dataclass(frozen=True)
class Violation:
    """One breaking change: a Buf rule ID, a plain message, and where in the new file.

    ``location`` names the element the rule is about as ``file:Message.field`` (package-relative
    names; just ``file`` for file-level rules), the same form the diff uses. ``against`` is the
    label of the version compared with, set by :func:`spoke.compat.compare`.
    """

    rule: str
    message: str
    file: str
    line: int | None
    column: int | None
    location: str = ""
    against: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "location": self.location,
            "against": self.against,
        }


Path = tuple[int, ...]


@dataclass(frozen=True, eq=False)
class FileInfo:
    """A target file and its resolved features. Source locations are indexed on first use:
    only a file with a violation needs them."""

    proto: d.FileDescriptorProto
    features: Features
    name: str
    package: str

    @cached_property
    def locations(self) -> dict[Path, tuple[int, int]]:
        return _locations(self.proto)


@dataclass(frozen=True, eq=False)
class Msg:
    """A message: ``name`` is relative to the package (``Outer.Inner``)."""

    name: str
    proto: d.DescriptorProto
    path: Path
    file: FileInfo
    features: Features


@dataclass(frozen=True, eq=False)
class EnumInfo:
    name: str
    proto: d.EnumDescriptorProto
    path: Path
    file: FileInfo
    features: Features


@dataclass(frozen=True, eq=False)
class ServiceInfo:
    name: str
    proto: d.ServiceDescriptorProto
    path: Path
    file: FileInfo


Element = Msg | EnumInfo | ServiceInfo


@dataclass(frozen=True, eq=False)
class FieldInfo:
    """A field of a message, or an extension (``scope`` is then its declaring scope)."""

    proto: d.FieldDescriptorProto
    path: Path
    file: FileInfo
    features: Features
    owner: Msg | None  # the message holding a plain field; None for extensions
    scope: str  # package-relative name of the enclosing message or "" (for locations)

    @property
    def is_extension(self) -> bool:
        return self.owner is None


def _locations(proto: d.FileDescriptorProto) -> dict[Path, tuple[int, int]]:
    found: dict[Path, tuple[int, int]] = {}
    for loc in proto.source_code_info.location:
        key = tuple(loc.path)
        if key not in found and len(loc.span) >= 3:
            found[key] = (loc.span[0] + 1, loc.span[1] + 1)
    return found


@dataclass
class Index:
    """Everything declared in one side's target files, keyed the way Buf pairs elements:
    files by path, messages/enums/services by fully-qualified name, extensions by
    (extendee, number)."""

    files: dict[str, FileInfo] = field(default_factory=dict)
    messages: dict[str, Msg] = field(default_factory=dict)
    enums: dict[str, EnumInfo] = field(default_factory=dict)
    services: dict[str, ServiceInfo] = field(default_factory=dict)
    extensions: dict[tuple[str, int], FieldInfo] = field(default_factory=dict)
    all_enums: dict[str, d.EnumDescriptorProto] = field(default_factory=dict)

    @classmethod
    def build(cls, fds: d.FileDescriptorSet, targets: set[str] | None) -> Index:
        index = cls()
        for proto in fds.file:
            # Enum types are looked up in imports too (defaults, wire compatibility).
            _collect_enums(f".{proto.package}" if proto.package else "", proto, index.all_enums)
            if targets is not None and proto.name not in targets:
                continue
            info = FileInfo(proto, file_features(proto), str(proto.name), str(proto.package))
            index.files[info.name] = info
            for i, m in enumerate(proto.message_type):
                index._add_message("", m, (4, i), info, info.features)
            for i, e in enumerate(proto.enum_type):
                index._add_enum("", e, (5, i), info, info.features)
            for i, s in enumerate(proto.service):
                index.services[_full(info, s.name)] = ServiceInfo(s.name, s, (6, i), info)
            for i, x in enumerate(proto.extension):
                index._add_extension(x, (7, i), info, info.features, "")
        return index

    def _add_message(
        self, prefix: str, m: d.DescriptorProto, path: Path, file: FileInfo, parent: Features
    ) -> None:
        name = f"{prefix}{m.name}"
        features = merge(parent, m.options)
        self.messages[_full(file, name)] = Msg(name, m, path, file, features)
        for i, nested in enumerate(m.nested_type):
            self._add_message(f"{name}.", nested, (*path, 3, i), file, features)
        for i, e in enumerate(m.enum_type):
            self._add_enum(f"{name}.", e, (*path, 4, i), file, features)
        for i, x in enumerate(m.extension):
            self._add_extension(x, (*path, 6, i), file, features, name)

    def _add_enum(
        self,
        prefix: str,
        e: d.EnumDescriptorProto,
        path: Path,
        file: FileInfo,
        parent: Features,
    ) -> None:
        name = f"{prefix}{e.name}"
        self.enums[_full(file, name)] = EnumInfo(name, e, path, file, merge(parent, e.options))

    def _add_extension(
        self, x: d.FieldDescriptorProto, path: Path, file: FileInfo, parent: Features, scope: str
    ) -> None:
        info = FieldInfo(x, path, file, merge(parent, x.options), None, scope)
        self.extensions[(str(x.extendee), int(x.number))] = info

    def packages(self) -> dict[str, list[FileInfo]]:
        found: dict[str, list[FileInfo]] = {}
        for info in self.files.values():
            found.setdefault(info.package, []).append(info)
        return found


def _full(file: FileInfo, name: str) -> str:
    return f"{file.package}.{name}" if file.package else name


def _collect_enums(
    prefix: str,
    container: d.FileDescriptorProto | d.DescriptorProto,
    out: dict[str, d.EnumDescriptorProto],
) -> None:
    for e in container.enum_type:
        out[f"{prefix}.{e.name}"] = e
    nested = (
        container.message_type
        if isinstance(container, d.FileDescriptorProto)
        else container.nested_type
    )
    for m in nested:
        _collect_enums(f"{prefix}.{m.name}", m, out)


def message_fields(msg: Msg) -> dict[int, FieldInfo]:
    """A message's fields by number, each with its resolved features."""
    return {
        f.number: FieldInfo(
            f, (*msg.path, 2, i), msg.file, merge(msg.features, f.options), msg, msg.name
        )
        for i, f in enumerate(msg.proto.field)
    }


class Report:
    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def add(
        self,
        rule: str,
        message: str,
        file: FileInfo | None,
        path: Path | None,
        element: str = "",
        *,
        file_name: str = "",
        element_file: str | None = None,
    ) -> None:
        """Record a violation at ``path`` in ``file`` (the new side), about ``element``
        (package-relative name; empty for the file itself). Without a new file, ``file_name``
        is reported as the file and ``element_file`` (default: the same) names the file the
        element was in, for ``location``."""
        line: int | None = None
        column: int | None = None
        name = file.name if file is not None else file_name
        if file is not None and path is not None and path in file.locations:
            line, column = file.locations[path]
        where = name if element_file is None else element_file
        location = f"{where}:{element}" if element else where
        self.violations.append(Violation(rule, message, name, line, column, location))


def syntax_of(f: d.FileDescriptorProto) -> str:
    if f.syntax == "editions":
        return f"editions {d.Edition.Name(f.edition).removeprefix('EDITION_')}"
    return f.syntax or "proto2"
