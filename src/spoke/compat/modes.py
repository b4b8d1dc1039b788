"""Compatibility modes on top of the rule categories: which versions a candidate is checked
against, and in which direction.

``BACKWARD`` checks the candidate (new) against the latest earlier version (old): consumers built
on the old schema keep working. ``FORWARD`` swaps the sides: consumers built on the candidate can
read what the old schema produced. ``FULL`` is both. The ``*_TRANSITIVE`` forms do the same
against every earlier version, not only the latest. ``NONE`` checks nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from spoke.compat.checker import check
from spoke.compat.model import Violation
from spoke.domain import COMPATIBILITY_MODES

MODES = COMPATIBILITY_MODES


@dataclass(frozen=True)
class Schema:
    """One side of a comparison: a compiled FileDescriptorSet (imports included) and which of
    its files belong to the version (``targets``); ``label`` names it in violations (a version
    string, or ``candidate``)."""

    label: str
    descriptor_set: bytes
    targets: frozenset[str]


@dataclass(frozen=True)
class Comparison:
    """The outcome of checking a candidate under one mode and rule category."""

    mode: str
    rules: str
    checked_against: tuple[str, ...]
    violations: tuple[Violation, ...]

    @property
    def compatible(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, object]:
        return {
            "compatible": self.compatible,
            "mode": self.mode,
            "rules": self.rules,
            "checked_against": list(self.checked_against),
            "violations": [v.to_dict() for v in self.violations],
        }


def _validate_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown compatibility mode {mode!r}; use one of {', '.join(MODES)}")


def versions_to_check(mode: str, earlier: Sequence[Schema]) -> list[Schema]:
    """The earlier versions (sorted oldest first) that ``mode`` compares a candidate with."""
    _validate_mode(mode)
    if mode == "NONE" or not earlier:
        return []
    if mode.endswith("_TRANSITIVE"):
        return list(earlier)
    return [earlier[-1]]


def compare(
    candidate: Schema,
    earlier: Sequence[Schema],
    *,
    mode: str = "BACKWARD",
    rules: str = "FILE",
) -> Comparison:
    """Check ``candidate`` against the ``earlier`` versions (sorted oldest first by semver).

    Violations of a ``BACKWARD`` check point into the candidate's files; those of a
    ``FORWARD`` check point into the earlier version's files (there, the earlier version is
    the "new" side). Each carries ``against``: the label of the version it was found against.
    Newest versions come first in the result.
    """
    targets = versions_to_check(mode, earlier)
    base = mode.removesuffix("_TRANSITIVE")
    found: list[Violation] = []
    for other in reversed(targets):
        pairs: list[tuple[Schema, Schema]] = []
        if base in ("BACKWARD", "FULL"):
            pairs.append((other, candidate))
        if base in ("FORWARD", "FULL"):
            pairs.append((candidate, other))
        seen: set[Violation] = set()
        for old, new in pairs:
            for v in check(
                old.descriptor_set,
                new.descriptor_set,
                category=rules,
                targets_old=old.targets,
                targets_new=new.targets,
            ):
                tagged = dataclasses.replace(v, against=other.label)
                if tagged not in seen:
                    seen.add(tagged)
                    found.append(tagged)
    return Comparison(
        mode=mode,
        rules=rules,
        checked_against=tuple(o.label for o in reversed(targets)),
        violations=tuple(found),
    )
