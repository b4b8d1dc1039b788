"""Compile jobs: generate archives for several languages in the background.

``POST .../compile`` checks everything it can at once (the version, each language, the options)
and answers 202 with a job; a bounded pool of workers then produces each archive through
:class:`spoke.generation.CodeGenerator`, which stores it, so the job's results point at the
download URLs. A job's status is written to the cache (Redis in a multi-replica deployment, so
any replica can answer while the job lives) and kept in process as well (so a single replica
answers even with the cache disabled). Statuses expire ``SPOKE_COMPILE_JOB_TTL`` after their
last change.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from spoke.cache import SafeCache
from spoke.domain import format_timestamp, utc_now
from spoke.errors import BackendUnavailable, InvalidRequest, NotFound, Overloaded, SpokeError
from spoke.generation import ArchiveRequest, CodeGenerator
from spoke.lru import ObjectLRU
from spoke.metrics import Metrics

__all__ = ["MAX_LANGUAGES", "CompileJobs", "JobNotFound"]

log = logging.getLogger(__name__)

MAX_LANGUAGES = 32
# Seconds a client refused for a full queue is told to wait: about one archive's generation.
_RETRY_AFTER = 5
_LOCAL_JOBS = 1000


class JobNotFound(NotFound):
    """No live job has this id for this version (unknown, expired, or another version's)."""

    default_code = "job_not_found"


class CompileJobs:
    """Submits compile jobs to a bounded worker pool and reports their status."""

    def __init__(
        self,
        *,
        generator: CodeGenerator,
        cache: SafeCache,
        metrics: Metrics,
        workers: int,
        queue: int,
        ttl: float,
        download_url: Callable[[ArchiveRequest], str],
    ) -> None:
        self.generator = generator
        self.cache = cache
        self.metrics = metrics
        self.ttl = ttl
        self.queue = queue
        self._download_url = download_url
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spoke-compile")
        self._lock = threading.Lock()
        self._waiting = 0
        self._local: ObjectLRU[str, dict[str, Any]] = ObjectLRU(max_items=_LOCAL_JOBS)

    def submit(
        self,
        *,
        module: str,
        version: str,
        languages: Sequence[str],
        grpc: bool,
        include_dependencies: bool,
    ) -> dict[str, Any]:
        """Check the request, queue the job, and return its first status (``pending``).

        Raises the version's not-found errors, ``language_not_found``, 422 for a disabled
        language or gRPC where there is none, 503 ``compile_queue_full`` when too many wait.
        """
        found = self.generator.service.get_version(module=module, version=version)
        wanted = list(dict.fromkeys(languages))
        if not wanted:
            raise InvalidRequest("'languages' must name at least one language")
        if len(wanted) > MAX_LANGUAGES:
            raise InvalidRequest(f"at most {MAX_LANGUAGES} languages per job")
        for language in wanted:
            self.generator.language(language, grpc=grpc, options=())
        with self._lock:
            if self._waiting >= self.queue:
                self.metrics.compile_jobs.labels("rejected").inc()
                raise Overloaded(
                    f"{self._waiting} compile jobs are waiting already; retry later",
                    code="compile_queue_full",
                    details={"queue": self.queue},
                    retry_after=_RETRY_AFTER,
                )
            self._waiting += 1
        now = format_timestamp(utc_now())
        job: dict[str, Any] = {
            "job_id": secrets.token_hex(16),
            "module": module,
            "version": str(found.version),
            "status": "pending",
            "created_at": now,
            "updated_at": now,
            "results": [
                {"language": language, "status": "pending", "cache_hit": None, "duration_ms": None}
                for language in wanted
            ],
        }
        requests = [
            ArchiveRequest(module, str(found.version), language, grpc, include_dependencies)
            for language in wanted
        ]
        self._save(job)
        try:
            self._pool.submit(self._run, job, requests)
        except RuntimeError:  # the pool is shut down: the server is stopping
            with self._lock:
                self._waiting -= 1
            raise BackendUnavailable(
                "the server is shutting down; retry on another replica"
            ) from None
        return _copy(job)

    def get(self, *, module: str, version: str, job_id: str) -> dict[str, Any]:
        """The job's current status. Raises ``JobNotFound``."""
        job = self._local.get(job_id)
        if job is None:
            raw = self.cache.get(f"job:{job_id}") if _valid_id(job_id) else None
            if raw is not None:
                try:
                    job = json.loads(raw)
                except ValueError:
                    job = None
        if job is not None and time.time() - job.get("_saved", 0) > self.ttl:
            job = None
        resolved = _resolve_version(self.generator, module, version)
        if job is None or job["module"] != module or job["version"] != resolved:
            raise JobNotFound(
                f"no compile job {job_id[:64]!r} for {module}@{version}; it may have expired",
                details={"job_id": job_id[:64]},
            )
        return _copy(job)

    def close(self) -> None:
        """Stop taking jobs; running generators finish or hit their timeout."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # Workers ------------------------------------------------------------------------------

    def _run(self, job: dict[str, Any], requests: list[ArchiveRequest]) -> None:
        with self._lock:
            self._waiting -= 1
        job["status"] = "running"
        self._save(job)
        failed = False
        for result, request in zip(job["results"], requests, strict=True):
            result["status"] = "running"
            self._save(job)
            start = time.perf_counter()
            try:
                archive = self.generator.archive(request)
            except SpokeError as exc:
                failed = True
                result.update(status="failed", error={"code": exc.code, "message": exc.message})
            except Exception:  # a bug must fail the job, not leave it running forever
                log.exception("compile job %s failed", job["job_id"])
                failed = True
                result.update(
                    status="failed", error={"code": "internal_error", "message": "internal error"}
                )
            else:
                result.update(
                    status="completed",
                    cache_hit=archive.cache_hit,
                    sha256=archive.sha256,
                    size=len(archive.data),
                    download_url=self._download_url(request),
                )
            result["duration_ms"] = round((time.perf_counter() - start) * 1000, 1)
            self._save(job)
        job["status"] = "failed" if failed else "completed"
        self.metrics.compile_jobs.labels(job["status"]).inc()
        self._save(job)

    def _save(self, job: dict[str, Any]) -> None:
        job["updated_at"] = format_timestamp(utc_now())
        job["_saved"] = time.time()
        snapshot = _copy(job, keep_private=True)
        self._local.put(job["job_id"], snapshot)
        self.cache.set(f"job:{job['job_id']}", json.dumps(snapshot).encode(), ttl=self.ttl)


def _copy(job: dict[str, Any], *, keep_private: bool = False) -> dict[str, Any]:
    """A deep copy through JSON (what a reader gets must not change under it)."""
    copied: dict[str, Any] = json.loads(json.dumps(job))
    if not keep_private:
        copied.pop("_saved", None)
    return copied


def _valid_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)


def _resolve_version(generator: CodeGenerator, module: str, version: str) -> str:
    return str(generator.service.get_version(module=module, version=version).version)
