"""What the diff helpers record before severities are known.

Each comparison helper appends :class:`Found` records to a :class:`Changes` collector. A record
carries, besides what the user sees, the (rule, location) pairs whose violation would make it
breaking; :func:`spoke.compat.diff.diff` turns them into :class:`~spoke.compat.diff.Change`
values once it has the violations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from spoke.compat.diff_rules import RULES_BY_CHANGE


def loc(file: str, scope: str = "", name: str = "") -> str:
    """A location string: ``file``, ``file:Scope.name`` or ``file:name`` (names are
    package-relative; ``scope`` is the enclosing message or enum, or "" at file level)."""
    inner = ".".join(part for part in (scope, name) if part)
    return f"{file}:{inner}" if inner else file


@dataclass(frozen=True, slots=True)
class Place:
    """Where a change is reported (``location``) and the other spellings of the same element
    a violation may use: the old side's file and names, which a violation found with the
    sides swapped (a ``FORWARD`` check) points at."""

    location: str
    also: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return (self.location, *(a for a in self.also if a != self.location))


@dataclass(frozen=True, slots=True)
class Found:
    """One change without its severity; ``matches`` are the (rule, location) pairs of the
    violations that make it breaking."""

    type: str
    location: str
    old_value: str | None
    new_value: str | None
    description: str
    matches: frozenset[tuple[str, str]]


class Changes:
    """Collects the changes of one diff run (a local object, never shared)."""

    def __init__(self) -> None:
        self.found: list[Found] = []

    def add(
        self,
        change_type: str,
        place: Place,
        old_value: str | None,
        new_value: str | None,
        description: str,
        *,
        rules: Iterable[str] | None = None,
        extra: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Record a change; ``rules`` defaults to the change type's row of the rule table and
        applies at every spelling of ``place``; ``extra`` adds pairs at other locations (the
        elements that inherit a changed feature, a map field's entry fields)."""
        chosen = RULES_BY_CHANGE[change_type] if rules is None else frozenset(rules)
        matches = {(rule, at) for rule in chosen for at in place.all()}
        matches.update(extra)
        self.found.append(
            Found(
                change_type,
                place.location,
                old_value,
                new_value,
                description,
                frozenset(matches),
            )
        )
