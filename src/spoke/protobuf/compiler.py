"""Compile ``.proto`` files with the protoc bundled in grpc_tools, inside the calling process.

The files are written to a directory (own files and dependency files in two sub-directories,
each an include path, followed by grpc_tools' well-known types) and protoc writes a
``FileDescriptorSet`` with all imports and source info. protoc reports diagnostics by writing to
file descriptor 2 from C++, so that descriptor is redirected to a log file for the call. protoc
stops at the first target that fails; when several targets fail, a second run over a synthetic
file importing all of them collects the errors of every target.

protoc holds the GIL for the whole run and cannot be interrupted, so the server calls this in a
worker process (:mod:`spoke.workers`), passing a ``workdir``: the tree and the log then sit at
fixed places inside it, and the server watches the log's size. Only the first
:data:`~spoke.protobuf.diagnostics.OUTPUT_LIMIT` bytes of the log are ever read; past that, a
worker's protoc is stopped (its diagnostics are read back by :func:`failure_from_log`), because
error recovery on hostile input can print millions of lines.

fd 2 is process-wide, so calls are serialized by a lock (see ``_PROTOC_LOCK``). Input that would
make protoc abort the process is refused first (:mod:`spoke.protobuf.screening`).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from grpc_tools import _protoc_compiler

from spoke.protobuf.diagnostics import (
    OUTPUT_LIMIT,
    Diagnostic,
    Diagnostics,
    UnresolvedImport,
    find_unresolved_imports,
    parse_protoc_output,
)
from spoke.protobuf.fingerprint import fingerprint_descriptor_set
from spoke.protobuf.screening import (
    check_no_file_directory_clash,
    check_path,
    encode_and_screen,
)

__all__ = [
    "PROTOC_LOG",
    "CompilationFailed",
    "CompileResult",
    "compile_files",
    "failure_from_log",
    "well_known_paths",
]

# fd 2 belongs to the whole process: two compiles redirecting it at once would capture each
# other's diagnostics (or restore the wrong descriptor). protoc holds the GIL while it runs, so
# serializing the calls costs no parallelism; a module-level lock is the natural scope for a
# process-wide resource.
_PROTOC_LOCK = threading.Lock()
# Inside a ``workdir``: protoc's log (watched by the worker pool) and the tree it compiles.
PROTOC_LOG = "protoc.log"
_TREE = "tree"
_UMBRELLA_PREFIX = "spoke-all-targets-"


@dataclass(frozen=True, slots=True)
class CompileResult:
    """A successful compile.

    ``descriptor_set`` is a serialized ``google.protobuf.FileDescriptorSet`` holding the
    target files and all their imports (dependencies and well-known types), with source code
    info. ``fingerprint`` is :func:`fingerprint_descriptor_set` of the targets. ``diagnostics``
    holds what protoc printed (warnings only: it succeeded), capped.
    """

    descriptor_set: bytes
    fingerprint: str
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        """The warnings shown (at most :data:`~spoke.protobuf.diagnostics.MAX_DIAGNOSTICS`)."""
        return self.diagnostics.warnings


class CompilationFailed(Exception):
    """protoc rejected the files (or they were rejected before protoc ran).

    ``diagnostics`` holds the first errors and warnings (capped, with how many more there were);
    ``unresolved_imports`` is non-empty when (part of) the failure is an import of a path that
    no file provides; the corresponding errors are in the diagnostics as well.
    """

    diagnostics: Diagnostics
    unresolved_imports: tuple[UnresolvedImport, ...]

    def __init__(
        self,
        diagnostics: Diagnostics | Iterable[Diagnostic],
        unresolved_imports: Iterable[UnresolvedImport] = (),
    ) -> None:
        if not isinstance(diagnostics, Diagnostics):
            diagnostics = Diagnostics.capped(diagnostics, ())
        self.diagnostics = diagnostics
        self.unresolved_imports = tuple(unresolved_imports)
        errors = diagnostics.errors
        summary = str(errors[0]) if errors else "compilation failed"
        more = diagnostics.error_count - 1
        if more > 0:
            summary += f" (and {more}{'+' if diagnostics.truncated else ''} more)"
        super().__init__(summary)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return self.diagnostics.errors

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return self.diagnostics.warnings

    def __reduce__(self) -> tuple[type[CompilationFailed], tuple[object, ...]]:
        # The default reduction would call __init__ with the summary string only.
        return (type(self), (self.diagnostics, self.unresolved_imports))


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


def _write_tree(root: str, files: Mapping[str, bytes]) -> None:
    for path, data in files.items():
        target = os.path.join(root, *path.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)


def _read_head(path: str) -> tuple[str, bool]:
    """The first OUTPUT_LIMIT bytes of the log at ``path`` as text, and whether there was more.

    Cut at the last complete line, so no half-line is parsed as a diagnostic."""
    with open(path, "rb") as f:
        head = f.read(OUTPUT_LIMIT + 1)
    truncated = len(head) > OUTPUT_LIMIT
    if truncated:
        head = head[: head.rfind(b"\n", 0, OUTPUT_LIMIT) + 1]
    return head.decode("utf-8", errors="replace"), truncated


def _run_protoc(args: list[str], log_path: str) -> tuple[int, str, bool]:
    """Run protoc with fd 2 redirected to ``log_path``.

    Returns (exit status, the head of its output, whether the output went past the limit)."""
    argv = [os.fsencode(arg) for arg in args]
    with _PROTOC_LOCK, open(log_path, "wb") as log:
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
    output, truncated = _read_head(log_path)
    return status, output, truncated


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where one compile's files go, and how protoc's output is made free of server paths."""

    root: str

    @property
    def own(self) -> str:
        return os.path.join(self.root, "own")

    @property
    def deps(self) -> str:
        return os.path.join(self.root, "deps")

    @property
    def extra(self) -> str:
        return os.path.join(self.root, "extra")

    @property
    def out_path(self) -> str:
        return os.path.join(self.root, "descriptor_set.pb")

    @property
    def include_dirs(self) -> tuple[str, ...]:
        return (self.own, self.deps, str(_well_known_root()), self.extra)

    def sanitize(self, output: str) -> str:
        """Replace server paths (the tree, the grpc_tools install) so none reach a user."""
        well_known_root = str(_well_known_root())
        for old, new in (
            (self.own + os.sep, ""),
            (self.deps + os.sep, ""),
            (self.extra + os.sep, ""),
            (well_known_root + os.sep, ""),
            (self.root, "<tmp>"),
            (well_known_root, "<well-known>"),
        ):
            output = output.replace(old, new)
        return output


