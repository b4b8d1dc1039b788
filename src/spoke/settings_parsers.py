"""Parsers of ``SPOKE_*`` values: each takes the raw text and returns the value or raises
``ValueError`` with a message fit for an operator (never echoing a secret).

Public ones (``parse_bool``, ``parse_duration``, ``parse_port``, ``parse_size``) are there for
plugins reading their own options from ``Settings.environ``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "MAX_SECRET_FILE_BYTES",
    "MIN_ADMIN_TOKEN_LENGTH",
    "parse_bool",
    "parse_duration",
    "parse_port",
    "parse_size",
]

# A secret file holds a password, a token or a few URLs: anything larger is a wrong path (a log,
# a binary), and reading it whole into memory would be a mistake.
MAX_SECRET_FILE_BYTES = 64 * 1024

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
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


def _positive_duration(raw: str) -> float:
    value = parse_duration(raw)
    if value <= 0:
        raise ValueError(f"must be more than zero, got {raw!r}")
    return value


def _ratio(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError(f"expected a number between 0 and 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise ValueError(f"must be between 0 and 1, got {raw!r}")
    return value


def _service_name(raw: str) -> str:
    value = raw.strip()
    if not value or len(value) > 255 or any(ord(ch) < 32 for ch in value):
        raise ValueError(f"expected a short name without control characters, got {raw!r}")
    return value


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


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.lower() not in schemes or not rest:
            # The value may hold a password: the message shows only its scheme.
            raise ValueError(
                f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}"
                f" (got scheme {scheme[:20]!r})"
            )
        return value

    return parse


def _url_list(schemes: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    one = _url(schemes)

    def parse(raw: str) -> tuple[str, ...]:
        return tuple(one(part) for part in raw.split(",") if part.strip())

    return parse


def _bucket(raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value):
        raise ValueError(f"expected an S3 bucket name, got {raw!r}")
    return value


def _prefix(raw: str) -> str:
    value = raw.strip().lstrip("/")
    if ".." in value.split("/") or any(ord(ch) < 32 for ch in value):
        raise ValueError(f"expected a key prefix such as spoke/, got {raw!r}")
    return value


def _secret(raw: str) -> str:
    return raw.strip()


# An admin token is a bearer token: whoever sends it may create modules and push versions, and a
# server answers a wrong one as fast as it can, so an attacker may guess online for as long as they
# like. 32 characters is what the documented generators give at the least (`openssl rand -hex 16`
# is 128 bits; `openssl rand -hex 32` is 64 characters), and what no one types as a password.
MIN_ADMIN_TOKEN_LENGTH = 32
TOKEN_HINT = "generate one with `openssl rand -hex 32`"
# Values people leave in examples. Short ones are refused for their length anyway; they are named
# so the message says what is wrong with them.
_PLACEHOLDERS = frozenset(
    {"changeme", "secret", "password", "token", "admin", "example", "test", "todo", "default"}
)
# Words that mark a placeholder inside a longer value ("CHANGEME-generate-with-openssl..."). Each
# is at least 6 letters, none of them hexadecimal: a random token holds one by chance with a
# probability below one in ten million (never one from `openssl rand -hex`).
_PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "replace",
    "example",
    "placeholder",
    "password",
    "secret",
)
_LONGEST_REPEATED_UNIT = 8


def _admin_token(raw: str) -> str:
    """A secret good enough to guard writes: refuses placeholders, short and repetitive tokens.

    The messages never quote the token: they say what is wrong with it.
    """
    value = _secret(raw)
    lowered = value.lower()
    problem = None
    if not value:
        problem = "is blank"
    elif lowered.strip("x") == "" or lowered in _PLACEHOLDERS:
        problem = "is a well-known placeholder, not a secret"
    elif word := next((w for w in _PLACEHOLDER_WORDS if w in lowered), None):
        problem = f"looks like a placeholder (it contains {word!r}), not a secret"
    elif len(value) < MIN_ADMIN_TOKEN_LENGTH:
        problem = (
            f"is {len(value)} characters long; it needs at least {MIN_ADMIN_TOKEN_LENGTH} random "
            "characters so that it cannot be guessed"
        )
    elif _repeats_a_short_unit(lowered):
        problem = "is one short string repeated, which is easy to guess"
    if problem is not None:
        raise ValueError(f"the admin token {problem}; {TOKEN_HINT}")
    return value


def _repeats_a_short_unit(value: str) -> bool:
    """Whether ``value`` is a string of at most 8 characters repeated (``xxxx...``, ``abab...``)."""
    for size in range(1, _LONGEST_REPEATED_UNIT + 1):
        unit = value[:size]
        if (unit * (len(value) // size + 1)).startswith(value):
            return True
    return False


def _path(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("expected a directory path, got an empty value")
    return Path(raw.strip()).expanduser()


def read_secret_file(raw_path: str) -> str:
    """The value held in the file at ``raw_path``, its trailing newlines removed.

    Raises ``ValueError`` when the file is missing, unreadable, not a regular file, larger than
    :data:`MAX_SECRET_FILE_BYTES`, not UTF-8 or empty. Messages name the path (which is not a
    secret) and never the content.
    """
    path = raw_path.strip()
    if not path:
        raise ValueError("expected the path of a file, got an empty value")
    try:
        # Open first, then check what was opened: a path swapped between a check and the open
        # cannot slip through. O_NONBLOCK keeps a FIFO from blocking the open until a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ValueError(_cannot_read(path, exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path!r} is not a regular file")
        if info.st_size > MAX_SECRET_FILE_BYTES:
            raise ValueError(f"{path!r} is larger than {MAX_SECRET_FILE_BYTES // 1024} KiB")
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(_cannot_read(path, exc)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_SECRET_FILE_BYTES:  # it grew after fstat
        raise ValueError(f"{path!r} is larger than {MAX_SECRET_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path!r} is not UTF-8 text") from None
    value = text.rstrip("\r\n")
    if not value.strip():
        raise ValueError(f"{path!r} is empty")
    return value


def _cannot_read(path: str, exc: OSError) -> str:
    return f"cannot read {path!r}: {exc.strerror or type(exc).__name__}"
