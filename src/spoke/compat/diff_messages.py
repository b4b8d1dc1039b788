"""Changes inside a paired message or enum: fields by number, oneofs by name, enum values by
number, reserved and extension ranges, options.

Reserved and extension ranges are compared as sets of numbers, not as declarations: splitting
``reserved 5 to 9`` into ``5 to 6, 7 to 9`` changes nothing, and shrinking it to ``5 to 8``
is reported as ``9`` no longer reserved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from google.protobuf import descriptor_pb2 as d

from spoke.compat.diff_fields import compare_field, declaration, map_entry_pairs
from spoke.compat.diff_model import Changes, Place, loc
from spoke.compat.diff_options import compare_options
from spoke.compat.diff_rules import OPTION_RULES
from spoke.compat.diff_side import Side
from spoke.compat.model import EnumInfo, Msg, message_fields

_FIELD_MAX = 536870911  # 2**29 - 1, the largest field number
_ENUM_MAX = 2147483647  # enum values are int32

Ranges = list[tuple[int, int]]


def option_rules(
    name: str, sides: tuple[Side, Side], places: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """(rule, location) pairs for an option ``name`` declared on each of ``places`` ((file,
    scope) of the old and the new side): the rule on every element of its kind inside."""
    pairs: list[tuple[str, str]] = []
    for side, (file, scope) in zip(sides, places, strict=True):
        for rule, kind in OPTION_RULES.get(name, ()):
            pairs.extend((rule, at) for at in side.locations_within(file, scope, kind))
    return pairs


def compare_message(old: Msg, new: Msg, sides: tuple[Side, Side], out: Changes) -> None:
    nf, of = new.file.name, old.file.name
    here = Place(loc(nf, new.name), (loc(of, old.name),))
    what = f'message "{new.name}"'

    def child(old_name: str, new_name: str) -> Place:
        return Place(loc(nf, new.name, new_name), (loc(of, old.name, old_name),))

    _options(
        "message_option_changed", "Message", old, new, sides, out, skip=("map_entry",), here=here
    )
    old_fields, new_fields = message_fields(old), message_fields(new)
    readers = (sides[0].options, sides[1].options)
    for number in sorted(old_fields.keys() | new_fields.keys()):
        before, after = old_fields.get(number), new_fields.get(number)
        if after is None and before is not None:
            name = str(before.proto.name)
            out.add(
                "field_removed",
                child(name, name),
                declaration(before),
                None,
                f'Field {number} "{name}" was removed from {what}.',
                extra=map_entry_pairs(before),
            )
        elif before is None and after is not None:
            name = str(after.proto.name)
            out.add(
                "field_added",
                child(name, name),
                None,
                declaration(after),
                f'Field {number} "{name}" was added to {what}.',
                extra=map_entry_pairs(after),
            )
        elif before is not None and after is not None:
            place = child(str(before.proto.name), str(after.proto.name))
            label = f'field {number} "{after.proto.name}" of {what}'
            compare_field(before, after, place, label, out, readers)
    _oneofs(old, new, sides, out, child, what)
    _ranges(
        "reserved",
        "reserves",
        _message_ranges(old.proto.reserved_range),
        _message_ranges(new.proto.reserved_range),
        _FIELD_MAX,
        here,
        what,
        out,
    )
    _reserved_names(old.proto.reserved_name, new.proto.reserved_name, here, what, out)
    _ranges(
        "extension_range",
        "accepts extensions",
        _message_ranges(old.proto.extension_range),
        _message_ranges(new.proto.extension_range),
        _FIELD_MAX,
        here,
        what,
        out,
    )


def _real_oneofs(m: d.DescriptorProto) -> dict[str, d.OneofDescriptorProto]:
    """The oneofs a schema declares (a proto3 ``optional`` field's synthetic one is not)."""
    synthetic = {f.oneof_index for f in m.field if f.proto3_optional and f.HasField("oneof_index")}
    return {o.name: o for i, o in enumerate(m.oneof_decl) if i not in synthetic}


def _oneofs(
    old: Msg,
    new: Msg,
    sides: tuple[Side, Side],
    out: Changes,
    child: Callable[[str, str], Place],
    what: str,
) -> None:
    before, after = _real_oneofs(old.proto), _real_oneofs(new.proto)
    for name in sorted(before.keys() | after.keys()):
        place = child(name, name)
        if name not in after:
            out.add("oneof_removed", place, name, None, f'Oneof "{name}" was removed from {what}.')
        elif name not in before:
            out.add("oneof_added", place, None, name, f'Oneof "{name}" was added to {what}.')
        else:
            for change in compare_options(
                sides[0].options.read(before[name].options),
                sides[1].options.read(after[name].options),
            ):
                out.add(
                    "oneof_option_changed",
                    place,
                    change.value(new=False),
                    change.value(new=True),
                    f'Oneof "{name}" of {what} changed option "{change.name}" from '
                    f"{change.shown(new=False)} to {change.shown(new=True)}.",
                )


def _options(
    change_type: str,
    kind: str,
    old: Msg | EnumInfo,
    new: Msg | EnumInfo,
    sides: tuple[Side, Side],
    out: Changes,
    *,
    skip: tuple[str, ...] = (),
    here: Place,
) -> None:
    for change in compare_options(
        sides[0].options.read(old.proto.options, skip=skip),
        sides[1].options.read(new.proto.options, skip=skip),
    ):
        places = ((old.file.name, old.name), (new.file.name, new.name))
        out.add(
            change_type,
            here,
            change.value(new=False),
            change.value(new=True),
            f'{kind} "{new.name}" changed option "{change.name}" from '
            f"{change.shown(new=False)} to {change.shown(new=True)}.",
            rules=(),
            extra=option_rules(change.name, sides, places),
        )


def _message_ranges(ranges: Iterable[d.DescriptorProto.ReservedRange]) -> Ranges:
    return [(r.start, r.end - 1) for r in ranges]  # the descriptor's end is exclusive


def merged(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Inclusive ranges as the fewest sorted, non-touching ranges covering the same numbers."""
    out: Ranges = []
    for low, high in sorted(ranges):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def subtract(ranges: Sequence[tuple[int, int]], minus: Sequence[tuple[int, int]]) -> Ranges:
    """The numbers of ``ranges`` not in ``minus`` (both merged), as merged ranges."""
    out: Ranges = []
    for low, high in ranges:
        at = low
        for cut_low, cut_high in minus:
            if cut_high < at or cut_low > high:
                continue
            if cut_low > at:
                out.append((at, cut_low - 1))
            at = max(at, cut_high + 1)
        if at <= high:
            out.append((at, high))
    return out


def range_text(low: int, high: int, maximum: int) -> str:
    if low == high:
        return str(low)
    return f"{low} to {'max' if high == maximum else high}"


def _ranges(
    prefix: str,
    verb: str,
    old: Ranges,
    new: Ranges,
    maximum: int,
    here: Place,
    what: str,
    out: Changes,
) -> None:
    before, after = merged(old), merged(new)
    for low, high in subtract(before, after):
        text = range_text(low, high, maximum)
        out.add(
            f"{prefix}_removed",
            here,
            text,
            None,
            f"{what[0].upper()}{what[1:]} no longer {verb} {text}.",
        )
    for low, high in subtract(after, before):
        text = range_text(low, high, maximum)
        out.add(
            f"{prefix}_added", here, None, text, f"{what[0].upper()}{what[1:]} now {verb} {text}."
        )


def _reserved_names(
    old: Iterable[str], new: Iterable[str], here: Place, what: str, out: Changes
) -> None:
    before, after = set(old), set(new)
    cap = what[0].upper() + what[1:]
    for name in sorted(before - after):
        out.add(
            "reserved_removed",
            here,
            f'"{name}"',
            None,
            f'{cap} no longer reserves the name "{name}".',
        )
    for name in sorted(after - before):
        out.add("reserved_added", here, None, f'"{name}"', f'{cap} now reserves the name "{name}".')


def _values(e: d.EnumDescriptorProto) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for v in e.value:
        found.setdefault(v.number, []).append(str(v.name))
    return found


def compare_enum(old: EnumInfo, new: EnumInfo, sides: tuple[Side, Side], out: Changes) -> None:
    """Values are paired by number; a number's names (several with ``allow_alias``) are
    located by the first one declared, as the checker locates them."""
    nf, of = new.file.name, old.file.name
    here = Place(loc(nf, new.name), (loc(of, old.name),))
    what = f'enum "{new.name}"'
    _options("enum_option_changed", "Enum", old, new, sides, out, here=here)
    before, after = _values(old.proto), _values(new.proto)
    for number in sorted(before.keys() | after.keys()):
        old_names, new_names = before.get(number), after.get(number)
        if new_names is None and old_names is not None:
            first = old_names[0]
            out.add(
                "enum_value_removed",
                Place(loc(nf, new.name, first), (loc(of, old.name, first),)),
                f"{', '.join(old_names)} = {number}",
                None,
                f'Value {number} "{first}" was removed from {what}.',
            )
        elif old_names is None and new_names is not None:
            first = new_names[0]
            out.add(
                "enum_value_added",
                Place(loc(nf, new.name, first), (loc(of, old.name, first),)),
                None,
                f"{', '.join(new_names)} = {number}",
                f'Value {number} "{first}" was added to {what}.',
            )
        elif old_names is not None and new_names is not None:
            place = Place(loc(nf, new.name, new_names[0]), (loc(of, old.name, old_names[0]),))
            if set(old_names) != set(new_names):
                shown_old, shown_new = ", ".join(old_names), ", ".join(new_names)
                out.add(
                    "enum_value_renamed",
                    place,
                    shown_old,
                    shown_new,
                    f"Value {number} of {what} changed its {_names(old_names, new_names)} from "
                    f'"{shown_old}" to "{shown_new}".',
                )
            _value_options(old, new, number, sides, out, what)
    _ranges(
        "reserved",
        "reserves",
        [(r.start, r.end) for r in old.proto.reserved_range],  # inclusive for enums
        [(r.start, r.end) for r in new.proto.reserved_range],
        _ENUM_MAX,
        here,
        what,
        out,
    )
    _reserved_names(old.proto.reserved_name, new.proto.reserved_name, here, what, out)


def _names(old: list[str], new: list[str]) -> str:
    """ "name", or "names" when a number has aliases (``allow_alias``) on either side."""
    return "names" if len(old) > 1 or len(new) > 1 else "name"


def _value_options(
    old: EnumInfo, new: EnumInfo, number: int, sides: tuple[Side, Side], out: Changes, what: str
) -> None:
    """Options of each name a number keeps on both sides."""
    old_values = {v.name: v for v in old.proto.value if v.number == number}
    for v in new.proto.value:
        if v.number != number or v.name not in old_values:
            continue
        place = Place(loc(new.file.name, new.name, v.name), (loc(old.file.name, old.name, v.name),))
        for change in compare_options(
            sides[0].options.read(old_values[v.name].options), sides[1].options.read(v.options)
        ):
            out.add(
                "enum_value_option_changed",
                place,
                change.value(new=False),
                change.value(new=True),
                f'Value "{v.name}" of {what} changed option "{change.name}" from '
                f"{change.shown(new=False)} to {change.shown(new=True)}.",
            )
