"""Optional storage capabilities of access control: tokens and the audit trail.

A storage backend that implements both lets a server run with ``SPOKE_AUTH_ENABLED``; the
built-in ``memory``, ``filesystem`` and ``postgres`` storages do. A server asked to enforce access
control on a storage without them refuses to start, naming what is missing. Like every storage
method, these take keyword arguments only, must be thread-safe (and safe between processes for a
backend several replicas share), and translate driver errors into
:class:`spoke.errors.BackendUnavailable`. Records are validated with
:func:`spoke.auth.check_token` / :func:`spoke.auth.check_audit_event` before anything is stored.
The contract suites are :class:`spoke.testing.contract.TokenContract` and ``AuditContract``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from spoke.auth.records import AuditEvent, TokenRecord
from spoke.domain import Page

__all__ = ["StoresAudit", "StoresTokens"]


@runtime_checkable
class StoresTokens(Protocol):
    """Optional for storage: API tokens (their salted digests, never their secrets)."""

    def create_token(self, *, token: TokenRecord) -> TokenRecord:
        """Store a new token; return it as stored.

        Raises :class:`spoke.auth.TokenExists` when its id is taken (exactly one of several
        concurrent creates of one id succeeds), ``ValueError`` for an invalid record,
        ``BackendUnavailable``.
        """
        ...

    def get_token(self, *, token_id: str) -> TokenRecord | None:
        """The token with this id, or ``None``. It must reflect every revocation made so far,
        on any replica: a backend with read replicas reads tokens from its primary. Raises
        ``ValueError`` for a malformed id, ``BackendUnavailable``."""
        ...

    def list_tokens(self, *, limit: int, offset: int) -> Page[TokenRecord]:
        """Tokens, newest first (by ``created_at``, then id), revoked ones included.

        Raises ``BackendUnavailable``."""
        ...

    def revoke_token(self, *, token_id: str, revoked_at: datetime) -> TokenRecord | None:
        """Mark the token revoked at ``revoked_at`` and return it; ``None`` when there is no
        such token. Revoking a revoked token changes nothing (its first ``revoked_at`` stays).
        Raises ``ValueError`` for a malformed id or a naive datetime, ``BackendUnavailable``."""
        ...


@runtime_checkable
class StoresAudit(Protocol):
    """Optional for storage: the audit trail, an append-only list of writes."""

    def append_audit(self, *, event: AuditEvent) -> None:
        """Add one event. Appends never replace or lose one another; an event whose id is
        stored already is stored once. Raises ``ValueError`` for an invalid event,
        ``BackendUnavailable``."""
        ...

    def list_audit(self, *, limit: int, offset: int) -> Page[AuditEvent]:
        """Events, newest first (by id, which sorts by time). Raises ``BackendUnavailable``."""
        ...
