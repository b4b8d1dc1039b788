"""Breaking-change detection between two compiled schema versions (Buf's rule IDs)."""

from __future__ import annotations

from spoke.compat.categories import CATEGORIES, RULES_BY_CATEGORY
from spoke.compat.checker import IMPLEMENTED_RULES, check
from spoke.compat.model import Violation
from spoke.compat.modes import MODES, Comparison, Schema, compare, versions_to_check

__all__ = [
    "CATEGORIES",
    "IMPLEMENTED_RULES",
    "MODES",
    "RULES_BY_CATEGORY",
    "Comparison",
    "Schema",
    "Violation",
    "check",
    "compare",
    "versions_to_check",
]
