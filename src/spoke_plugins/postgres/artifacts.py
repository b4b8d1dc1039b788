"""The artifact index in PostgreSQL (the optional ``StoresArtifacts`` of the storage backend):
the SQL of each operation on one connection; :class:`PostgresStorage` picks the pool."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import Connection, Row, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from spoke.errors import BackendUnavailable
from spoke.interfaces import Artifact
from spoke_plugins.postgres.schema import artifacts

__all__ = ["delete_artifact_row", "insert_artifact", "read_artifact"]

# A put that lost the race finds the winner's entry; if a repair deleted it in between, try again.
_ATTEMPTS = 5


def _artifact(row: Row[Any]) -> Artifact:
    return Artifact(
        key=row.key,
        digest=row.digest,
        size=int(row.size),
        media_type=row.media_type,
        created_at=row.created_at.astimezone(UTC),
        metadata=dict(row.metadata),
    )


def read_artifact(connection: Connection, key: str) -> Artifact | None:
    """The entry under ``key``, or None."""
    row = connection.execute(select(artifacts).where(artifacts.c.key == key)).first()
    return None if row is None else _artifact(row)


def insert_artifact(connection: Connection, stored: Artifact) -> Artifact:
    """Store ``stored`` unless the key exists; either way return the entry now stored (the
    first writer's). Commits."""
    insert = (
        pg_insert(artifacts)
        .values(
            key=stored.key,
            digest=stored.digest,
            size=stored.size,
            media_type=stored.media_type,
            created_at=stored.created_at,
            metadata=dict(stored.metadata),
        )
        .on_conflict_do_nothing(index_elements=[artifacts.c.key])
        .returning(artifacts.c.key)
    )
    for _ in range(_ATTEMPTS):
        inserted = connection.execute(insert).first()
        connection.commit()
        if inserted is not None:
            return stored
        # Another writer won (ON CONFLICT waited for it to commit): return its entry.
        winner = read_artifact(connection, stored.key)
        connection.commit()
        if winner is not None:
            return winner
    raise BackendUnavailable(f"postgres: artifact {stored.key} keeps changing, try again")


def delete_artifact_row(connection: Connection, key: str) -> bool:
    """Delete the entry under ``key``; whether there was one. Commits."""
    deleted = connection.execute(
        delete(artifacts).where(artifacts.c.key == key).returning(artifacts.c.key)
    ).first()
    connection.commit()
    return deleted is not None
