"""``create_app``: builds backends from plugins, the service, and both falcon apps.

Nothing here is global: two applications in one process (as the tests make) share nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import falcon

from spoke.api.codegen import (
    CompileJobResource,
    CompileResource,
    DownloadResource,
    LanguageResource,
    LanguagesResource,
)
from spoke.api.errors import install_error_handlers
from spoke.api.evolution import (
    CompatibilityResource,
    DiffResource,
    VersionCompatibilityResource,
)
from spoke.api.health import HealthCheck, Readiness, create_health_app
from spoke.api.http import add_route
from spoke.api.middleware import AdminAuthMiddleware, RequestMiddleware
from spoke.api.resources import (
    DependenciesResource,
    DependentsResource,
    DescriptorResource,
    FileResource,
    ModuleResource,
    ModulesResource,
    TransitiveDependenciesResource,
    ValidateResource,
    VersionResource,
    VersionsResource,
)
from spoke.cache import SafeCache, TracedSafeCache
from spoke.codegen import LanguageRegistry
from spoke.compile_jobs import CompileJobs
from spoke.generation import ArchiveRequest, CodeGenerator
from spoke.interfaces import BlobStore, Cache, ExportsMetrics, Storage
from spoke.metrics import InstrumentedBackend, Metrics
from spoke.plugins import PluginRegistry, create_plugin_registry
from spoke.service import RegistryService
from spoke.settings import Settings
from spoke.tracing import SHUTDOWN_TIMEOUT as TRACE_FLUSH_TIMEOUT
from spoke.tracing import Tracing, create_tracing
from spoke.workers import InProcessWork, PooledWork, SchemaWork, WorkerPool

__all__ = [
    "ADMIN_OPERATIONS",
    "API_PREFIX",
    "Application",
    "Backends",
    "build_backends",
    "create_app",
    "create_work",
]

API_PREFIX = "/api/v1"
# The operations that change the registry: with SPOKE_ADMIN_TOKEN set they need the token.
# Everything else, read-only POSTs (validate, compatibility, diff, compile) included, stays open.
ADMIN_OPERATIONS = (
    ("POST", f"{API_PREFIX}/modules"),
    ("PATCH", f"{API_PREFIX}/modules/{{name}}"),
    ("POST", f"{API_PREFIX}/modules/{{name}}/versions"),
)
log = logging.getLogger(__name__)
# Workers are replaced when they keep more than this (or a quarter of their limit) after a task.
RECYCLE_FLOOR = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Backends:
    """The three backends an application runs on, with the names they were selected by."""

    storage: Storage
    blobs: BlobStore
    cache: Cache
    storage_name: str = "custom"
    blob_name: str = "custom"
    cache_name: str = "custom"

    def close(self) -> None:
        """Close all three; one failing does not keep the others open."""
        for backend in (self.cache, self.blobs, self.storage):
            try:
                backend.close()
            except Exception:  # closing is best effort at shutdown
                log.warning("closing %s failed", type(backend).__name__, exc_info=True)


def build_backends(settings: Settings, plugins: PluginRegistry) -> Backends:
    """Instantiate the backends the settings select.

    Raises :class:`spoke.plugins.UnknownBackend` (naming the variable, what is installed and what
    failed to load) or :class:`spoke.plugins.BackendNotInstalled` (its extra is missing, with the
    install hint) before creating anything, so neither leaves half-open connections.
    """
    catalog = plugins.catalog()
    storage_backend = catalog.storage_backend(settings.storage_type)
    blob_backend = catalog.blob_backend(settings.effective_blob_type)
    cache_backend = catalog.cache_backend(settings.effective_cache_type)
    storage = storage_backend.factory(settings)
    try:
        blobs = blob_backend.factory(settings)
        try:
            cache = cache_backend.factory(settings)
        except BaseException:
            blobs.close()
            raise
    except BaseException:
        storage.close()
        raise
    return Backends(
        storage=storage,
        blobs=blobs,
        cache=cache,
        storage_name=storage_backend.name,
        blob_name=blob_backend.name,
        cache_name=cache_backend.name,
    )


@dataclass(slots=True)
class Application:
    """Everything one Spoke process serves: the API app, the health app, and what they share."""

    settings: Settings
    api: falcon.App[falcon.Request, falcon.Response]
    health: falcon.App[falcon.Request, falcon.Response]
    service: RegistryService
    readiness: Readiness
    metrics: Metrics
    backends: Backends
    generator: CodeGenerator
    jobs: CompileJobs
    work: SchemaWork
    tracing: Tracing | None = None
    owns_work: bool = True

    def close(self, *, flush_timeout: float = TRACE_FLUSH_TIMEOUT) -> None:
        """Stop the compile jobs and the worker processes, release the backends, then flush and
        stop the trace exporter (last, so the spans of everything before are sent) for at most
        ``flush_timeout`` seconds."""
        try:
            self.jobs.close()
            if self.owns_work:
                self.work.close()
            self.backends.close()
            log.info("backends closed")
        finally:
            if self.tracing is not None:
                if self.tracing.shutdown(flush_timeout):
                    log.info("trace exporter flushed and stopped")
                else:
                    log.warning("the trace exporter did not finish flushing in time")


def create_app(
    settings: Settings,
    *,
    plugins: PluginRegistry | None = None,
    backends: Backends | None = None,
    languages: LanguageRegistry | None = None,
    tracing: Tracing | None = None,
    work: SchemaWork | None = None,
) -> Application:
    """Build a ready-to-serve application.

    ``backends`` overrides plugin selection (tests hand in memory backends this way);
    otherwise the plugins (by default every installed one) provide what the settings name.
    ``languages`` overrides the code generators the plugins contribute. ``tracing`` overrides
    the tracing the settings select (tests hand in one that exports to memory); the application
    owns it either way and shuts it down on :meth:`Application.close`. ``work`` overrides where
    compiles, checks and diffs run (tests share one pool of worker processes between many
    applications); the application closes only the work it created itself.
    """
    # First: a missing otel extra must stop startup before any backend connects.
    if tracing is None:
        tracing = create_tracing(settings)
    try:
        if backends is None or languages is None:
            plugins = plugins or create_plugin_registry()
        if backends is None:
            assert plugins is not None
            backends = build_backends(settings, plugins)
        if languages is None:
            assert plugins is not None
            languages = LanguageRegistry.load(plugins)
    except BaseException:
        if tracing is not None:
            tracing.shutdown(timeout=1.0)
        raise
    metrics = Metrics()
    storage = InstrumentedBackend(
        backends.storage, label=backends.storage_name, metrics=metrics, tracing=tracing
    )
    blobs = InstrumentedBackend(
        backends.blobs, label=backends.blob_name, metrics=metrics, tracing=tracing, role="blob"
    )
    cache = (
        SafeCache(backends.cache, name=backends.cache_name, metrics=metrics)
        if tracing is None
        else TracedSafeCache(
            backends.cache, name=backends.cache_name, metrics=metrics, tracing=tracing
        )
    )
    owns_work = work is None
    if work is None:
        work = create_work(settings, metrics)
    service = RegistryService(storage=storage, blobs=blobs, cache=cache, metrics=metrics, work=work)
    generator = CodeGenerator(
        service=service, languages=languages, metrics=metrics, timeout=settings.compile_timeout
    )
    jobs = CompileJobs(
        generator=generator,
        cache=cache,
        metrics=metrics,
        workers=settings.compile_workers,
        queue=settings.compile_queue,
        ttl=settings.compile_job_ttl,
        download_url=download_url,
    )
    metrics.track_registry(backends.storage.statistics)

    for backend in (backends.storage, backends.blobs, backends.cache):
        if isinstance(backend, ExportsMetrics):
            for collector in backend.metrics_collectors():
                metrics.registry.register(collector)
    readiness = Readiness(
        [
            HealthCheck.of("storage", backends.storage),
            HealthCheck.of("blob", backends.blobs),
            HealthCheck.of("cache", backends.cache, required=False),
        ]
    )
    api = falcon.App(middleware=_middleware(settings, metrics, tracing))
    api.req_options.strip_url_path_trailing_slash = True
    api.resp_options.secure_cookies_by_default = True
    install_error_handlers(api)
    _add_routes(api, service, settings.max_body_bytes)
    _add_codegen_routes(api, generator, jobs, settings.max_body_bytes)
    health = create_health_app(
        readiness=readiness, metrics=metrics, metrics_enabled=settings.metrics_enabled
    )
    return Application(
        settings=settings,
        api=api,
        health=health,
        service=service,
        readiness=readiness,
        metrics=metrics,
        backends=backends,
        generator=generator,
        jobs=jobs,
        work=work,
        tracing=tracing,
        owns_work=owns_work,
    )


def create_work(settings: Settings, metrics: Metrics) -> SchemaWork:
    """Where compiles, checks and diffs run: worker processes (SPOKE_WORKER_PROCESSES > 0,
    started on first use or by the server at startup), else the calling thread."""
    if settings.worker_processes == 0:
        return InProcessWork()
    memory = settings.worker_memory or None
    pool = WorkerPool(
        processes=settings.worker_processes,
        queue=settings.worker_queue,
        timeout=settings.worker_timeout,
        memory_limit=memory,
        # A worker that keeps more than a quarter of its limit after a task (the allocator
        # holding on to a large compile's memory) is replaced.
        recycle_bytes=max(RECYCLE_FLOOR, memory // 4) if memory else None,
        on_task=metrics.observe_worker_task,
        on_restart=metrics.count_worker_restart,
    )
    metrics.track_workers(busy=lambda: pool.busy, waiting=lambda: pool.waiting)
    return PooledWork(pool)


def _middleware(settings: Settings, metrics: Metrics, tracing: Tracing | None) -> list[Any]:
    """Request ids, access log, traces and metrics in one component first (so they see every
    answer, a 401 included; one component, because each costs falcon two calls per request),
    then the admin token check."""
    middleware: list[Any] = [
        RequestMiddleware(tracing=tracing, metrics=metrics if settings.metrics_enabled else None)
    ]
    if settings.admin_token:
        middleware.append(AdminAuthMiddleware(settings.admin_token, ADMIN_OPERATIONS))
    return middleware


def download_url(request: ArchiveRequest) -> str:
    """Where the archive of ``request`` is downloaded (what a compile job's results point at)."""
    query = "&".join(
        name
        for name, on in (
            ("grpc=true", request.grpc),
            ("include_dependencies=true", request.include_dependencies),
        )
        if on
    )
    path = (
        f"{API_PREFIX}/modules/{request.module}/versions/{request.version}"
        f"/download/{request.language}"
    )
    return f"{path}?{query}" if query else path


def _add_codegen_routes(
    api: falcon.App[falcon.Request, falcon.Response],
    generator: CodeGenerator,
    jobs: CompileJobs,
    max_body_bytes: int,
) -> None:
    version = f"{API_PREFIX}/modules/{{name}}/versions/{{version}}"
    add_route(api, f"{API_PREFIX}/languages", LanguagesResource(generator))
    add_route(api, f"{API_PREFIX}/languages/{{language}}", LanguageResource(generator))
    add_route(api, f"{version}/download/{{language}}", DownloadResource(generator))
    add_route(api, f"{version}/compile", CompileResource(jobs, max_body_bytes=max_body_bytes))
    add_route(api, f"{version}/compile/{{job_id}}", CompileJobResource(jobs))


def _add_routes(
    api: falcon.App[falcon.Request, falcon.Response], service: RegistryService, max_body_bytes: int
) -> None:
    def make(cls: type) -> object:
        return cls(service, max_body_bytes=max_body_bytes)

    version = f"{API_PREFIX}/modules/{{name}}/versions/{{version}}"
    add_route(api, f"{API_PREFIX}/modules", make(ModulesResource))
    add_route(api, f"{API_PREFIX}/modules/{{name}}", make(ModuleResource))
    add_route(api, f"{API_PREFIX}/modules/{{name}}/versions", make(VersionsResource))
    add_route(api, version, make(VersionResource))
    add_route(api, f"{version}/files/{{path:path}}", make(FileResource))
    add_route(api, f"{version}/descriptor", make(DescriptorResource))
    add_route(api, f"{version}/dependencies", make(DependenciesResource))
    add_route(api, f"{version}/dependencies/transitive", make(TransitiveDependenciesResource))
    add_route(api, f"{version}/dependents", make(DependentsResource))
    add_route(api, f"{version}/compatibility", make(VersionCompatibilityResource))
    add_route(api, f"{API_PREFIX}/modules/{{name}}/compatibility", make(CompatibilityResource))
    add_route(api, f"{API_PREFIX}/modules/{{name}}/diff", make(DiffResource))
    add_route(api, f"{API_PREFIX}/validate", make(ValidateResource))
