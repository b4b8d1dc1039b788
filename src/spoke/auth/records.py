"""What access control keeps in storage: API tokens (never their secrets) and audit events.

Both are frozen records that storage backends store and return, like modules and versions; both
know how to become plain JSON-ready data and back (``to_dict``/``from_dict``), which the
filesystem backend and the HTTP answers share. ``check_token``/``check_audit_event`` validate
one before a backend stores it (``ValueError``), so no backend has to repeat the rules.

A token's secret is ``spoke_<id>_<random>``; storage keeps the id, a random salt and the SHA-256
of salt and secret, never the secret. The id is public (it names the token in lists, audit
events and revocations); the random part carries 256 bits, so a salted SHA-256 cannot be
reversed by search, and a stolen table lets nobody in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from spoke.domain import format_timestamp, parse_timestamp

__all__ = [
    "AUDIT_ACTIONS",
    "MAX_AUDIT_DETAILS",
    "MAX_MODULE_PATTERNS",
    "SCOPES",
    "TOKEN_ID_PATTERN",
    "AuditEvent",
    "TokenExists",
    "TokenRecord",
    "check_audit_event",
    "check_token",
    "check_token_id",
]

# What a token may do. ``admin`` implies ``write``, which implies ``read`` (checked by
# :mod:`spoke.auth.access`); a record lists exactly what it was given.
SCOPES = ("read", "write", "admin")
# The writes an audit trail records.
AUDIT_ACTIONS = (
    "module.created",
    "module.updated",
    "version.pushed",
    "token.created",
    "token.revoked",
)
TOKEN_ID_PATTERN = r"tok_[0-9a-f]{16}"
_TOKEN_ID = re.compile(TOKEN_ID_PATTERN)
_HEX = re.compile(r"[0-9a-f]+")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
# A module pattern: a module name in which ``*`` stands for any run of characters
# (``acme.*``, ``*.events``, ``*``), as fnmatch reads it without its ``?`` and ``[...]``.
_MODULE_PATTERN = re.compile(r"[a-z*][a-z0-9_.*-]{0,127}", re.ASCII)
MAX_MODULE_PATTERNS = 32
_AUDIT_ID = re.compile(r"[0-9]{20}-[0-9a-f]{8}")
MAX_AUDIT_DETAILS = 16
_DETAIL_TEXT = 256


class TokenExists(Exception):
    """:meth:`StoresTokens.create_token` was given an id that is taken (ids are random: this is
    a second create of the same token, never a collision to retry)."""


def check_token_id(token_id: object) -> str:
    """``token_id`` when it is a well-formed token id (``tok_`` and 16 hex digits), else
    ``ValueError``. Backends call it before touching data with an id from a client."""
    if not isinstance(token_id, str) or not _TOKEN_ID.fullmatch(token_id):
        raise ValueError("a token id is 'tok_' followed by 16 lower-case hex digits")
    return token_id


def _utc(moment: datetime | None, what: str) -> datetime | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"a token's {what} must be a timezone-aware datetime")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as storage keeps it: everything but the secret.

    ``modules`` are patterns of the module names the token may read and write (empty: every
    module). ``digest`` is the hex SHA-256 of ``bytes.fromhex(salt)`` followed by the secret's
    UTF-8 bytes. ``created_by`` names who created it (an actor, as in the audit trail).
    """

    id: str
    name: str
    scopes: frozenset[str]
    modules: tuple[str, ...]
    salt: str
    digest: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    created_by: str = ""

    def active(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (what storage keeps; answers leave salt and digest out)."""
        return {
            "id": self.id,
            "name": self.name,
            "scopes": sorted(self.scopes, key=SCOPES.index),
            "modules": list(self.modules),
            "salt": self.salt,
            "digest": self.digest,
            "created_at": format_timestamp(self.created_at),
            "expires_at": format_timestamp(self.expires_at) if self.expires_at else None,
            "revoked_at": format_timestamp(self.revoked_at) if self.revoked_at else None,
            "created_by": self.created_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenRecord:
        expires, revoked = data.get("expires_at"), data.get("revoked_at")
        return cls(
            id=data["id"],
            name=data["name"],
            scopes=frozenset(data["scopes"]),
            modules=tuple(data["modules"]),
            salt=data["salt"],
            digest=data["digest"],
            created_at=parse_timestamp(data["created_at"]),
            expires_at=parse_timestamp(expires) if expires else None,
            revoked_at=parse_timestamp(revoked) if revoked else None,
            created_by=data.get("created_by", ""),
        )


def check_token(token: TokenRecord) -> TokenRecord:
    """``token`` with its times in UTC, or ``ValueError`` naming what is wrong."""
    check_token_id(token.id)
    if not isinstance(token.name, str) or not _NAME.fullmatch(token.name):
        raise ValueError("a token's name is 1 to 100 characters without control characters")
    if not token.scopes or not set(token.scopes) <= set(SCOPES):
        raise ValueError(f"a token's scopes are a non-empty subset of {', '.join(SCOPES)}")
    if len(token.modules) > MAX_MODULE_PATTERNS or not all(
        isinstance(p, str) and _MODULE_PATTERN.fullmatch(p) for p in token.modules
    ):
        raise ValueError(
            f"a token has at most {MAX_MODULE_PATTERNS} module patterns: module names in "
            "which '*' stands for any characters"
        )
    for value, length in ((token.salt, 32), (token.digest, 64)):
        if not isinstance(value, str) or len(value) != length or not _HEX.fullmatch(value):
            raise ValueError("a token's salt and digest are lower-case hex (16 and 32 bytes)")
    if not isinstance(token.created_by, str) or len(token.created_by) > _DETAIL_TEXT:
        raise ValueError(f"a token's created_by is at most {_DETAIL_TEXT} characters")
    created = _utc(token.created_at, "created_at")
    if created is None:
        raise ValueError("a token needs its created_at")
    return TokenRecord(
        id=token.id,
        name=token.name,
        scopes=frozenset(token.scopes),
        modules=tuple(token.modules),
        salt=token.salt,
        digest=token.digest,
        created_at=created,
        expires_at=_utc(token.expires_at, "expires_at"),
        revoked_at=_utc(token.revoked_at, "revoked_at"),
        created_by=token.created_by,
    )


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One write, as the audit trail keeps it.

    ``id`` sorts in the order events happened: the event's time in nanoseconds since the epoch
    (20 digits), a dash and 8 random hex digits. ``actor`` is who did it (a token id,
    ``admin-token`` for SPOKE_ADMIN_TOKEN, ``cli`` for a command run on the server, or
    ``anonymous`` when access control is off), ``actor_name`` the token's name. ``target``
    names what changed (``acme.billing``, ``acme.billing@1.2.0``, ``tok_...``), ``remote_addr``
    and ``request_id`` where the request came from, ``details`` a few short strings.
    """

    id: str
    time: datetime
    action: str
    actor: str
    target: str
    actor_name: str | None = None
    remote_addr: str | None = None
    request_id: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": format_timestamp(self.time),
            "action": self.action,
            "actor": self.actor,
            "actor_name": self.actor_name,
            "target": self.target,
            "remote_addr": self.remote_addr,
            "request_id": self.request_id,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEvent:
        return cls(
            id=data["id"],
            time=parse_timestamp(data["time"]),
            action=data["action"],
            actor=data["actor"],
            target=data["target"],
            actor_name=data.get("actor_name"),
            remote_addr=data.get("remote_addr"),
            request_id=data.get("request_id"),
            details=dict(data.get("details") or {}),
        )


def _short_text(value: object, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or len(value) > _DETAIL_TEXT or "\x00" in value:
        raise ValueError(f"an audit event's {what} is text of at most {_DETAIL_TEXT} characters")


def check_audit_event(event: AuditEvent) -> AuditEvent:
    """``event`` with its time in UTC, or ``ValueError`` naming what is wrong."""
    if not isinstance(event.id, str) or not _AUDIT_ID.fullmatch(event.id):
        raise ValueError("an audit event's id is 20 digits, a dash and 8 hex digits")
    if event.action not in AUDIT_ACTIONS:
        raise ValueError(f"an audit event's action is one of {', '.join(AUDIT_ACTIONS)}")
    if not isinstance(event.time, datetime) or event.time.utcoffset() is None:
        raise ValueError("an audit event's time must be a timezone-aware datetime")
    _short_text(event.actor, "actor")
    _short_text(event.target, "target")
    for name in ("actor_name", "remote_addr", "request_id"):
        _short_text(getattr(event, name), name, optional=True)
    if not isinstance(event.details, Mapping) or len(event.details) > MAX_AUDIT_DETAILS:
        raise ValueError(f"an audit event has at most {MAX_AUDIT_DETAILS} details")
    for key, value in event.details.items():
        _short_text(key, "detail name")
        _short_text(value, "detail value")
    return AuditEvent(
        id=event.id,
        time=event.time.astimezone(UTC),
        action=event.action,
        actor=event.actor,
        target=event.target,
        actor_name=event.actor_name,
        remote_addr=event.remote_addr,
        request_id=event.request_id,
        details=dict(event.details),
    )
