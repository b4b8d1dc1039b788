"""Diagnostics from protoc: the data types and the parser for protoc's captured stderr.

protoc (run with ``--error_format=gcc``) writes three kinds of lines:

* ``path:line:col: message`` and ``path:line:col: warning: message`` (positions are 1-based);
* ``path: message`` without a position, e.g. ``missing/x.proto: File not found.``;
* absl log lines such as ``W0000 00:00:1795753414.630536    2472 parser.cc:659] No edition or
  syntax specified for the proto file: b.proto. ...`` (the "no syntax" warning is logged this
  way, not through the error collector), preceded once per process by
  ``WARNING: All log messages before absl::InitializeLog() is called are written to STDERR``.

The caller is expected to have already replaced temp-directory prefixes in the text, so every
path seen here is the user's relative path.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "MAX_DIAGNOSTICS",
    "MAX_MESSAGE",
    "OUTPUT_LIMIT",
    "Diagnostic",
    "Diagnostics",
    "UnresolvedImport",
    "find_unresolved_imports",
    "parse_protoc_output",
]

# Compilers stop reporting after so many errors (gcc's -fmax-errors, javac's -Xmaxerrs): past
# the first hundred, more errors help nobody and cost the server and the client.
MAX_DIAGNOSTICS = 100
# Characters of one message kept: protoc quotes tokens and names, which a client controls.
MAX_MESSAGE = 1000
# Bytes of protoc's output ever read. Error recovery on hostile input prints millions of lines
# (3 MB of `.1e` gives 138 MB); a worker's protoc is stopped once its output passes this.
OUTPUT_LIMIT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One message from the compiler.

    ``file`` is the path as the user gave it (a relative ``.proto`` path), or None when the
    message is not tied to a file. ``line`` and ``column`` are 1-based, None when unknown.
    Note that protoc counts a tab as advancing the column to the next multiple of 8.
    """

    file: str | None
    line: int | None
    column: int | None
    message: str

    def to_dict(self) -> dict[str, object]:
        """The diagnostic as a JSON-serializable dict with keys file, line, column, message."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.line, self.column) if p is not None]
        prefix = ":".join(str(p) for p in parts)
        return f"{prefix}: {self.message}" if prefix else self.message


@dataclass(frozen=True, slots=True)
class Diagnostics:
    """The errors and warnings of one compile, at most :data:`MAX_DIAGNOSTICS` of each.

    ``errors_omitted`` and ``warnings_omitted`` count those left out. ``truncated`` says that
    protoc's output went past :data:`OUTPUT_LIMIT` (and was not read further, or protoc was
    stopped): there were more diagnostics than counted, so the counts are lower bounds.
    """

    errors: tuple[Diagnostic, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    errors_omitted: int = 0
    warnings_omitted: int = 0
    truncated: bool = False

    @classmethod
    def capped(
        cls,
        errors: Iterable[Diagnostic],
        warnings: Iterable[Diagnostic],
        *,
        truncated: bool = False,
    ) -> Diagnostics:
        """The first :data:`MAX_DIAGNOSTICS` of each kind, each message bounded."""
        all_errors, all_warnings = list(errors), list(warnings)
        return cls(
            errors=tuple(_bounded(d) for d in all_errors[:MAX_DIAGNOSTICS]),
            warnings=tuple(_bounded(d) for d in all_warnings[:MAX_DIAGNOSTICS]),
            errors_omitted=max(0, len(all_errors) - MAX_DIAGNOSTICS),
            warnings_omitted=max(0, len(all_warnings) - MAX_DIAGNOSTICS),
            truncated=truncated,
        )

    @property
    def error_count(self) -> int:
        """Errors found (a lower bound when ``truncated``)."""
        return len(self.errors) + self.errors_omitted

    def to_dict(self) -> dict[str, object]:
        """``errors``, ``warnings`` (as dicts), ``errors_omitted``, ``warnings_omitted`` and
        ``truncated``: the shape of a compile's diagnostics in every answer."""
        return {
            "errors": [d.to_dict() for d in self.errors],
            "warnings": [d.to_dict() for d in self.warnings],
            "errors_omitted": self.errors_omitted,
            "warnings_omitted": self.warnings_omitted,
            "truncated": self.truncated,
        }


def _bounded(diagnostic: Diagnostic) -> Diagnostic:
    if len(diagnostic.message) <= MAX_MESSAGE:
        return diagnostic
    return Diagnostic(
        diagnostic.file,
        diagnostic.line,
        diagnostic.column,
        diagnostic.message[:MAX_MESSAGE] + "…",
    )


@dataclass(frozen=True, slots=True)
class UnresolvedImport:
    """An ``import`` statement in ``file`` naming ``import_path``, which no file provides."""

    file: str
    import_path: str


