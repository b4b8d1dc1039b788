"""The checker's view of a file: its messages and enums by name, and source locations."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import descriptor_pb2 as d

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


@dataclass(frozen=True)
class Msg:
    full_name: str
    proto: d.DescriptorProto
    path: Path


@dataclass(frozen=True)
class EnumInfo:
    full_name: str
    proto: d.EnumDescriptorProto
    path: Path


class FileInfo:
    def __init__(self, proto: d.FileDescriptorProto) -> None:
        self.proto = proto
        self.messages: dict[str, Msg] = {}
        self.enums: dict[str, EnumInfo] = {}
        prefix = ""  # names are keyed relative to the package, as buf matches them
        for i, m in enumerate(proto.message_type):
            self._add_message(prefix, m, (4, i))
        for i, e in enumerate(proto.enum_type):
            self.enums[f"{prefix}.{e.name}"] = EnumInfo(f"{prefix}.{e.name}", e, (5, i))
        self.locations: dict[Path, tuple[int, int]] = {}
        for loc in proto.source_code_info.location:
            key = tuple(loc.path)
            if key not in self.locations and len(loc.span) >= 3:
                self.locations[key] = (loc.span[0] + 1, loc.span[1] + 1)

    def _add_message(self, prefix: str, m: d.DescriptorProto, path: Path) -> None:
        name = f"{prefix}.{m.name}"
        self.messages[name] = Msg(name, m, path)
        for i, nested in enumerate(m.nested_type):
            self._add_message(name, nested, (*path, 3, i))
        for i, e in enumerate(m.enum_type):
            self.enums[f"{name}.{e.name}"] = EnumInfo(f"{name}.{e.name}", e, (*path, 4, i))


class Report:
    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def add(self, rule: str, message: str, file: FileInfo, path: Path | None) -> None:
        line: int | None = None
        column: int | None = None
        if path is not None and path in file.locations:
            line, column = file.locations[path]
        self.violations.append(Violation(rule, message, file.proto.name, line, column))


def syntax_of(f: d.FileDescriptorProto) -> str:
    return f.syntax or "proto2"
