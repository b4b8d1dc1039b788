"""Generated code for a stored version: found in the artifact index, or generated once and kept.

An archive is identified by a key derived from everything that decides its bytes: the version's
fingerprint (its compiled schema), the language, the options, gRPC on or off, whether the
dependencies' code is included (and which dependency versions), and the generator versions.
Generation is deterministic, so the same key always names byte-identical zips on every replica.

Order of writes, as for versions: the zip goes to the blob store first, then the index entry
that names it (``StoresArtifacts`` on the storage backend; without it, the cache). A crash leaves
at worst an orphan blob, never an index entry pointing at missing bytes; an entry whose blob has
gone missing anyway is dropped and the archive generated again.

Within a process, concurrent requests for the same missing archive generate it once
(single-flight); across replicas two may generate it at the same time, which is harmless: the
index keeps the first entry and both zips are identical.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from spoke.codegen import (
    GenerationFailed,
    LanguageRegistry,
    LanguageStatus,
    build_zip,
    generate,
    readme_text,
)
from spoke.domain import Version, utc_now
from spoke.errors import CodeGenerationFailed, Unprocessable, bounded
from spoke.interfaces import Artifact, StoresArtifacts
from spoke.lru import LRUCache, ObjectLRU
from spoke.metrics import Metrics
from spoke.service import RegistryService
from spoke.tracing import child_span

__all__ = ["Archive", "ArchiveInfo", "ArchiveRequest", "CodeGenerator"]

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/zip"
# Archives kept decoded in process for the hot download path (by bytes), and the resolved index
# entries (by count).
HOT_ARCHIVE_BYTES = 64 * 1024 * 1024
HOT_ENTRIES = 4096
_STDERR_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class ArchiveRequest:
    """What a client asks for: a stored version in one language, with options."""

    module: str
    version: str
    language: str
    grpc: bool = False
    include_dependencies: bool = False
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    """What describes a generated zip without its bytes: everything a download's headers say."""

    sha256: str
    size: int
    filename: str
    cache_hit: bool
    digest_header: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # ``Digest: sha-256=<base64>`` (RFC 3230), computed once: answers are reused.
        digest = "sha-256=" + base64.b64encode(bytes.fromhex(self.sha256)).decode("ascii")
        object.__setattr__(self, "digest_header", digest)


@dataclass(frozen=True, slots=True)
class Archive(ArchiveInfo):
    """A generated zip and what the HTTP layer needs to serve it."""

    data: bytes = field(repr=False)
    artifact: Artifact = field(repr=False)


