"""Settings: one frozen object built once from ``SPOKE_*`` environment variables.

Every setting has a name, a parser, a default and a line of documentation in :data:`SETTINGS`;
``docs/configuration.md`` is checked against that table by the tests. A value that does not parse
raises :class:`SettingsError` naming the variable: Spoke never falls back to a default silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from spoke.settings_parsers import (
    _backend_name,
    _bucket,
    _choice,
    _host,
    _path,
    _positive_int,
    _prefix,
    _secret,
    _url,
    _url_list,
    parse_bool,
    parse_duration,
    parse_port,
    parse_size,
)

__all__ = [
    "SETTINGS",
    "SettingSpec",
    "Settings",
    "SettingsError",
    "load_settings",
    "parse_bool",
    "parse_duration",
    "parse_port",
    "parse_size",
]


class SettingsError(ValueError):
    """A ``SPOKE_*`` variable holds a value Spoke cannot use. The message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One environment variable: its name, the attribute it fills, how it parses, its default."""

    env: str
    attribute: str
    parse: Callable[[str], Any]
    default: str | None
    doc: str
    secret: bool = False


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
        "Directory of the filesystem storage and blob backends; created when missing.",
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
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Spoke reads from its environment, parsed and checked.

    Build it with :func:`load_settings`. ``environ`` keeps every ``SPOKE_*`` variable as given, so a
    third-party plugin can read its own options (``settings.environ.get("SPOKE_MYPLUGIN_URL")``).
    """

    host: str = "0.0.0.0"
    port: int = 8080
    health_port: int = 9090
    threads: int = 8
    shutdown_timeout: float = 30.0
    max_body_bytes: int = 10 * 1024 * 1024
    storage_type: str = "filesystem"
    blob_type: str | None = None
    cache_type: str | None = None
    cache_enabled: bool = True
    l1_cache_size: int = 64 * 1024 * 1024
    filesystem_root: Path = Path("./spoke-data")
    log_level: str = "info"
    log_format: str = "json"
    metrics_enabled: bool = True
    postgres_url: str | None = field(default=None, repr=False)
    postgres_replica_urls: tuple[str, ...] = field(default=(), repr=False)
    postgres_max_conns: int = 10
    postgres_min_conns: int = 2
    postgres_timeout: float = 5.0
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_access_key: str | None = field(default=None, repr=False)
    s3_secret_key: str | None = field(default=None, repr=False)
    s3_use_path_style: bool = False
    redis_url: str | None = field(default=None, repr=False)
    redis_password: str | None = field(default=None, repr=False)
    redis_db: int | None = None
    compile_timeout: float = 60.0
    compile_workers: int = 2
    compile_queue: int = 100
    compile_job_ttl: float = 3600.0
    environ: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    def __post_init__(self) -> None:
        if self.port == self.health_port:
            raise SettingsError(
                "SPOKE_HEALTH_PORT",
                f"must differ from SPOKE_PORT (both are {self.port})",
            )

        if self.postgres_min_conns > self.postgres_max_conns:
            raise SettingsError(
                "SPOKE_POSTGRES_MIN_CONNS",
                f"must not exceed SPOKE_POSTGRES_MAX_CONNS ({self.postgres_max_conns})",
            )

    @property
    def effective_blob_type(self) -> str:
        """The blob backend in use: SPOKE_BLOB_TYPE; else ``s3`` when SPOKE_S3_BUCKET is set;
        else the storage type's name."""
        if self.blob_type:
            return self.blob_type
        return "s3" if self.s3_bucket else self.storage_type

    @property
    def effective_cache_type(self) -> str:
        """The cache backend in use: ``none`` when caching is disabled; else SPOKE_CACHE_TYPE;
        else ``redis`` when SPOKE_REDIS_URL is set; else ``memory``."""
        if not self.cache_enabled:
            return "none"
        if self.cache_type:
            return self.cache_type
        return "redis" if self.redis_url else "memory"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``environ`` (default: ``os.environ``).

    Raises :class:`SettingsError` naming the first variable whose value does not parse, or the
    pair of variables that contradict each other.
    """
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for spec in SETTINGS:
        raw = source.get(spec.env)
        if raw is None or raw == "":
            if spec.default is None:
                values[spec.attribute] = None
                continue
            raw = spec.default

        try:
            values[spec.attribute] = spec.parse(raw)
        except ValueError as exc:
            raise SettingsError(spec.env, str(exc)) from None
    spoke_vars = {key: value for key, value in source.items() if key.startswith("SPOKE_")}
    return Settings(**values, environ=MappingProxyType(spoke_vars))
