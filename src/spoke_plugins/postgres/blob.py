"""The ``postgres`` blob backend: content-addressed bytes in a ``bytea`` table.

For installs without object storage. Blobs are read and written on the primary (a blob is read
right after it is written, and blobs are rarely read twice past the cache), through a pool of
their own sized like the storage's. The blob store exports no metrics of its own: the
``spoke_db_*`` series describe the storage backend's pools (one registry cannot hold two
collectors of one name).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from spoke.settings import Settings
from spoke_plugins.postgres.engine import PostgresEngines, translate_errors
from spoke_plugins.postgres.migrate import require_current
from spoke_plugins.postgres.schema import blobs

__all__ = ["PostgresBlobStore"]

_DIGEST = re.compile(r"[0-9a-f]{64}")
_STREAM_BATCH = 1000


def _validate_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError("a blob digest is 64 lowercase hexadecimal characters")
    return digest


class PostgresBlobStore:
    """Bytes by sha256 in the ``blobs`` table; thread-safe (pooled connections)."""

    def __init__(self, engines: PostgresEngines, *, check_schema: bool = True) -> None:
        self._engines = engines
        self._pool = engines.primary
        if check_schema:
            try:
                with translate_errors(), self._pool.connect() as connection:
                    require_current(connection)
            except BaseException:
                engines.close()
                raise

    @classmethod
    def from_settings(cls, settings: Settings) -> PostgresBlobStore:
        """The factory of the ``postgres`` blob backend (primary only, its own pool)."""
        from spoke_plugins.postgres.storage import engines_from_settings

        return cls(engines_from_settings(settings, replicas=False))

    def put(self, *, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with translate_errors(), self._pool.connect() as connection:
            connection.execute(
                pg_insert(blobs)
                .values(digest=digest, size=len(data), data=bytes(data))
                .on_conflict_do_nothing(index_elements=[blobs.c.digest])
            )
            connection.commit()
        return digest

    def get(self, *, digest: str) -> bytes:
        _validate_digest(digest)
        with translate_errors(), self._pool.connect() as connection:
            data = connection.execute(
                select(blobs.c.data).where(blobs.c.digest == digest)
            ).scalar_one_or_none()
        if data is None:
            raise FileNotFoundError(f"blob {digest} not found")
        return bytes(data)

    def exists(self, *, digest: str) -> bool:
        _validate_digest(digest)
        with translate_errors(), self._pool.connect() as connection:
            return (
                connection.execute(select(blobs.c.digest).where(blobs.c.digest == digest)).first()
                is not None
            )

    def iter_digests(self) -> Iterator[str]:
        """Every digest, streamed with a server-side cursor (holds a connection until done)."""
        with translate_errors(), self._pool.connect() as connection:
            yield from self._stream(connection)

    @staticmethod
    def _stream(connection: Connection) -> Iterator[str]:
        result = connection.execution_options(
            stream_results=True, max_row_buffer=_STREAM_BATCH
        ).execute(select(blobs.c.digest))
        for row in result:
            yield row[0]

    def check(self) -> None:
        self._pool.probe()

    def close(self) -> None:
        self._engines.close()
