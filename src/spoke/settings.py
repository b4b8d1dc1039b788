"""Settings: one frozen object built once from ``SPOKE_*`` environment variables.

Every setting has a name, a parser, a default and a line of documentation in :data:`SETTINGS`
(:mod:`spoke.settings_table`); ``docs/configuration.md`` is checked against that table by the
tests. A value that does not parse raises :class:`SettingsError` naming the variable: Spoke never
falls back to a default silently.

A secret may instead be given as ``<NAME>_FILE``, the path of a file holding it (a Kubernetes
Secret mounted as a volume), so the value never has to sit in the process environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from spoke import __version__
from spoke.settings_parsers import (
    MAX_SECRET_FILE_BYTES,
    parse_bool,
    parse_duration,
    parse_port,
    parse_size,
    read_secret_file,
)
from spoke.settings_table import FILE_SUFFIX, SETTINGS, SettingSpec

__all__ = [
    "FILE_SUFFIX",
    "MAX_SECRET_FILE_BYTES",
    "SETTINGS",
    "SettingSpec",
    "Settings",
    "SettingsError",
    "environment_value",
    "load_settings",
    "parse_bool",
    "parse_duration",
    "parse_port",
    "parse_size",
]


# Below this, a worker process could not even import protoc and the checker.
MIN_WORKER_MEMORY = 128 * 1024 * 1024


class SettingsError(ValueError):
    """A ``SPOKE_*`` variable holds a value Spoke cannot use. The message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


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
    connection_limit: int = 100
    idle_timeout: float = 60.0
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
    s3_connect_timeout: float = 5.0
    s3_read_timeout: float = 30.0
    s3_max_attempts: int = 4
    redis_url: str | None = field(default=None, repr=False)
    redis_password: str | None = field(default=None, repr=False)
    redis_db: int | None = None
    redis_l1_ttl: float | None = None
    redis_timeout: float = 0.25
    worker_processes: int = 2
    worker_queue: int = 16
    worker_timeout: float = 30.0
    worker_memory: int = 1024 * 1024 * 1024
    compile_timeout: float = 60.0
    compile_workers: int = 2
    compile_queue: int = 100
    compile_job_ttl: float = 3600.0
    admin_token: str | None = field(default=None, repr=False)
    otel_enabled: bool = False
    otel_endpoint: str | None = None
    otel_insecure: bool = False
    otel_service_name: str = "spoke"
    otel_service_version: str = __version__
    otel_sample_ratio: float = 1.0
    environ: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    def __post_init__(self) -> None:
        if self.port == self.health_port:
            raise SettingsError(
                "SPOKE_HEALTH_PORT",
                f"must differ from SPOKE_PORT (both are {self.port})",
            )

        if 0 < self.worker_memory < MIN_WORKER_MEMORY:
            raise SettingsError(
                "SPOKE_WORKER_MEMORY",
                f"must be 0 (no limit) or at least {MIN_WORKER_MEMORY // (1024 * 1024)}MiB: a "
                "worker needs about 40 MiB before it compiles anything",
            )
        if self.postgres_min_conns > self.postgres_max_conns:
            raise SettingsError(
                "SPOKE_POSTGRES_MIN_CONNS",
                f"must not exceed SPOKE_POSTGRES_MAX_CONNS ({self.postgres_max_conns})",
            )
        if self.otel_enabled:
            self._check_otel_endpoint()

    def _check_otel_endpoint(self) -> None:
        # The scheme and SPOKE_OTEL_INSECURE must agree: TLS to a plain-text collector (or the
        # reverse) fails every export, which looks exactly like a collector that is down.
        if not self.otel_endpoint:
            raise SettingsError(
                "SPOKE_OTEL_ENDPOINT", "must be set when SPOKE_OTEL_ENABLED is true"
            )
        tls = self.otel_endpoint.lower().startswith("https://")
        if tls and self.otel_insecure:
            raise SettingsError(
                "SPOKE_OTEL_INSECURE", "is true but SPOKE_OTEL_ENDPOINT is https:// (TLS)"
            )
        if not tls and not self.otel_insecure:
            raise SettingsError(
                "SPOKE_OTEL_INSECURE",
                "must be true for an http:// SPOKE_OTEL_ENDPOINT (plain text); "
                "use https:// for TLS",
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


def environment_value(value: object) -> str:
    """``value`` written the way its ``SPOKE_*`` variable holds it, so that it parses back to
    the same value: a list comma-separated, a boolean ``true``/``false``, nothing for unset."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(environment_value(item) for item in value)
    return str(value)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``environ`` (default: ``os.environ``).

    Raises :class:`SettingsError` naming the first variable whose value does not parse (or whose
    file cannot be read), or the pair of variables that contradict each other.
    """
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for spec in SETTINGS:
        variable, raw = _raw_value(spec, source)
        if raw is None:
            if spec.default is None:
                values[spec.attribute] = None
                continue
            variable, raw = spec.env, spec.default

        try:
            values[spec.attribute] = spec.parse(raw)
        except ValueError as exc:
            raise SettingsError(variable, str(exc)) from None
    spoke_vars = {key: value for key, value in source.items() if key.startswith("SPOKE_")}
    return Settings(**values, environ=MappingProxyType(spoke_vars))


def _raw_value(spec: SettingSpec, source: Mapping[str, str]) -> tuple[str, str | None]:
    """The variable that gives ``spec`` its value and the raw text (``None``: unset).

    For a secret, ``<NAME>_FILE`` may name a file instead; giving both is refused rather than
    guessing which one the operator meant.
    """
    raw = source.get(spec.env) or None
    file_env = spec.file_env
    path = source.get(file_env) if file_env else None
    if file_env is None or not path:
        return spec.env, raw
    if raw is not None:
        raise SettingsError(file_env, f"set {spec.env} or {file_env}, not both")
    try:
        return file_env, read_secret_file(path)
    except ValueError as exc:
        raise SettingsError(file_env, str(exc)) from None
