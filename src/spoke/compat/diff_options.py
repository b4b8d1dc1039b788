"""Options of descriptors as flat ``name -> value`` text, custom options included.

``descriptor_pb2`` knows only the standard options; custom ones (``(my.pkg.opt)``, the
language features ``(pb.cpp)``/``(pb.java)``) arrive as unknown fields. When the descriptor
set contains ``google/protobuf/descriptor.proto`` (it must, for a file to declare custom
options), the options are re-read with classes built from the set itself, which know every
extension it declares. Nested messages flatten to dotted names (``features.field_presence``,
``(google.api.http).get``) so that one changed sub-option is one change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2 as d
from google.protobuf import descriptor_pool, message_factory, text_encoding, text_format
from google.protobuf.descriptor import FieldDescriptor as FD

_DESCRIPTOR_PROTO = "google/protobuf/descriptor.proto"


@dataclass(frozen=True, slots=True)
class Opt:
    """An option as set: its value as text, and the field's default as text (None where an
    unset option has no value: repeated fields and messages)."""

    text: str
    default: str | None


@dataclass(frozen=True, slots=True)
class OptionChange:
    name: str
    old: Opt | None
    new: Opt | None

    def value(self, *, new: bool) -> str | None:
        """``name=value`` for the side where the option is set, else None."""
        opt = self.new if new else self.old
        return f"{self.name}={opt.text}" if opt is not None else None

    def shown(self, *, new: bool) -> str:
        opt = self.new if new else self.old
        if opt is not None:
            return opt.text
        if self.name.startswith("features."):
            return "unset (inherited)"  # an unset feature takes its parent's value
        other = self.old if new else self.new
        default = other.default if other is not None else None
        return f"unset (default {default})" if default is not None else "unset"


class OptionReader:
    """Reads options of one descriptor set; the pool of custom options is built on first use."""

    def __init__(self, fds: d.FileDescriptorSet) -> None:
        self._fds = fds
        self._custom = any(f.name == _DESCRIPTOR_PROTO for f in fds.file)
        self._pool: Any = None
        self._classes: dict[str, Any] = {}

    def read(self, options: Any, *, skip: Iterable[str] = ()) -> dict[str, Opt]:
        if not options.ByteSize():
            return {}
        found: dict[str, Opt] = {}
        _flatten(self._with_extensions(options), "", found)
        for name in skip:
            found.pop(name, None)
        return found

    def _with_extensions(self, options: Any) -> Any:
        if not self._custom:
            return options
        name = str(options.DESCRIPTOR.full_name)
        cls = self._classes.get(name)
        if cls is None:
            pool = self._build_pool()
            if pool is None:
                return options
            cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
            self._classes[name] = cls
        return cls.FromString(options.SerializeToString())

    def _build_pool(self) -> Any:
        if self._pool is None:
            pool = descriptor_pool.DescriptorPool()
            try:
                for f in self._fds.file:
                    pool.Add(f)
            except (TypeError, ValueError, KeyError):
                # A set the pool cannot hold: fall back to the standard options only.
                self._custom = False
                return None
            self._pool = pool
        return self._pool


def compare_options(old: Mapping[str, Opt], new: Mapping[str, Opt]) -> list[OptionChange]:
    """Options whose effective value differs (an unset option counts as its default)."""
    changes: list[OptionChange] = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if _effective(before, after) != _effective(after, before):
            changes.append(OptionChange(name, before, after))
    return changes


def _effective(opt: Opt | None, other: Opt | None) -> str | None:
    if opt is not None:
        return opt.text
    return other.default if other is not None else None


def _flatten(message: Any, prefix: str, out: dict[str, Opt]) -> None:
    for field, value in message.ListFields():
        name = f"{prefix}({field.full_name})" if field.is_extension else f"{prefix}{field.name}"
        if field.is_repeated:
            out[name] = Opt("[" + ", ".join(_text(field, v) for v in value) + "]", None)
        elif field.type in (FD.TYPE_MESSAGE, FD.TYPE_GROUP):
            _flatten(value, f"{name}.", out)
        else:
            out[name] = Opt(_text(field, value), _text(field, field.default_value))


def _text(field: Any, value: Any) -> str:
    kind = field.type
    if kind == FD.TYPE_ENUM:
        named = field.enum_type.values_by_number.get(value)
        return str(named.name) if named is not None else str(value)
    if kind == FD.TYPE_BOOL:
        return "true" if value else "false"
    if kind == FD.TYPE_STRING:
        return f'"{text_encoding.CEscape(value, as_utf8=True)}"'
    if kind == FD.TYPE_BYTES:
        return f'"{text_encoding.CEscape(value, as_utf8=False)}"'
    if kind in (FD.TYPE_MESSAGE, FD.TYPE_GROUP):
        return f"{{{text_format.MessageToString(value, as_one_line=True)}}}"
    return str(value)
