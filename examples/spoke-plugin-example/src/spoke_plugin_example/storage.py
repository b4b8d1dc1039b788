"""``SqliteStorage``: Spoke's metadata (modules, versions, reverse dependencies) in one SQLite file.

Records are stored as the JSON of their ``to_dict()``; only what queries need has a column: names,
the version's ``sort_key`` (whose byte order is semver precedence) and whether it is a release.

* Thread safety: one connection (``check_same_thread=False``) behind a lock. SQLite runs one writer
  at a time anyway, and a lock keeps the example simple.
* Exclusivity: each write is one ``BEGIN IMMEDIATE`` transaction and ``(module, version)`` is the
  primary key, so of several threads *or processes* storing one version exactly one wins; the
  others read the winner back and raise ``VersionAlreadyStored`` with it.
* Durability: WAL journal (other processes read while one writes), ``synchronous=FULL``.
* Errors: every ``sqlite3.Error`` becomes ``BackendUnavailable``, with the database path taken
  out of the message: no driver exception and no server path ever reaches a client.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from spoke.domain import (
    CompatibilityPolicy,
    DependencyRef,
    Module,
    ModuleName,
    Page,
    Version,
    VersionString,
)
from spoke.errors import BackendUnavailable, ModuleExists, ModuleNotFound, VersionNotFound
from spoke.interfaces import RegistryStats, VersionAlreadyStored

__all__ = ["SqliteStorage"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS modules (
    name TEXT PRIMARY KEY,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    module TEXT NOT NULL REFERENCES modules (name),
    version TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    is_release INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (module, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS versions_newest ON versions (module, sort_key, version);
CREATE INDEX IF NOT EXISTS versions_latest ON versions (module, is_release, sort_key, version);
CREATE TABLE IF NOT EXISTS dependents (
    module TEXT NOT NULL,
    version TEXT NOT NULL,
    dependent_module TEXT NOT NULL,
    dependent_version TEXT NOT NULL,
    PRIMARY KEY (module, version, dependent_module, dependent_version)
) WITHOUT ROWID;
"""

# Newest first is descending sort_key, ties broken by descending version string. TEXT columns
# compare with SQLite's BINARY collation: byte order, which is what the sort key is made for.
_NEWEST_FIRST = "ORDER BY sort_key DESC, version DESC"
# The latest version of the module in the current row of ``modules``: the highest release, or
# the highest prerelease when the module has no release; NULL when it has no version.
_LATEST_VERSION = (
    "(SELECT v.version FROM versions AS v WHERE v.module = modules.name"
    " ORDER BY v.is_release DESC, v.sort_key DESC, v.version DESC LIMIT 1)"
)


