"""Breaking-change detection between two compiled schema versions (Buf's rule IDs)."""

from __future__ import annotations

from spoke.compat.checker import IMPLEMENTED_RULES, check
from spoke.compat.model import Violation

__all__ = ["IMPLEMENTED_RULES", "Violation", "check"]