# `<line>:<col>: <message>` once the path and its colon have been taken off the front.
_POSITION = re.compile(r"^(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")
# Fallback for paths we do not know (e.g. a missing import): anything up to the first
# `:<digits>:<digits>: `, which is ambiguous only for paths that themselves contain that.
_GCC = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")
# A position-less line about an unknown path. Restricted to `*.proto` paths without spaces so
# that arbitrary text containing ": " (e.g. "Check failed: ...") is not mistaken for one.
_NO_POSITION = re.compile(r"^(?P<path>[^\s:]+\.proto): (?P<msg>.*)$")
# absl's log prefix: severity letter, MMDD, time, thread id, source location, "] ". The time
# is not always hh:mm:ss.us: before absl is initialised it reads e.g. `00:00:1795753414.630536`.
_ABSL = re.compile(r"^(?P<sev>[IWEF])\d{4} \S+\s+\d+ (?P<src>[^\]\s]+:\d+)\] (?P<msg>.*)$")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
_IMPORT_FAILED = re.compile(r'^Import "(?P<path>.+)" was not found or had errors\.$')


def _strip_severity(message: str) -> tuple[bool, str]:
    """Split protoc's optional ``warning: ``/``error: `` prefix off; True means a warning."""
    if message.startswith("warning: "):
        return True, message[len("warning: ") :]
    if message.startswith("error: "):
        return False, message[len("error: ") :]
    return False, message


def _known_prefixes(line: str, known_paths: Collection[str]) -> Iterator[str]:
    """The known paths that ``line`` starts with, each followed by ':', longest first.

    Tries the line's own ':' positions (a handful) rather than every known path, so the cost of
    a line does not grow with the number of files compiled."""
    end = line.rfind(":")
    while end > 0:
        if line[:end] in known_paths:
            yield line[:end]
        end = line.rfind(":", 0, end)


def _file_named_in(message: str, known_paths: Collection[str]) -> str | None:
    """The known path in ``...file: <path>. ...`` of an absl message, if any."""
    start = message.find("file: ")
    if start < 0:
        return None
    start += len("file: ")
    end = message.find(".", start)
    while end > 0:
        if message[start:end] in known_paths:
            return message[start:end]
        end = message.find(".", end + 1)
    return None


def _parse_line(line: str, known_paths: Collection[str]) -> tuple[bool, Diagnostic] | None:
    """Parse one output line into (is_warning, diagnostic); None for lines to drop."""
    if not line.strip() or line.startswith(_ABSL_PREAMBLE):
        return None

    absl = _ABSL.match(line)
    if absl is not None:
        message = absl["msg"].rstrip()
        # absl messages carry no position; recover the file when it is named in the text,
        # e.g. "No edition or syntax specified for the proto file: b.proto. Please use ...".
        file = _file_named_in(message, known_paths)
        return absl["sev"] in "IW", Diagnostic(file, None, None, message)

    # Known paths first (longest first) so a path containing ':' or spaces is still split right.
    for path in _known_prefixes(line, known_paths):
        rest = line[len(path) + 1 :]
        position = _POSITION.match(rest)
        if position is not None:
            warning, message = _strip_severity(position["msg"])
            return warning, Diagnostic(path, int(position["line"]), int(position["col"]), message)
        if rest.startswith(" "):
            warning, message = _strip_severity(rest[1:])
            return warning, Diagnostic(path, None, None, message)

    gcc = _GCC.match(line)
    if gcc is not None:
        warning, message = _strip_severity(gcc["msg"])
        return warning, Diagnostic(gcc["path"], int(gcc["line"]), int(gcc["col"]), message)
    no_position = _NO_POSITION.match(line)
    if no_position is not None:
        warning, message = _strip_severity(no_position["msg"])
        return warning, Diagnostic(no_position["path"], None, None, message)

    # Not a diagnostic we recognise: keep it rather than lose information.
    return False, Diagnostic(None, None, None, line.rstrip())


def parse_protoc_output(
    output: str, *, known_paths: Iterable[str]
) -> tuple[tuple[Diagnostic, ...], tuple[Diagnostic, ...]]:
    """Parse protoc's stderr into ``(errors, warnings)``, in the order protoc printed them.

    ``known_paths`` are the relative paths that may appear at the start of a line; they are
    matched literally before falling back to the generic gcc pattern.
    """
    known = known_paths if isinstance(known_paths, set | frozenset) else frozenset(known_paths)
    errors: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    for line in output.splitlines():
        parsed = _parse_line(line, known)
        if parsed is None:
            continue
        is_warning, diagnostic = parsed
        (warnings if is_warning else errors).append(diagnostic)
    return tuple(errors), tuple(warnings)


def find_unresolved_imports(
    errors: Iterable[Diagnostic], *, available: Collection[str]
) -> tuple[UnresolvedImport, ...]:
    """The imports that failed because nothing provides the path.

    protoc reports ``Import "x" was not found or had errors.`` both for a missing file and for
    a file that exists but failed to compile (including import cycles); only the former is
    unresolved, told apart by whether ``x`` is in ``available``.
    """
    found: dict[UnresolvedImport, None] = {}
    for error in errors:
        match = _IMPORT_FAILED.match(error.message)
        if error.file is None or match is None or match["path"] in available:
            continue
        found[UnresolvedImport(file=error.file, import_path=match["path"])] = None
    return tuple(found)