class SqliteStorage:
    """Metadata in a SQLite database file. Safe across threads and processes on a local disk."""

    def __init__(self, *, path: Path | str, timeout: float = 10.0) -> None:
        self._path = str(path)
        self._lock = threading.Lock()
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailable(f"sqlite storage: {exc.strerror or 'cannot create'}") from exc
        with self._translate_errors():
            # isolation_level=None: no implicit transactions; _transaction() opens them.
            # timeout: how long to wait for another process's write lock before SQLITE_BUSY.
            self._db = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = FULL")
                self._db.execute("PRAGMA foreign_keys = ON")
                self._db.executescript(_SCHEMA)
            except BaseException:
                self._db.close()
                raise

    # -- modules ---------------------------------------------------------------------------

    def create_module(self, *, module: Module) -> Module:
        with self._write() as db:
            try:
                db.execute(
                    "INSERT INTO modules (name, record) VALUES (?, ?)",
                    (module.name, _encode(module)),
                )
            except sqlite3.IntegrityError:
                raise ModuleExists(module.name) from None
        return module

    def get_module(self, *, name: str) -> Module:
        with self._read() as db:
            return self._load_module(db, name)

    def update_module(
        self,
        *,
        name: str,
        description: str | None,
        compatibility: CompatibilityPolicy | None,
        updated_at: datetime,
    ) -> Module:
        with self._write() as db:
            current = self._load_module(db, name)
            updated = dataclasses.replace(
                current,
                description=current.description if description is None else description,
                compatibility=current.compatibility if compatibility is None else compatibility,
                updated_at=updated_at,
            )
            db.execute("UPDATE modules SET record = ? WHERE name = ?", (_encode(updated), name))
            return updated

    def list_modules(self, *, prefix: str, limit: int, offset: int) -> Page[Module]:
        # A range on the primary key rather than LIKE, which ignores case and treats "_" as a
        # wildcard. Module names are ASCII, so U+10FFFF sorts above every name with the prefix.
        where, bounds = "name >= ? AND name < ?", (prefix, prefix + "\U0010ffff")
        with self._read() as db:
            (total,) = db.execute(f"SELECT count(*) FROM modules WHERE {where}", bounds).fetchone()
            rows = db.execute(
                f"SELECT record, {_LATEST_VERSION} FROM modules WHERE {where}"
                " ORDER BY name LIMIT ? OFFSET ?",
                (*bounds, limit, offset),
            ).fetchall()
        return Page(tuple(_module(record, latest) for record, latest in rows), total)

    # -- versions --------------------------------------------------------------------------

    def create_version(self, *, version: Version) -> None:
        module, number = version.module_name, version.version
        with self._write() as db:
            self._require_module(db, module)
            try:
                db.execute(
                    "INSERT INTO versions (module, version, sort_key, is_release, record) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (module, number, version.sort_key, not version.is_prerelease, _encode(version)),
                )
            except sqlite3.IntegrityError:
                # Raising inside the transaction rolls it back: nothing of this call is kept.
                raise VersionAlreadyStored(self._load_version(db, module, number)) from None
            db.executemany(
                "INSERT OR IGNORE INTO dependents VALUES (?, ?, ?, ?)",
                [(d.module, d.version, module, number) for d in version.dependencies],
            )

    def get_version(self, *, module: str, version: str) -> Version:
        with self._read() as db:
            self._require_module(db, module)
            return self._load_version(db, module, version)

    def get_latest_version(self, *, module: str) -> Version:
        with self._read() as db:
            row = db.execute(
                f"SELECT {_LATEST_VERSION} FROM modules WHERE name = ?", (module,)
            ).fetchone()
            if row is None:
                raise ModuleNotFound(module)
            if row[0] is None:
                raise VersionNotFound(module, "latest")
            return self._load_version(db, module, row[0])

    def list_versions(self, *, module: str, limit: int, offset: int) -> Page[Version]:
        with self._read() as db:
            self._require_module(db, module)
            (total,) = db.execute(
                "SELECT count(*) FROM versions WHERE module = ?", (module,)
            ).fetchone()
            rows = db.execute(
                f"SELECT record FROM versions WHERE module = ? {_NEWEST_FIRST} LIMIT ? OFFSET ?",
                (module, limit, offset),
            ).fetchall()
        return Page(tuple(_version(record) for (record,) in rows), total)

    def list_dependents(self, *, module: str, version: str) -> tuple[DependencyRef, ...]:
        with self._read() as db:
            rows = db.execute(
                "SELECT dependent_module, dependent_version FROM dependents "
                "WHERE module = ? AND version = ? ORDER BY dependent_module, dependent_version",
                (module, version),
            ).fetchall()
        return tuple(DependencyRef(ModuleName(m), VersionString(v)) for m, v in rows)

    # -- operations ------------------------------------------------------------------------

    def statistics(self) -> RegistryStats:
        with self._read() as db:
            (modules,) = db.execute("SELECT count(*) FROM modules").fetchone()
            (versions,) = db.execute("SELECT count(*) FROM versions").fetchone()
        return RegistryStats(modules=modules, versions=versions)

    def check(self) -> None:
        with self._read() as db:
            db.execute("SELECT 1 FROM modules LIMIT 1").fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()  # closing a closed connection does nothing

    # -- helpers ---------------------------------------------------------------------------

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            # The driver's message may name the file; a client must never see where data lives.
            reason = str(exc).replace(self._path, "<database>") or type(exc).__name__
            raise BackendUnavailable(f"sqlite storage: {reason}") from exc

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read transaction: every query in it sees the same snapshot (a count and its page)."""
        return self._transaction("BEGIN")

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction; IMMEDIATE takes the write lock now, not at the first write."""
        return self._transaction("BEGIN IMMEDIATE")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        """Committed when the block ends, rolled back when it raises (a Spoke error included)."""
        with self._lock, self._translate_errors():
            self._db.execute(begin)
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _require_module(self, db: sqlite3.Connection, name: str) -> None:
        if db.execute("SELECT 1 FROM modules WHERE name = ?", (name,)).fetchone() is None:
            raise ModuleNotFound(name)

    def _load_module(self, db: sqlite3.Connection, name: str) -> Module:
        row = db.execute(
            f"SELECT record, {_LATEST_VERSION} FROM modules WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise ModuleNotFound(name)
        return _module(*row)

    def _load_version(self, db: sqlite3.Connection, module: str, version: str) -> Version:
        row = db.execute(
            "SELECT record FROM versions WHERE module = ? AND version = ?", (module, version)
        ).fetchone()
        if row is None:
            raise VersionNotFound(module, version)
        return _version(row[0])


def _encode(record: Module | Version) -> str:
    data: dict[str, Any] = record.to_dict()
    data.pop("latest_version", None)  # derived from the versions on every read
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _version(record: str) -> Version:
    try:
        return Version.from_dict(json.loads(record))
    except (KeyError, TypeError, ValueError):
        raise BackendUnavailable("sqlite storage: corrupt version record") from None


def _module(record: str, latest: str | None) -> Module:
    try:
        module = Module.from_dict(json.loads(record))
    except (KeyError, TypeError, ValueError):
        raise BackendUnavailable("sqlite storage: corrupt module record") from None
    return dataclasses.replace(module, latest_version=VersionString(latest) if latest else None)
