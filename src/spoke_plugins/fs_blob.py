"""The ``filesystem`` blob store, and the crash-safe file primitives the filesystem backends share.

Blobs live under ``<root>/blobs/sha256/<first 2 hex>/<64 hex>``. A blob is written to a temporary
file in its final directory, flushed, fsynced, renamed into place and the directory fsynced, so a
reader sees either the whole blob or nothing. Renaming over an existing blob is harmless because
the name is the sha256 of the content.

Temporary files are named ``.tmp-<pid>-<random>``: readers and listings skip every name starting
with a dot, and :func:`remove_stale_temps` deletes the ones older than an hour (left by a crash)
when a backend first writes.

Opening a filesystem backend creates and changes nothing: its directories are made by its first
write or readiness check (a server makes them at once), so reading a data directory that does not
exist (``spoke backup`` from the wrong working directory, ``spoke restore --dry-run``) reads an
empty registry and leaves no trace. Opening still refuses a missing directory that could not be
created (:func:`refuse_uncreatable_directories`), so ``spoke serve`` fails at startup on such a
path.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from spoke.errors import BackendUnavailable, SpokeError

__all__ = [
    "STALE_TEMP_SECONDS",
    "TEMP_PREFIX",
    "FilesystemBlobStore",
    "backend_errors",
    "ensure_dir",
    "fsync_dir",
    "link_exclusive",
    "refuse_uncreatable_directories",
    "remove_stale_temps",
    "replace_atomic",
    "write_temp",
]

TEMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 3600.0
_DIGEST = re.compile(r"[0-9a-f]{64}")
_FANOUT = re.compile(r"[0-9a-f]{2}")


@contextmanager
def backend_errors(what: str) -> Iterator[None]:
    """Turn an ``OSError`` into :class:`BackendUnavailable` ``"<what>: <strerror>"``.

    The message never holds a path (``strerror`` is only the system's reason), so the location of
    the data directory does not leak to clients. Spoke's own errors pass through.
    """
    try:
        yield
    except SpokeError:
        raise
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BackendUnavailable(f"{what}: {reason}") from exc


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (a new, renamed or removed name) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create ``path`` and its missing parents, fsyncing each parent that gained an entry."""
    if path.is_dir():
        return
    ensure_dir(path.parent)
    try:
        path.mkdir()
    except FileExistsError:
        return  # another thread or process made it
    fsync_dir(path.parent)


def refuse_uncreatable_directories(*paths: Path) -> None:
    """Raise ``OSError`` when one of ``paths`` is missing and could not be created: the nearest
    of its ancestors that exists is not a directory (``ENOTDIR``), is on a read-only filesystem
    (``EROFS``) or is not writable (``EACCES``). Creates nothing; directories that exist are not
    checked for writing, so a complete data directory can be read on a read-only mount."""
    for path in paths:
        if path.is_dir():
            continue
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            error = errno.ENOTDIR
        elif os.statvfs(existing).f_flag & os.ST_RDONLY:
            error = errno.EROFS
        elif not os.access(existing, os.W_OK | os.X_OK):
            error = errno.EACCES
        else:
            continue
        raise OSError(error, os.strerror(error), str(existing))


def _unlink_quietly(path: Path) -> None:
    with suppress(OSError):
        path.unlink()


def write_temp(directory: Path, data: bytes) -> Path:
    """Write ``data`` to a new temporary file in ``directory``, fsynced; return its path."""
    tmp = directory / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}"
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def replace_atomic(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` all at once (temp file, fsync, rename, fsync of the directory)."""
    tmp = write_temp(path.parent, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(path.parent)


def link_exclusive(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data`` unless it exists; False when another writer won.

    The file is complete before it gets its name (``os.link`` of a fsynced temp file), and
    ``link`` fails when the name is taken, so exactly one of several processes creating the
    same path succeeds and no reader ever sees a partial file.
    """
    tmp = write_temp(path.parent, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        _unlink_quietly(tmp)
    fsync_dir(path.parent)
    return True


def remove_stale_temps(root: Path, *, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Delete temporary files under ``root`` older than ``older_than`` seconds; return how many.

    Younger ones may belong to a writer in another process and are left alone.
    """
    cutoff = time.time() - older_than
    removed = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            if not name.startswith(TEMP_PREFIX):
                continue
            path = Path(directory, name)
            try:
                if path.lstat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # its writer renamed or removed it meanwhile
    return removed


def _validate_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError("a blob digest is 64 lowercase hexadecimal characters")
    return digest


class FilesystemBlobStore:
    """Content-addressed files under ``<root>/blobs/sha256/``. Safe across threads and processes."""

    _WHAT = "filesystem blob store"

    def __init__(self, *, root: Path | str) -> None:
        self._dir = Path(root).absolute() / "blobs" / "sha256"
        self._prepared = False
        with backend_errors(self._WHAT):
            refuse_uncreatable_directories(self._dir)

    def _prepare_to_write(self) -> None:
        """Create the directory and remove what a crash left, once: on the first write."""
        if not self._prepared:
            ensure_dir(self._dir)
            remove_stale_temps(self._dir)
            self._prepared = True

    def _path(self, digest: str) -> Path:
        _validate_digest(digest)
        return self._dir / digest[:2] / digest

    def put(self, *, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        with backend_errors(self._WHAT):
            if path.exists():
                # Make sure the name is durable even if its writer has not fsynced it yet.
                fsync_dir(path.parent)
                return digest
            self._prepare_to_write()
            ensure_dir(path.parent)
            replace_atomic(path, bytes(data))
        return digest

    def get(self, *, digest: str) -> bytes:
        path = self._path(digest)
        with backend_errors(self._WHAT):
            try:
                return path.read_bytes()
            except FileNotFoundError:
                pass
        raise FileNotFoundError(f"blob {digest} not found")

    def exists(self, *, digest: str) -> bool:
        path = self._path(digest)
        with backend_errors(self._WHAT):
            try:
                path.stat()
            except FileNotFoundError:
                return False
            return True

    def iter_digests(self) -> Iterator[str]:
        with backend_errors(self._WHAT):
            try:
                fanout = sorted(
                    entry.name for entry in os.scandir(self._dir) if _FANOUT.fullmatch(entry.name)
                )
            except FileNotFoundError:  # nothing was ever written
                return
        for name in fanout:
            with backend_errors(self._WHAT):
                try:
                    digests = [
                        entry.name
                        for entry in os.scandir(self._dir / name)
                        if entry.name.startswith(name) and _DIGEST.fullmatch(entry.name)
                    ]
                except FileNotFoundError:
                    continue
            yield from digests

    def check(self) -> None:
        with backend_errors(self._WHAT):
            self._prepare_to_write()
            probe = write_temp(self._dir, b"probe")
            probe.unlink()

    def close(self) -> None:
        return None
