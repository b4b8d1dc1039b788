"""Compile ``.proto`` files with the protoc bundled in grpc_tools, inside this process.

The files are written to a fresh temporary directory (own files and dependency files in two
sub-directories, each an include path, followed by grpc_tools' well-known types) and protoc
writes a ``FileDescriptorSet`` with all imports and source info. protoc reports diagnostics by
writing to file descriptor 2 from C++, so that descriptor is redirected to a file for the call.
protoc stops at the first target that fails; when several targets fail, a second run over a
synthetic file importing all of them collects the errors of every target.

Two hazards of running protoc in-process are guarded against here:

* fd 2 is process-wide, so calls are serialized by a lock (see ``_PROTOC_LOCK``);
* protoc *aborts the process* (absl ``CHECK`` failure, SIGABRT) when an option value nests
  messages about 100 levels deep, whether written as ``{ o { o { ... } } }`` or as
  ``option (opt).o.o.o... = 1``. Such input is rejected before protoc sees it
  (see ``_find_excessive_nesting``).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from grpc_tools import _protoc_compiler

from spoke.protobuf.diagnostics import (
    Diagnostic,
    UnresolvedImport,
    find_unresolved_imports,
    parse_protoc_output,
)
from spoke.protobuf.fingerprint import fingerprint_descriptor_set
from spoke.tracing import child_span

__all__ = [
    "CompilationFailed",
    "CompileResult",
    "compile_files",
    "well_known_paths",
]

# fd 2 belongs to the whole process: two compiles redirecting it at once would capture each
# other's diagnostics (or restore the wrong descriptor). protoc holds the GIL while it runs, so
# serializing the calls costs no parallelism; a module-level lock is the natural scope for a
# process-wide resource.
_PROTOC_LOCK = threading.Lock()

# Upper bound on the combined depth of open '{', '<', '[' and the '.'s of the current statement.
# Every level of message nesting in an option value needs one of those, and protoc aborts at
# about 100 levels (counting the enclosing descriptors). protoc itself rejects message
# declarations nested deeper than 32, so real schemas stay far below this.
MAX_NESTING = 64

# Tokens that matter for nesting. Comments, strings and numbers are matched only so that the
# brackets and dots inside them are skipped; identifiers so that a digit inside one is not
# taken for the start of a number.
_TOKEN = re.compile(
    r"""
      //[^\n]*
    | /\*.*?(?:\*/|\Z)
    | "(?:[^"\\\n]|\\.)*"?
    | '(?:[^'\\\n]|\\.)*'?
    | [A-Za-z_][A-Za-z0-9_]*
    | \.?[0-9](?:[eE][+-]|[A-Za-z0-9_.])*
    | [{}<>\[\]();,.]
    """,
    re.VERBOSE | re.DOTALL,
)
_CLOSER_TO_OPENER = {"}": "{", ">": "<", "]": "[", ")": "("}


@dataclass(frozen=True, slots=True)
class CompileResult:
    """A successful compile.

    ``descriptor_set`` is a serialized ``google.protobuf.FileDescriptorSet`` holding the
    target files and all their imports (dependencies and well-known types), with source code
    info. ``fingerprint`` is :func:`fingerprint_descriptor_set` of the targets.
    """

    descriptor_set: bytes
    fingerprint: str
    warnings: tuple[Diagnostic, ...]


class CompilationFailed(Exception):
    """protoc rejected the files (or they were rejected before protoc ran).

    ``unresolved_imports`` is non-empty when (part of) the failure is an import of a path
    that no file provides; the corresponding errors are in ``errors`` as well.
    """

    errors: tuple[Diagnostic, ...]
    warnings: tuple[Diagnostic, ...]
    unresolved_imports: tuple[UnresolvedImport, ...]

    def __init__(
        self,
        errors: Iterable[Diagnostic],
        warnings: Iterable[Diagnostic] = (),
        unresolved_imports: Iterable[UnresolvedImport] = (),
    ) -> None:
        self.errors = tuple(errors)
        self.warnings = tuple(warnings)
        self.unresolved_imports = tuple(unresolved_imports)
        summary = str(self.errors[0]) if self.errors else "compilation failed"
        more = len(self.errors) - 1
        if more:
            summary += f" (and {more} more error{'s' if more > 1 else ''})"
        super().__init__(summary)

    def __reduce__(self) -> tuple[type[CompilationFailed], tuple[object, ...]]:
        # The default reduction would call __init__ with the summary string only.
        return (type(self), (self.errors, self.warnings, self.unresolved_imports))


def _well_known_root() -> Path:
    root = Path(str(importlib.resources.files("grpc_tools") / "_proto"))
    if not root.is_dir():
        raise RuntimeError(f"grpc_tools has no _proto directory at {root}")
    return root


@cache
def well_known_paths() -> frozenset[str]:
    """Paths of the .proto files shipped with grpc_tools (google/protobuf/*.proto etc.) that
    every compile can import."""
    root = _well_known_root()
    return frozenset(p.relative_to(root).as_posix() for p in root.rglob("*.proto"))


def _check_path(path: str) -> None:
    """Reject paths that could escape the temp dir or confuse protoc or output parsing."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"invalid .proto path {path!r}: must be a non-empty str")
    if path.startswith("/") or "\\" in path:
        raise ValueError(f"invalid .proto path {path!r}: must be relative and use '/'")
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        raise ValueError(f"invalid .proto path {path!r}: contains control characters")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"invalid .proto path {path!r}: empty, '.' or '..' component")


def _check_no_file_directory_clash(paths: Iterable[str]) -> None:
    """Reject e.g. both ``a`` and ``a/b.proto``: one would have to be a file and a directory."""
    path_set = set(paths)
    for path in path_set:
        parts = path.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in path_set:
                raise ValueError(f"path {prefix!r} is both a file and a directory of {path!r}")


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of ``text[index]``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _find_excessive_nesting(text: str) -> int | None:
    """Index of the first token at which nesting exceeds MAX_NESTING, or None.

    The depth is the number of open '{', '<' and '[' plus the '.'s in the statement so far,
    including those of enclosing statements (``option (opt).o.o = { o { ... } }`` nests
    2 + 2 levels). This over-approximates the message nesting protoc will build, which is
    what matters: an under-estimate could let through input that aborts the process.
    """
    stack: list[tuple[str, int]] = []  # (opener, dots before it)
    brackets = 0
    dots = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == ".":
            dots += 1
        elif token in ("{", "<", "[", "("):
            stack.append((token, dots))
            if token != "(":
                brackets += 1
        elif token in _CLOSER_TO_OPENER:
            # Only a matching closer pops: a stray one must not lower the count.
            if stack and stack[-1][0] == _CLOSER_TO_OPENER[token]:
                opener, dots = stack.pop()
                if opener != "(":
                    brackets -= 1
                if opener in ("{", "<"):
                    # A block or aggregate ends its statement (`message A {}` needs no ';'):
                    # the next one starts from the enclosing statement's dots, else the dots
                    # of e.g. many `extend a.b.C {}` blocks would add up.
                    dots = stack[-1][1] if stack else 0
            continue
        elif token in (";", ","):
            # A new statement (or field, inside an aggregate) starts from the enclosing dots.
            dots = stack[-1][1] if stack else 0
            continue
        else:
            continue
        if brackets + dots > MAX_NESTING:
            return match.start()
    return None


def _encode_and_screen(files: Mapping[str, str], errors: list[Diagnostic]) -> dict[str, bytes]:
    """UTF-8 encode each file, appending a Diagnostic for each that cannot be compiled safely."""
    encoded: dict[str, bytes] = {}
    for path, text in files.items():
        if not isinstance(text, str):
            raise TypeError(f"content of {path!r} must be str, not {type(text).__name__}")
        try:
            encoded[path] = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            # Only lone surrogates get here: a str cannot otherwise fail to encode.
            line, column = _position(text, exc.start)
            errors.append(
                Diagnostic(path, line, column, "File is not valid UTF-8 (lone surrogate).")
            )
            continue
        too_deep = _find_excessive_nesting(text)
        if too_deep is not None:
            line, column = _position(text, too_deep)
            errors.append(
                Diagnostic(
                    path,
                    line,
                    column,
                    f"Nesting too deep: more than {MAX_NESTING} levels of '{{', '<', '[' and "
                    "'.'-separated names.",
                )
            )
    return encoded


def _write_tree(root: str, files: Mapping[str, bytes]) -> None:
    for path, data in files.items():
        target = os.path.join(root, *path.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)


def _run_protoc(args: list[str], log_path: str) -> tuple[int, str]:
    """Run protoc with fd 2 redirected to ``log_path``; return (exit status, captured text)."""
    argv = [os.fsencode(arg) for arg in args]
    with _PROTOC_LOCK, open(log_path, "w+b") as log:
        # Flush so that Python output buffered before the call does not land in the log.
        with contextlib.suppress(AttributeError, OSError, ValueError):  # None or closed
            sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(log.fileno(), 2)
            try:
                status = int(_protoc_compiler.run_main(argv))
            finally:
                os.dup2(saved, 2)
        finally:
            os.close(saved)
        log.seek(0)
        output = log.read()
    return status, output.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class _ProtocRun:
    """How to run protoc over one temp tree; calling it runs protoc on some targets."""

    tmp: str
    include_dirs: tuple[str, ...]
    # (server path, replacement) pairs applied to protoc's output, most specific first.
    replacements: tuple[tuple[str, str], ...]

    @property
    def out_path(self) -> str:
        return os.path.join(self.tmp, "descriptor_set.pb")

    def __call__(self, targets: list[str]) -> tuple[int, str]:
        """Run protoc on ``targets`` (disk paths); return its status and sanitized output."""
        args = [
            "protoc",
            *(f"-I{directory}" for directory in self.include_dirs),
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={self.out_path}",
            "--error_format=gcc",
            *targets,
        ]
        status, output = _run_protoc(args, os.path.join(self.tmp, "protoc.log"))
        # Replace server paths (temp dirs, the grpc_tools install) so none reach a user.
        for old, new in self.replacements:
            output = output.replace(old, new)
        return status, output


def _unused_name(taken: set[str]) -> str:
    """A .proto path for a synthetic file that collides with none of ``taken``."""
    while True:
        name = f"spoke-all-targets-{secrets.token_hex(8)}.proto"
        if name not in taken:
            return name


def _importing_all(paths: Iterable[str]) -> bytes:
    """A proto3 file importing each of ``paths``."""
    lines = ['syntax = "proto3";']
    for path in sorted(paths):
        quoted = path.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'import "{quoted}";')
    return "\n".join(lines).encode("utf-8") + b"\n"


def _parse_all(
    outputs: Iterable[str], *, available: set[str], exclude: str | None
) -> tuple[tuple[Diagnostic, ...], tuple[Diagnostic, ...]]:
    """Errors and warnings of all runs, each distinct one once, minus those about ``exclude``."""
    errors: dict[Diagnostic, None] = {}
    warnings: dict[Diagnostic, None] = {}
    for output in outputs:
        run_errors, run_warnings = parse_protoc_output(output, known_paths=available)
        errors.update(dict.fromkeys(d for d in run_errors if exclude is None or d.file != exclude))
        warnings.update(
            dict.fromkeys(d for d in run_warnings if exclude is None or d.file != exclude)
        )
    return tuple(errors), tuple(warnings)


def compile_files(
    *, files: Mapping[str, str], include_files: Mapping[str, str] | None = None
) -> CompileResult:
    """Compile ``files`` (the targets) with ``include_files`` available for import.

    ``files`` and ``include_files`` map relative ``.proto`` paths to their text; the
    well-known types shipped with grpc_tools (:func:`well_known_paths`) are always importable.

    Raises CompilationFailed with the errors, warnings and unresolved imports when protoc
    rejects the files (or they nest too deeply to be compiled safely). Raises ValueError if
    ``files`` is empty, a path is malformed, or a path of ``files`` is also in
    ``include_files`` or :func:`well_known_paths` (callers validate first; this is a guard).
    """
    if not files:
        raise ValueError("files must not be empty")
    deps = dict(include_files or {})
    for path in (*files, *deps):
        _check_path(path)
    clashes = sorted(files.keys() & (deps.keys() | well_known_paths()))
    if clashes:
        raise ValueError(f"paths both compiled and provided as imports: {clashes}")
    _check_no_file_directory_clash(files)
    _check_no_file_directory_clash(deps)

    screen_errors: list[Diagnostic] = []
    own_bytes = _encode_and_screen(files, screen_errors)
    dep_bytes = _encode_and_screen(deps, screen_errors)
    if screen_errors:
        raise CompilationFailed(screen_errors)

    # A span of the request being traced, if any (a no-op otherwise).
    with child_span("protoc.compile", {"protoc.files": len(files), "protoc.imports": len(deps)}):
        return _compile_screened(files, deps, own_bytes, dep_bytes)


def _compile_screened(
    files: Mapping[str, str],
    deps: Mapping[str, str],
    own_bytes: Mapping[str, bytes],
    dep_bytes: Mapping[str, bytes],
) -> CompileResult:
    """The protoc runs of :func:`compile_files`, once its inputs are checked and encoded."""
    available = set(files) | set(deps) | well_known_paths()
    well_known_root = str(_well_known_root())
    with tempfile.TemporaryDirectory(prefix="spoke-protoc-") as tmp:
        own_dir, deps_dir, extra_dir = (os.path.join(tmp, d) for d in ("own", "deps", "extra"))
        for directory in (own_dir, deps_dir, extra_dir):
            os.mkdir(directory)
        _write_tree(own_dir, own_bytes)
        _write_tree(deps_dir, dep_bytes)
        run = _ProtocRun(
            tmp=tmp,
            include_dirs=(own_dir, deps_dir, well_known_root, extra_dir),
            replacements=(
                (own_dir + os.sep, ""),
                (deps_dir + os.sep, ""),
                (extra_dir + os.sep, ""),
                (well_known_root + os.sep, ""),
                (tmp, "<tmp>"),
                (well_known_root, "<well-known>"),
            ),
        )
        # Targets by disk path: a bare relative path would be resolved against the process's
        # working directory first if a file of that name happens to exist there.
        status, output = run([os.path.join(own_dir, *p.split("/")) for p in sorted(files)])
        outputs = [output]
        descriptor_set = Path(run.out_path).read_bytes() if status == 0 else b""
        umbrella = None
        if status != 0 and len(files) > 1:
            # protoc gives up at the first target that fails. A file importing every target
            # makes it report the errors of all of them (it carries on after a failed import).
            umbrella = _unused_name(available)
            _write_tree(extra_dir, {umbrella: _importing_all(files)})
            outputs.append(run([os.path.join(extra_dir, umbrella)])[1])

    errors, warnings = _parse_all(outputs, available=available, exclude=umbrella)
    if status != 0:
        if not errors:
            errors = (Diagnostic(None, None, None, f"protoc failed with exit status {status}."),)
        unresolved = find_unresolved_imports(errors, available=available)
        raise CompilationFailed(errors, warnings, unresolved)

    # protoc succeeded, so anything it printed was not fatal, whatever its wording.
    return CompileResult(
        descriptor_set=descriptor_set,
        fingerprint=fingerprint_descriptor_set(descriptor_set, targets=files),
        warnings=(*errors, *warnings),
    )
