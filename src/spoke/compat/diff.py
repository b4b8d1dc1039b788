"""Every change between two versions of a schema, each marked breaking or not.

:func:`diff` lists what was added, removed and changed in the target files of two versions
(imports are only there to resolve types). Elements are paired before they are compared, the
way the checker pairs them: files by path; messages, enums, services and extensions by
fully-qualified name across files (a message moved to another file of its package is
``message_moved`` and its contents are still compared); fields and enum values by number;
oneofs and RPCs by name. Within a file whose package changed, what is left unpaired is paired
by package-relative name, so a package rename does not list the whole file as new.

An added or removed element is listed on its own, not its contents: a new message is one
``message_added``, not also one ``field_added`` per field; the messages of a new file are
covered by ``file_added``.

The diff does not judge compatibility itself. The caller passes the violations the module's
policy produced (:func:`spoke.compat.compare`), and a change is ``breaking`` when one of them
is at the change's location with a rule that covers that kind of change
(:data:`spoke.compat.diff_rules.RULES_BY_CHANGE`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from spoke.compat.diff_fields import declaration
from spoke.compat.diff_files import compare_extension, compare_files, compare_service
from spoke.compat.diff_messages import compare_enum, compare_message
from spoke.compat.diff_model import Changes, Found, Place, loc
from spoke.compat.diff_rules import RULES_BY_CHANGE
from spoke.compat.diff_side import E, Pairing, Side, extension_name, full, pair_elements
from spoke.compat.model import EnumInfo, FieldInfo, Msg, ServiceInfo, Violation
from spoke.compat.modes import Schema

__all__ = ["Change", "diff", "find_changes"]


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two versions.

    ``location`` is ``file``, ``file:Message.field``, ``file:Enum.VALUE``,
    ``file:Service.Method`` (names relative to the package; the new side's names for what
    exists on both sides, the old side's for what was removed), the form violations use.
    ``old_value``/``new_value`` are what the element was and became as short text (a type,
    a declaration, ``option=value``), None on the side where it does not exist.
    """

    type: str
    severity: str  # "breaking" | "non_breaking"
    location: str
    old_value: str | None
    new_value: str | None
    description: str

    def to_dict(self) -> dict[str, object]:
        return {
            "type": self.type,
            "severity": self.severity,
            "location": self.location,
            "old_value": self.old_value,
            "new_value": self.new_value,
            "description": self.description,
        }


def diff(old: Schema, new: Schema, *, violations: Sequence[Violation] = ()) -> list[Change]:
    """List every change from ``old`` to ``new``, sorted by location, then type.

    ``violations`` are those of the compatibility check of the same two versions under the
    module's policy (any mode and category); they only decide each change's severity.
    """
    flagged = {(v.rule, v.location) for v in violations}
    changes = [
        Change(
            f.type,
            "breaking" if f.matches & flagged else "non_breaking",
            f.location,
            f.old_value,
            f.new_value,
            f.description,
        )
        for f in find_changes(old, new)
    ]
    changes.sort(
        key=lambda c: (c.location, c.type, c.old_value or "", c.new_value or "", c.description)
    )
    return changes


def find_changes(old: Schema, new: Schema) -> list[Found]:
    """The changes before severities are known, each with the (rule, location) pairs of the
    violations that would make it breaking (in no particular order)."""
    sides = (Side(old), Side(new))
    out = Changes()
    compare_files(sides, out)
    messages = pair_elements(sides[0].messages, sides[1].messages, _name)
    moved: set[str] = set()
    _elements("Message", "message", messages, sides, out, moved, messages, compare_message)
    enums = pair_elements(sides[0].enums, sides[1].enums, _name)
    _elements("Enum", "enum", enums, sides, out, moved, messages, compare_enum)
    services = pair_elements(sides[0].services, sides[1].services, _name)
    _elements("Service", "service", services, sides, out, moved, messages, compare_service)
    extensions = pair_elements(sides[0].extensions, sides[1].extensions, extension_name)
    _elements("Extension", "extension", extensions, sides, out, moved, messages, compare_extension)
    return out.found


def _name(e: Msg | EnumInfo | ServiceInfo) -> str:
    return e.name


def _element_name(e: Msg | EnumInfo | ServiceInfo | FieldInfo) -> str:
    return extension_name(e) if isinstance(e, FieldInfo) else e.name


def _parent(e: Msg | EnumInfo | ServiceInfo | FieldInfo) -> str | None:
    """Full name of the message that declares ``e``, or None at file level."""
    if isinstance(e, ServiceInfo):
        return None
    scope = e.scope if isinstance(e, FieldInfo) else e.name.rpartition(".")[0]
    return full(e.file.package, scope) if scope else None


def _value(e: Msg | EnumInfo | ServiceInfo | FieldInfo) -> str:
    if isinstance(e, FieldInfo):
        return declaration(e)
    return full(e.file.package, e.name)


def _elements(
    kind: str,
    prefix: str,
    pairing: Pairing[E],
    sides: tuple[Side, Side],
    out: Changes,
    moved: set[str],
    messages: Pairing[Msg],
    compare: Callable[[E, E, tuple[Side, Side], Changes], None],
) -> None:
    """Report the added, removed and moved elements of one kind and compare the pairs.

    ``moved`` collects the full names (new side) of moved messages, so that what they
    contain is not reported as moved again.
    """
    for _, old, new_name, new in pairing.pairs:
        if old.file.name != new.file.name:
            parent = _parent(new)
            if parent is None or parent not in moved:
                name = _element_name(new)
                out.add(
                    f"{prefix}_moved",
                    Place(loc(new.file.name, name), (loc(old.file.name, _element_name(old)),)),
                    old.file.name,
                    new.file.name,
                    f'{kind} "{name}" moved from file "{old.file.name}" to "{new.file.name}".',
                )
            if prefix == "message":
                moved.add(new_name)
        compare(old, new, sides, out)
    _unpaired(kind, prefix, "removed", pairing.removed, sides, messages.removed, out)
    _unpaired(kind, prefix, "added", pairing.added, sides[::-1], messages.added, out)


def _unpaired(
    kind: str,
    prefix: str,
    verb: str,
    elements: Mapping[str, E],
    sides: tuple[Side, Side],
    unpaired_messages: Mapping[str, Msg],
    out: Changes,
) -> None:
    """Elements on one side only (``sides``: theirs, then the other), unless what encloses
    them, their message or (at top level) their file, is also one-sided: then that is the
    change."""
    own, other = sides
    for _, e in sorted(elements.items()):
        parent = _parent(e)
        if parent is None and e.file.name not in other.files:
            continue
        if parent is not None and parent in unpaired_messages:
            continue
        name = _element_name(e)
        value = _value(e)
        words = "removed from" if verb == "removed" else "added to"
        out.add(
            f"{prefix}_{verb}",
            Place(loc(e.file.name, name)),
            value if verb == "removed" else None,
            value if verb == "added" else None,
            f'{kind} "{name}" was {words} file "{e.file.name}".',
            extra=_contents(own, e.file.name, name) if prefix == "message" else (),
        )


def _contents(side: Side, file: str, name: str) -> list[tuple[str, str]]:
    """The deletions the checker reports for what a message contains (nested messages, map
    entries, enums, extensions), which the diff folds into the message's own change."""
    return [
        (rule, at)
        for kind, change_type in (
            ("message", "message_removed"),
            ("enum", "enum_removed"),
            ("extension", "extension_removed"),
        )
        for rule in RULES_BY_CHANGE[change_type]
        for at in side.locations_within(file, name, kind)
    ]
