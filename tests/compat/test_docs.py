"""docs/compatibility.md stays true to the checker: every rule is listed with its categories."""

from __future__ import annotations

import re
from pathlib import Path

from spoke.compat import CATEGORIES, IMPLEMENTED_RULES, RULES_BY_CATEGORY

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"


def _table() -> dict[str, set[str]]:
    """Rule -> categories ticked in the rules table."""
    found: dict[str, set[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 1 + len(CATEGORIES) or not cells[0].startswith("`"):
            continue
        ticked = {c for c, mark in zip(CATEGORIES, cells[1:], strict=True) if mark == "✓"}
        for rule in re.findall(r"`([A-Z0-9_]+)`", cells[0]):
            found[rule] = ticked
    return found


def test_every_rule_is_in_the_table_with_its_categories() -> None:
    expected = {
        rule: {c for c in CATEGORIES if rule in RULES_BY_CATEGORY[c]} for rule in IMPLEMENTED_RULES
    }
    assert _table() == expected