@dataclass(slots=True)
class _ProtocRuns:
    """protoc over one tree: each call runs it on some targets and keeps the sanitized output."""

    layout: _Layout
    log_path: str
    outputs: list[str] = field(default_factory=list)
    truncated: bool = False

    def __call__(self, targets: list[str]) -> int:
        args = [
            "protoc",
            *(f"-I{directory}" for directory in self.layout.include_dirs),
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={self.layout.out_path}",
            "--error_format=gcc",
            *targets,
        ]
        status, output, truncated = _run_protoc(args, self.log_path)
        self.outputs.append(self.layout.sanitize(output))
        self.truncated = self.truncated or truncated
        return status


def _unused_name(taken: set[str]) -> str:
    """A .proto path for a synthetic file that collides with none of ``taken``."""
    while True:
        name = f"{_UMBRELLA_PREFIX}{secrets.token_hex(8)}.proto"
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
    outputs: Iterable[str], *, available: set[str]
) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Errors and warnings of all runs, each distinct one once, minus those about the synthetic
    file importing all targets (any file of its name pattern that is not a user's)."""

    def keep(diagnostic: Diagnostic) -> bool:
        name = diagnostic.file
        return name is None or name in available or not name.startswith(_UMBRELLA_PREFIX)

    errors: dict[Diagnostic, None] = {}
    warnings: dict[Diagnostic, None] = {}
    for output in outputs:
        run_errors, run_warnings = parse_protoc_output(output, known_paths=available)
        errors.update(dict.fromkeys(d for d in run_errors if keep(d)))
        warnings.update(dict.fromkeys(d for d in run_warnings if keep(d)))
    return list(errors), list(warnings)


def _checked_inputs(
    files: Mapping[str, str], include_files: Mapping[str, str] | None
) -> tuple[dict[str, str], dict[str, bytes], dict[str, bytes]]:
    """Validate paths and screen contents; return (deps, own bytes, dep bytes)."""
    if not files:
        raise ValueError("files must not be empty")
    deps = dict(include_files or {})
    for path in (*files, *deps):
        check_path(path)
    clashes = sorted(files.keys() & (deps.keys() | well_known_paths()))
    if clashes:
        raise ValueError(f"paths both compiled and provided as imports: {clashes}")
    check_no_file_directory_clash(files)
    check_no_file_directory_clash(deps)

    screen_errors: list[Diagnostic] = []
    own_bytes = encode_and_screen(files, screen_errors)
    dep_bytes = encode_and_screen(deps, screen_errors)
    if screen_errors:
        raise CompilationFailed(screen_errors)
    return deps, own_bytes, dep_bytes


def compile_files(
    *,
    files: Mapping[str, str],
    include_files: Mapping[str, str] | None = None,
    workdir: str | None = None,
) -> CompileResult:
    """Compile ``files`` (the targets) with ``include_files`` available for import.

    ``files`` and ``include_files`` map relative ``.proto`` paths to their text; the
    well-known types shipped with grpc_tools (:func:`well_known_paths`) are always importable.
    With ``workdir`` (a directory this caller owns) the tree and protoc's log
    (:data:`PROTOC_LOG`) go there, at fixed places, instead of a fresh temporary directory.

    Raises CompilationFailed with the (capped) diagnostics and unresolved imports when protoc
    rejects the files (or they nest too deeply to be compiled safely). Raises ValueError if
    ``files`` is empty, a path is malformed, or a path of ``files`` is also in
    ``include_files`` or :func:`well_known_paths` (callers validate first; this is a guard).
    """
    deps, own_bytes, dep_bytes = _checked_inputs(files, include_files)
    with _tree(workdir) as (layout, log_path):
        return _compile_screened(files, deps, own_bytes, dep_bytes, layout, log_path)


@contextlib.contextmanager
def _tree(workdir: str | None) -> Iterator[tuple[_Layout, str]]:
    """The layout of one compile: fresh in ``workdir``, or in a temporary directory."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="spoke-protoc-") as tmp:
            yield _Layout(os.path.join(tmp, _TREE)), os.path.join(tmp, PROTOC_LOG)
        return
    layout = _Layout(os.path.join(workdir, _TREE))
    shutil.rmtree(layout.root, ignore_errors=True)
    try:
        yield layout, os.path.join(workdir, PROTOC_LOG)
    finally:
        shutil.rmtree(layout.root, ignore_errors=True)


def failure_from_log(
    workdir: str, *, files: Mapping[str, str], include_files: Mapping[str, str] | None = None
) -> CompilationFailed:
    """The failure of a compile in ``workdir`` that was stopped because its output grew past
    :data:`~spoke.protobuf.diagnostics.OUTPUT_LIMIT`: the diagnostics read from the head of its
    log, marked truncated."""
    available = set(files) | set(include_files or {}) | well_known_paths()
    layout = _Layout(os.path.join(workdir, _TREE))
    try:
        output, _ = _read_head(os.path.join(workdir, PROTOC_LOG))
    except FileNotFoundError:
        output = ""
    errors, warnings = _parse_all([layout.sanitize(output)], available=available)
    if not errors:
        errors = [Diagnostic(None, None, None, "protoc's output exceeded its limit.")]
    diagnostics = Diagnostics.capped(errors, warnings, truncated=True)
    return CompilationFailed(
        diagnostics, find_unresolved_imports(diagnostics.errors, available=available)
    )


def _compile_screened(
    files: Mapping[str, str],
    deps: Mapping[str, str],
    own_bytes: Mapping[str, bytes],
    dep_bytes: Mapping[str, bytes],
    layout: _Layout,
    log_path: str,
) -> CompileResult:
    """The protoc runs of :func:`compile_files`, once its inputs are checked and encoded."""
    available = set(files) | set(deps) | well_known_paths()
    for directory in (layout.root, layout.own, layout.deps, layout.extra):
        os.mkdir(directory)
    _write_tree(layout.own, own_bytes)
    _write_tree(layout.deps, dep_bytes)
    run = _ProtocRuns(layout, log_path)
    # Targets by disk path: a bare relative path would be resolved against the process's
    # working directory first if a file of that name happens to exist there.
    status = run([os.path.join(layout.own, *p.split("/")) for p in sorted(files)])
    descriptor_set = Path(layout.out_path).read_bytes() if status == 0 else b""
    if status != 0 and len(files) > 1 and not run.truncated:
        # protoc gives up at the first target that fails. A file importing every target
        # makes it report the errors of all of them (it carries on after a failed import).
        umbrella = _unused_name(available)
        _write_tree(layout.extra, {umbrella: _importing_all(files)})
        run([os.path.join(layout.extra, umbrella)])

    errors, warnings = _parse_all(run.outputs, available=available)
    if status != 0:
        if not errors:
            errors = [Diagnostic(None, None, None, f"protoc failed with exit status {status}.")]
        diagnostics = Diagnostics.capped(errors, warnings, truncated=run.truncated)
        unresolved = find_unresolved_imports(diagnostics.errors, available=available)
        raise CompilationFailed(diagnostics, unresolved)

    # protoc succeeded, so anything it printed was not fatal, whatever its wording.
    return CompileResult(
        descriptor_set=descriptor_set,
        fingerprint=fingerprint_descriptor_set(descriptor_set, targets=files),
        diagnostics=Diagnostics.capped((), [*errors, *warnings], truncated=run.truncated),
    )
