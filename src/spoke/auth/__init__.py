"""Access control: API tokens, what they may do, and the audit trail of writes.

:mod:`spoke.auth.records` holds what storage keeps (:class:`TokenRecord`, :class:`AuditEvent`);
:mod:`spoke.auth.stores` the optional storage protocols that keep them (:class:`StoresTokens`,
:class:`StoresAudit`).
"""

from __future__ import annotations

from spoke.auth.records import (
    AUDIT_ACTIONS,
    SCOPES,
    AuditEvent,
    TokenExists,
    TokenRecord,
    check_audit_event,
    check_token,
    check_token_id,
)
from spoke.auth.stores import StoresAudit, StoresTokens

__all__ = [
    "AUDIT_ACTIONS",
    "SCOPES",
    "AuditEvent",
    "StoresAudit",
    "StoresTokens",
    "TokenExists",
    "TokenRecord",
    "check_audit_event",
    "check_token",
    "check_token_id",
]