class CodeGenerator:
    """Serves generated archives of stored versions; see the module docstring."""

    def __init__(
        self,
        *,
        service: RegistryService,
        languages: LanguageRegistry,
        metrics: Metrics,
        timeout: float,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.service = service
        self.languages = languages
        self.metrics = metrics
        self.timeout = timeout
        self._clock = clock
        storage = service.storage
        wrapped = getattr(storage, "wrapped", storage)
        self._index: StoresArtifacts | None = (
            storage if isinstance(wrapped, StoresArtifacts) else None  # type: ignore[assignment]
        )
        self._lock = threading.Lock()
        self._in_flight: dict[str, Future[Artifact]] = {}
        self._hot_entries: ObjectLRU[ArchiveRequest, Artifact] = ObjectLRU(max_items=HOT_ENTRIES)
        self._hot_bytes = LRUCache(max_bytes=HOT_ARCHIVE_BYTES)

    # The request path ---------------------------------------------------------------------

    def language(self, language_id: str, *, grpc: bool, options: Sequence[str]) -> LanguageStatus:
        """The language, refused with a clear error when it cannot serve this request."""
        status = self.languages.get(language_id)
        if not status.enabled:
            raise Unprocessable(
                f"language {language_id!r} is not available on this server: {status.reason}",
                code="language_disabled",
                details={"language": language_id, "reason": status.reason},
            )
        if grpc and not status.language.supports_grpc:
            raise Unprocessable(
                f"language {language_id!r} has no gRPC generator; leave grpc unset",
                code="invalid_options",
                details={"language": language_id},
            )
        allowed = set(status.language.options)
        # Options are up to 200 characters each (checked by the API); an error names them shorter.
        refused = [bounded(option, 64) for option in sorted(set(options) - allowed)]
        if refused:
            raise Unprocessable(
                f"option(s) not allowed for {language_id!r}: {', '.join(refused)}"
                + (f"; allowed: {', '.join(sorted(allowed))}" if allowed else "; it takes none"),
                code="invalid_options",
                details={"language": language_id, "refused": refused, "allowed": sorted(allowed)},
            )
        return status

    def archive(self, request: ArchiveRequest) -> Archive:
        """The archive for ``request``: from the index when stored, else generated now.

        Raises the not-found errors of the version, ``language_not_found`` (404), 422 for a
        disabled language or refused options, ``compilation_failed`` when the generator fails.
        """
        return self._produce(*self._resolve(request))

    def describe(self, request: ArchiveRequest) -> ArchiveInfo:
        """What :meth:`archive` would answer, without reading the bytes of a stored archive.

        A HEAD needs the size and digest only: a stored archive's come from its index entry and
        its blob is not read. One not stored yet is generated (and stored), since its size and
        digest are what is asked. Raises what :meth:`archive` raises.
        """
        exact, version, status = self._resolve(request)
        artifact = self._hot_entries.get(exact)
        if artifact is None:
            artifact = self._lookup(self._key(exact, version, status))
        if artifact is None:
            return self._produce(exact, version, status)
        self.metrics.artifact_lookups.labels("hit").inc()
        return ArchiveInfo(
            sha256=artifact.digest,
            size=artifact.size,
            filename=_filename(exact),
            cache_hit=True,
        )

    def _resolve(self, request: ArchiveRequest) -> tuple[ArchiveRequest, Version, LanguageStatus]:
        """The request with its version resolved and options normalized, checked."""
        version = self.service.get_version(module=request.module, version=request.version)
        status = self.language(request.language, grpc=request.grpc, options=request.options)
        exact = ArchiveRequest(
            request.module,
            version.version,
            request.language,
            request.grpc,
            request.include_dependencies,
            tuple(sorted(set(request.options))),
        )
        return exact, version, status

    def _produce(self, exact: ArchiveRequest, version: Version, status: LanguageStatus) -> Archive:
        hot = self._hot_entries.get(exact)
        if hot is not None:
            data = self._hot_bytes.get(key=hot.digest)
            if data is not None:
                self.metrics.artifact_lookups.labels("hit").inc()
                return self._archive(exact, hot, data, cache_hit=True)
        key = self._key(exact, version, status)
        artifact = self._lookup(key)
        data = self._read(artifact) if artifact is not None else None
        cache_hit = data is not None
        if artifact is None or data is None:
            artifact = self._single_flight(key, lambda: self._generate(key, exact, version, status))
            data = self._read(artifact)
            if data is None:  # written a moment ago and gone already: the blob store is failing
                raise CodeGenerationFailed(
                    "the generated archive could not be read back from the blob store",
                    details={"language": exact.language},
                )
        self.metrics.artifact_lookups.labels("hit" if cache_hit else "miss").inc()
        self._hot_entries.put(exact, artifact)
        return self._archive(exact, artifact, data, cache_hit=cache_hit)

    def _archive(
        self, request: ArchiveRequest, artifact: Artifact, data: bytes, *, cache_hit: bool
    ) -> Archive:
        self._hot_bytes.set(key=artifact.digest, value=data)
        return Archive(
            sha256=artifact.digest,
            size=len(data),
            filename=_filename(request),
            cache_hit=cache_hit,
            data=data,
            artifact=artifact,
        )

    # The index ----------------------------------------------------------------------------

    def _key(self, request: ArchiveRequest, version: Version, status: LanguageStatus) -> str:
        """The artifact key: a hash of everything that decides the archive's bytes."""
        # Module and version are part of it because the README inside names them: two
        # versions with the same schema get byte-identical code but their own archives.
        parts = {
            "module": request.module,
            "version": request.version,
            "fingerprint": version.fingerprint,
            "language": request.language,
            "grpc": request.grpc,
            "options": list(request.options),
            "generator": status.generator,
            "generator_version": status.generator_version,
            "tools": dict(sorted(status.versions.items())),
            "layout": 2,  # bump when the archive layout (README, paths) changes
        }
        if request.include_dependencies:
            parts["dependencies"] = sorted(str(d) for d in version.dependencies)
        canonical = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode("utf-8")
        return "codegen:" + hashlib.sha256(canonical).hexdigest()

    def _lookup(self, key: str) -> Artifact | None:
        if self._index is not None:
            return self._index.get_artifact(key=key)
        cached = self.service.cache.get(f"artifact:{key}")
        if cached is None:
            return None
        try:
            return Artifact.from_dict(json.loads(cached))
        except (ValueError, KeyError, TypeError):
            return None  # an unreadable cache entry is a miss

    def _remember(self, artifact: Artifact) -> Artifact:
        if self._index is not None:
            return self._index.put_artifact(artifact=artifact)
        self.service.cache.set(
            f"artifact:{artifact.key}", json.dumps(artifact.to_dict()).encode("utf-8")
        )
        return artifact

    def _read(self, artifact: Artifact) -> bytes | None:
        """The archive's bytes; ``None`` (and the entry dropped) when its blob is missing."""
        hot = self._hot_bytes.get(key=artifact.digest)
        if hot is not None:
            return hot
        try:
            return self.service.blobs.get(digest=artifact.digest)
        except FileNotFoundError:
            log.warning(
                "artifact %s names a missing blob %s; regenerating", artifact.key, artifact.digest
            )
            if self._index is not None:
                self._index.delete_artifact(key=artifact.key)
            else:
                self.service.cache.delete(f"artifact:{artifact.key}")
            return None

    # Generation ---------------------------------------------------------------------------

    def _single_flight(self, key: str, work: Callable[[], Artifact]) -> Artifact:
        """Run ``work`` once per key at a time; concurrent callers wait for the same result."""
        with self._lock:
            running = self._in_flight.get(key)
            leader = running is None
            if running is None:
                running = Future()
                self._in_flight[key] = running
        if not leader:
            return running.result()
        try:
            result = work()
        except BaseException as exc:
            running.set_exception(exc)
            raise
        else:
            running.set_result(result)
            return result
        finally:
            with self._lock:
                del self._in_flight[key]

    def _generate(
        self, key: str, request: ArchiveRequest, version: Version, status: LanguageStatus
    ) -> Artifact:
        own = {f.path: f.content for f in self.service.version_files(version)}
        provided = self.service.dependencies.files_of(version.dependencies)
        files = dict(own)
        for path, (ref, _) in provided.items():
            files[path] = self.service.read_blob(ref.sha256).decode("utf-8")
        targets = sorted(files if request.include_dependencies else own)
        start = self._clock()
        try:
            with child_span("codegen.generate", {"spoke.language": request.language}):
                code = generate(
                    status,
                    files=files,
                    targets=targets,
                    grpc=request.grpc,
                    options=request.options,
                    timeout=self.timeout,
                )
        except GenerationFailed as failed:
            self._observe(request.language, "timeout" if failed.timed_out else "failed", start)
            raise CodeGenerationFailed(
                f"the {request.language} generator "
                + ("timed out" if failed.timed_out else "failed")
                + f" for {request.module}@{request.version}: {failed.message}",
                details={
                    "language": request.language,
                    "timed_out": failed.timed_out,
                    "exit_code": failed.exit_code,
                    "stderr": failed.stderr[-_STDERR_LIMIT:],
                },
            ) from None
        readme = readme_text(
            status=status,
            module=request.module,
            version=request.version,
            fingerprint=version.fingerprint,
            generator_versions=code.generator_versions,
            grpc=request.grpc,
            options=request.options,
            dependencies=tuple(str(d) for d in version.dependencies),
            include_dependencies=request.include_dependencies,
        )
        data = build_zip(code.files, readme=readme)
        self._observe(request.language, "ok", start)
        digest = self.service.blobs.put(data=data)
        artifact = Artifact(
            key=key,
            digest=digest,
            size=len(data),
            media_type=MEDIA_TYPE,
            created_at=utc_now(),
            metadata={
                "module": request.module,
                "version": request.version,
                "fingerprint": version.fingerprint,
                "language": request.language,
                "grpc": "true" if request.grpc else "false",
                "include_dependencies": "true" if request.include_dependencies else "false",
                "generators": json.dumps(dict(code.generator_versions), sort_keys=True),
            },
        )
        stored = self._remember(artifact)
        self._hot_bytes.set(key=stored.digest, value=data)
        return stored

    def _observe(self, language: str, status: str, start: float) -> None:
        self.metrics.generations.labels(language, status).inc()
        self.metrics.generation_duration.labels(language).observe(self._clock() - start)


def _filename(request: ArchiveRequest) -> str:
    suffix = "-grpc" if request.grpc else ""
    return f"{request.module}-{request.version}-{request.language}{suffix}.zip"
