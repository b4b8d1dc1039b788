"""Prometheus metrics, held in a registry that belongs to one application instance.

Names follow ``spoke_<subsystem>_<name>_<unit>``; labels stay low-cardinality (route templates,
never module names).
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from spoke.interfaces import RegistryStats

if TYPE_CHECKING:
    from spoke.tracing import Tracing

__all__ = ["InstrumentedBackend", "Metrics"]

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class _RegistryCollector(Collector):
    """``spoke_modules_total`` and ``spoke_versions_total``, read from storage at scrape time.

    The counts are remembered for ``max_age`` seconds so frequent scrapes of several Prometheus
    servers do not each walk the storage backend.
    """

    def __init__(self, stats: Callable[[], RegistryStats], max_age: float = 10.0) -> None:
        self._stats = stats
        self._max_age = max_age
        self._lock = threading.Lock()
        self._cached: tuple[float, RegistryStats] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self._max_age:
                try:
                    self._cached = (now, self._stats())
                except Exception:  # a failing backend must not break the whole scrape
                    return
            stats = self._cached[1]
        yield GaugeMetricFamily("spoke_modules_total", "Modules in the registry.", stats.modules)
        yield GaugeMetricFamily("spoke_versions_total", "Versions in the registry.", stats.versions)

    def describe(self) -> Iterator[Metric]:
        return iter(())


class _RequestStats(Collector):
    """``spoke_http_requests_total`` and ``spoke_http_request_duration_seconds``, kept without
    locks: every serving thread counts into a table of its own, and a scrape adds them up.

    prometheus_client takes a lock per counter and per histogram on every observation, about a
    third of what a cached file GET costs the application; a request only ever touches its own
    thread's table, so nothing is lost and nothing is shared while serving.
    """

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self._buckets = buckets
        self._local = threading.local()
        self._tables: list[dict[tuple[str, str, int], list[Any]]] = []
        self._lock = threading.Lock()  # taken once per thread, to register its table

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        try:
            table = self._local.table
        except AttributeError:
            table = self._local.table = {}
            with self._lock:
                self._tables.append(table)
        entry = table.get((method, route, status))
        if entry is None:
            # count, sum of seconds, count per bucket (the last one is +Inf)
            entry = table[(method, route, status)] = [0, 0.0, [0] * (len(self._buckets) + 1)]
        entry[0] += 1
        entry[1] += seconds
        entry[2][bisect.bisect_left(self._buckets, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        counts: dict[tuple[str, str, int], int] = {}
        durations: dict[tuple[str, str], list[Any]] = {}
        with self._lock:
            tables = list(self._tables)
        for table in tables:
            for key, (count, total, per_bucket) in list(table.items()):
                counts[key] = counts.get(key, 0) + count
                merged = durations.setdefault(key[:2], [0.0, [0] * len(per_bucket)])
                merged[0] += total
                merged[1] = [a + b for a, b in zip(merged[1], per_bucket, strict=True)]
        requests = CounterMetricFamily(
            "spoke_http_requests",
            "HTTP requests answered by the API listener.",
            labels=["method", "route", "status"],
        )
        for (method, route, status), count in sorted(counts.items()):
            requests.add_metric([method, route, str(status)], count)
        yield requests
        histogram = HistogramMetricFamily(
            "spoke_http_request_duration_seconds",
            "Time to answer an API request.",
            labels=["method", "route"],
        )
        bounds = [*(repr(float(b)) for b in self._buckets), "+Inf"]
        for (method, route), (total, per_bucket) in sorted(durations.items()):
            cumulative = list(itertools.accumulate(per_bucket))
            histogram.add_metric([method, route], list(zip(bounds, cumulative, strict=True)), total)
        yield histogram

    def describe(self) -> Iterator[Metric]:
        return iter(())


class _GaugeCollector(Collector):
    """A gauge whose value is read from a callable at scrape time."""

    def __init__(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self._name = name
        self._documentation = documentation
        self._read = read

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self._name, self._documentation, self._read())

    def describe(self) -> Iterator[Metric]:
        return iter(())


class Metrics:
    """Every metric Spoke exports, registered in its own :class:`CollectorRegistry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = _RequestStats(_LATENCY_BUCKETS)
        self.registry.register(self._requests)
        self.http_rejected = Counter(
            "spoke_http_rejected_requests_total",
            "Requests refused by the HTTP server before reaching the API (malformed, body or "
            "headers too large), by status.",
            ["status"],
            registry=self.registry,
        )
        self.storage_duration = Histogram(
            "spoke_storage_operation_duration_seconds",
            "Time spent in storage, blob and cache backend calls.",
            ["backend", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "spoke_cache_hits_total",
            "Cache lookups that found a value.",
            ["cache"],
            registry=self.registry,
        )
        self.cache_misses = Counter(
            "spoke_cache_misses_total",
            "Cache lookups that found nothing.",
            ["cache"],
            registry=self.registry,
        )
        self.cache_errors = Counter(
            "spoke_cache_errors_total",
            "Cache calls that failed and were treated as misses.",
            ["cache"],
            registry=self.registry,
        )
        self.compilations = Counter(
            "spoke_protoc_compilations_total",
            "protoc compilations of pushed or validated files, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.compile_duration = Histogram(
            "spoke_protoc_compile_duration_seconds",
            "Time protoc took to compile a version with its dependencies.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Every verdict Spoke computes, on a push or for a client asking: a rise of
        # "incompatible" on pushes is a team fighting the policy, not a fault of the service.
        self.compatibility_checks = Counter(
            "spoke_compatibility_checks_total",
            "Compatibility checks of pushes and of the compatibility endpoints, by outcome.",
            ["mode", "result"],
            registry=self.registry,
        )
        self.compatibility_duration = Histogram(
            "spoke_compatibility_check_duration_seconds",
            "Time to check a version against earlier ones, reading their descriptor sets included.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Code generation: each run of a generator (a miss), and every archive lookup.
        self.generations = Counter(
            "spoke_compilation_total",
            "Code generator runs, by language and status (ok, failed, timeout).",
            ["language", "status"],
            registry=self.registry,
        )
        self.generation_duration = Histogram(
            "spoke_compilation_duration_seconds",
            "Time a code generator took to produce an archive, zipping included.",
            ["language"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
            registry=self.registry,
        )
        self.artifact_lookups = Counter(
            "spoke_codegen_artifacts_total",
            "Generated-archive requests served from stored archives (hit) or generated (miss).",
            ["result"],
            registry=self.registry,
        )
        self.compile_jobs = Counter(
            "spoke_compile_jobs_total",
            "Compile jobs by final state (completed, failed) or refusal (rejected: queue full).",
            ["state"],
            registry=self.registry,
        )

        self.worker_tasks = Counter(
            "spoke_worker_tasks_total",
            "Compiles, compatibility checks and diffs run in worker processes, by task and "
            "outcome (ok, error, time, memory, output_limit, busy: refused with 503).",
            ["task", "outcome"],
            registry=self.registry,
        )
        self.worker_task_duration = Histogram(
            "spoke_worker_task_duration_seconds",
            "Time a request spent on a worker task, waiting for a worker included.",
            ["task"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.worker_restarts_total = Counter(
            "spoke_worker_restarts_total",
            "Worker processes replaced, by reason (timeout, memory, output_limit, crashed, "
            "recycled: it kept too much memory after a task).",
            ["reason"],
            registry=self.registry,
        )

    def observe_worker_task(self, task: str, outcome: str, seconds: float) -> None:
        """Record one task of the worker pool."""
        self.worker_tasks.labels(task, outcome).inc()
        self.worker_task_duration.labels(task).observe(seconds)

    def count_worker_restart(self, reason: str) -> None:
        """Record one worker process replaced."""
        self.worker_restarts_total.labels(reason).inc()

    def track_workers(self, *, busy: Callable[[], int], waiting: Callable[[], int]) -> None:
        """Export ``spoke_worker_busy`` and ``spoke_worker_queue_depth``."""
        self.track_gauge("spoke_worker_busy", "Worker processes running a task.", busy)
        self.track_gauge(
            "spoke_worker_queue_depth",
            "Requests waiting for a free worker process (at most SPOKE_WORKER_QUEUE).",
            waiting,
        )

    def track_registry(self, stats: Callable[[], RegistryStats]) -> None:
        """Export module and version counts taken from ``stats`` at scrape time."""
        self.registry.register(_RegistryCollector(stats))

    def track_queue_depth(self, depth: Callable[[], int]) -> None:
        """Export ``spoke_http_queue_depth``: requests waiting for a free worker thread."""
        self.track_gauge(
            "spoke_http_queue_depth",
            "API requests accepted and waiting for a free worker thread (SPOKE_THREADS).",
            depth,
        )

    def track_connections(self, count: Callable[[], int]) -> None:
        """Export ``spoke_http_connections``: open connections of the API listener."""
        self.track_gauge(
            "spoke_http_connections",
            "Connections open on the API listener (at most SPOKE_CONNECTION_LIMIT are served).",
            count,
        )

    def track_gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """Export a gauge whose value ``read`` returns at scrape time."""
        self.registry.register(_GaugeCollector(name, documentation, read))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered API request."""
        self._requests.observe(method, route, status, seconds)


class InstrumentedBackend:
    """A proxy timing every public method of a backend into ``spoke_storage_operation_...``.

    It forwards attribute access, so it satisfies the same Protocol as the backend it wraps.
    With ``tracing``, each call is also a child span ``<role>.<method>`` (``storage.get_version``,
    ``blob.get``) of the request being traced; without it the wrapper is the same as before
    tracing existed, so tracing off costs nothing here.
    """

    def __init__(
        self,
        backend: Any,
        *,
        label: str,
        metrics: Metrics,
        tracing: Tracing | None = None,
        role: str = "storage",
    ) -> None:
        self._backend = backend
        self._label = label
        self._histogram = metrics.storage_duration
        self._tracing = tracing
        self._role = role

    @property
    def wrapped(self) -> Any:
        """The backend itself."""
        return self._backend

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._backend, name)
        if name.startswith("_") or not callable(attribute):
            return attribute
        observer = self._histogram.labels(self._label, name)
        if self._tracing is not None:
            timed = _traced(attribute, observer, self._tracing, f"{self._role}.{name}", self._label)
        else:

            def timed(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return attribute(*args, **kwargs)
                finally:
                    observer.observe(time.perf_counter() - start)

        # Cache the wrapper on the instance so the next lookup skips __getattr__ entirely.
        self.__dict__[name] = timed
        return timed


def _traced(
    attribute: Callable[..., Any], observer: Any, tracing: Tracing, span: str, backend: str
) -> Callable[..., Any]:
    """``attribute`` timed into ``observer`` and inside a child span named ``span``."""
    child = tracing.child
    attributes = {"spoke.backend": backend}

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            with child(span, attributes):
                return attribute(*args, **kwargs)
        finally:
            observer.observe(time.perf_counter() - start)

    return timed
