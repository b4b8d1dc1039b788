"""The registry's use cases: modules, pushes, reads, dependencies and validation.

Resources call this; it calls the backends and the protobuf engine. It never sees HTTP, and the
backends never see each other: the order of writes (blobs first, then the version record) is
decided here, so a crash can leave orphan blobs but never a version pointing at missing bytes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from spoke.cache import SafeCache
from spoke.dependencies import DependencyResolver
from spoke.domain import (
    CompatibilityPolicy,
    DependencyRef,
    FileRef,
    Module,
    ModuleName,
    Page,
    SourceInfo,
    Version,
    VersionString,
    utc_now,
)
from spoke.errors import (
    BackendUnavailable,
    FileNotFound,
    LimitExceeded,
    Overloaded,
    Unprocessable,
    VersionExists,
    VersionNotFound,
    bounded,
)
from spoke.evolution import SchemaEvolution
from spoke.interfaces import BlobStore, Storage, VersionAlreadyStored
from spoke.lru import ObjectLRU
from spoke.metrics import Metrics
from spoke.protobuf import CompilationFailed, CompileResult, well_known_paths
from spoke.protobuf.diagnostics import Diagnostics
from spoke.tracing import child_span
from spoke.validation import find_path_clash, validate_module_name, validate_version
from spoke.workers import InProcessWork, SchemaWork

__all__ = ["FileContent", "PushRequest", "PushResult", "RegistryService", "ValidationResult"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FileContent:
    """A file of a version with its text."""

    path: str
    content: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class PushRequest:
    """A checked push: the version string is normalized and every path and pin is valid."""

    version: VersionString
    files: Mapping[str, str]
    dependencies: tuple[DependencyRef, ...]
    source_info: SourceInfo | None


@dataclass(frozen=True, slots=True)
class PushResult:
    """The stored version and whether this push created it (``False``: an identical re-push)."""

    version: Version
    created: bool


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The outcome of compiling files without storing them."""

    valid: bool
    diagnostics: Diagnostics

    def to_dict(self) -> dict[str, object]:
        """``valid`` and the diagnostics (errors, warnings, how many more, truncated)."""
        return {"valid": self.valid, **self.diagnostics.to_dict()}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _IndexedVersion:
    """A version with its files indexed by path."""

    __slots__ = ("files", "version")

    def __init__(self, version: Version) -> None:
        self.version = version
        self.files = {ref.path: ref for ref in version.files}


# Decoded versions kept in process; a 50-file version takes about 30 KB.
HOT_VERSIONS = 1024


