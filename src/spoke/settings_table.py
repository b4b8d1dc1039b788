"""The table of every ``SPOKE_*`` variable Spoke reads: name, attribute, parser, default, doc.

It lives apart from :mod:`spoke.settings` (which re-exports it) only to keep both files short.
``docs/configuration.md`` is checked against this table both ways by the tests, and the deployment
manifests are checked against it too, so a variable read anywhere else would go unnoticed there:
plugins shipped with Spoke read their options from :class:`spoke.settings.Settings`, never from
the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spoke import __version__
from spoke.settings_parsers import (
    _admin_token,
    _backend_name,
    _bucket,
    _choice,
    _host,
    _path,
    _positive_duration,
    _positive_int,
    _prefix,
    _ratio,
    _secret,
    _service_name,
    _url,
    _url_list,
    parse_bool,
    parse_duration,
    parse_port,
    parse_size,
)

__all__ = ["FILE_SUFFIX", "SETTINGS", "SettingSpec"]

# ``SPOKE_X_FILE`` names a file holding the value of the secret ``SPOKE_X`` (a mounted Secret).
FILE_SUFFIX = "_FILE"


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One environment variable: its name, the attribute it fills, how it parses, its default."""

    env: str
    attribute: str
    parse: Callable[[str], Any]
    default: str | None
    doc: str
    secret: bool = False

    @property
    def file_env(self) -> str | None:
        """``<env>_FILE`` for a secret (the variable naming a file that holds the value), else
        ``None``: only secrets may come from files."""
        return self.env + FILE_SUFFIX if self.secret else None


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("SPOKE_HOST", "host", _host, "0.0.0.0", "Address both listeners bind to."),
    SettingSpec("SPOKE_PORT", "port", parse_port, "8080", "Port of the HTTP API."),
    SettingSpec(
        "SPOKE_HEALTH_PORT",
        "health_port",
        parse_port,
        "9090",
        "Port of /health/live, /health/ready and /metrics. Must differ from SPOKE_PORT.",
    ),
    SettingSpec(
        "SPOKE_THREADS",
        "threads",
        _positive_int(1, 1024),
        "8",
        "Worker threads of the API listener (waitress).",
    ),
    SettingSpec(
        "SPOKE_CONNECTION_LIMIT",
        "connection_limit",
        _positive_int(1, 100000),
        "100",
        "Open connections the API listener serves at once; past it, new connections wait in the "
        "kernel's queue until one closes. The health listener has its own limit. Above 512 the "
        "listeners watch their sockets with poll() instead of select(), at some CPU per request.",
    ),
    SettingSpec(
        "SPOKE_IDLE_TIMEOUT",
        "idle_timeout",
        _positive_duration,
        "60s",
        "An API connection with no activity for this long is closed (a client that opens "
        "connections and sends nothing cannot hold them for longer).",
    ),
    SettingSpec(
        "SPOKE_SHUTDOWN_TIMEOUT",
        "shutdown_timeout",
        parse_duration,
        "30s",
        "How long in-flight requests may take to finish after SIGTERM.",
    ),
    SettingSpec(
        "SPOKE_MAX_BODY_BYTES",
        "max_body_bytes",
        parse_size,
        "10MiB",
        "Largest request body accepted; larger bodies are refused with 413.",
    ),
    SettingSpec(
        "SPOKE_STORAGE_TYPE",
        "storage_type",
        _backend_name,
        "filesystem",
        "Storage backend plugin for metadata (`memory`, `filesystem`, or a plugin's name).",
    ),
    SettingSpec(
        "SPOKE_BLOB_TYPE",
        "blob_type",
        _backend_name,
        None,
        "Blob backend plugin for file contents and descriptor sets. Unset: the storage type.",
    ),
    SettingSpec(
        "SPOKE_CACHE_TYPE",
        "cache_type",
        _backend_name,
        None,
        "Cache backend plugin (`memory`, `none`, `redis`, or a plugin's name). Unset: `redis` "
        "when SPOKE_REDIS_URL is set, else `memory`.",
    ),
    SettingSpec(
        "SPOKE_CACHE_ENABLED",
        "cache_enabled",
        parse_bool,
        "true",
        "`false` turns caching off whatever SPOKE_CACHE_TYPE says.",
    ),
    SettingSpec(
        "SPOKE_L1_CACHE_SIZE",
        "l1_cache_size",
        parse_size,
        "64MiB",
        "Bytes the in-process LRU cache may hold (values only, keys and overhead excluded).",
    ),
    SettingSpec(
        "SPOKE_FILESYSTEM_ROOT",
        "filesystem_root",
        _path,
        "./spoke-data",
        "Directory of the filesystem storage and blob backends; created by the first write "
        "(a server: its first readiness check), never by reading it (`spoke backup`). "
        "A relative path is taken from the working directory.",
    ),
    SettingSpec(
        "SPOKE_LOG_LEVEL",
        "log_level",
        _choice(("debug", "info", "warning", "error", "critical")),
        "info",
        "Lowest level logged: debug, info, warning, error or critical.",
    ),
    SettingSpec(
        "SPOKE_LOG_FORMAT",
        "log_format",
        _choice(("json", "text")),
        "json",
        "`json` (one object per line) or `text`.",
    ),
    SettingSpec(
        "SPOKE_METRICS_ENABLED",
        "metrics_enabled",
        parse_bool,
        "true",
        "Serve Prometheus metrics on SPOKE_HEALTH_PORT at /metrics.",
    ),
    SettingSpec(
        "SPOKE_POSTGRES_URL",
        "postgres_url",
        _url(("postgresql", "postgres", "postgresql+psycopg2")),
        None,
        "Primary PostgreSQL of the `postgres` backends: `postgresql://user:pass@host:5432/db`.",
        secret=True,
    ),
    SettingSpec(
        "SPOKE_POSTGRES_REPLICA_URLS",
        "postgres_replica_urls",
        _url_list(("postgresql", "postgres", "postgresql+psycopg2")),
        "",
        "Comma-separated read replicas; reads go to healthy replicas, writes to the primary.",
        secret=True,
    ),
    SettingSpec(
        "SPOKE_POSTGRES_MAX_CONNS",
        "postgres_max_conns",
        _positive_int(1, 1000),
        "10",
        "Largest number of connections per pool (primary, and each replica).",
    ),
    SettingSpec(
        "SPOKE_POSTGRES_MIN_CONNS",
        "postgres_min_conns",
        _positive_int(0, 1000),
        "2",
        "Connections each pool opens at startup (pools grow to SPOKE_POSTGRES_MAX_CONNS).",
    ),
    SettingSpec(
        "SPOKE_POSTGRES_TIMEOUT",
        "postgres_timeout",
        parse_duration,
        "5s",
        "Connect timeout, wait for a pooled connection, and statement timeout.",
    ),
    SettingSpec(
        "SPOKE_S3_ENDPOINT",
        "s3_endpoint",
        _url(("http", "https")),
        None,
        "S3-compatible endpoint (unset: AWS S3 of SPOKE_S3_REGION).",
    ),
    SettingSpec("SPOKE_S3_REGION", "s3_region", _host, "us-east-1", "Region of the bucket."),
    SettingSpec(
        "SPOKE_S3_BUCKET",
        "s3_bucket",
        _bucket,
        None,
        "Bucket of the `s3` blob backend; when set and SPOKE_BLOB_TYPE is not, blobs go to S3.",
    ),
    SettingSpec(
        "SPOKE_S3_PREFIX",
        "s3_prefix",
        _prefix,
        "",
        "Key prefix inside the bucket, e.g. `spoke/`.",
    ),
    SettingSpec(
        "SPOKE_S3_ACCESS_KEY",
        "s3_access_key",
        _secret,
        None,
        "Access key id (unset: the default AWS credential chain).",
        secret=True,
    ),
    SettingSpec(
        "SPOKE_S3_SECRET_KEY",
        "s3_secret_key",
        _secret,
        None,
        "Secret access key.",
        secret=True,
    ),
    SettingSpec(
        "SPOKE_S3_USE_PATH_STYLE",
        "s3_use_path_style",
        parse_bool,
        "false",
        "Address the bucket in the path (MinIO, moto, most S3-compatible servers).",
    ),
    SettingSpec(
        "SPOKE_S3_CONNECT_TIMEOUT",
        "s3_connect_timeout",
        _positive_duration,
        "5s",
        "Timeout to open a connection to S3.",
    ),
    SettingSpec(
        "SPOKE_S3_READ_TIMEOUT",
        "s3_read_timeout",
        _positive_duration,
        "30s",
        "Timeout waiting for bytes of an S3 answer.",
    ),
    SettingSpec(
        "SPOKE_S3_MAX_ATTEMPTS",
        "s3_max_attempts",
        _positive_int(1, 20),
        "4",
        "Attempts of an S3 request that fails transiently (1 to 20).",
    ),
    SettingSpec(
        "SPOKE_REDIS_URL",
        "redis_url",
        _url(("redis", "rediss", "redis+sentinel")),
        None,
        "Redis for the `redis` cache: `redis://host:6379/0` or "
        "`redis+sentinel://host:26379,host2:26379/mymaster/0`. When set and SPOKE_CACHE_TYPE "
        "is not, the cache is `redis`.",
        secret=True,
    ),
    SettingSpec(
        "SPOKE_REDIS_PASSWORD",
        "redis_password",
        _secret,
        None,
        "Redis password, when not in SPOKE_REDIS_URL.",
        secret=True,
    ),
    SettingSpec(
        "SPOKE_REDIS_DB",
        "redis_db",
        _positive_int(0, 1023),
        None,
        "Redis database number, when not in SPOKE_REDIS_URL.",
    ),
    SettingSpec(
        "SPOKE_REDIS_L1_TTL",
        "redis_l1_ttl",
        _positive_duration,
        None,
        "Longest time the redis cache's in-process L1 keeps any entry. Unset: until evicted.",
    ),
    SettingSpec(
        "SPOKE_REDIS_TIMEOUT",
        "redis_timeout",
        _positive_duration,
        "250ms",
        "Connect and read timeout of every Redis call.",
    ),
    SettingSpec(
        "SPOKE_WORKER_PROCESSES",
        "worker_processes",
        _positive_int(0, 64),
        "2",
        "Worker processes that compile pushed and validated files and run compatibility checks "
        "and diffs, away from the threads serving requests. `0` runs that work in the server "
        "process itself, where a large schema stalls every request: for debugging only.",
    ),
    SettingSpec(
        "SPOKE_WORKER_QUEUE",
        "worker_queue",
        _positive_int(0, 100000),
        "16",
        "Requests that may wait for a free worker process; more are refused at once with 503 "
        "`server_busy` and `Retry-After`.",
    ),
    SettingSpec(
        "SPOKE_WORKER_TIMEOUT",
        "worker_timeout",
        _positive_duration,
        "30s",
        "Longest a compile, check or diff may run in a worker (past it the worker is killed and "
        "the request answers 422 `limit_exceeded`), and longest a request waits for a worker "
        "(past it, 503 `server_busy`).",
    ),
    SettingSpec(
        "SPOKE_WORKER_MEMORY",
        "worker_memory",
        parse_size,
        "1GiB",
        "Address-space limit of each worker process; a schema that needs more answers 422 "
        "`limit_exceeded`. Size the container for SPOKE_WORKER_PROCESSES times this, plus the "
        "server's own memory. `0`: no limit.",
    ),
    SettingSpec(
        "SPOKE_COMPILE_TIMEOUT",
        "compile_timeout",
        parse_duration,
        "60s",
        "Longest a code generator may run for one archive; past it the generator is killed "
        "and the request fails with `compilation_failed`.",
    ),
    SettingSpec(
        "SPOKE_COMPILE_WORKERS",
        "compile_workers",
        _positive_int(1, 64),
        "2",
        "Background workers running compile jobs (POST .../compile).",
    ),
    SettingSpec(
        "SPOKE_COMPILE_QUEUE",
        "compile_queue",
        _positive_int(1, 100000),
        "100",
        "Compile jobs that may wait for a worker; more are refused with 503.",
    ),
    SettingSpec(
        "SPOKE_COMPILE_JOB_TTL",
        "compile_job_ttl",
        parse_duration,
        "1h",
        "How long a compile job's status stays readable after its last change.",
    ),
    SettingSpec(
        "SPOKE_ADMIN_TOKEN",
        "admin_token",
        _admin_token,
        None,
        "When set, creating or updating a module and pushing a version need "
        "`Authorization: Bearer <token>`. Unset: no authentication. At least 32 characters; "
        "placeholders (CHANGEME, ...) and repetitive tokens are refused.",
        secret=True,
    ),
    SettingSpec(
        "SPOKE_OTEL_ENABLED",
        "otel_enabled",
        parse_bool,
        "false",
        "Export OpenTelemetry traces over OTLP gRPC (needs `pip install spoke[otel]`).",
    ),
    SettingSpec(
        "SPOKE_OTEL_ENDPOINT",
        "otel_endpoint",
        _url(("http", "https")),
        None,
        "OTLP gRPC endpoint of the collector, e.g. `http://otel-collector:4317`. Required when "
        "tracing is on.",
    ),
    SettingSpec(
        "SPOKE_OTEL_INSECURE",
        "otel_insecure",
        parse_bool,
        "false",
        "`true`: plain-text gRPC (an `http://` endpoint); `false`: TLS (an `https://` endpoint).",
    ),
    SettingSpec(
        "SPOKE_OTEL_SERVICE_NAME",
        "otel_service_name",
        _service_name,
        "spoke",
        "`service.name` of the exported traces.",
    ),
    SettingSpec(
        "SPOKE_OTEL_SERVICE_VERSION",
        "otel_service_version",
        _service_name,
        __version__,
        "`service.version` of the exported traces. Default: the version of Spoke.",
    ),
    SettingSpec(
        "SPOKE_OTEL_SAMPLE_RATIO",
        "otel_sample_ratio",
        _ratio,
        "1.0",
        "Share of new traces sampled, 0 to 1; a request that carries a sampling decision "
        "(`traceparent`) keeps it.",
    ),
)
