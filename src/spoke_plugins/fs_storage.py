"""The ``filesystem`` storage backend: modules and versions as JSON files under ``<root>/meta/``.

Layout::

    meta/modules/<module>.json                          one file per module
    meta/versions/<module>/<version>.json               one file per version
    meta/dependents/<module>/<version>/<dep>@<dver>     empty markers: the reverse index
    meta/locks/<module>.lock                            flock target of update_module
    meta/artifacts/<2 hex>/<sha256 of the key>.json     the artifact index, one file per key

A module is a single file rather than a directory holding ``module.json`` so that the listing of
``meta/modules/`` is exactly the set of committed modules: a half-created directory can never be
mistaken for a module.

Crash safety and exclusivity:

* Every file is written to a temporary file in its final directory, flushed, fsynced and then
  given its name; the directory is fsynced afterwards. A reader never sees a partial file.
  Temporary files start with a dot; readers and listings skip them, and those older than an hour
  are removed when the backend first writes (opening it creates and changes nothing, so reading
  a data directory that does not exist reads an empty registry).
* Creating a module or a version links the complete temporary file to its final name with
  ``os.link``, which fails if the name exists: exactly one of several threads *or processes*
  wins; the others get ``ModuleExists`` / ``VersionAlreadyStored`` with the winner's file.
* Putting an artifact links its file exclusively too (first writer wins, across processes);
  the losers read and return the winner's entry. An artifact file is named by the sha256 of its
  key (keys may start with a dot, which would hide them among temporary files) and holds the key,
  which is checked on every read.
* ``update_module`` holds an ``fcntl.flock`` lock on the module's lock file around its
  read-modify-write, then renames the new file over the old.
* A version's dependents markers are written before the version file is linked in, so a crash
  leaves at worst a marker pointing at a version that does not exist (or, after a lost race,
  one that does not depend on it); :meth:`FilesystemStorage.list_dependents` reads each
  dependent version and keeps only real ones.

Cost: listing is O(n) in directory entries but O(page) in file reads. ``list_modules`` lists the
module file names, sorts them, slices the page and reads only the page's files; ``list_versions``
and ``latest_version`` sort version file *names* by :func:`spoke.semver.parse_semver` and read
only the page (or the one latest version). ``statistics`` counts directory entries.

Names are validated before any path is built from them: module names match
``^[a-z][a-z0-9._-]{0,127}$`` and versions are normalized semantic versions made of
``[0-9A-Za-z.+-]``. Version strings are case-sensitive, so the data directory must be on a
case-sensitive filesystem (and one that supports hard links). An ``OSError`` other than a
missing file is reported as ``BackendUnavailable("filesystem storage: <reason>")``; so is a
metadata file that does not parse.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
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
from spoke.errors import (
    BackendUnavailable,
    ModuleExists,
    ModuleNotFound,
    Unprocessable,
    VersionNotFound,
)
from spoke.interfaces import (
    Artifact,
    RegistryStats,
    VersionAlreadyStored,
    check_artifact,
    check_artifact_key,
)
from spoke.semver import parse_semver
from spoke_plugins.fs_blob import (
    backend_errors,
    ensure_dir,
    fsync_dir,
    link_exclusive,
    refuse_uncreatable_directories,
    remove_stale_temps,
    replace_atomic,
    write_temp,
)

__all__ = ["FilesystemStorage"]

_WHAT = "filesystem storage"
_MODULE_NAME = re.compile(r"[a-z][a-z0-9._-]{0,127}")
_VERSION_CHARS = re.compile(r"[0-9A-Za-z.+-]{1,128}")
_SUFFIX = ".json"
# A put that loses the link race reads the winner's file; a delete between the two may remove it,
# so the put starts over, this many times at most.
_ARTIFACT_ATTEMPTS = 5


def _valid_module(name: object) -> bool:
    return isinstance(name, str) and _MODULE_NAME.fullmatch(name) is not None


def _valid_version(version: object) -> bool:
    if not isinstance(version, str) or not _VERSION_CHARS.fullmatch(version):
        return False
    try:
        return str(parse_semver(version)) == version  # normalized: no leading "v"
    except ValueError:
        return False


def _encode(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """Read and decode one metadata file; ``FileNotFoundError`` passes through."""
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise BackendUnavailable(f"{_WHAT}: corrupt metadata file for {what}") from None
    if not isinstance(data, dict):
        raise BackendUnavailable(f"{_WHAT}: corrupt metadata file for {what}")
    return data


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    """A version known only by its file name."""

    sort_key: str
    version: str
    prerelease: bool


class FilesystemStorage:
    """Metadata as JSON files under ``<root>/meta/``. Safe across threads and processes."""

    def __init__(self, *, root: Path | str) -> None:
        self._meta = Path(root).absolute() / "meta"
        self._modules = self._meta / "modules"
        self._versions = self._meta / "versions"
        self._dependents = self._meta / "dependents"
        self._locks = self._meta / "locks"
        self._artifacts = self._meta / "artifacts"
        self._layout = (
            self._modules,
            self._versions,
            self._dependents,
            self._locks,
            self._artifacts,
        )
        self._prepared = False
        with backend_errors(_WHAT):
            refuse_uncreatable_directories(*self._layout)

    def _prepare_to_write(self) -> None:
        """Create the layout and remove what a crash left, once: on the first write."""
        if self._prepared:
            return
        for directory in self._layout:
            ensure_dir(directory)
        remove_stale_temps(self._meta)
        self._prepared = True

    # -- modules ---------------------------------------------------------------------------

    def create_module(self, *, module: Module) -> Module:
        if not _valid_module(module.name):
            raise Unprocessable(f"invalid module name {module.name!r}", code="invalid_name")
        stored = dataclasses.replace(module, latest_version=None)
        data = stored.to_dict()
        del data["latest_version"]  # derived from the versions on every read
        with backend_errors(_WHAT):
            self._prepare_to_write()
            if not link_exclusive(self._module_file(module.name), _encode(data)):
                raise ModuleExists(module.name)
        return stored

    def get_module(self, *, name: str) -> Module:
        with backend_errors(_WHAT):
            return self._with_latest(self._load_module(name))

    def update_module(
        self,
        *,
        name: str,
        description: str | None,
        compatibility: CompatibilityPolicy | None,
        updated_at: datetime,
    ) -> Module:
        with backend_errors(_WHAT):
            self._require_module(name)  # ModuleNotFound before a lock file is made for it
            self._prepare_to_write()
            with self._module_lock(name):
                current = self._load_module(name)
                updated = Module(
                    name=current.name,
                    description=current.description if description is None else description,
                    compatibility=current.compatibility if compatibility is None else compatibility,
                    created_at=current.created_at,
                    updated_at=updated_at,
                )
                data = updated.to_dict()
                del data["latest_version"]
                replace_atomic(self._module_file(name), _encode(data))
            return self._with_latest(updated)

    def list_modules(self, *, prefix: str, limit: int, offset: int) -> Page[Module]:
        with backend_errors(_WHAT):
            names = sorted(
                name
                for name in self._names(self._modules, _SUFFIX)
                if name.startswith(prefix) and _valid_module(name)
            )
            page: list[Module] = []
            for name in names[offset : offset + limit]:
                try:
                    page.append(self._with_latest(self._load_module(name)))
                except ModuleNotFound:
                    continue  # modules are never deleted; only a hand-made mess gets here
            return Page(tuple(page), len(names))

    # -- versions --------------------------------------------------------------------------

    def create_version(self, *, version: Version) -> None:
        module, number = version.module_name, version.version
        if not _valid_module(module):
            raise ModuleNotFound(module)
        if not _valid_version(number):
            raise Unprocessable(f"invalid version {number!r}", code="invalid_version")
        for dependency in version.dependencies:
            if not (_valid_module(dependency.module) and _valid_version(dependency.version)):
                raise Unprocessable(f"invalid dependency {dependency}", code="invalid_dependency")
        with backend_errors(_WHAT):
            self._require_module(module)
            self._prepare_to_write()
            directory = self._versions / module
            ensure_dir(directory)
            path = directory / f"{number}{_SUFFIX}"
            if path.exists():
                raise VersionAlreadyStored(self._load_version(module, number))
            markers = [self._write_marker(d, module, number) for d in version.dependencies]
            if link_exclusive(path, _encode(version.to_dict())):
                return
            winner = self._load_version(module, number)
            kept = set(winner.dependencies)
            for dependency, marker in zip(version.dependencies, markers, strict=True):
                if dependency not in kept:
                    marker.unlink(missing_ok=True)
            raise VersionAlreadyStored(winner)

    def get_version(self, *, module: str, version: str) -> Version:
        with backend_errors(_WHAT):
            self._require_module(module)
            if not _valid_version(version):
                raise VersionNotFound(module, version)
            return self._load_version(module, version)

    def get_latest_version(self, *, module: str) -> Version:
        with backend_errors(_WHAT):
            self._require_module(module)
            latest = self._latest(self._entries(module))
            if latest is None:
                raise VersionNotFound(module, "latest")
            return self._load_version(module, latest)

    def list_versions(self, *, module: str, limit: int, offset: int) -> Page[Version]:
        with backend_errors(_WHAT):
            self._require_module(module)
            entries = sorted(self._entries(module), key=_newest_first, reverse=True)
            page = tuple(
                self._load_version(module, e.version) for e in entries[offset : offset + limit]
            )
            return Page(page, len(entries))

    def list_dependents(self, *, module: str, version: str) -> tuple[DependencyRef, ...]:
        if not (_valid_module(module) and _valid_version(version)):
            return ()
        target = DependencyRef(ModuleName(module), VersionString(version))
        found: list[DependencyRef] = []
        with backend_errors(_WHAT):
            for marker in self._names(self._dependents / module / version, ""):
                dependent_module, _, dependent_version = marker.partition("@")
                if not (_valid_module(dependent_module) and _valid_version(dependent_version)):
                    continue
                try:
                    dependent = self._load_version(dependent_module, dependent_version)
                except VersionNotFound:
                    continue  # a crash between the marker and the version file
                if target in dependent.dependencies:  # not a loser's leftover of a race
                    found.append(DependencyRef(dependent.module_name, dependent.version))
        return tuple(sorted(found))

    # -- artifact index (optional StoresArtifacts) ----------------------------------------

    def get_artifact(self, *, key: str) -> Artifact | None:
        path = self._artifact_file(check_artifact_key(key))
        with backend_errors(_WHAT):
            return self._load_artifact(path, key)

    def put_artifact(self, *, artifact: Artifact) -> Artifact:
        stored = check_artifact(artifact)
        path = self._artifact_file(stored.key)
        encoded = _encode(stored.to_dict())
        with backend_errors(_WHAT):
            for _ in range(_ARTIFACT_ATTEMPTS):
                existing = self._load_artifact(path, stored.key)
                if existing is not None:
                    return existing
                self._prepare_to_write()
                ensure_dir(path.parent)
                if link_exclusive(path, encoded):
                    return stored
                winner = self._load_artifact(path, stored.key)
                if winner is not None:
                    return winner
                # The winner's entry was deleted (a repair) before it could be read: again.
        raise BackendUnavailable(f"{_WHAT}: artifact {stored.key} keeps changing, try again")

    def delete_artifact(self, *, key: str) -> bool:
        path = self._artifact_file(check_artifact_key(key))
        with backend_errors(_WHAT):
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            fsync_dir(path.parent)
            return True

    # -- operations ------------------------------------------------------------------------

    def statistics(self) -> RegistryStats:
        with backend_errors(_WHAT):
            modules = [n for n in self._names(self._modules, _SUFFIX) if _valid_module(n)]
            versions = sum(
                sum(1 for n in self._names(self._versions / m, _SUFFIX) if _valid_version(n))
                for m in modules
            )
            return RegistryStats(modules=len(modules), versions=versions)

    def check(self) -> None:
        with backend_errors(_WHAT):
            self._prepare_to_write()
            probe = write_temp(self._meta, b"probe")
            probe.unlink()

    def close(self) -> None:
        return None

    # -- helpers ---------------------------------------------------------------------------

    def _module_file(self, name: str) -> Path:
        return self._modules / f"{name}{_SUFFIX}"

    def _artifact_file(self, key: str) -> Path:
        hashed = hashlib.sha256(key.encode("ascii")).hexdigest()
        return self._artifacts / hashed[:2] / f"{hashed}{_SUFFIX}"

    @staticmethod
    def _load_artifact(path: Path, key: str) -> Artifact | None:
        what = f"artifact {key}"
        try:
            data = _read_json(path, what)
        except FileNotFoundError:
            return None
        try:
            loaded = Artifact.from_dict(data)
        except (KeyError, TypeError, ValueError):
            raise BackendUnavailable(f"{_WHAT}: corrupt metadata file for {what}") from None
        if loaded.key != key:
            raise BackendUnavailable(f"{_WHAT}: corrupt metadata file for {what}")
        return loaded

    def _load_module(self, name: str) -> Module:
        if not _valid_module(name):
            raise ModuleNotFound(name)
        try:
            data = _read_json(self._module_file(name), f"module {name}")
        except FileNotFoundError:
            raise ModuleNotFound(name) from None
        try:
            loaded = Module.from_dict(data)
        except (KeyError, TypeError, ValueError):
            raise BackendUnavailable(f"{_WHAT}: corrupt metadata file for module {name}") from None
        if loaded.name != name:
            raise BackendUnavailable(f"{_WHAT}: corrupt metadata file for module {name}")
        return loaded

    def _require_module(self, name: str) -> None:
        if not _valid_module(name):
            raise ModuleNotFound(name)
        try:
            self._module_file(name).stat()
        except FileNotFoundError:
            raise ModuleNotFound(name) from None

    def _load_version(self, module: str, version: str) -> Version:
        what = f"{module}@{version}"
        try:
            data = _read_json(self._versions / module / f"{version}{_SUFFIX}", what)
        except FileNotFoundError:
            raise VersionNotFound(module, version) from None
        try:
            loaded = Version.from_dict(data)
        except (KeyError, TypeError, ValueError):
            raise BackendUnavailable(f"{_WHAT}: corrupt metadata file for {what}") from None
        if loaded.module_name != module or loaded.version != version:
            raise BackendUnavailable(f"{_WHAT}: corrupt metadata file for {what}")
        return loaded

    @staticmethod
    def _names(directory: Path, suffix: str) -> Iterator[str]:
        """Entry names in ``directory`` ending with ``suffix`` (stripped), temp files skipped."""
        try:
            entries = os.listdir(directory)
        except FileNotFoundError:
            return
        for name in entries:
            if name.startswith(".") or not name.endswith(suffix):
                continue
            yield name[: len(name) - len(suffix)] if suffix else name

    def _entries(self, module: str) -> list[_Entry]:
        entries = []
        for name in self._names(self._versions / module, _SUFFIX):
            if _valid_version(name):
                parsed = parse_semver(name)
                entries.append(_Entry(parsed.sort_key, name, parsed.is_prerelease))
        return entries

    @staticmethod
    def _latest(entries: list[_Entry]) -> str | None:
        releases = [e for e in entries if not e.prerelease]
        candidates = releases or entries
        if not candidates:
            return None
        return max(candidates, key=_newest_first).version

    def _with_latest(self, module: Module) -> Module:
        latest = self._latest(self._entries(module.name))
        return dataclasses.replace(
            module, latest_version=VersionString(latest) if latest is not None else None
        )

    def _write_marker(self, dependency: DependencyRef, module: str, version: str) -> Path:
        directory = self._dependents / dependency.module / dependency.version
        ensure_dir(directory)
        marker = directory / f"{module}@{version}"
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o644)
        os.close(fd)
        fsync_dir(directory)
        return marker

    @contextmanager
    def _module_lock(self, name: str) -> Iterator[None]:
        fd = os.open(self._locks / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


def _newest_first(entry: _Entry) -> tuple[str, str]:
    return (entry.sort_key, entry.version)