class RegistryService:
    """Use cases of the registry over one storage, one blob store and one cache."""

    def __init__(
        self,
        *,
        storage: Storage,
        blobs: BlobStore,
        cache: SafeCache,
        metrics: Metrics,
        clock: Callable[[], datetime] = utc_now,
        work: SchemaWork | None = None,
    ) -> None:
        self.storage = storage
        self.blobs = blobs
        self.cache = cache
        self.metrics = metrics
        self.clock = clock
        # Compiles, checks and diffs: in worker processes in a server, in process otherwise.
        self.work: SchemaWork = work if work is not None else InProcessWork()
        self.dependencies = DependencyResolver(storage=storage, get_version=self.get_version)
        self.evolution = SchemaEvolution(
            storage=storage,
            metrics=metrics,
            get_version=self.get_version,
            descriptor_set=self.descriptor_set,
            compile_files=self._compile_with_dependencies,
            work=self.work,
        )
        self._well_known = well_known_paths()
        self._hot_versions: ObjectLRU[tuple[str, str], _IndexedVersion] = ObjectLRU(
            max_items=HOT_VERSIONS
        )

    # Modules -------------------------------------------------------------------------------

    def create_module(
        self, *, name: str, description: str, compatibility: CompatibilityPolicy
    ) -> Module:
        """Create an empty module. Raises ``ModuleExists``."""
        now = self.clock()
        module = Module(
            name=validate_module_name(name),
            description=description,
            compatibility=compatibility,
            created_at=now,
            updated_at=now,
        )
        return self.storage.create_module(module=module)

    def get_module(self, *, name: str) -> Module:
        """One module. Raises ``ModuleNotFound``."""
        return self.storage.get_module(name=name)

    def update_module(
        self,
        *,
        name: str,
        description: str | None,
        compatibility: CompatibilityPolicy | None,
    ) -> Module:
        """Change a module's description or compatibility policy. Raises ``ModuleNotFound``."""
        return self.storage.update_module(
            name=name,
            description=description,
            compatibility=compatibility,
            updated_at=self.clock(),
        )

    def list_modules(self, *, prefix: str, limit: int, offset: int) -> Page[Module]:
        """Modules sorted by name, filtered by name prefix."""
        return self.storage.list_modules(prefix=prefix, limit=limit, offset=offset)

    # Versions ------------------------------------------------------------------------------

    def push_version(self, *, module: str, request: PushRequest) -> PushResult:
        """Compile and store a version, or recognise an identical re-push.

        Raises ``ModuleNotFound``, ``VersionExists`` (different content),
        ``Unprocessable`` (bad schema, unresolved import, bad dependency), ``IncompatibleSchema``
        (the module's compatibility policy refuses it).
        """
        found = self.storage.get_module(name=module)
        files = {path: request.files[path] for path in sorted(request.files)}
        refs = tuple(self._file_ref(path, text) for path, text in files.items())
        # A CI retry of a stored version is answered without compiling anything.
        try:
            stored = self.storage.get_version(module=module, version=request.version)
        except VersionNotFound:
            pass
        else:
            return self._repush(stored, refs, request.dependencies)

        compiled = self._compile_with_dependencies(files, request.dependencies)
        # Checked before anything is written: a refused push leaves no blob behind.
        self.evolution.enforce(
            module=found, version=request.version, compiled=compiled, paths=files
        )
        # Blobs first, each durable before the version that names it is written.
        for text in files.values():
            self.blobs.put(data=text.encode("utf-8"))
        descriptor_sha256 = self.blobs.put(data=compiled.descriptor_set)
        version = Version(
            module_name=ModuleName(module),
            version=request.version,
            created_at=self.clock(),
            fingerprint=compiled.fingerprint,
            descriptor_sha256=descriptor_sha256,
            files=refs,
            dependencies=tuple(sorted(request.dependencies)),
            source_info=request.source_info,
        )
        try:
            self.storage.create_version(version=version)
        except VersionAlreadyStored as race:
            return self._repush(race.existing, refs, request.dependencies)
        return PushResult(version=version, created=True)

    def _repush(
        self, stored: Version, refs: tuple[FileRef, ...], dependencies: Sequence[DependencyRef]
    ) -> PushResult:
        if stored.files == refs and sorted(stored.dependencies) == sorted(dependencies):
            return PushResult(version=stored, created=False)
        raise VersionExists(
            f"version {stored.version} of module {stored.module_name!r} already exists with "
            "different content; versions are immutable, push a new version",
            details={
                "module": stored.module_name,
                "version": stored.version,
                "fingerprint": stored.fingerprint,
            },
        )

    def _file_ref(self, path: str, text: str) -> FileRef:
        data = text.encode("utf-8")
        return FileRef(path=path, sha256=_sha256(data), size=len(data))

    def get_version(self, *, module: str, version: str) -> Version:
        """A version by exact semver (``v`` prefix allowed) or ``latest``.

        Raises ``ModuleNotFound``, ``VersionNotFound``, ``Unprocessable`` (``invalid_version``).
        """
        return self._indexed_version(module, version).version

    def _indexed_version(self, module: str, version: str) -> _IndexedVersion:
        if version == "latest":
            return _IndexedVersion(self.storage.get_latest_version(module=module))
        # Exact versions never change: the decoded record is kept under the string the client
        # used, so the hot path skips version parsing, JSON decoding and record building.
        hot = self._hot_versions.get((module, version))
        if hot is not None:
            return hot
        normalized, _ = validate_version(version)
        key = f"version:{module}:{normalized}"
        cached = self.cache.get(key)
        if cached is not None:
            found = Version.from_dict(json.loads(cached))
        else:
            found = self.storage.get_version(module=module, version=normalized)
            self.cache.set(key, json.dumps(found.to_dict()).encode())
        indexed = _IndexedVersion(found)
        self._hot_versions.put((module, version), indexed)
        return indexed

    def list_versions(self, *, module: str, limit: int, offset: int) -> Page[Version]:
        """A module's versions, newest semver first. Raises ``ModuleNotFound``."""
        return self.storage.list_versions(module=module, limit=limit, offset=offset)

    def read_blob(self, digest: str) -> bytes:
        """Bytes of a blob, through the cache. A missing blob is a backend fault (503)."""
        cached = self.cache.get(f"blob:{digest}")
        if cached is not None:
            return cached
        try:
            data = self.blobs.get(digest=digest)
        except FileNotFoundError:
            raise BackendUnavailable(
                "a stored blob is missing from the blob store; restore it from a backup",
                details={"digest": digest},
            ) from None
        self.cache.set(f"blob:{digest}", data)
        return data

    def version_files(self, version: Version) -> list[FileContent]:
        """Every file of a version with its text."""
        return [self.read_file(ref) for ref in version.files]

    def get_file(self, *, module: str, version: str, path: str) -> tuple[Version, FileContent]:
        """One file of a version. Raises the not-found errors, ``FileNotFound`` included."""
        found, ref = self.find_file(module=module, version=version, path=path)
        return found, self.read_file(ref)

    def find_file(self, *, module: str, version: str, path: str) -> tuple[Version, FileRef]:
        """The version and the reference of one of its files, without reading its bytes."""
        indexed = self._indexed_version(module, version)
        ref = indexed.files.get(path)
        if ref is None:
            raise FileNotFound(module, indexed.version.version, path)
        return indexed.version, ref

    def read_file(self, ref: FileRef) -> FileContent:
        """The text of a file a version references."""
        return FileContent(
            path=ref.path,
            content=self.read_blob(ref.sha256).decode("utf-8"),
            sha256=ref.sha256,
            size=ref.size,
        )

    def descriptor_set(self, version: Version) -> bytes:
        """The serialized FileDescriptorSet stored with a version."""
        return self.read_blob(version.descriptor_sha256)

    # Validation ----------------------------------------------------------------------------

    def validate(
        self, *, files: Mapping[str, str], dependencies: Sequence[DependencyRef]
    ) -> ValidationResult:
        """Compile ``files`` with ``dependencies`` without storing anything.

        Raises only for requests that cannot be checked at all (a dependency that does not exist,
        conflicting dependencies, a path that shadows another, a limit exceeded); compile errors
        are part of the result.
        """
        try:
            diagnostics = self._compile(files, dependencies, self.work.diagnose)
        except CompilationFailed as failed:
            return ValidationResult(valid=False, diagnostics=failed.diagnostics)
        return ValidationResult(valid=True, diagnostics=diagnostics)

    def _compile_with_dependencies(
        self, files: Mapping[str, str], dependencies: Sequence[DependencyRef]
    ) -> CompileResult:
        """Compile for a push or a check: compile errors are a 422 (``Unprocessable``)."""
        try:
            return self._compile(files, dependencies, self.work.compile)
        except CompilationFailed as failed:
            raise _compilation_error(failed) from None

    def _compile(
        self,
        files: Mapping[str, str],
        dependencies: Sequence[DependencyRef],
        run: Callable[[Mapping[str, str], Mapping[str, str]], T],
    ) -> T:
        """``run`` (a compile of :attr:`work`) with the files of ``dependencies`` importable.

        Raises ``CompilationFailed``, ``Unprocessable`` for paths that shadow others, and the
        limits of :attr:`work`."""
        for path in files:
            if path in self._well_known:
                raise Unprocessable(
                    f"file {path!r} would shadow the well-known type file of the same path",
                    code="invalid_path",
                    details={"path": path},
                )
        provided = self.dependencies.files_of(dependencies)
        for path in files:
            owner = provided.get(path)
            if owner is not None:
                raise Unprocessable(
                    f"file {path!r} is also provided by dependency {owner[1]}; "
                    "a version cannot shadow a file of its dependencies",
                    code="invalid_path",
                    details={"path": path, "dependency": str(owner[1])},
                )
        clash = find_path_clash([*files, *provided])
        if clash is not None:
            raise Unprocessable(
                f"{clash[0]!r} is a file, so {clash[1]!r} cannot be inside it",
                code="invalid_path",
                details={"path": clash[1]},
            )
        include = {
            path: self.read_blob(ref.sha256).decode("utf-8") for path, (ref, _) in provided.items()
        }
        start = time.perf_counter()
        outcome = "ok"
        # A span of the request being traced, if any (a no-op otherwise).
        try:
            with child_span(
                "protoc.compile", {"protoc.files": len(files), "protoc.imports": len(include)}
            ):
                return run(files, include)
        except CompilationFailed:
            outcome = "failed"
            raise
        except LimitExceeded:
            outcome = "limit_exceeded"
            raise
        except Overloaded:
            outcome = "refused"
            raise
        finally:
            self.metrics.compilations.labels(outcome).inc()
            self.metrics.compile_duration.observe(time.perf_counter() - start)


def _compilation_error(failed: CompilationFailed) -> Unprocessable:
    details: dict[str, object] = failed.diagnostics.to_dict()
    if failed.unresolved_imports:
        first = failed.unresolved_imports[0]
        details["unresolved_imports"] = [
            {"file": u.file, "import": u.import_path} for u in failed.unresolved_imports
        ]
        return Unprocessable(
            f"import {bounded(first.import_path)!r} in {bounded(first.file)!r} is not provided by "
            "this version, its dependencies or the well-known types",
            code="unresolved_import",
            details=details,
        )
    return Unprocessable(_summary(failed.diagnostics), code="invalid_schema", details=details)


def _summary(diagnostics: Diagnostics) -> str:
    if not diagnostics.errors:
        return "the files do not compile"
    first = diagnostics.errors[0]
    where = ":".join(str(part) for part in (first.file, first.line) if part is not None)
    more = diagnostics.error_count - 1
    shown = f" (and {more}{'+' if diagnostics.truncated else ''} more)" if more > 0 else ""
    return f"the files do not compile: {where + ': ' if where else ''}{first.message}{shown}"
