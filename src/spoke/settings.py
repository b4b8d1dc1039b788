"""Settings: one frozen object built once from ``SPOKE_*`` environment variables.

Every setting has a name, a parser, a default and a line of documentation in :data:`SETTINGS`;
``docs/configuration.md`` is checked against that table by the tests. A value that does not parse
raises :class:`SettingsError` naming the variable: Spoke never falls back to a default silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

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


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_LOG_FORMATS = ("json", "text")
_BACKEND_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def parse_bool(raw: str) -> bool:
    """Parse true/false/1/0/yes/no/on/off in any case."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected a boolean (true/false, 1/0, yes/no), got {raw!r}")


def parse_port(raw: str) -> int:
    """Parse a TCP port number, 1..65535 (0 is refused: the manifests need fixed ports)."""
    try:
        port = int(raw.strip())
    except ValueError:
        raise ValueError(f"expected a port number, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be between 1 and 65535, got {port}")
    return port


def _positive_int(minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}, got {value}")
        return value

    return parse


def parse_duration(raw: str) -> float:
    """Parse ``15s``, ``2m``, ``500ms``, ``1h`` or plain seconds into seconds."""
    match = _DURATION.match(raw)
    if not match:
        raise ValueError(f"expected a duration such as 30s, 2m or 15, got {raw!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_size(raw: str) -> int:
    """Parse a byte size: plain bytes or with a K/M/G (binary) suffix, e.g. ``10MiB``."""
    match = _SIZE.match(raw)
    if not match:
        raise ValueError(f"expected a size in bytes such as 10485760 or 10MiB, got {raw!r}")
    unit = (match.group(2) or "b").lower()[0]
    return int(match.group(1)) * _SIZE_UNITS[unit]


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {raw!r}")
        return value

    return parse


def _backend_name(raw: str) -> str:
    value = raw.strip().lower()
    if not _BACKEND_NAME.match(value):
        raise ValueError(f"expected a backend name such as filesystem or memory, got {raw!r}")
    return value


def _host(raw: str) -> str:
    value = raw.strip()
    if not value or any(ch.isspace() for ch in value):
        raise ValueError(f"expected a host name or address, got {raw!r}")
    return value


def _path(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("expected a directory path, got an empty value")
    return Path(raw.strip()).expanduser()


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
        "memory",
        "Cache backend plugin (`memory`, `none`, or a plugin's name).",
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
        _choice(_LOG_LEVELS),
        "info",
        "Lowest level logged: debug, info, warning, error or critical.",
    ),
    SettingSpec(
        "SPOKE_LOG_FORMAT",
        "log_format",
        _choice(_LOG_FORMATS),
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
    cache_type: str = "memory"
    cache_enabled: bool = True
    l1_cache_size: int = 64 * 1024 * 1024
    filesystem_root: Path = Path("./spoke-data")
    log_level: str = "info"
    log_format: str = "json"
    metrics_enabled: bool = True
    environ: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    def __post_init__(self) -> None:
        if self.port == self.health_port:
            raise SettingsError(
                "SPOKE_HEALTH_PORT",
                f"must differ from SPOKE_PORT (both are {self.port})",
            )

    @property
    def effective_blob_type(self) -> str:
        """The blob backend in use: SPOKE_BLOB_TYPE, or the storage type's name when unset."""
        return self.blob_type or self.storage_type

    @property
    def effective_cache_type(self) -> str:
        """The cache backend in use: ``none`` when caching is disabled."""
        return self.cache_type if self.cache_enabled else "none"


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
